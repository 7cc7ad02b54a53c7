// Functions called on a namespace other than math (math_functions.h): lists.range, from CEL's
// lists extension; base64.encode and base64.decode, from CEL's encoders extension; and Sluice's
// own json.encode and json.decode (imported Argo expressions read JSON text with them). The
// namespace is written as a receiver (`lists.range(3)`) and is never read as a variable.
// Internal to src/expr (eval.cc, check.cc and parse.cc call it); pure.
#pragma once

#include <optional>
#include <span>

#include "common/error.h"
#include "common/value.h"
#include "expr/check.h"

namespace sluice {

struct Node;

// Whether `n` is a call of one of these functions.
bool IsExtensionCall(const Node& n);
// Whether `n`'s receiver names a namespace: one of these, or math.greatest / math.least.
bool IsNamespaced(const Node& n);

// The call `n` (IsExtensionCall) over `args`, the arguments after the namespace. Errors have
// no location.
Result<Value> CallExtension(const Node& n, std::span<const Value> args);

// The static type of the call `n` (IsExtensionCall) given its arguments' types, or an error
// "no such overload: F(T)" naming the first argument that can never fit (no location).
Result<StaticType> ExtensionType(const Node& n, std::span<const StaticType> args);

}  // namespace sluice
