#include "expr/check.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <vector>

#include "expr/ast.h"
#include "expr/expr.h"
#include "expr/ext_functions.h"
#include "expr/math_functions.h"

namespace sluice {

std::string_view StaticTypeName(StaticType t) {
  static constexpr std::string_view kNames[] = {
      "dyn",  "null_type", "bool", "int", "uint", "double", "number", "string",
      "bytes", "list", "map", "type", "google.protobuf.Timestamp", "google.protobuf.Duration"};
  return kNames[static_cast<int>(t)];
}

namespace {

using T = StaticType;

bool Numeric(T t) { return t == T::kInt || t == T::kUint || t == T::kDouble || t == T::kNumber; }

class Checker {
 public:
  explicit Checker(const TypeEnv& env) : env_(env) {}

  Result<T> Type(const Node& n, int depth = 0) {
    switch (n.kind) {
      case Node::Kind::kLiteral: return LiteralType(n);
      case Node::Kind::kIdent:
      case Node::Kind::kSelect: return PathType(n);
      case Node::Kind::kList:
      case Node::Kind::kMap: {
        for (const auto& a : n.args) {
          if (auto t = Type(*a); !t) return t;
        }
        return n.kind == Node::Kind::kList ? T::kList : T::kMap;
      }
      case Node::Kind::kIndex: {
        auto base = Type(*n.args[0]);
        if (!base) return base;
        if (auto i = Type(*n.args[1]); !i) return i;
        if (*base != T::kDyn && *base != T::kList && *base != T::kMap) {
          return Err(n, fmt::format("cannot index a {}", StaticTypeName(*base)));
        }
        return T::kDyn;
      }
      case Node::Kind::kUnary: {
        auto t = Type(*n.args[0]);
        if (!t) return t;
        if (n.name == "!") return Want(n, *t, T::kBool, "!");
        if (*t != T::kDyn && !Numeric(*t) && *t != T::kDuration) return Overload(n, "-", *t);
        return *t;
      }
      case Node::Kind::kAnd:
      case Node::Kind::kOr: {
        for (const auto& a : n.args) {
          auto t = Type(*a);
          if (!t) return t;
          if (auto w = Want(*a, *t, T::kBool, n.name); !w) return w;
        }
        return T::kBool;
      }
      case Node::Kind::kCond: {
        auto c = Type(*n.args[0]);
        if (!c) return c;
        if (auto w = Want(*n.args[0], *c, T::kBool, "?:"); !w) return w;
        auto a = Type(*n.args[1]);
        if (!a) return a;
        auto b = Type(*n.args[2]);
        if (!b) return b;
        return *a == *b ? *a : T::kDyn;
      }
      case Node::Kind::kBinary: return Binary(n);
      case Node::Kind::kCall: return Call(n);
    }
    return T::kDyn;
  }

 private:
  std::unexpected<Error> Err(const Node& n, std::string what) {
    return Fail(ErrorCode::kInvalidInput, "column {}: {}", n.column, what);
  }
  std::unexpected<Error> Overload(const Node& n, std::string_view op, T a) {
    return Err(n, fmt::format("no such overload: {}{}", op, StaticTypeName(a)));
  }
  Result<T> Want(const Node& n, T got, T want, std::string_view op) {
    if (got == T::kDyn || got == want) return want;
    // Point at where the operand starts: the root of a.b.c, not its last dot.
    const Node* start = &n;
    while (start->kind == Node::Kind::kSelect) start = start->args[0].get();
    return Err(*start, fmt::format("{} needs a {}, got a {}", op, StaticTypeName(want),
                                   StaticTypeName(got)));
  }

  static Result<T> LiteralType(const Node& n) {
    switch (n.value.kind()) {
      case Value::Kind::kNull: return T::kNull;
      case Value::Kind::kBool: return T::kBool;
      case Value::Kind::kInt: return T::kInt;
      case Value::Kind::kUint: return T::kUint;
      case Value::Kind::kDouble: return T::kDouble;
      case Value::Kind::kString: return T::kString;
      case Value::Kind::kBytes: return T::kBytes;
      default: return T::kDyn;
    }
  }

  Result<T> PathType(const Node& n) {
    std::vector<std::string> path;
    const Node* cur = &n;
    while (cur->kind == Node::Kind::kSelect) {
      path.push_back(cur->name);
      cur = cur->args[0].get();
    }
    if (cur->kind != Node::Kind::kIdent) {
      auto base = Type(*cur);
      if (!base) return base;
      if (*base != T::kDyn && *base != T::kMap) {
        return Err(n, fmt::format("cannot select a field of a {}", StaticTypeName(*base)));
      }
      return T::kDyn;
    }
    path.push_back(cur->name);
    std::reverse(path.begin(), path.end());
    if (bound_.count(path[0])) return T::kDyn;
    auto known = env_.Lookup(path);
    if (!known) return T::kDyn;
    if (known->second < path.size() && known->first != T::kDyn && known->first != T::kMap) {
      return Err(n, fmt::format("cannot select field {} of a {}", path[known->second],
                                StaticTypeName(known->first)));
    }
    return known->second == path.size() ? known->first : T::kDyn;
  }

