// expr-lang → CEL, for Argo's `{{= … }}` tags and valueFrom.expression. A recursive-descent
// reader of expr-lang's grammar that writes CEL text as it goes, tracking what kind of value
// each part gives where that decides the translation (expr-lang's `/` divides as floats, `+`
// joins strings, an int and a float mix; CEL needs each spelled out).
#include "interop/argo_expr.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <vector>

#include "common/strings.h"

namespace sluice {
namespace {

enum class Kind { kAny, kString, kInt, kDouble, kBool, kList, kMap, kNil };

struct Node {
  Node(std::string c, Kind k = Kind::kAny, std::string sel = "")
      : cel(std::move(c)), kind(k), select(std::move(sel)) {}
  std::string cel;
  Kind kind = Kind::kAny;
  std::string select;  // a variable: its CEL field selection before it is read as text
  std::optional<std::string> literal;  // a string literal: its value (a layout, a JSON path)
};

bool Numeric(Kind k) { return k == Kind::kInt || k == Kind::kDouble; }

// The precedence of a binary operator, as expr-lang's parser has it; 0: not one.
int Precedence(std::string_view op) {
  if (op == "||" || op == "or") return 10;
  if (op == "&&" || op == "and") return 15;
  static constexpr std::string_view kCompare[] = {"==", "!=", "<", ">", "<=", ">=", "in",
                                                  "matches", "contains", "startsWith",
                                                  "endsWith"};
  for (std::string_view c : kCompare) {
    if (op == c) return 20;
  }
  if (op == "+" || op == "-") return 30;
  if (op == "*" || op == "/" || op == "%") return 60;
  if (op == "**") return 100;
  if (op == "??") return 500;
  return 0;
}

// Go's reference-time layout (`2006-01-02`) as CEL over the timestamp `t`: the numeric
// elements only.
Result<std::string> GoLayout(std::string_view layout, const std::string& t) {
  struct Element {
    std::string_view go;
    std::string_view getter;
    int width;
    int add;
  };
  static constexpr Element kElements[] = {
      {"2006", "getFullYear()", 4, 0}, {"01", "getMonth()", 2, 1}, {"02", "getDate()", 2, 0},
      {"15", "getHours()", 2, 0},      {"04", "getMinutes()", 2, 0}, {"05", "getSeconds()", 2, 0}};
  std::vector<std::string> parts;
  std::string literal;
  for (size_t i = 0; i < layout.size();) {
    const Element* hit = nullptr;
    for (const Element& e : kElements) {
      if (layout.substr(i, e.go.size()) == e.go) hit = &e;
    }
    if (!hit) {
      if (std::isalnum(static_cast<unsigned char>(layout[i]))) {
        return std::unexpected(Error(
            ErrorCode::kInvalidInput,
            fmt::format("the date layout {} is not imported: only 2006, 01, 02, 15, 04 and 05 "
                        "are",
                        Quote(layout))));
      }
      literal += layout[i++];
      continue;
    }
    if (!literal.empty()) parts.push_back(ArgoCelString(literal));
    literal.clear();
    std::string n = fmt::format("{}.{}{}", t, hit->getter, hit->add ? " + 1" : "");
    parts.push_back(hit->width == 2
                        ? fmt::format("(({0}) < 10 ? '0' : '') + string({0})", n)
                        : fmt::format("string({})", n));
    i += hit->go.size();
  }
  if (!literal.empty()) parts.push_back(ArgoCelString(literal));
  return parts.empty() ? std::string("''") : Join(parts, " + ");
}

class ExprTranslator {
 public:
  ExprTranslator(std::string_view s, ArgoScope& scope, size_t offset)
      : s_(s), scope_(scope), offset_(offset) {}

  Result<std::string> Run() {
    SLUICE_TRY_STATUS(Next());
    SLUICE_TRY(n, Ternary());
    if (tok_.type != T::kEnd) return Fail(fmt::format("unexpected {}", Quote(tok_.text)));
    return n->cel;
  }

 private:
  enum class T { kEnd, kNumber, kString, kIdent, kPunct };
  struct Token {
    T type = T::kEnd;
    std::string text;  // a string's value, decoded
    size_t at = 0;
  };

