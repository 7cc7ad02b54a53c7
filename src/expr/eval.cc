// The expression evaluator: a tree walk over the parsed Node tree with CEL's semantics for the
// operators it supports (strict types, no implicit conversions except numeric comparison,
// overflow is an error, && and || absorb an error when the other side decides the result).
#include <re2/re2.h>

#include <cmath>
#include <limits>

#include "common/strings.h"
#include "expr/ast.h"
#include "expr/conversions.h"
#include "expr/expr.h"
#include "expr/ext_functions.h"
#include "expr/math_functions.h"
#include "expr/time_functions.h"

namespace sluice {
namespace {

constexpr int64_t kMaxSteps = 1'000'000;

class Evaluator {
 public:
  explicit Evaluator(const Activation& act) : act_(&act) {}

  Result<Value> Eval(const Node& n) {
    if (++steps_ > kMaxSteps) return Err(n, "evaluation too costly");
    switch (n.kind) {
      case Node::Kind::kLiteral: return n.value;
      case Node::Kind::kIdent:
      case Node::Kind::kSelect: return Path(n);
      case Node::Kind::kIndex: return Index(n);
      case Node::Kind::kCall: return Call(n);
      case Node::Kind::kUnary: return Unary(n);
      case Node::Kind::kBinary: return Binary(n);
      case Node::Kind::kAnd:
      case Node::Kind::kOr: return Logic(n);
      case Node::Kind::kCond: {
        auto c = Eval(*n.args[0]);
        if (!c) return c;
        if (!c->is_bool()) return Err(n, fmt::format("condition is {}, not bool", c->TypeName()));
        return Eval(*n.args[c->as_bool() ? 1 : 2]);
      }
      case Node::Kind::kList: {
        ValueList l;
        for (const auto& a : n.args) {
          auto v = Eval(*a);
          if (!v) return v;
          l.push_back(std::move(*v));
        }
        return Value(std::move(l));
      }
      case Node::Kind::kMap: {
        ValueMap m;
        for (size_t i = 0; i + 1 < n.args.size(); i += 2) {
          auto k = Eval(*n.args[i]);
          if (!k) return k;
          if (!k->is_string() && !k->is_int() && !k->is_uint() && !k->is_bool()) {
            return Err(*n.args[i], fmt::format("a map key must be a string, int, uint or bool, "
                                               "not a {}", k->TypeName()));
          }
          auto v = Eval(*n.args[i + 1]);
          if (!v) return v;
          for (const auto& [ek, ev] : m) {
            if (ek == *k) return Err(*n.args[i], "repeated map key");
          }
          m.emplace_back(std::move(*k), std::move(*v));
        }
        return Value(std::move(m));
      }
    }
    return Err(n, "unsupported expression");
  }

 private:
  std::unexpected<Error> Err(const Node& n, std::string what) {
    return Fail(ErrorCode::kInvalidInput, "column {}: {}", n.column, what);
  }

  // ident(.field)* : hands the whole dotted path to the activation, then selects the rest.
  Result<Value> Path(const Node& n) {
    std::vector<const Node*> chain;
    const Node* cur = &n;
    while (cur->kind == Node::Kind::kSelect) {
      chain.push_back(cur);
      cur = cur->args[0].get();
    }
    if (cur->kind != Node::Kind::kIdent) {
      auto base = Eval(*cur);
      if (!base) return base;
      Value v = std::move(*base);
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        auto next = Field(v, **it);
        if (!next) return next;
        v = std::move(*next);
      }
      return v;
    }
    // The dotted path, on the stack for the usual short ones: evaluating `a.b.c` should not
    // allocate (names up to 15 characters fit std::string's inline buffer).
    std::array<std::string, 8> inline_path;
    std::vector<std::string> long_path;
    std::span<std::string> path;
    if (chain.size() + 1 <= inline_path.size()) {
      path = std::span<std::string>(inline_path.data(), chain.size() + 1);
    } else {
      long_path.resize(chain.size() + 1);
      path = long_path;
    }
    path[0] = cur->name;
    for (size_t k = 0; k < chain.size(); ++k) path[k + 1] = chain[chain.size() - 1 - k]->name;
    auto r = act_->Resolve(path);
    if (!r) {
      // An unbound type name denotes the type: `int`, `string`, `type`...
      std::string joined = Join(path, ".");
      if (IsTypeName(cur->name)) {
        r = Activation::Resolved{Value(TypeValue{cur->name}), 1};
      } else if (joined == "google.protobuf.Timestamp" || joined == "google.protobuf.Duration") {
        r = Activation::Resolved{Value(TypeValue{joined}), path.size()};
      } else {
        return Err(*cur, r.error().message);
      }
    }
    Value v = std::move(r->value);
    for (size_t i = r->consumed; i < path.size(); ++i) {
      auto next = Field(v, *chain[chain.size() - i]);
      if (!next) return next;
      v = std::move(*next);
    }
    return v;
  }

