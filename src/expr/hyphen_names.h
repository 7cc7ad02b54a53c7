// Names with hyphens in expressions (`tasks.flip-coin`, `params.max-depth`), which most Argo and
// Kubeflow names have. Internal to src/expr (the parser calls it); pure.
#pragma once

#include <string_view>

#include "common/error.h"
#include "expr/expr.h"

namespace sluice {

// Where the member name of `root.NAME` ends. The lexer read an identifier from `start` to
// `end` in `text`; when `-` and another identifier follow with no space between, the longest
// such run `a-b-c` that `names` declares under `root` is the name, and its end is returned.
// Otherwise `end`: the `-` is subtraction, as CEL reads it.
// Fails (message without a column) when the reading is ambiguous: for params, a shorter
// declared name followed by `-` and a number or a variable (params.a-1 with both `a` and `a-1`
// declared). `tasks.NAME` alone is never a value, so tasks are never ambiguous.
Result<size_t> HyphenatedNameEnd(std::string_view text, size_t start, size_t end,
                                 std::string_view root, const DeclaredNames& names);

}  // namespace sluice
