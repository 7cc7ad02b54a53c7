#include "expr/math_functions.h"

#include <fmt/format.h>

#include "expr/ast.h"

namespace sluice {

bool IsMathExtremum(const Node& n) {
  return n.kind == Node::Kind::kCall && n.has_receiver && !n.args.empty() &&
         n.args[0]->kind == Node::Kind::kIdent && n.args[0]->name == "math" &&
         (n.name == "greatest" || n.name == "least");
}

namespace {

// The greatest (least) of `values`, which are all numbers. REQUIRES: not empty.
Value Extremum(std::span<const Value> values, bool greatest) {
  const Value* best = &values[0];
  for (const Value& v : values.subspan(1)) {
    // CompareNumbers gives 2 for NaN: a NaN never replaces the best so far.
    int c = CompareNumbers(v, *best);
    if (greatest ? c == 1 : c == -1) best = &v;
  }
  return *best;
}

// The first value that is not a number, or null.
const Value* FirstNonNumber(std::span<const Value> values) {
  for (const Value& v : values) {
    if (!v.is_number()) return &v;
  }
  return nullptr;
}

}  // namespace

Result<Value> MathExtremum(std::string_view f, bool greatest, std::span<const Value> args) {
  if (args.empty()) {
    return Fail(ErrorCode::kInvalidInput, "{}() needs at least one argument", f);
  }
  if (args.size() == 1 && args[0].is_list()) {
    const ValueList& l = args[0].as_list();
    if (l.empty()) return Fail(ErrorCode::kInvalidInput, "{}() of an empty list", f);
    if (const Value* bad = FirstNonNumber(l)) {
      return Fail(ErrorCode::kInvalidInput, "{}(): the list holds a {}, not only numbers", f,
                  bad->TypeName());
    }
    return Extremum(l, greatest);
  }
  if (const Value* bad = FirstNonNumber(args)) {
    return Fail(ErrorCode::kInvalidInput, "no such overload: {}({}){}", f, bad->TypeName(),
                args.size() > 1 && bad->is_list() ? ": a list must be the only argument" : "");
  }
  return Extremum(args, greatest);
}

std::optional<Result<Value>> CallListExtremum(std::string_view f, bool receiver,
                                              std::span<const Value> args) {
  if (!receiver || args.size() != 1 || !args[0].is_list() || (f != "max" && f != "min")) {
    return std::nullopt;
  }
  return MathExtremum(f, f == "max", args);
}

}  // namespace sluice
