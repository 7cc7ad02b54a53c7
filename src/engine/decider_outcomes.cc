// How attempts and tasks end: classifying an attempt's end, the retry decision, catch and
// fallback handlers, and the verdicts recorded for tasks.
#include <signal.h>

#include <cstring>

#include "common/strings.h"
#include "engine/decider.h"

namespace sluice {

namespace {

Value EmptyOutputs() {
  return Value(ValueMap{{"params", Value(ValueMap{})}, {"artifacts", Value(ValueMap{})}});
}

// The outputs recorded for a task: its params, each artifact's path (what placeholders read)
// and, apart, each artifact's digest and size (what gates read), and the cache key it was
// stored under.
Value OutputsValue(const AttemptOutputs& out, const std::string& cache_key) {
  ValueMap paths, info;
  for (const auto& a : out.artifacts) {
    paths.emplace_back(a.name, Value(a.path));
    info.emplace_back(a.name, Value(ValueMap{{"digest", Value(a.digest)}, {"size", Value(a.size)}}));
  }
  ValueMap m{{"params", out.params.is_map() ? out.params : Value(ValueMap{})},
             {"artifacts", Value(std::move(paths))}};
  if (!info.empty()) m.emplace_back("artifact_info", Value(std::move(info)));
  if (!cache_key.empty()) m.emplace_back("cache_key", Value(cache_key));
  return Value(std::move(m));
}

}  // namespace

void Decider::AttemptEnded(int i, const AttemptEnd& end, int64_t now_us) {
  now_ = now_us;
  if (auto stop = stopping_.extract(i)) {
    ErrorClass cls = stop.mapped() == StopReason::kCancelled ? ErrorClass::kCancelled
                                                             : ErrorClass::kTimeout;
    // A passed deadline is not retried: the time the task had is over.
    const bool deadline = stop.mapped() == StopReason::kTaskDeadline ||
                          stop.mapped() == StopReason::kRunDeadline;
    FinishAttempt(i, cls, 0, StopMessage(i, stop.mapped()), nullptr, !deadline);
    return;
  }
  if (end.error_class != ErrorClass::kNone && end.how != AttemptEnd::How::kLost) {
    FinishAttempt(i, end.error_class, 0, end.message, nullptr);
    return;
  }
  switch (end.how) {
    case AttemptEnd::How::kLost:
      FinishAttempt(i, ErrorClass::kLost, 0, end.message, nullptr);
      return;
    case AttemptEnd::How::kSignaled:
      FinishAttempt(i, ErrorClass::kSignal, end.signal,
                    fmt::format("killed by signal {} ({})", end.signal, strsignal(end.signal)),
                    nullptr);
      return;
    case AttemptEnd::How::kExited: break;
  }
  if (end.exit_code != 0) {
    if (state_.task_of(i).body->deploy()) {
      DeployEnded(i, end.exit_code);
      return;
    }
    FinishAttempt(i, ErrorClass::kExit, end.exit_code, fmt::format("exited with {}", end.exit_code),
                  nullptr);
    return;
  }
  if (!end.outputs || !*end.outputs) {
    FinishAttempt(i, ErrorClass::kOutputsError, 0,
                  end.outputs ? end.outputs->error().message : "its outputs were not collected",
                  nullptr);
    return;
  }
  Value out = OutputsValue(**end.outputs, state_.cache_key(i));
  FinishAttempt(i, ErrorClass::kNone, 0, "", &out);
}

// A deploy's rollout process (src/rollout) ends with one of the codes of outcome.h; its row in
// the store says the rest (sluice rollout status).
void Decider::DeployEnded(int i, int code) {
  const std::string& task = state_.at(i).name;
  switch (code) {
    case kDeployExitAnalysisFailed:
      FinishAttempt(i, ErrorClass::kAnalysisFailed, 0, fmt::format(
          "the rollout was aborted: its analysis failed (sluice rollout status {} {})",
          ctx_.run_id, task), nullptr);
      return;
    case kDeployExitRefused:
      FinishAttempt(i, ErrorClass::kPolicyDenied, 0, fmt::format(
          "the promotion was refused (sluice rollout status {} {})", ctx_.run_id, task), nullptr);
      return;
    case kDeployExitAborted:
      FinishAttempt(i, ErrorClass::kCancelled, 0, fmt::format(
          "the rollout was aborted by a person (sluice rollout status {} {})", ctx_.run_id, task),
          nullptr);
      return;
    default:
      FinishAttempt(i, ErrorClass::kExit, code, fmt::format(
          "the rollout stopped with exit {} (its log: sluice logs {} {})", code, ctx_.run_id, task),
          nullptr);
  }
}

void Decider::SubmitFailed(int i, const std::string& why, int64_t now_us) {
  now_ = now_us;
  FinishAttempt(i, ErrorClass::kSpawnError, 0, why, nullptr);
}

void Decider::AttemptCancelled(int i, int64_t now_us) {
  now_ = now_us;
  stopping_.erase(i);
  FinishAttempt(i, ErrorClass::kCancelled, 0, "cancelled", nullptr);
}

std::string Decider::StopMessage(int i, StopReason why) const {
  const PlanTask& t = state_.task_of(i);
  switch (why) {
    case StopReason::kTimeout: return fmt::format("timed out after {}", FormatDurationMs(t.timeout_ms));
    case StopReason::kTaskDeadline:
      return fmt::format("deadline of {} passed", FormatDurationMs(t.deadline_ms));
    case StopReason::kRunDeadline:
      return fmt::format("the run's deadline of {} passed",
                         FormatDurationMs(plan_.pipeline->deadline_ms));
    case StopReason::kCancelled: break;
  }
  if (t.group >= 0 && state_.group(t.group).failing) {
    return fmt::format("cancelled: group {} is retried after {} failed",
                       Quote(plan_.groups[t.group].name), Quote(state_.group(t.group).failed));
  }
  return fmt::format("cancelled: task {} failed and onFailure is cancel",
                     Quote(state_.first_failure()));
}

// Records the attempt's end, then the task's fate: succeeded, cancelled, retried later, or
// failed for good (after its fallback or catch handler, when it has one).
void Decider::FinishAttempt(int i, ErrorClass cls, int code, const std::string& message,
                            const Value* outputs, bool may_retry) {
  const PlanTask& t = state_.task_of(i);
  if (t.breaker() && cls != ErrorClass::kCircuitOpen) RecordBreaker(i, cls);
  const bool ok = cls == ErrorClass::kNone;
  Event e;
  e.kind = EventKind::kAttemptFinished;
  e.task = state_.at(i).name;
  e.attempt = state_.at(i).attempt;
  e.status = std::string(AttemptStatusName(ok ? AttemptStatus::kSucceeded : AttemptStatus::kFailed));
  e.error_class = std::string(ErrorClassName(cls));
  e.exit_code = code;
  e.message = message;
  Record(std::move(e), i);
  if (cls == ErrorClass::kCancelled) {
    FinishTask(i, TaskState::kCancelled, message, "", ErrorClass::kCancelled);
    return;
  }
  if (ok) {
    Value out = outputs && outputs->is_map() ? *outputs : EmptyOutputs();
    FinishTask(i, TaskState::kSucceeded, "", out.ToJson(), ErrorClass::kNone, 0, &out);
    return;
  }
  std::string note;
  const Instance& in = state_.at(i);
  if (may_retry && Retryable(i, cls, code, &note)) {
    ScheduleRetry(i, message);
    return;
  }
  const int tries = in.attempt - in.attempt_base;
  FailTask(i, cls, code,
           (tries > 1 ? fmt::format("{} (attempt {} of {})", message, tries, t.retry->limit + 1)
                      : message) + note);
}

// The next attempt of instance i (a call: its next round), after its retry policy's backoff.
void Decider::ScheduleRetry(int i, const std::string& message) {
  const Instance& in = state_.at(i);
  Event retry;
  retry.kind = EventKind::kRetryScheduled;
  retry.task = in.name;
  retry.attempt = in.attempt + 1;
  retry.due_us = now_ + BackoffUs(*state_.task_of(i).retry, in.attempt + 1 - in.attempt_base,
                                  fmt::format("{}/{}/{}", ctx_.run_id, in.name, in.attempt + 1));
  retry.message = message;
  Record(std::move(retry), i);
}

// Whether a failed attempt is tried again: within the limit, of a class `on` takes and
// `except` does not, and `retry.when` holds. A compensation lost in a crash always runs again:
// it must run to the end, and compensations are written to be repeatable. `note` says why a
// retry.when that could not be evaluated did not retry.
bool Decider::Retryable(int i, ErrorClass cls, int code, std::string* note) const {
  const Instance& in = state_.at(i);
  const PlanTask& t = state_.task_of(i);
  if (cancelled_) return false;
  if (cls == ErrorClass::kLost && t.role == TaskRole::kCompensate) return true;
  const RetryPolicy& r = *t.retry;
  if (NeverRetried(cls) || in.attempt - in.attempt_base > r.limit ||
      (!r.on.empty() && !MatchesError(r.on, cls, code)) || MatchesError(r.except, cls, code)) {
    return false;
  }
  if (!r.when) return true;
  Result<bool> cond = EvaluateCondition(*r.when, state_, ctx_, i, in.attempt);
  if (!cond) *note = fmt::format("; not retried: retry.when: {}", cond.error().message);
  return cond && *cond;
}

void Decider::FinishTask(int i, TaskState state, std::string message, std::string data,
                         ErrorClass cls, int code, const Value* outputs) {
  Event e;
  e.kind = EventKind::kTaskFinished;
  e.task = state_.at(i).name;
  e.attempt = state_.at(i).attempt;
  e.status = std::string(TaskStateName(state));
  e.message = std::move(message);
  e.data = std::move(data);
  e.error_class = std::string(ErrorClassName(cls));
  e.exit_code = code;
  Record(std::move(e), i, outputs);
}

void Decider::SkipTask(int i, std::string message, bool omitted) {
  Event e;
  e.kind = EventKind::kTaskSkipped;
  e.task = state_.at(i).name;
  e.message = std::move(message);
  if (omitted) e.status = "omitted";  // what depends' X.Omitted reads (RunState::Apply)
  // Outputs with a default: what its readers get (as Argo gives a skipped step's defaults).
  ValueMap defaults;
  if (const OutputsDecl* outputs = state_.task_of(i).outputs) {
    for (const auto& o : outputs->params) {
      if (o.default_value) defaults.emplace_back(Value(o.name), Value(*o.default_value));
    }
  }
  if (!defaults.empty()) e.data = Value(ValueMap{{"params", Value(std::move(defaults))}}).ToJson();
  Record(std::move(e), i);
}

// A terminal failure of class `cls`: runs the task's fallback or a matching catch handler
// first when it has them, else records the task failed.
void Decider::FailTask(int i, ErrorClass cls, int code, const std::string& message) {
  const Instance& in = state_.at(i);
  const PlanTask& t = state_.task_of(i);
  if (t.role == TaskRole::kMain && !state_.IsForEachParent(i) && !cancelled_ &&
      cls != ErrorClass::kCancelled) {
    const Failure& f = in.last_failure();
    if (t.fallback >= 0 && !f.fallback_tried) {
      StartHandler(i, t.fallback, cls, code, message);
      return;
    }
    for (int c : t.catches()) {
      if (f.catch_tried) break;
      const CatchSpec& cs = *plan_.tasks[c].catch_spec();
      if (cs.on.empty() || MatchesError(cs.on, cls, code)) {
        StartHandler(i, c, cls, code, message);
        return;
      }
    }
  }
  FinishTask(i, TaskState::kFailed, message, "", cls, code);
}

// Starts a handler for instance `owner`; the failure it handles travels in its event.
void Decider::StartHandler(int owner, int plan_task, ErrorClass cls, int code,
                           const std::string& message) {
  const Instance& own = state_.at(owner);
  const PlanTask& h = plan_.tasks[plan_task];
  const std::string& owner_task = plan_.tasks[h.owner].name;
  Event e;
  e.kind = EventKind::kHandlerStarted;
  e.task = own.name + h.name.substr(owner_task.size());  // "train[2]" + ".fallback"
  e.data = Value(ValueMap{{"owner", Value(own.name)},
                          {"plan", Value(h.name)},
                          {"error", Value(ValueMap{{"class", Value(std::string(ErrorClassName(cls)))},
                                                   {"code", Value(static_cast<int64_t>(code))},
                                                   {"message", Value(message)}})}})
               .ToJson();
  Record(std::move(e));
}

// A catch or fallback handler finished: its owner is recovered, or fails (after a failed
// fallback, a matching catch handler still gets its turn).
void Decider::HandlerDone(int h) {
  const Instance& hi = state_.at(h);
  const PlanTask& ht = state_.task_of(h);
  const int o = hi.owner;
  // Replay queues every handler that finished; only the owner's current one decides.
  if (ht.role == TaskRole::kCompensate || IsTerminal(state_.at(o).state) ||
      state_.at(o).last_failure().handler != h) {
    return;
  }
  const bool ok = hi.state == TaskState::kSucceeded || hi.state == TaskState::kCached;
  const Failure f = state_.at(o).last_failure();
  std::string err = fmt::format("{}: {}", ErrorLabel(f.cls, f.code), f.message);
  if (ht.role == TaskRole::kFallback) {
    if (ok) {
      FinishTask(o, TaskState::kRecovered, fmt::format("recovered by its fallback after {}", err),
                 hi.outputs.ToJson(), f.cls, f.code);
    } else {
      const std::string& why = hi.last_failure().message;
      FailTask(o, f.cls, f.code, fmt::format("{}; its fallback failed too ({})", f.message,
                                             why.empty() ? TaskStateName(hi.state) : why));
    }
    return;
  }
  if (ok && ht.catch_spec()->recover) {
    FinishTask(o, TaskState::kRecovered, fmt::format("recovered by its catch handler after {}", err),
               "", f.cls, f.code);
  } else {
    FinishTask(o, TaskState::kFailed,
               ok ? fmt::format("{} (its catch handler ran)", f.message)
                  : fmt::format("{}; its catch handler failed too", f.message),
               "", f.cls, f.code);
  }
}

// The outcome of an attempt its breaker let through: a failure of any class but cancelled
// (which gives back its permit), with its duration for the slow-call rate.
void Decider::RecordBreaker(int i, ErrorClass cls) {
  if (!ctx_.breakers) return;
  const Instance& in = state_.at(i);
  std::optional<bool> failed;
  if (cls != ErrorClass::kCancelled) failed = cls != ErrorClass::kNone;
  auto st = ctx_.breakers->Record(*state_.task_of(i).breaker(), now_, failed,
                                  now_ - in.attempt_start_us,
                                  fmt::format("{}/{}#{}", ctx_.run_id, in.name, in.attempt));
  if (!st) rec_.Fail(st.error());
}

}  // namespace sluice
