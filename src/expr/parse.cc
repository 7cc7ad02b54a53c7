// The expression parser: a hand-written lexer and a recursive-descent parser following CEL's
// grammar and operator precedence, with a nesting bound so hostile input cannot overflow the
// stack.
#include <algorithm>
#include <cctype>

#include "common/strings.h"
#include "expr/ast.h"
#include "expr/expr.h"
#include "expr/hyphen_names.h"
#include "expr/ext_functions.h"

namespace sluice {
namespace {

constexpr int kMaxDepth = 100;       // recursion of the parser itself
constexpr int kMaxTreeDepth = 250;  // depth of the tree it builds

enum class Tok { kEnd, kIdent, kInt, kUint, kDouble, kString, kBytes, kOp };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // identifier, operator, or decoded string
  Value value;
  int column = 1;
};

class Parser {
 public:
  Parser(std::string_view s, const DeclaredNames* names) : s_(s), names_(names) {}

  Result<NodePtr> ParseAll() {
    if (auto st = Next(); !st) return std::unexpected(st.error());
    auto e = Expr(0);
    if (!e) return e;
    if (tok_.kind != Tok::kEnd) return Err(tok_.column, fmt::format("unexpected {}", Describe(tok_)));
    return e;
  }


 private:
  static std::string Describe(const Token& t) {
    if (t.kind == Tok::kEnd) return "end of expression";
    if (t.kind == Tok::kString) return "string";
    return Quote(t.text);
  }

  std::unexpected<Error> Err(int column, std::string what) {
    return Fail(ErrorCode::kInvalidInput, "column {}: {}", column, what);
  }

  // --- lexer ---
  Status Next() {
    while (i_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
        ++i_;
      } else if (s_.substr(i_, 2) == "//") {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
    tok_ = Token();
    tok_.column = static_cast<int>(i_) + 1;
    if (i_ >= s_.size()) return {};
    char c = s_[i_];
    bool raw = false, bytes = false;
    size_t p = i_;
    // String prefixes: r, R, b, B and their combinations.
    while (p < s_.size() && p - i_ < 2 && (s_[p] == 'r' || s_[p] == 'R' || s_[p] == 'b' || s_[p] == 'B')) ++p;
    if (p > i_ && p < s_.size() && (s_[p] == '"' || s_[p] == '\'')) {
      for (size_t k = i_; k < p; ++k) {
        if (s_[k] == 'r' || s_[k] == 'R') raw = true;
        else bytes = true;
      }
      i_ = p;
      return String(raw, bytes);
    }
    if (c == '"' || c == '\'') return String(false, false);
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = i_;
      while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
      tok_.kind = Tok::kIdent;
      tok_.text = std::string(s_.substr(start, i_ - start));
      return {};
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      return Number();
    }
    static const char* kOps[] = {"==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*",
                                 "/",  "%",  "!",  "?",  ":",  ".",  ",", "(", ")", "[", "]",
                                 "{",  "}"};
    for (const char* op : kOps) {
      std::string_view o(op);
      if (s_.substr(i_, o.size()) == o) {
        tok_.kind = Tok::kOp;
        tok_.text = std::string(o);
        i_ += o.size();
        return {};
      }
    }
    return Err(tok_.column, fmt::format("unexpected character {}", Quote(s_.substr(i_, 1))));
  }