  Result<T> Binary(const Node& n) {
    auto l = Type(*n.args[0]);
    if (!l) return l;
    auto r = Type(*n.args[1]);
    if (!r) return r;
    const std::string& op = n.name;
    if (op == "==" || op == "!=" || op == "in") return T::kBool;
    bool dyn = *l == T::kDyn || *r == T::kDyn;
    auto mismatch = [&] {
      return Err(n, fmt::format("no such overload: {} {} {}", StaticTypeName(*l), op,
                                StaticTypeName(*r)));
    };
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      bool ok = dyn || (Numeric(*l) && Numeric(*r)) || *l == *r;
      if (!ok) return mismatch();
      return T::kBool;
    }
    if (dyn) return T::kDyn;
    if (Numeric(*l) && Numeric(*r)) {
      if (*l == *r) return *l;
      if (*l == T::kNumber || *r == T::kNumber) return T::kNumber;
      return mismatch();  // int + double: CEL has no implicit conversion
    }
    if (op == "+" && *l == *r && (*l == T::kString || *l == T::kBytes || *l == T::kList)) return *l;
    if ((op == "+" || op == "-") && (*l == T::kTimestamp || *l == T::kDuration ||
                                     *r == T::kTimestamp || *r == T::kDuration)) {
      return T::kDyn;
    }
    return mismatch();
  }

  Result<T> Call(const Node& n) {
    const std::string& f = n.name;
    bool comprehension = n.has_receiver && n.args.size() >= 3 &&
                         n.args[1]->kind == Node::Kind::kIdent &&
                         (f == "all" || f == "exists" || f == "exists_one" || f == "map" ||
                          f == "filter");
    if (comprehension) {
      if (auto t = Type(*n.args[0]); !t) return t;
      const std::string& var = n.args[1]->name;
      bool fresh = bound_.insert(var).second;
      Result<T> result = T::kDyn;
      for (size_t i = 2; i < n.args.size() && result; ++i) {
        auto t = Type(*n.args[i]);
        if (!t) result = t;
      }
      if (fresh) bound_.erase(var);
      if (!result) return result;
      return f == "map" || f == "filter" ? T::kList : T::kBool;
    }
    if (IsMathExtremum(n)) return MathType(n);
    if (IsExtensionCall(n)) {
      std::vector<T> types;
      for (size_t i = 1; i < n.args.size(); ++i) {
        auto t = Type(*n.args[i]);
        if (!t) return t;
        types.push_back(*t);
      }
      auto t = ExtensionType(n, types);
      if (!t) return Err(n.args.size() > 1 ? *n.args[1] : n, t.error().message);
      return *t;
    }
    for (const auto& a : n.args) {
      if (f == "has") break;  // has(m.f) must not require m.f to exist
      if (auto t = Type(*a); !t) return t;
    }
    if (f == "size" || f == "int") return T::kInt;
    if (f == "uint") return T::kUint;
    if (f == "double") return T::kDouble;
    if (f == "string") return T::kString;
    if (f == "bytes") return T::kBytes;
    if (f == "bool" || f == "has" || f == "contains" || f == "startsWith" || f == "endsWith" ||
        f == "matches") {
      return T::kBool;
    }
    if ((f == "max" || f == "min") && n.has_receiver && n.args.size() == 1) {
      auto t = Type(*n.args[0]);
      if (t && *t != T::kDyn && *t != T::kList) {
        return Err(n, fmt::format("no such overload: {}.{}()", StaticTypeName(*t), f));
      }
      return T::kDyn;
    }
    if (f == "type") return T::kType;
    if (f == "timestamp") return T::kTimestamp;
    if (f == "duration") return T::kDuration;
    return T::kDyn;
  }

  // math.greatest(a, ...) / math.least(a, ...): numbers, or one list. The result has the
  // arguments' type when they share one, else it is known only at run time.
  Result<T> MathType(const Node& n) {
    std::string f = "math." + n.name;
    if (n.args.size() < 2) return Err(n, fmt::format("{}() needs at least one argument", f));
    std::optional<T> same;
    for (size_t i = 1; i < n.args.size(); ++i) {
      auto t = Type(*n.args[i]);
      if (!t) return t;
      bool one_list = n.args.size() == 2 && *t == T::kList;
      if (*t != T::kDyn && !Numeric(*t) && !one_list) {
        return Err(*n.args[i], fmt::format("no such overload: {}({})", f, StaticTypeName(*t)));
      }
      if (!same) same = *t;
      else if (*same != *t) same = T::kDyn;
    }
    return same && Numeric(*same) ? *same : T::kDyn;
  }

  const TypeEnv& env_;
  std::set<std::string> bound_;
};

}  // namespace

Status CheckExpression(const Expression& e, const TypeEnv& env) {
  auto t = Checker(env).Type(e.root());
  if (!t) return std::unexpected(t.error());
  return {};
}

Result<StaticType> CheckedType(const Expression& e, const TypeEnv& env) {
  return Checker(env).Type(e.root());
}

}  // namespace sluice
