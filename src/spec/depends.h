// A task's `depends:` (docs/spec.md, 4.3): when it may start, as a boolean expression over how
// the tasks it names ended, in Argo Workflows' "enhanced depends" language, so that imported
// Argo DAGs keep their meaning (docs/interop.md):
//
//   depends: "A && (B.Failed || C.Skipped)"
//
// Operands are `TASK` or `TASK.RESULT` with RESULT one of Succeeded, Failed, Errored, Skipped,
// Omitted, Daemoned, AnySucceeded, AllFailed; operators `&&`, `||`, `!` and parentheses. A bare
// `TASK` means `TASK.Succeeded || TASK.Skipped || TASK.Daemoned`. Pure; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace sluice {

enum class DependsResult {
  kBare,  // TASK alone
  kSucceeded,
  kFailed,
  kErrored,
  kSkipped,
  kOmitted,
  kDaemoned,
  kAnySucceeded,
  kAllFailed,
};

// How one named task ended, as the operands read it.
struct DependsOutcome {
  bool succeeded = false;  // succeeded, cached or recovered
  bool failed = false;     // failed with a nonzero exit (or a timeout)
  bool errored = false;    // failed without running to an exit: spawn error, lost, outputs
  bool skipped = false;    // skipped by its when
  bool omitted = false;    // not run because its own depends was false, or upstream failed
  bool any_succeeded = false;  // a forEach task: at least one item succeeded
  bool all_failed = false;     // a forEach task: every item failed
};

class DependsExpr {
 public:
  // Parses `text`. On failure the message says what is wrong and at which column (1-based) of
  // the text, for the caller to locate.
  static Result<std::shared_ptr<const DependsExpr>> Parse(std::string_view text);

  const std::string& text() const { return text_; }
  // The task names it reads, each once, in order of first appearance.
  const std::vector<std::string>& names() const { return names_; }
  // Whether the task may start, given how each named task ended (`outcome(i)` for names()[i]).
  template <typename F>
  bool Evaluate(F outcome) const {
    return Eval(root_, [&](int name) { return outcome(name); });
  }

  struct Node {
    enum class Op { kOperand, kNot, kAnd, kOr } op = Op::kOperand;
    int name = -1;  // kOperand: index into names_
    DependsResult result = DependsResult::kBare;
    int left = -1, right = -1;  // kNot uses left
  };

 private:
  template <typename F>
  bool Eval(int n, const F& outcome) const {
    const Node& node = nodes_[n];
    switch (node.op) {
      case Node::Op::kNot: return !Eval(node.left, outcome);
      case Node::Op::kAnd: return Eval(node.left, outcome) && Eval(node.right, outcome);
      case Node::Op::kOr: return Eval(node.left, outcome) || Eval(node.right, outcome);
      case Node::Op::kOperand: return Holds(node.result, outcome(node.name));
    }
    return false;
  }
  static bool Holds(DependsResult r, const DependsOutcome& o);

  friend class DependsParser;
  std::string text_;
  std::vector<std::string> names_;
  std::vector<Node> nodes_;
  int root_ = 0;
};

}  // namespace sluice