  Status Number() {
    size_t start = i_;
    bool is_float = false;
    if (s_.substr(i_, 2) == "0x" || s_.substr(i_, 2) == "0X") {
      i_ += 2;
      size_t digits = i_;
      while (i_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ == digits) return Err(tok_.column, "bad hexadecimal number");
    } else {
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ < s_.size() && s_[i_] == '.' && i_ + 1 < s_.size() &&
          std::isdigit(static_cast<unsigned char>(s_[i_ + 1]))) {
        is_float = true;
        ++i_;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      }
      if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
        size_t save = i_++;
        if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
        if (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
          is_float = true;
          while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
        } else {
          i_ = save;
        }
      }
    }
    std::string text(s_.substr(start, i_ - start));
    tok_.text = text;
    if (is_float) {
      tok_.kind = Tok::kDouble;
      tok_.value = Value(std::strtod(text.c_str(), nullptr));
      return {};
    }
    bool is_uint = i_ < s_.size() && (s_[i_] == 'u' || s_[i_] == 'U');
    if (is_uint) ++i_;
    errno = 0;
    unsigned long long v = std::strtoull(text.c_str(), nullptr, 0);
    if (errno == ERANGE) return Err(tok_.column, "integer literal out of range");
    if (is_uint) {
      tok_.kind = Tok::kUint;
      tok_.value = Value(static_cast<uint64_t>(v));
    } else {
      tok_.kind = Tok::kInt;
      // 9223372036854775808 is only valid after unary minus; Unary() handles it.
      if (v > 9223372036854775808ULL) return Err(tok_.column, "integer literal out of range");
      tok_.value = v == 9223372036854775808ULL ? Value(static_cast<uint64_t>(v))
                                              : Value(static_cast<int64_t>(v));
    }
    return {};
  }


  Status String(bool raw, bool bytes) {
    char q = s_[i_];
    bool triple = s_.substr(i_, 3) == std::string(3, q);
    i_ += triple ? 3 : 1;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) return Err(tok_.column, "unterminated string");
      char c = s_[i_];
      if (triple ? s_.substr(i_, 3) == std::string(3, q) : c == q) {
        i_ += triple ? 3 : 1;
        break;
      }
      if (!triple && c == '\n') return Err(tok_.column, "newline in string");
      if (c != '\\' || raw) {
        out.push_back(c);
        ++i_;
        continue;
      }
      ++i_;
      if (i_ >= s_.size()) return Err(tok_.column, "unterminated string");
      char e = s_[i_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '`': out += '`'; break;
        case '?': out += '?'; break;
        case 'x':
        case 'X':
        case 'u':
        case 'U':
        case '0': case '1': case '2': case '3': {
          // \xhh, \ooo: a code point in strings, a byte in bytes; \uhhhh, \Uhhhhhhhh: strings only.
          bool octal = e >= '0' && e <= '3';
          int digits = octal ? 3 : (e == 'x' || e == 'X') ? 2 : e == 'u' ? 4 : 8;
          if (bytes && (e == 'u' || e == 'U')) {
            return Err(static_cast<int>(i_) - 1, "\\u escapes are not allowed in bytes");
          }
          uint32_t cp = 0;
          size_t first = octal ? i_ - 1 : i_;
          for (int k = 0; k < digits; ++k) {
            size_t at = first + k;
            char h = at < s_.size() ? s_[at] : '\0';
            int d = octal ? (h >= '0' && h <= '7' ? h - '0' : -1)
                          : std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                          : std::isxdigit(static_cast<unsigned char>(h)) ? std::tolower(h) - 'a' + 10
                                                                         : -1;
            if (d < 0) return Err(static_cast<int>(i_) - 1, "malformed escape");
            cp = cp * (octal ? 8 : 16) + static_cast<uint32_t>(d);
          }
          i_ = first + digits;
          if (bytes && (octal || e == 'x' || e == 'X')) {
            out.push_back(static_cast<char>(cp));
          } else {
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
              return Err(static_cast<int>(i_) - 1, "invalid code point in escape");
            }
            AppendUtf8(cp, &out);
          }
          break;
        }
        default:
          return Err(static_cast<int>(i_) - 1, fmt::format("unsupported escape \\{}", e));
      }
    }
    tok_.kind = bytes ? Tok::kBytes : Tok::kString;
    tok_.text = out;
    tok_.value = bytes ? Value(Bytes{out}) : Value(out);
    return {};
  }

  // --- parser ---
  bool IsOp(std::string_view op) const { return tok_.kind == Tok::kOp && tok_.text == op; }

  Status Expect(std::string_view op) {
    if (!IsOp(op)) {
      return Err(tok_.column, fmt::format("expected '{}' but found {}", op, Describe(tok_)));
    }
    return Next();
  }

  static NodePtr Make(Node::Kind kind, int column, std::string name,
                      std::vector<NodePtr> args = {}) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->column = column;
    n->name = std::move(name);
    n->args = std::move(args);
    for (const auto& a : n->args) n->depth = std::max(n->depth, a->depth + 1);
    return n;
  }

  // Long operator chains (1+1+...+1) build deep trees without recursion in the parser, but
  // evaluating, checking and freeing them recurses: refuse trees deeper than CEL's usual 250.
  Status CheckDepth(const NodePtr& n, int column) {
    if (n->depth > kMaxTreeDepth) {
      return Err(column, fmt::format("expression nested too deeply (more than {} levels)", kMaxTreeDepth));
    }
    return {};
  }


  Result<NodePtr> Expr(int depth) {
    if (depth > kMaxDepth) return Err(tok_.column, "expression nested too deeply");
    SLUICE_TRY(cond, Or(depth + 1));
    if (!IsOp("?")) return cond;
    int col = tok_.column;
    SLUICE_TRY_STATUS(Next());
    SLUICE_TRY(a, Or(depth + 1));
    SLUICE_TRY_STATUS(Expect(":"));
    SLUICE_TRY(b, Expr(depth + 1));
    return Make(Node::Kind::kCond, col, "?:", {*cond, *a, *b});
  }

  Result<NodePtr> Or(int depth) {
    SLUICE_TRY(left, And(depth));
    NodePtr l = *left;
    while (IsOp("||")) {
      int col = tok_.column;
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(r, And(depth));
      l = Make(Node::Kind::kOr, col, "||", {l, *r});
      SLUICE_TRY_STATUS(CheckDepth(l, col));
    }
    return l;
  }

  Result<NodePtr> And(int depth) {
    SLUICE_TRY(left, Relation(depth));
    NodePtr l = *left;
    while (IsOp("&&")) {
      int col = tok_.column;
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(r, Relation(depth));
      l = Make(Node::Kind::kAnd, col, "&&", {l, *r});
      SLUICE_TRY_STATUS(CheckDepth(l, col));
    }
    return l;
  }

  Result<NodePtr> Relation(int depth) {
    SLUICE_TRY(left, Addition(depth));
    NodePtr l = *left;
    while (IsOp("<") || IsOp("<=") || IsOp(">") || IsOp(">=") || IsOp("==") || IsOp("!=") ||
           (tok_.kind == Tok::kIdent && tok_.text == "in")) {
      std::string op = tok_.text;
      int col = tok_.column;
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(r, Addition(depth));
      l = Make(Node::Kind::kBinary, col, op, {l, *r});
      SLUICE_TRY_STATUS(CheckDepth(l, col));
    }
    return l;
  }

  Result<NodePtr> Addition(int depth) {
    SLUICE_TRY(left, Multiplication(depth));
    NodePtr l = *left;
    while (IsOp("+") || IsOp("-")) {
      std::string op = tok_.text;
      int col = tok_.column;
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(r, Multiplication(depth));
      l = Make(Node::Kind::kBinary, col, op, {l, *r});
      SLUICE_TRY_STATUS(CheckDepth(l, col));
    }
    return l;
  }

  Result<NodePtr> Multiplication(int depth) {
    SLUICE_TRY(left, Unary(depth));
    NodePtr l = *left;
    while (IsOp("*") || IsOp("/") || IsOp("%")) {
      std::string op = tok_.text;
      int col = tok_.column;
      SLUICE_TRY_STATUS(Next());
      SLUICE_TRY(r, Unary(depth));
      l = Make(Node::Kind::kBinary, col, op, {l, *r});
      SLUICE_TRY_STATUS(CheckDepth(l, col));
    }
    return l;
  }

  Result<NodePtr> Unary(int depth) {
    if (depth > kMaxDepth) return Err(tok_.column, "expression nested too deeply");
    if (IsOp("!") || IsOp("-")) {
      std::string op = tok_.text;
      int col = tok_.column;
      SLUICE_TRY_STATUS(Next());
      // -9223372036854775808 is the one literal that only exists negated.
      if (op == "-" && tok_.kind == Tok::kInt && tok_.value.is_uint()) {
        auto n = Make(Node::Kind::kLiteral, col, "");
        const_cast<Node*>(n.get())->value = Value(std::numeric_limits<int64_t>::min());
        SLUICE_TRY_STATUS(Next());
        return Member(n, depth);
      }
      SLUICE_TRY(operand, Unary(depth + 1));
      return Make(Node::Kind::kUnary, col, op, {*operand});
    }
    SLUICE_TRY(p, Primary(depth));
    return Member(*p, depth);
  }

  Result<NodePtr> Member(NodePtr n, int depth) {
    while (true) {
      SLUICE_TRY_STATUS(CheckDepth(n, tok_.column));
      if (IsOp(".")) {
        // A backtick-quoted field name: m.`content-type`.
        if (i_ < s_.size() && s_[i_] == '`') {
          size_t close = s_.find('`', i_ + 1);
          if (close == std::string_view::npos) return Err(tok_.column, "unterminated `field`");
          int col = static_cast<int>(i_) + 1;
          std::string name(s_.substr(i_ + 1, close - i_ - 1));
          i_ = close + 1;
          SLUICE_TRY_STATUS(Next());
          n = Make(Node::Kind::kSelect, col, name, {n});
          continue;
        }
        SLUICE_TRY_STATUS(Next());
        if (tok_.kind != Tok::kIdent) {
          return Err(tok_.column, fmt::format("expected a field name but found {}", Describe(tok_)));
        }
        std::string name = tok_.text;
        int col = tok_.column;
        if (names_ && n->kind == Node::Kind::kIdent && (n->name == "tasks" || n->name == "params")) {
          // tasks.flip-coin: the lexer stopped at the '-'; a declared name may go on past it.
          auto end = HyphenatedNameEnd(s_, col - 1, i_, n->name, *names_);
          if (!end) return Err(col, end.error().message);
          name = std::string(s_.substr(col - 1, *end - (col - 1)));
          i_ = *end;
        }
        SLUICE_TRY_STATUS(Next());
        if (IsOp("(")) {
          SLUICE_TRY(args, Args(")", depth));
          std::vector<NodePtr> all = {n};
          all.insert(all.end(), args->begin(), args->end());
          auto call = Make(Node::Kind::kCall, col, name, std::move(all));
          const_cast<Node*>(call.get())->has_receiver = true;
          n = call;
        } else {
          n = Make(Node::Kind::kSelect, col, name, {n});
        }
      } else if (IsOp("[")) {
        int col = tok_.column;
        SLUICE_TRY_STATUS(Next());
        SLUICE_TRY(index, Expr(depth + 1));
        SLUICE_TRY_STATUS(Expect("]"));
        n = Make(Node::Kind::kIndex, col, "[]", {n, *index});
      } else {
        return n;
      }
    }
  }

  // Parses "a, b, c" up to `close`, consuming it. The opening token was consumed already.
  Result<std::vector<NodePtr>> Args(std::string_view close, int depth) {
    if (IsOp("(")) SLUICE_TRY_STATUS(Next());
    std::vector<NodePtr> out;
    if (IsOp(close)) {
      SLUICE_TRY_STATUS(Next());
      return out;
    }
    while (true) {
      SLUICE_TRY(e, Expr(depth + 1));
      out.push_back(*e);
      if (IsOp(",")) {
        SLUICE_TRY_STATUS(Next());
        if (IsOp(close)) break;  // trailing comma
        continue;
      }
      break;
    }
    SLUICE_TRY_STATUS(Expect(close));
    return out;
  }

  Result<NodePtr> Primary(int depth) {
    int col = tok_.column;
    switch (tok_.kind) {
      case Tok::kEnd: return Err(col, "expression ends too early");
      case Tok::kInt:
        if (tok_.value.is_uint()) return Err(col, "integer literal out of range");
        [[fallthrough]];
      case Tok::kUint:
      case Tok::kDouble:
      case Tok::kString:
      case Tok::kBytes: {
        auto n = Make(Node::Kind::kLiteral, col, "");
        const_cast<Node*>(n.get())->value = tok_.value;
        SLUICE_TRY_STATUS(Next());
        return n;
      }
      case Tok::kIdent: {
        std::string name = tok_.text;
        SLUICE_TRY_STATUS(Next());
        if (name == "true" || name == "false" || name == "null") {
          auto n = Make(Node::Kind::kLiteral, col, "");
          const_cast<Node*>(n.get())->value =
              name == "null" ? Value() : Value(name == "true");
          return n;
        }
        if (IsOp("(")) {
          SLUICE_TRY(args, Args(")", depth));
          return Make(Node::Kind::kCall, col, name, std::move(*args));
        }
        return Make(Node::Kind::kIdent, col, name);
      }
      case Tok::kOp:
        if (IsOp("(")) {
          SLUICE_TRY_STATUS(Next());
          SLUICE_TRY(e, Expr(depth + 1));
          SLUICE_TRY_STATUS(Expect(")"));
          return e;
        }
        if (IsOp("[")) {
          SLUICE_TRY_STATUS(Next());
          SLUICE_TRY(items, Args("]", depth));
          return Make(Node::Kind::kList, col, "[]", std::move(*items));
        }
        if (IsOp("{")) {
          SLUICE_TRY_STATUS(Next());
          std::vector<NodePtr> kv;
          while (!IsOp("}")) {
            SLUICE_TRY(k, Expr(depth + 1));
            SLUICE_TRY_STATUS(Expect(":"));
            SLUICE_TRY(v, Expr(depth + 1));
            kv.push_back(*k);
            kv.push_back(*v);
            if (!IsOp(",")) break;
            SLUICE_TRY_STATUS(Next());
          }
          SLUICE_TRY_STATUS(Expect("}"));
          return Make(Node::Kind::kMap, col, "{}", std::move(kv));
        }
        return Err(col, fmt::format("unexpected {}", Describe(tok_)));
    }
    return Err(col, "unexpected token");
  }


  std::string_view s_;
  const DeclaredNames* names_;  // may be null
  size_t i_ = 0;
  Token tok_;
};