  Result<Value> Field(const Value& v, const Node& sel) {
    if (!v.is_map()) {
      return Err(sel, fmt::format("cannot select field {} of a {}", Quote(sel.name), v.TypeName()));
    }
    const Value* f = v.Find(sel.name);
    if (!f) return Err(sel, fmt::format("no such key: {}", Quote(sel.name)));
    return *f;
  }

  Result<Value> Index(const Node& n) {
    auto base = Eval(*n.args[0]);
    if (!base) return base;
    auto idx = Eval(*n.args[1]);
    if (!idx) return idx;
    if (base->is_list()) {
      if (!idx->is_number()) return Err(n, "list index must be a number");
      const auto& l = base->as_list();
      double d = idx->to_double();
      if (d != std::floor(d) || d < 0 || d >= static_cast<double>(l.size())) {
        return Err(n, fmt::format("index {} out of range (size {})", idx->ToText(), l.size()));
      }
      return l[static_cast<size_t>(d)];
    }
    if (base->is_map()) {
      const Value* f = base->Find(*idx);
      if (!f) return Err(n, fmt::format("no such key: {}", Quote(idx->ToText())));
      return *f;
    }
    return Err(n, fmt::format("cannot index a {}", base->TypeName()));
  }

  Result<Value> Logic(const Node& n) {
    bool is_and = n.kind == Node::Kind::kAnd;
    auto l = Eval(*n.args[0]);
    if (l && l->is_bool() && l->as_bool() != is_and) return *l;  // short circuit
    auto r = Eval(*n.args[1]);
    if (r && r->is_bool() && r->as_bool() != is_and) return *r;  // absorbs an error on the left
    if (!l) return l;
    if (!r) return r;
    if (!l->is_bool() || !r->is_bool()) {
      return Err(n, fmt::format("no such overload: {} {} {}", l->TypeName(), n.name, r->TypeName()));
    }
    return Value(is_and);
  }

  Result<Value> Unary(const Node& n) {
    auto v = Eval(*n.args[0]);
    if (!v) return v;
    if (n.name == "!") {
      if (!v->is_bool()) return Err(n, fmt::format("no such overload: !{}", v->TypeName()));
      return Value(!v->as_bool());
    }
    if (v->is_int()) {
      if (v->as_int() == std::numeric_limits<int64_t>::min()) return Err(n, "integer overflow");
      return Value(-v->as_int());
    }
    if (v->is_double()) return Value(-v->as_double());
    return Err(n, fmt::format("no such overload: -{}", v->TypeName()));
  }

  Result<Value> Binary(const Node& n) {
    auto l = Eval(*n.args[0]);
    if (!l) return l;
    auto r = Eval(*n.args[1]);
    if (!r) return r;
    const std::string& op = n.name;
    if (op == "==") return Value(*l == *r);
    if (op == "!=") return Value(!(*l == *r));
    if (op == "in") {
      if (r->is_list()) {
        for (const auto& e : r->as_list()) {
          if (e == *l) return Value(true);
        }
        return Value(false);
      }
      if (r->is_map()) return Value(r->Find(*l) != nullptr);
      return Err(n, fmt::format("no such overload: {} in {}", l->TypeName(), r->TypeName()));
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      int c;
      if (l->is_number() && r->is_number()) {
        c = CompareNumbers(*l, *r);
        if (c == 2) return Value(false);  // NaN
      } else if (l->is_string() && r->is_string()) {
        c = l->as_string().compare(r->as_string());
      } else if (l->is_bytes() && r->is_bytes()) {
        c = l->as_bytes().data.compare(r->as_bytes().data);  // unsigned bytewise (char_traits)
      } else if ((l->is_timestamp() && r->is_timestamp()) || (l->is_duration() && r->is_duration())) {
        c = CompareTime(*l, *r);
      } else if (l->is_bool() && r->is_bool()) {
        c = static_cast<int>(l->as_bool()) - static_cast<int>(r->as_bool());
      } else {
        return Err(n, fmt::format("no such overload: {} {} {}", l->TypeName(), op, r->TypeName()));
      }
      bool res = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
      return Value(res);
    }
    return Arithmetic(n, *l, *r);
  }

