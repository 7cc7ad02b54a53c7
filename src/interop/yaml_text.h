// Writing YAML text by hand for the files the importer and exporters produce: scalars quoted
// only where YAML would read them as something else, multi-line text as literal blocks. Pure.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// `s` as one YAML scalar usable in block and flow context: plain when YAML 1.2 (core schema)
// reads it back as the same string, else double-quoted with JSON escapes.
std::string YamlScalar(std::string_view s);

// `s` as the value of a key at `indent` spaces: a literal block (`|`, `|-` or `|+`, its lines
// indented by indent + 2) when it spans lines and a block keeps it exactly, else YamlScalar.
// The result starts with the indicator (or the scalar) and ends without a newline.
std::string YamlText(std::string_view s, int indent);

}  // namespace sluice