bool IsComprehension(const Node& n) {
  if (n.kind != Node::Kind::kCall || !n.has_receiver || n.args.size() < 3 ||
      n.args[1]->kind != Node::Kind::kIdent) {
    return false;
  }
  const std::string& f = n.name;
  return f == "all" || f == "exists" || f == "exists_one" || f == "filter" || f == "map";
}

// The dotted paths an expression reads: every identifier with the field selections after it,
// except the variables that comprehensions bind (`x` in `xs.all(x, x > 0)`).
void CollectReferences(const Node& n, std::vector<std::string> bound, std::vector<Reference>* out) {
  if (n.kind == Node::Kind::kIdent || n.kind == Node::Kind::kSelect) {
    std::vector<std::string> path;
    const Node* cur = &n;
    while (cur->kind == Node::Kind::kSelect) {
      path.push_back(cur->name);
      cur = cur->args[0].get();
    }
    if (cur->kind == Node::Kind::kIdent) {
      if (std::find(bound.begin(), bound.end(), cur->name) == bound.end()) {
        path.push_back(cur->name);
        std::reverse(path.begin(), path.end());
        out->push_back(Reference{std::move(path), cur->column});
      }
      return;
    }
    CollectReferences(*cur, bound, out);  // e.g. a field of a call's result
    return;
  }
  if (IsComprehension(n)) {
    CollectReferences(*n.args[0], bound, out);
    bound.push_back(n.args[1]->name);
    for (size_t i = 2; i < n.args.size(); ++i) CollectReferences(*n.args[i], bound, out);
    return;
  }
  // math.greatest(...), lists.range(...), json.decode(...): namespaces, not variables.
  for (size_t i = IsNamespaced(n) ? 1 : 0; i < n.args.size(); ++i) {
    CollectReferences(*n.args[i], bound, out);
  }
}

}  // namespace

Result<Expression> Expression::Parse(std::string_view text, const DeclaredNames* names) {
  Parser p(text, names);
  auto root = p.ParseAll();
  if (!root) return std::unexpected(root.error());
  Expression e;
  e.text_ = std::string(text);
  e.root_ = *root;
  CollectReferences(**root, {}, &e.refs_);
  return e;
}

}  // namespace sluice
