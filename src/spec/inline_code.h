// Which argument of a `run` list is code for an interpreter: the command string of `sh -c`
// (and bash, dash, zsh, ksh...), the program of `python -c`, `perl -e`, `ruby -e`, `node -e`,
// `php -r` and awk. A `${{ }}` placeholder there would splice a value into code, so the loader
// refuses it, as it refuses placeholders in `script:`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct InlineCode {
  size_t index = 0;     // of the argument that holds code
  std::string program;  // as the message names it: "sh -c", "python3 -c", "awk"
};

// `args` are the run list's texts as written (placeholders included). Wrappers before the
// interpreter (`/usr/bin/env`, `nice`, `timeout 5`, `busybox`...) are looked through, and
// options before the code (`bash -euo pipefail -c`, `sh -ec`, `python3 -Bc`). Returns nullopt
// when no argument is code for an interpreter it knows (a script file, `sh script.sh`, or an
// argument after the code, such as sh -c's $0 and $1, which are safe).
std::optional<InlineCode> FindInlineCode(const std::vector<std::string_view>& args);

}  // namespace sluice
