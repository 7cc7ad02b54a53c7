// Hints for YAML syntax errors: libyaml names what it met ("mapping values are not allowed in
// this context"); the hint names the fix for the common causes (a ": " in an unquoted value, a
// tab used for indentation, a line indented to match no block). Internal to src/spec
// (yaml_tree.cc calls it); pure.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// What libyaml reported: its problem and context texts (context may be empty) and their
// 0-based marks.
struct YamlProblem {
  std::string_view problem;
  std::string_view context;
  size_t line = 0, column = 0;
  size_t context_line = 0, context_column = 0;
};

// A hint for `p` in document `text`, starting with "; " so it can follow the message, or ""
// when none of the common causes fits.
std::string YamlSyntaxHint(std::string_view text, const YamlProblem& p);

}  // namespace sluice
