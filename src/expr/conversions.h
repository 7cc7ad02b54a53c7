// CEL's one-argument type conversions: int, uint, double, string, bytes, bool, type, dyn.
// Internal to src/expr (eval.cc calls it); pure.
#pragma once

#include <optional>
#include <string_view>

#include "common/error.h"
#include "common/value.h"

namespace sluice {

// `f`(v). Returns nullopt when `f` is not one of the conversions; an error's message has no
// location (the caller adds it). Out-of-range numbers and unparsable strings are errors, as in
// CEL; string(bytes) requires valid UTF-8.
std::optional<Result<Value>> Convert(std::string_view f, const Value& v);

}  // namespace sluice