  std::unexpected<Error> FailAt(size_t at, const std::string& why) const {
    return std::unexpected(Error(ErrorCode::kInvalidInput,
                                 fmt::format("expression: {} (column {})", why, at + offset_ + 1)));
  }
  std::unexpected<Error> Fail(const std::string& why) const { return FailAt(tok_.at, why); }
  bool Is(std::string_view punct) const { return tok_.type == T::kPunct && tok_.text == punct; }
  bool IsWord(std::string_view w) const { return tok_.type == T::kIdent && tok_.text == w; }
  Status Expect(std::string_view punct) {
    if (!Is(punct)) {
      return Fail(fmt::format("expected {} but found {}", punct,
                              tok_.type == T::kEnd ? "the end" : Quote(tok_.text)));
    }
    return Next();
  }

  Status Next() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    tok_ = Token{T::kEnd, "", pos_};
    if (pos_ >= s_.size()) return {};
    const char c = s_[pos_];
    auto ident = [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '$';
    };
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = pos_;
      while (end < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[end])) ||
                                 (s_[end] == '.' && s_.substr(end, 2) != "..") ||
                                 s_[end] == 'e' || s_[end] == 'E' ||
                                 ((s_[end] == '-' || s_[end] == '+') &&
                                  (s_[end - 1] == 'e' || s_[end - 1] == 'E')))) {
        ++end;
      }
      tok_ = Token{T::kNumber, std::string(s_.substr(pos_, end - pos_)), pos_};
      pos_ = end;
      return {};
    }
    if (c == '\'' || c == '"' || c == '`') return Quoted(c);
    if (ident(c) && !std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = pos_;
      while (end < s_.size() && ident(s_[end])) ++end;
      tok_ = Token{T::kIdent, std::string(s_.substr(pos_, end - pos_)), pos_};
      pos_ = end;
      return {};
    }
    static constexpr std::string_view kPunct[] = {"?.", "??", "==", "!=", "<=", ">=", "&&",
                                                  "||", "**", ".."};
    for (std::string_view p : kPunct) {
      if (s_.substr(pos_, 2) == p) {
        tok_ = Token{T::kPunct, std::string(p), pos_};
        pos_ += 2;
        return {};
      }
    }
    if (std::string_view("()[]{},.?:!<>+-*/%#").find(c) == std::string_view::npos) {
      return Fail(fmt::format("unexpected {}", Quote(s_.substr(pos_, 1))));
    }
    tok_ = Token{T::kPunct, std::string(1, c), pos_};
    ++pos_;
    return {};
  }
  Status Quoted(char q) {
    std::string value;
    size_t i = pos_ + 1;
    for (; i < s_.size() && s_[i] != q; ++i) {
      if (s_[i] != '\\' || q == '`' || i + 1 >= s_.size()) {
        value += s_[i];
        continue;
      }
      const char e = s_[++i];
      value += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
    }
    if (i >= s_.size()) return Fail("a string is not closed");
    tok_ = Token{T::kString, std::move(value), pos_};
    pos_ = i + 1;
    return {};
  }

  Result<Node> Ternary() {
    SLUICE_TRY(cond, Binary(1));
    if (!Is("?")) return *cond;
    if (cond->kind != Kind::kBool && cond->kind != Kind::kAny) {
      return Fail("the condition before ? must be true or false");
    }
    SLUICE_TRY_STATUS(Next());
    SLUICE_TRY(yes, Ternary());
    SLUICE_TRY_STATUS(Expect(":"));
    SLUICE_TRY(no, Ternary());
    return Node{fmt::format("({} ? {} : {})", cond->cel, yes->cel, no->cel),
                yes->kind == no->kind ? yes->kind : Kind::kAny};
  }

  std::string Operator() const {
    if (tok_.type == T::kPunct || tok_.type == T::kIdent) return tok_.text;
    return "";
  }

  Result<Node> Binary(int min) {
    SLUICE_TRY(left, Unary());
    Node l = std::move(*left);
    while (true) {
      const std::string op = Operator();
      const int prec = Precedence(op);
      if (prec == 0 || prec < min) return l;
      const size_t at = tok_.at;
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(right, Binary(op == "**" ? prec : prec + 1));
      SLUICE_TRY(combined, Combine(op, l, *right, at));
      l = std::move(*combined);
    }
  }

  static std::string AsDouble(const Node& n) {
    return n.kind == Kind::kDouble ? n.cel : fmt::format("double({})", n.cel);
  }

  Result<Node> Combine(const std::string& op, const Node& l, const Node& r, size_t at) {
    auto fail = [this, at](const std::string& why) { return FailAt(at, why); };
    if (op == "??") {
      if (l.select.empty() || l.select.back() == ']') {
        return fail("?? is imported after a step's or task's output only");
      }
      return Node{fmt::format("(has({}) ? {} : {})", l.select, l.cel, r.cel),
                  l.kind == r.kind ? l.kind : Kind::kAny};
    }
    if (op == "**") return fail("** is not imported (CEL has no power operator)");
    if (op == "matches" || op == "contains" || op == "startsWith" || op == "endsWith") {
      return Node{fmt::format("{}.{}({})", l.cel, op, r.cel), Kind::kBool};
    }
    if (Precedence(op) <= 20) {
      std::string cel_op = op == "and" ? "&&" : op == "or" ? "||" : op;
      return Node{fmt::format("({} {} {})", l.cel, cel_op, r.cel), Kind::kBool};
    }
    if (op == "+" && (l.kind == Kind::kString || r.kind == Kind::kString)) {
      auto text = [](const Node& n) {
        return n.kind == Kind::kString ? n.cel : fmt::format("string({})", n.cel);
      };
      return Node{fmt::format("({} + {})", text(l), text(r)), Kind::kString};
    }
    if (l.kind == Kind::kString || r.kind == Kind::kString) {
      return fail(fmt::format("{} needs numbers: read a parameter with asInt(…) or asFloat(…)",
                              op));
    }
    // expr-lang divides as floats; and an int meets a float as a float.
    if (op == "/" || (l.kind == Kind::kDouble) != (r.kind == Kind::kDouble)) {
      if (op == "%") return fail("% needs two integers");
      return Node{fmt::format("({} {} {})", AsDouble(l), op, AsDouble(r)), Kind::kDouble};
    }
    return Node{fmt::format("({} {} {})", l.cel, op, r.cel),
                Numeric(l.kind) ? l.kind : Kind::kAny};
  }

  Result<Node> Unary() {
    if (Is("!") || IsWord("not")) {
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(n, Unary());
      return Node{fmt::format("!({})", n->cel), Kind::kBool};
    }
    if (Is("-")) {
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(n, Unary());
      if (n->kind == Kind::kString) return Fail("- needs a number: read it with asInt(…)");
      return Node{fmt::format("-({})", n->cel), n->kind};
    }
    SLUICE_TRY(n, Primary());
    return Postfix(std::move(*n));
  }

  // Member access and indexing on a value that is not one of Argo's variables (those are read
  // whole by Variable).
  Result<Node> Postfix(Node n) {
    while (true) {
      if (Is(".") || Is("?.")) {
        SLUICE_TRY_STATUS(Next());
        if (tok_.type != T::kIdent) return Fail("a name must follow .");
        n = Node{n.cel + ArgoCelMember(tok_.text), Kind::kAny};
        SLUICE_TRY_STATUS(Next());
      } else if (Is("[")) {
        SLUICE_TRY_STATUS(Next());
        SLUICE_TRY(index, Ternary());
        SLUICE_TRY_STATUS(Expect("]"));
        n = Node{fmt::format("{}[{}]", n.cel, index->cel), Kind::kAny};
      } else {
        return n;
      }
    }
  }

  Result<Node> Primary() {
    const Token t = tok_;
    switch (t.type) {
      case T::kEnd:
        return Fail("the expression ends too early");
      case T::kNumber: {
        SLUICE_TRY_STATUS(Next());
        const bool real = t.text.find_first_of(".eE") != std::string::npos;
        return Node{t.text, real ? Kind::kDouble : Kind::kInt};
      }
      case T::kString: {
        SLUICE_TRY_STATUS(Next());
        Node n(ArgoCelString(t.text), Kind::kString);
        n.literal = t.text;
        return n;
      }
      case T::kIdent:
        return Name();
      case T::kPunct:
        break;
    }
    if (Is("(")) {
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(n, Ternary());
      SLUICE_TRY_STATUS(Expect(")"));
      return *n;
    }
    if (Is("[")) {
      SLUICE_TRY(items, List("]"));
      return Node{fmt::format("[{}]", Join(*items, ", ")), Kind::kList};
    }
    if (Is("{")) return MapLiteral();
    if (Is("#")) {
      if (closures_.empty()) return Fail("# is only bound inside a predicate { … }");
      SLUICE_TRY_STATUS(Next());
      return Node{closures_.back(), Kind::kAny};
    }
    return Fail(fmt::format("unexpected {}", Quote(t.text)));
  }

  // `open` is the current token; reads items up to `close`.
  Result<std::vector<std::string>> List(std::string_view close) {
    SLUICE_TRY_STATUS(Next());
    std::vector<std::string> items;
    while (!Is(close)) {
      SLUICE_TRY(item, Ternary());
      items.push_back(item->cel);
      if (!Is(",")) break;
      SLUICE_TRY_STATUS(Next());
    }
    SLUICE_TRY_STATUS(Expect(close));
    return items;
  }

  Result<Node> MapLiteral() {
    SLUICE_TRY_STATUS(Next());
    std::vector<std::string> entries;
    while (!Is("}")) {
      if (tok_.type != T::kIdent && tok_.type != T::kString) return Fail("a map key must be a name");
      std::string key = ArgoCelString(tok_.text);
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY_STATUS(Expect(":"));
      SLUICE_TRY(value, Ternary());
      entries.push_back(fmt::format("{}: {}", key, value->cel));
      if (!Is(",")) break;
      SLUICE_TRY_STATUS(Next());
    }
    SLUICE_TRY_STATUS(Expect("}"));
    return Node{fmt::format("{{{}}}", Join(entries, ", ")), Kind::kMap};
  }

  Result<Node> Name() {
    const Token t = tok_;
    SLUICE_TRY_STATUS(Next());
    if (t.text == "true" || t.text == "false") return Node{t.text, Kind::kBool};
    if (t.text == "nil") return Node{"null", Kind::kNil};
    if (t.text == "sprig") {
      SLUICE_TRY_STATUS(Expect("."));
      if (tok_.type != T::kIdent) return Fail("a sprig function's name must follow sprig.");
      const std::string name = "sprig." + tok_.text;
      SLUICE_TRY_STATUS(Next());
      return Call(name, t.at);
    }
    if (Is("(")) return Call(t.text, t.at);
    if (t.text == "lastRetry" && scope_.retry) return LastRetry();
    static constexpr std::string_view kRoots[] = {"inputs", "steps", "tasks", "workflow",
                                                  "item", "pod", "node", "retries"};
    for (std::string_view root : kRoots) {
      if (t.text == root) return Variable(t);
    }
    return FailAt(t.at, fmt::format("{} is not a variable Argo defines here", Quote(t.text)));
  }

  // retryStrategy.expression's lastRetry, from the error that failed the attempt (retry.when's
  // `error`, docs/spec.md 4.8). Argo's values are strings.
  Result<Node> LastRetry() {
    SLUICE_TRY_STATUS(Expect("."));
    const Token field = tok_;
    SLUICE_TRY_STATUS(Next());
    if (field.text == "exitCode") {
      // A signal gives the shell's 128 + N, as a container's exit code would.
      return Node{"(error.exitCode != null ? string(error.exitCode) : "
                  "error.signal != null ? string(128 + error.signal) : '-1')",
                  Kind::kString};
    }
    if (field.text == "status") {
      return Node{"(error.class in ['exit', 'signal', 'timeout'] ? 'Failed' : 'Error')",
                  Kind::kString};
    }
    if (field.text == "message") return Node{"error.message", Kind::kString};
    return FailAt(field.at, fmt::format("lastRetry.{} is not imported: exitCode, status and "
                                        "message are", field.text));
  }

  // An Argo variable, read whole: `steps['flip-coin'].outputs.result` is the tag
  // steps.flip-coin.outputs.result.
  Result<Node> Variable(const Token& root) {
    std::vector<std::string> path = {root.text};
    while (true) {
      if (Is(".") || Is("?.")) {
        SLUICE_TRY_STATUS(Next());
        if (tok_.type != T::kIdent) return Fail("a name must follow .");
        path.push_back(tok_.text);
        SLUICE_TRY_STATUS(Next());
      } else if (Is("[") && QuoteFollows()) {
        SLUICE_TRY_STATUS(Next());
        path.push_back(tok_.text);
        SLUICE_TRY_STATUS(Next());
        SLUICE_TRY_STATUS(Expect("]"));
      } else {
        break;
      }
    }
    const std::string tag = Join(path, ".");
    auto e = ArgoTagExpr(tag, scope_);
    if (!e) {
      return FailAt(root.at, e.error().message);
    }
    const std::string& cel = *e;
    if (root.text == "item") return Postfix(Node{cel, Kind::kAny, cel});
    if (cel.starts_with("string(")) return Node{cel, Kind::kString, cel.substr(7, cel.size() - 8)};
    return Node{fmt::format("string({})", cel), Kind::kString, cel};
  }

  // Whether the token after the current one is a quoted string (`steps['a-b']`).
  bool QuoteFollows() const {
    size_t i = pos_;
    while (i < s_.size() && std::isspace(static_cast<unsigned char>(s_[i]))) ++i;
    return i < s_.size() && (s_[i] == '\'' || s_[i] == '"');
  }

  // A predicate or mapping `{ … # … }`, as the body of a CEL macro over `var`.
  Result<std::string> Closure(const std::string& var) {
    if (!Is("{")) return Fail("a predicate in braces { … } must follow the list");
    SLUICE_TRY_STATUS(Next());
    closures_.push_back(var);
    auto body = Ternary();
    closures_.pop_back();
    if (!body) return std::unexpected(body.error());
    SLUICE_TRY_STATUS(Expect("}"));
    return body->cel;
  }

  Result<Node> Call(const std::string& name, size_t at) {
    SLUICE_TRY_STATUS(Expect("("));
    static constexpr std::string_view kMacros[] = {"filter", "map", "all", "any", "none", "one",
                                                   "count"};
    for (std::string_view m : kMacros) {
      if (name != m) continue;
      SLUICE_TRY(list, Ternary());
      SLUICE_TRY_STATUS(Expect(","));
      const std::string var = fmt::format("argo_it{}", closures_.size());
      SLUICE_TRY(body, Closure(var));
      SLUICE_TRY_STATUS(Expect(")"));
      const std::string& l = list->cel;
      if (name == "filter") return Node{fmt::format("{}.filter({}, {})", l, var, *body), Kind::kList};
      if (name == "map") return Node{fmt::format("{}.map({}, {})", l, var, *body), Kind::kList};
      if (name == "all") return Node{fmt::format("{}.all({}, {})", l, var, *body), Kind::kBool};
      if (name == "any") return Node{fmt::format("{}.exists({}, {})", l, var, *body), Kind::kBool};
      if (name == "none") return Node{fmt::format("!{}.exists({}, {})", l, var, *body), Kind::kBool};
      if (name == "one") return Node{fmt::format("{}.exists_one({}, {})", l, var, *body), Kind::kBool};
      return Node{fmt::format("size({}.filter({}, {}))", l, var, *body), Kind::kInt};
    }
    std::vector<Node> args;
    while (!Is(")")) {
      SLUICE_TRY(a, Ternary());
      args.push_back(std::move(*a));
      if (!Is(",")) break;
      SLUICE_TRY_STATUS(Next());
    }
    SLUICE_TRY_STATUS(Expect(")"));
    auto fail = [this, at](const std::string& why) { return FailAt(at, why); };
    auto one = [&](std::string_view fn, Kind kind) -> Result<Node> {
      if (args.size() != 1) return fail(fmt::format("{}() takes one argument", name));
      return Node{fmt::format("{}({})", fn, args[0].cel), kind};
    };
    if (name == "asInt" || name == "int" || name == "sprig.atoi" || name == "sprig.int") {
      return one("int", Kind::kInt);
    }
    if (name == "asFloat" || name == "float" || name == "sprig.float64") {
      return one("double", Kind::kDouble);
    }
    if (name == "string" || name == "sprig.toString") return one("string", Kind::kString);
    if (name == "len") return one("size", Kind::kInt);
    if (name == "toJson" || name == "toJSON" || name == "sprig.toJson") {
      return one("json.encode", Kind::kString);
    }
    if (name == "fromJson" || name == "fromJSON" || name == "sprig.fromJson") {
      return one("json.decode", Kind::kAny);
    }
    if (name == "sprig.b64dec" || name == "fromBase64") {
      if (args.size() != 1) return fail(fmt::format("{}() takes one argument", name));
      return Node{fmt::format("string(base64.decode({}))", args[0].cel), Kind::kString};
    }
    if (name == "sprig.b64enc" || name == "toBase64") {
      if (args.size() != 1) return fail(fmt::format("{}() takes one argument", name));
      return Node{fmt::format("base64.encode(bytes({}))", args[0].cel), Kind::kString};
    }
    if (name == "jsonpath") return JsonPath(args, fail);
    // sprig's integer arithmetic (add, max, min take two or more numbers).
    if (name == "sprig.add" || name == "sprig.max" || name == "sprig.min") {
      if (args.size() < 2) return fail(fmt::format("{}() takes two or more numbers", name));
      std::vector<std::string> ints;
      for (const Node& a : args) ints.push_back(fmt::format("int({})", a.cel));
      if (name == "sprig.add") return Node{fmt::format("({})", Join(ints, " + ")), Kind::kInt};
      return Node{fmt::format("math.{}({})", name == "sprig.max" ? "greatest" : "least",
                              Join(ints, ", ")),
                  Kind::kInt};
    }
    if (name == "sprig.date") {
      if (args.size() != 2 || !args[0].literal) {
        return fail("sprig.date(…) is imported with a quoted layout and a time");
      }
      auto cel = GoLayout(*args[0].literal, fmt::format("timestamp({})", args[1].cel));
      if (!cel) return fail(cel.error().message);
      return Node{*cel, Kind::kString};
    }
    return fail(fmt::format("{}() is not imported (docs/interop.md lists the functions that are)",
                            name));
  }

  // jsonpath(TEXT, '$.a[0]['b']'): the text read as JSON, then the path's members and
  // indexes (a literal path of those only).
  template <typename FailFn>
  Result<Node> JsonPath(const std::vector<Node>& args, const FailFn& fail) const {
    if (args.size() != 2 || !args[1].literal) return fail("jsonpath(…) is imported with a quoted path");
    const std::string& path = *args[1].literal;
    if (!path.starts_with('$')) return fail("a JSON path starts with $");
    std::string cel = fmt::format("json.decode({})", args[0].cel);
    for (size_t i = 1; i < path.size();) {
      if (path[i] == '.') {
        size_t end = path.find_first_of(".[", i + 1);
        std::string name = path.substr(i + 1, end == std::string::npos ? end : end - i - 1);
        if (name.empty()) return fail(fmt::format("the JSON path {} is not imported: only .name, [N] and ['name'] are", Quote(path)));
        cel += ArgoCelMember(name);
        i = end == std::string::npos ? path.size() : end;
      } else if (path[i] == '[') {
        size_t end = path.find(']', i);
        if (end == std::string::npos) return fail(fmt::format("the JSON path {} has an open [", Quote(path)));
        std::string key = path.substr(i + 1, end - i - 1);
        const bool quoted = key.size() >= 2 && (key[0] == '\'' || key[0] == '"') && key.back() == key[0];
        const bool number = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
        if (!quoted && !number) {
          return fail(fmt::format("the JSON path {} is not imported: only .name, [N] and ['name'] are", Quote(path)));
        }
        cel += quoted ? fmt::format("[{}]", ArgoCelString(key.substr(1, key.size() - 2))) : "[" + key + "]";
        i = end + 1;
      } else {
        return fail(fmt::format("the JSON path {} is not imported: only .name, [N] and ['name'] are", Quote(path)));
      }
    }
    return Node{cel, Kind::kAny};
  }

  std::string_view s_;
  size_t pos_ = 0;
  Token tok_;
  ArgoScope& scope_;
  std::vector<std::string> closures_;  // the CEL variable `#` stands for, innermost last
  size_t offset_;  // where s_ starts in the text it was read from, for columns
};

}  // namespace

Result<std::string> TranslateArgoExpr(std::string_view expr, ArgoScope& scope,
                                      size_t column_offset) {
  return ExprTranslator(expr, scope, column_offset).Run();
}

}  // namespace sluice
