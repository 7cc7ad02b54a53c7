// The greatest and least of numbers: CEL's math extension (`math.greatest`, `math.least`) and
// Sluice's list form (`xs.max()`, `xs.min()`). Internal to src/expr (eval.cc and check.cc call
// it); pure.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "common/error.h"
#include "common/value.h"

namespace sluice {

struct Node;

// Whether `n` is a call of math.greatest or math.least: written with the receiver `math`, which
// names the namespace and is never read as a variable.
bool IsMathExtremum(const Node& n);


// math.greatest / math.least over `args` (the arguments after the namespace), as cel-go's math
// extension defines them: one number gives itself; one list gives its greatest (least) element;
// several arguments must all be numbers. ints, uints and doubles mix, compared by value, and the
// winner keeps its kind; of equal values the first wins. An empty list, a list holding something
// other than a number, and any other argument are errors (messages without a location).
Result<Value> MathExtremum(std::string_view f, bool greatest, std::span<const Value> args);

// xs.max() and xs.min() (Sluice's, not CEL's: cel-go's lists extension has no max or min): the
// same as math.greatest(xs) and math.least(xs). nullopt when `f` with this receiver is not
// one of them.
std::optional<Result<Value>> CallListExtremum(std::string_view f, bool receiver,
                                              std::span<const Value> args);

}  // namespace sluice
