// Static checks of expressions at validate time: with the types known before a run (declared
// params, literals, run/task fields), operators applied to operands that can never fit are
// errors, located by column. Unknown types (outputs of other tasks, forEach items) are `dyn` and
// pass. A subset of CEL's type checker: no parametric types yet.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "common/error.h"

namespace sluice {

class Expression;

enum class StaticType { kDyn, kNull, kBool, kInt, kUint, kDouble, kNumber, kString, kBytes,
                        kList, kMap, kType, kTimestamp, kDuration };

// What the checker knows about variables.
class TypeEnv {
 public:
  virtual ~TypeEnv() = default;
  // The type of the longest known prefix of `path` and how many segments it covers; nullopt
  // (dyn) when nothing is known.
  virtual std::optional<std::pair<StaticType, size_t>> Lookup(
      std::span<const std::string> path) const = 0;
};

// Checks `e`. On failure the message reads "column N: no such overload: number > string".
Status CheckExpression(const Expression& e, const TypeEnv& env);
// The same check, giving the expression's type (kDyn when it cannot be known before a run).
Result<StaticType> CheckedType(const Expression& e, const TypeEnv& env);

std::string_view StaticTypeName(StaticType t);

}  // namespace sluice