  Result<Value> Arithmetic(const Node& n, const Value& l, const Value& r) {
    const std::string& op = n.name;
    if (auto t = TimeArithmetic(op, l, r)) {
      if (!*t) return Err(n, t->error().message);
      return **t;
    }
    auto no_overload = [&] {
      return Err(n, fmt::format("no such overload: {} {} {}", l.TypeName(), op, r.TypeName()));
    };
    if (op == "+") {
      if (l.is_string() && r.is_string()) return Value(l.as_string() + r.as_string());
      if (l.is_bytes() && r.is_bytes()) return Value(Bytes{l.as_bytes().data + r.as_bytes().data});
      if (l.is_list() && r.is_list()) {
        ValueList out = l.as_list();
        out.insert(out.end(), r.as_list().begin(), r.as_list().end());
        return Value(std::move(out));
      }
    }
    if (l.kind() != r.kind()) return no_overload();
    if (l.is_int()) {
      int64_t a = l.as_int(), b = r.as_int(), out = 0;
      bool overflow = false;
      if (op == "+") overflow = __builtin_add_overflow(a, b, &out);
      else if (op == "-") overflow = __builtin_sub_overflow(a, b, &out);
      else if (op == "*") overflow = __builtin_mul_overflow(a, b, &out);
      else if (op == "/" || op == "%") {
        if (b == 0) return Err(n, op == "/" ? "division by zero" : "modulus by zero");
        if (a == std::numeric_limits<int64_t>::min() && b == -1) overflow = true;
        else out = op == "/" ? a / b : a % b;
      }
      if (overflow) return Err(n, "integer overflow");
      return Value(out);
    }
    if (l.is_uint()) {
      uint64_t a = l.as_uint(), b = r.as_uint(), out = 0;
      bool overflow = false;
      if (op == "+") overflow = __builtin_add_overflow(a, b, &out);
      else if (op == "-") overflow = __builtin_sub_overflow(a, b, &out);
      else if (op == "*") overflow = __builtin_mul_overflow(a, b, &out);
      else if (op == "/" || op == "%") {
        if (b == 0) return Err(n, op == "/" ? "division by zero" : "modulus by zero");
        out = op == "/" ? a / b : a % b;
      }
      if (overflow) return Err(n, "unsigned integer overflow");
      return Value(out);
    }
    if (l.is_double()) {
      double a = l.as_double(), b = r.as_double();
      if (op == "+") return Value(a + b);
      if (op == "-") return Value(a - b);
      if (op == "*") return Value(a * b);
      if (op == "/") return Value(a / b);
    }
    return no_overload();
  }

  // A variable bound by a comprehension, over the enclosing activation.
  class Bound : public Activation {
   public:
    Bound(const Activation* parent, const std::string& name) : parent_(parent), name_(name) {}
    Value value;
    Result<Resolved> Resolve(std::span<const std::string> path) const override {
      if (path[0] == name_) return Resolved{value, 1};
      return parent_->Resolve(path);
    }
    const TimeZones* time_zones() const override { return parent_->time_zones(); }

   private:
    const Activation* parent_;
    const std::string& name_;
  };

  static bool IsMacro(const Node& n) {
    if (n.name == "has") return !n.has_receiver && n.args.size() == 1;
    if (!n.has_receiver || n.args.size() < 3 || n.args[1]->kind != Node::Kind::kIdent) return false;
    const std::string& f = n.name;
    if (f == "all" || f == "exists" || f == "exists_one" || f == "filter") return n.args.size() == 3;
    return f == "map" && (n.args.size() == 3 || n.args.size() == 4);
  }

