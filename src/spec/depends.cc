// The depends language: a recursive-descent parser over a flat node list. Depth is bounded so
// that hostile nesting cannot overflow the stack.
#include "spec/depends.h"

#include <fmt/format.h>

#include <cctype>

#include "common/strings.h"

#include "spec/text_checks.h"

namespace sluice {
namespace {

constexpr int kMaxDepth = 64;

struct ResultName {
  std::string_view name;
  DependsResult result;
};
constexpr ResultName kResults[] = {
    {"Succeeded", DependsResult::kSucceeded},       {"Failed", DependsResult::kFailed},
    {"Errored", DependsResult::kErrored},           {"Skipped", DependsResult::kSkipped},
    {"Omitted", DependsResult::kOmitted},           {"Daemoned", DependsResult::kDaemoned},
    {"AnySucceeded", DependsResult::kAnySucceeded}, {"AllFailed", DependsResult::kAllFailed},
};

}  // namespace

class DependsParser {
 public:
  explicit DependsParser(std::string_view text) : s_(text) { e_.text_ = std::string(text); }

  Result<std::shared_ptr<const DependsExpr>> Run() {
    SLUICE_TRY(root, Or(0));
    Space();
    if (pos_ < s_.size()) return Fail(fmt::format("unexpected {}", Quote(s_.substr(pos_, 1))));
    e_.root_ = *root;
    return std::make_shared<const DependsExpr>(std::move(e_));
  }

 private:
  using Node = DependsExpr::Node;

  std::unexpected<Error> Fail(const std::string& what) const {
    return std::unexpected(Error(ErrorCode::kInvalidInput,
                                 fmt::format("{} (column {})", what, pos_ + 1)));
  }
  void Space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  bool Eat(std::string_view op) {
    Space();
    if (s_.substr(pos_, op.size()) != op) return false;
    pos_ += op.size();
    return true;
  }
  int Add(Node n) {
    e_.nodes_.push_back(n);
    return static_cast<int>(e_.nodes_.size()) - 1;
  }
  Result<int> Or(int depth) {
    SLUICE_TRY(left, And(depth));
    int l = *left;
    while (Eat("||")) {
      SLUICE_TRY(right, And(depth));
      l = Add({Node::Op::kOr, -1, DependsResult::kBare, l, *right});
    }
    return l;
  }
  Result<int> And(int depth) {
    SLUICE_TRY(left, Unary(depth));
    int l = *left;
    while (Eat("&&")) {
      SLUICE_TRY(right, Unary(depth));
      l = Add({Node::Op::kAnd, -1, DependsResult::kBare, l, *right});
    }
    return l;
  }
  Result<int> Unary(int depth) {
    if (depth > kMaxDepth) return Fail(fmt::format("nested deeper than {}", kMaxDepth));
    if (Eat("!")) {
      SLUICE_TRY(inner, Unary(depth + 1));
      return Add({Node::Op::kNot, -1, DependsResult::kBare, *inner, -1});
    }
    if (Eat("(")) {
      SLUICE_TRY(inner, Or(depth + 1));
      if (!Eat(")")) return Fail("missing )");
      return *inner;
    }
    return Operand();
  }
  // TASK or TASK.RESULT. A task name may hold '.', so the last dotted part is a result only
  // when it is one of the results' names.
  Result<int> Operand() {
    Space();
    size_t start = pos_;
    while (pos_ < s_.size() && (IsIdentChar(s_[pos_]) || s_[pos_] == '-' || s_[pos_] == '.')) ++pos_;
    std::string_view word = s_.substr(start, pos_ - start);
    if (word.empty()) {
      return Fail(pos_ < s_.size() ? fmt::format("expected a task name, not {}",
                                                 Quote(s_.substr(pos_, 1)))
                                   : "expected a task name at the end");
    }
    Node n;
    std::string_view name = word;
    if (size_t dot = word.rfind('.'); dot != std::string_view::npos) {
      std::string_view suffix = word.substr(dot + 1);
      for (const ResultName& r : kResults) {
        if (r.name == suffix) {
          n.result = r.result;
          name = word.substr(0, dot);
        }
      }
      if (n.result == DependsResult::kBare && !suffix.empty() && std::isupper(suffix[0])) {
        return Fail(fmt::format("unknown result {}; known: Succeeded, Failed, Errored, Skipped, "
                                "Omitted, Daemoned, AnySucceeded, AllFailed",
                                Quote(suffix)));
      }
    }
    if (!IsName(name)) return Fail(fmt::format("{} is not a task name", Quote(name)));
    n.name = -1;
    for (size_t i = 0; i < e_.names_.size(); ++i) {
      if (e_.names_[i] == name) n.name = static_cast<int>(i);
    }
    if (n.name < 0) {
      e_.names_.emplace_back(name);
      n.name = static_cast<int>(e_.names_.size()) - 1;
    }
    return Add(n);
  }

  std::string_view s_;
  size_t pos_ = 0;
  DependsExpr e_;
};

Result<std::shared_ptr<const DependsExpr>> DependsExpr::Parse(std::string_view text) {
  return DependsParser(text).Run();
}

bool DependsExpr::Holds(DependsResult r, const DependsOutcome& o) {
  switch (r) {
    case DependsResult::kBare: return o.succeeded || o.skipped;
    case DependsResult::kSucceeded: return o.succeeded;
    case DependsResult::kFailed: return o.failed;
    case DependsResult::kErrored: return o.errored;
    case DependsResult::kSkipped: return o.skipped;
    case DependsResult::kOmitted: return o.omitted;
    case DependsResult::kDaemoned: return false;  // no daemon steps here
    case DependsResult::kAnySucceeded: return o.any_succeeded;
    case DependsResult::kAllFailed: return o.all_failed;
  }
  return false;
}

}  // namespace sluice
