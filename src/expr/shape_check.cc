// CheckShape: field names against a known shape, through comprehension variables.
#include <map>

#include "common/strings.h"
#include "expr/ast.h"
#include "expr/check.h"
#include "expr/expr.h"

namespace sluice {

namespace {

// Walks the tree once, giving each subexpression the shape of its value when it is known.
class ShapeChecker {
 public:
  ShapeChecker(const std::string& root, const Shape& shape) { bound_[root] = &shape; }

  Result<const Shape*> Of(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kIdent: {
        auto it = bound_.find(n.name);
        return it == bound_.end() ? nullptr : it->second;
      }
      case Node::Kind::kSelect: {
        SLUICE_TRY(base, Of(*n.args[0]));
        return Field(*base, n.name, n.column);
      }
      case Node::Kind::kIndex: {
        SLUICE_TRY(base, Of(*n.args[0]));
        SLUICE_TRY_STATUS(Walk(*n.args[1]));
        return *base && (*base)->kind != Shape::Kind::kObject ? (*base)->item.get() : nullptr;
      }
      case Node::Kind::kCall: return Call(n);
      default:
        for (const auto& a : n.args) SLUICE_TRY_STATUS(Walk(*a));
        return nullptr;
    }
  }

 private:
  Status Walk(const Node& n) {
    auto s = Of(n);
    if (!s) return std::unexpected(s.error());
    return {};
  }

  // The shape of field `f` of a value of shape `base`; an error when base is an object
  // without it.
  Result<const Shape*> Field(const Shape* base, const std::string& f, int column) {
    if (!base) return nullptr;
    if (base->kind == Shape::Kind::kDict) return base->item.get();
    if (base->kind == Shape::Kind::kList) return nullptr;  // a list has no fields: evaluation says so
    std::vector<std::string> names;
    for (const auto& [name, shape] : base->fields) {
      if (name == f) return shape.get();
      names.push_back(name);
    }
    return Fail(ErrorCode::kInvalidInput, "column {}: {} has no field {}; it has {}{}", column,
                base->name, Quote(f), Join(names, ", "), DidYouMean(f, names));
  }

  Result<const Shape*> Call(const Node& n) {
    const std::string& f = n.name;
    bool comprehension = n.has_receiver && n.args.size() >= 3 &&
                         n.args[1]->kind == Node::Kind::kIdent &&
                         (f == "all" || f == "exists" || f == "exists_one" || f == "map" ||
                          f == "filter");
    if (!comprehension) {
      for (const auto& a : n.args) SLUICE_TRY_STATUS(Walk(*a));
      return nullptr;
    }
    SLUICE_TRY(range, Of(*n.args[0]));
    // A list's items have its item shape; a map's keys (what a comprehension ranges over) are
    // strings.
    const Shape* item = *range && (*range)->kind == Shape::Kind::kList ? (*range)->item.get() : nullptr;
    const std::string& var = n.args[1]->name;
    auto saved = bound_.find(var) != bound_.end() ? std::optional(bound_[var]) : std::nullopt;
    bound_[var] = item;
    Status st;
    for (size_t i = 2; i < n.args.size() && st; ++i) st = Walk(*n.args[i]);
    if (saved) bound_[var] = *saved;
    else bound_.erase(var);
    if (!st) return std::unexpected(st.error());
    if (f == "filter" && *range) return *range;
    return nullptr;
  }

  std::map<std::string, const Shape*> bound_;  // names in scope with a known (or null) shape
};

}  // namespace

Status CheckShape(const Expression& e, const std::string& root, const Shape& shape) {
  ShapeChecker c(root, shape);
  auto s = c.Of(e.root());
  if (!s) return std::unexpected(s.error());
  return {};
}

}  // namespace sluice
