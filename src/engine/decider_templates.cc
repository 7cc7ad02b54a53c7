// Calls of DAG templates: a call's instance expands into an instance of each of its template's
// tasks (RunState::ApplyScope), and is finished once they all are: with the template's
// outputs, skipped, or failed as its first failing task, then retried as a whole (its retry
// policy) or handed to its own fallback or catch handlers like any task.
#include "common/strings.h"
#include "engine/decider.h"

namespace sluice {

namespace {

// Why a settled call failed: its first failed task (the cause), else a cancelled one, else
// one that an upstream failure stopped; null when none did.
const Instance* FailedChild(const RunState& state, const Instance& call) {
  const Instance* found = nullptr;
  int rank = 0;
  for (int c : call.children) {
    const Instance& ch = state.at(c);
    const bool tolerated = state.task_of(c).spec->continue_on_failure;
    // A denial or a rejection speaks first: it ends the call for good (NeverRetried).
    int r = ch.state == TaskState::kFailed && !tolerated && NeverRetried(ch.last_failure().cls) ? 4
            : ch.state == TaskState::kFailed && !tolerated ? 3
            : ch.state == TaskState::kCancelled          ? 2
            : ch.state == TaskState::kUpstreamFailed     ? 1 : 0;
    if (r > rank) {
      rank = r;
      found = &ch;
    }
  }
  return found;
}

}  // namespace

// Binds the call's params and records its expansion, unless it would nest deeper than
// spec.maxDepth (the end of a recursion that did not end).
void Decider::ExpandCall(int i) {
  const Instance& in = state_.at(i);
  const PlanTask& t = state_.task_of(i);
  int depth = 1;
  for (int s = in.scope; s >= 0; s = state_.at(s).scope) ++depth;
  if (depth > plan_.pipeline->max_depth) {
    const ComponentSpec& c = *t.component();
    FailTask(i, ErrorClass::kDepthLimit, 0,
             fmt::format("calling DAG template {}@{} here would nest {} calls deep, more than "
                         "spec.maxDepth ({}); a recursion needs a when: that becomes false",
                         c.name, c.version, depth, plan_.pipeline->max_depth));
    return;
  }
  auto params = BindCallParams(state_, ctx_, i);
  if (!params) {
    FailTask(i, ErrorClass::kExpressionError, 0, params.error().message);
    return;
  }
  Event e;
  e.kind = EventKind::kTaskExpanded;
  e.task = in.name;
  e.attempt = in.attempt + 1;
  e.data = Value(ValueMap{{"scope", std::move(*params)}}).ToJson();
  Record(std::move(e), i);
}

void Decider::FinishCall(int call) {
  const Instance& in = state_.at(call);
  if (IsTerminal(in.state)) return;
  const ComponentSpec& c = *state_.task_of(call).component();
  if (const Instance* failed = FailedChild(state_, in)) {
    const Failure& f = failed->last_failure();
    const bool cancelled = failed->state == TaskState::kCancelled;
    std::string why = failed->state == TaskState::kFailed || cancelled
        ? fmt::format("task {} {}: {}", failed->name, TaskStateName(failed->state), f.message)
        : fmt::format("task {} {}", failed->name, TaskStateName(failed->state));
    FailCall(call, cancelled ? ErrorClass::kCancelled : f.cls, f.code, why);
    return;
  }
  const PlanTemplate& tp = plan_.templates[state_.task_of(call).tmpl()];
  bool all_skipped = true;
  for (int k = 0; k < tp.num_main; ++k) {
    all_skipped &= state_.at(in.children[k]).state == TaskState::kSkipped;
  }
  if (all_skipped) {
    SkipTask(call, fmt::format("every task of DAG template {}@{} was skipped", c.name, c.version));
    return;
  }
  auto out = CallOutputs(state_, ctx_, call, now_);
  if (!out) {
    FailCall(call, ErrorClass::kOutputsError, 0, out.error().message);
    return;
  }
  FinishTask(call, TaskState::kSucceeded, "", out->ToJson(), ErrorClass::kNone, 0, &*out);
}

// A call failed: it runs again as a whole while its retry policy allows (a new round of its
// template's tasks), else it fails (after its fallback or catch handler, when it has one).
void Decider::FailCall(int call, ErrorClass cls, int code, const std::string& message) {
  const PlanTask& t = state_.task_of(call);
  // The round ends as an attempt does, so that retry.when and handlers see its error.
  Event end;
  end.kind = EventKind::kAttemptFinished;
  end.task = state_.at(call).name;
  end.attempt = state_.at(call).attempt;
  end.status = std::string(AttemptStatusName(AttemptStatus::kFailed));
  end.error_class = std::string(ErrorClassName(cls));
  end.exit_code = code;
  end.message = message;
  Record(std::move(end), call);
  const Instance& in = state_.at(call);
  std::string note;
  if (Retryable(call, cls, code, &note)) {
    ScheduleRetry(call, message);
    return;
  }
  const int tries = in.attempt - in.attempt_base;
  FailTask(call, cls, code,
           (tries > 1 ? fmt::format("{} (round {} of {})", message, tries, t.retry->limit + 1)
                      : message) + note);
}

}  // namespace sluice
