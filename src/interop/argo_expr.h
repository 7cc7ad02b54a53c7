// Argo's expression tags (`{{= … }}`) and `valueFrom.expression`, written in expr-lang
// (https://expr-lang.org/docs/language-definition), translated into Sluice's CEL. The subset
// is documented in docs/interop.md ("Expressions"); anything outside it is an error naming
// what is not imported, never a guess. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "interop/argo_tags.h"

namespace sluice {

// `expr` (the text after `=` in a tag, or a valueFrom.expression) as one CEL expression. Argo's
// parameters are strings: every variable but `item` is read as text, as upstream sees it.
// Errors carry "column N": the column within `expr` plus `column_offset` (where `expr` starts in
// the text it was read from).
Result<std::string> TranslateArgoExpr(std::string_view expr, ArgoScope& scope,
                                      size_t column_offset = 0);

}  // namespace sluice
