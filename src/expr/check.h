// Static checks of expressions at validate time: with the types known before a run (declared
// params, literals, run/task fields), operators applied to operands that can never fit are
// errors, located by column. Unknown types (outputs of other tasks, forEach items) are `dyn` and
// pass. A subset of CEL's type checker: no parametric types yet.
#pragma once

#include <optional>
#include <span>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// The shape of a value an expression reads, for checking field names before a run: an object
// with known fields, a list of items, or a dict (any keys) of values; null `item` = unknown.
// Used for policy inputs, whose fields are fixed by Sluice (docs/governance.md).
struct Shape {
  enum class Kind { kObject, kList, kDict };
  Kind kind = Kind::kObject;
  std::string name;  // what it is, for messages: "an admission policy's object", "a task"
  std::vector<std::pair<std::string, std::shared_ptr<const Shape>>> fields;  // kObject
  std::shared_ptr<const Shape> item;  // kList: each item; kDict: each value
};

// Checks every field `e` selects on a value whose shape is known: the identifier `root` has
// `shape`, and a comprehension's variable (object.tasks.all(t, ...)) the shape of the items it
// ranges over. On failure: "column N: a task has no field "aproval"; it has name, ... (did you
// mean "approval"?)". Fields of unknown shape (params, outputs) pass.
Status CheckShape(const Expression& e, const std::string& root, const Shape& shape);

}  // namespace sluice