  // has(e.f): whether map e has key f (or a message field, which Sluice has none of).
  Result<Value> Has(const Node& n) {
    const Node& sel = *n.args[0];
    if (sel.kind != Node::Kind::kSelect) return Err(n, "has() needs a field selection, e.g. has(m.f)");
    auto base = Eval(*sel.args[0]);
    if (!base) return base;
    if (!base->is_map()) {
      return Err(n, fmt::format("has() on a {}, not a map", base->TypeName()));
    }
    return Value(base->Find(sel.name) != nullptr);
  }

  // The comprehension macros: all, exists, exists_one, map (both forms) and filter, over the
  // items of a list or the keys of a map. all/exists absorb an error when another item decides
  // the result, as && and || do.
  Result<Value> Comprehension(const Node& n) {
    auto range = Eval(*n.args[0]);
    if (!range) return range;
    ValueList items;
    if (range->is_list()) {
      items = range->as_list();
    } else if (range->is_map()) {
      for (const auto& [k, v] : range->as_map()) items.push_back(k);
    } else {
      return Err(n, fmt::format("{}() needs a list or a map, not a {}", n.name, range->TypeName()));
    }
    Bound scope(act_, n.args[1]->name);
    const Activation* saved = act_;
    act_ = &scope;
    auto result = Iterate(n, items, scope);
    act_ = saved;
    return result;
  }

  Result<Value> Iterate(const Node& n, const ValueList& items, Bound& scope) {
    const std::string& f = n.name;
    std::optional<Error> error;
    int64_t count = 0;
    ValueList out;
    for (const auto& item : items) {
      scope.value = item;
      auto v = Eval(*n.args[2]);
      if (f == "map" && n.args.size() == 3) {
        if (!v) return v;
        out.push_back(std::move(*v));
        continue;
      }
      if (v && !v->is_bool()) {
        return Err(*n.args[2], fmt::format("{}() predicate gave a {}, not a bool", f, v->TypeName()));
      }
      if (f == "all" || f == "exists") {
        if (!v) {
          if (!error) error = v.error();
          continue;
        }
        if (v->as_bool() == (f == "exists")) return Value(f == "exists");
        continue;
      }
      if (!v) return v;  // exists_one, filter and map(x, p, e) are strict
      if (!v->as_bool()) continue;
      ++count;
      if (f == "filter") out.push_back(item);
      if (f == "map") {
        auto m = Eval(*n.args[3]);
        if (!m) return m;
        out.push_back(std::move(*m));
      }
    }
    if (f == "all" || f == "exists") {
      if (error) return std::unexpected(*error);
      return Value(f == "all");
    }
    if (f == "exists_one") return Value(count == 1);
    return Value(std::move(out));
  }

  // s.matches(re): RE2 syntax, true when the pattern matches anywhere in s. A bad pattern is
  // an evaluation error. Patterns compile per call; the engine caches compiled expressions,
  // not regexes, which is cheap next to process starts.
  Result<Value> Matches(const Node& n, const std::string& s, const std::string& pattern) {
    RE2::Options opts;
    opts.set_log_errors(false);
    RE2 re(pattern, opts);
    if (!re.ok()) return Err(n, fmt::format("invalid regular expression {}: {}", Quote(pattern), re.error()));
    return Value(RE2::PartialMatch(s, re));
  }

  static bool IsTypeName(std::string_view s) {
    return s == "int" || s == "uint" || s == "double" || s == "bool" || s == "string" ||
           s == "bytes" || s == "list" || s == "map" || s == "null_type" || s == "type";
  }

  Result<Value> Call(const Node& n) {
    if (IsMacro(n)) return n.name == "has" ? Has(n) : Comprehension(n);
    const bool math = IsMathExtremum(n);  // math names a namespace, not a variable
    std::vector<Value> args;
    for (const auto& a : std::span(n.args).subspan(IsNamespaced(n) ? 1 : 0)) {
      auto v = Eval(*a);
      if (!v) return v;
      args.push_back(std::move(*v));
    }
    const std::string& f = n.name;
    auto bad = [&] {
      std::vector<std::string> types;
      for (const auto& a : args) types.push_back(a.TypeName());
      return Err(n, fmt::format("no such overload: {}({})", f, Join(types, ", ")));
    };
    if (f == "size" && args.size() == 1) {
      const Value& v = args[0];
      if (v.is_string()) {
        int64_t count = 0;  // code points
        for (unsigned char c : v.as_string()) count += (c & 0xC0) != 0x80;
        return Value(count);
      }
      if (v.is_bytes()) return Value(static_cast<int64_t>(v.as_bytes().data.size()));
      if (v.is_list()) return Value(static_cast<int64_t>(v.as_list().size()));
      if (v.is_map()) return Value(static_cast<int64_t>(v.as_map().size()));
      return bad();
    }
    if (f == "matches" && !n.has_receiver && args.size() == 2 && args[0].is_string() &&
        args[1].is_string()) {
      return Matches(n, args[0].as_string(), args[1].as_string());
    }
    if ((f == "contains" || f == "startsWith" || f == "endsWith" || f == "matches") &&
        n.has_receiver &&
        args.size() == 2 && args[0].is_string() && args[1].is_string()) {
      const std::string& s = args[0].as_string();
      const std::string& t = args[1].as_string();
      if (f == "contains") return Value(s.find(t) != std::string::npos);
      if (f == "matches") return Matches(n, s, t);
      if (f == "startsWith") return Value(StartsWith(s, t));
      return Value(s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0);
    }
    // list.join() and list.join(separator), from CEL's strings extension: the messages of
    // policies list names.
    if (f == "join" && n.has_receiver && !args.empty() && args.size() <= 2 && args[0].is_list() &&
        (args.size() == 1 || args[1].is_string())) {
      std::string out;
      const std::string sep = args.size() == 2 ? args[1].as_string() : "";
      bool first = true;
      for (const auto& e : args[0].as_list()) {
        if (!e.is_string()) return Err(n, fmt::format("join: the list holds a {}, not only strings", e.TypeName()));
        if (!first) out += sep;
        first = false;
        out += e.as_string();
        if (out.size() > (1u << 20)) return Err(n, "join: the result is longer than 1 MiB");
      }
      return Value(std::move(out));
    }
    if (IsExtensionCall(n)) {
      auto v = CallExtension(n, args);
      if (!v) return Err(n, v.error().message);
      return v;
    }
    if (math) {
      auto v = MathExtremum("math." + f, f == "greatest", args);
      if (!v) return Err(n, v.error().message);
      return v;
    }
    if (auto m = CallListExtremum(f, n.has_receiver, args)) {
      if (!*m) return Err(n, m->error().message);
      return **m;
    }
    if (auto t = CallTimeFunction(f, n.has_receiver, args, act_->time_zones())) {
      if (!*t) return Err(n, t->error().message);
      return **t;
    }
    if (args.size() == 1 && !n.has_receiver) {
      if (auto conv = Convert(f, args[0])) {
        if (!*conv) return Err(n, conv->error().message);
        return **conv;
      }
    }
    return Err(n, fmt::format("unknown function {}", Quote(f)));
  }

  const Activation* act_;  // swapped while a comprehension binds its variable
  int64_t steps_ = 0;
};

}  // namespace

Result<Value> Expression::Evaluate(const Activation& act) const {
  return Evaluator(act).Eval(*root_);
}

Result<Value> Template::Evaluate(const Activation& act) const {
  if (pieces_.size() == 1 && pieces_[0].expr) return pieces_[0].expr->Evaluate(act);
  auto s = Render(act);
  if (!s) return std::unexpected(s.error());
  return Value(std::move(*s));
}

Result<std::string> Template::Render(const Activation& act) const {
  if (!has_expr_) return text_;
  std::string out;
  for (const auto& p : pieces_) {
    if (!p.expr) {
      out += p.literal;
      continue;
    }
    auto v = p.expr->Evaluate(act);
    if (!v) return std::unexpected(v.error());
    out += v->ToText();
  }
  return out;
}

Result<bool> AsCondition(const Value& v) {
  if (!v.is_bool()) {
    return Fail(ErrorCode::kInvalidInput, "condition must be a bool, got {} {}", v.TypeName(),
                Quote(v.ToText()));
  }
  return v.as_bool();
}

}  // namespace sluice
