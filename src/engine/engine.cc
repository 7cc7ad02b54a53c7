// The engine loop and its decisions: what starts, what is skipped, expanded or cancelled, and
// the timers. Failure handling is in engine_failure.cc, attempts in engine_attempt.cc.
#include "engine/engine.h"

#include <signal.h>

#include <algorithm>

#include "common/strings.h"
#include "engine/instance.h"

namespace sluice {

Result<RunSummary> Engine::Run() {
  // An interrupted rollback is continued like any interrupted run.
  const bool start_rollback = opts_.rollback && !(rollback_ && !run_finished_);
  if (start_rollback) {
    // Compensate a finished run: everything that succeeded and declares compensate.
    if (!run_finished_) {
      return Fail(ErrorCode::kConflict, "run {} is not finished; let it finish or cancel it "
                  "before rolling it back", opts_.run_id);
    }
    if (final_status_ != "succeeded" && final_status_ != "failed") {
      return Fail(ErrorCode::kConflict, "run {} ended {}; only a succeeded or failed run can be "
                  "rolled back", opts_.run_id, final_status_);
    }
    if (Compensable().empty()) {
      return Fail(ErrorCode::kConflict, "run {} has nothing to compensate: no task that "
                  "declares compensate succeeded in it", opts_.run_id);
    }
  } else if (run_finished_) {
    return Fail(ErrorCode::kConflict, "run {} already finished ({})", opts_.run_id, final_status_);
  }
  Event started;
  started.kind = EventKind::kRunStarted;
  started.pid = opts_.pid;
  Emit(started);
  if (start_rollback) EmitPhase("compensating", final_status_, true);
  if (opts_.cancel_only) CancelAll();
  if (!opts_.cancel_only) RecoverLost();
  while (!cancelled_) {
    StartReady();
    HandleGroups();
    if (commit_error_) return Abandon(*commit_error_);
    // One commit a turn. It must precede the spawns (write-ahead); the spawns' own records
    // (pids) ride with the next turn's commit. What the sink publishes later is published after
    // the spawns, off the path from one task's end to the next one's start.
    if (auto st = Commit(); !st) return Abandon(st.error());
    SpawnPending();
    if (int64_t due = sink_.PublishDueUs(); due >= 0 && clock_.NowUs() >= due) {
      if (auto st = sink_.Publish(); !st) return Abandon(st.error());
    }
    if (finished_ == static_cast<int>(instances_.size())) {
      HandleGroups();  // a group whose last member just failed starts over first
      if (finished_ < static_cast<int>(instances_.size()) || AdvancePhase()) continue;
      break;
    }
    if (by_handle_.empty() && ready_.empty() && finalize_.empty() && handler_done_.empty()) {
      // With nothing running every slot is free: what waits in runnable_ starts next turn (a
      // spawn error can free the slot another runnable attempt was waiting for).
      bool groups_waiting = std::any_of(groups_.begin(), groups_.end(),
                                        [](const GroupRun& g) { return g.waiting; });
      if (waiting_.empty() && runnable_.empty() && !groups_waiting && awaiting_.empty()) {
        // Only reachable through a bug; fail what is left rather than hang.
        for (size_t i = 0; i < instances_.size(); ++i) {
          if (!IsTerminal(instances_[i].state)) {
            FinishTask(static_cast<int>(i), TaskState::kFailed, "internal error: stuck", "",
                       "internal");
          }
        }
        continue;
      }
    }
    int64_t next = NextTimerUs();
    if (int64_t due = sink_.PublishDueUs(); due >= 0 && (next < 0 || due < next)) next = due;
    int64_t timeout = next < 0 ? -1 : std::max<int64_t>(0, next - clock_.NowUs());
    // With nothing running, waiting could only end at a timer: never block forever.
    // Votes arrive in the store from other processes: poll while approvals are pending.
    if (!awaiting_.empty()) timeout = timeout < 0 ? kApprovalPollUs : std::min(timeout, kApprovalPollUs);
    if (by_handle_.empty() && (timeout < 0 || !ready_.empty() || !runnable_.empty())) timeout = 0;
    if (observer_) observer_->Flush();
    WaitResult wr = executor_.Wait(timeout);
    for (const auto& exit : wr.exits) {
      auto it = by_handle_.find(exit.pid);
      if (it != by_handle_.end()) HandleExit(it->second, exit);
    }
    if (wr.interrupted) {
      CancelAll();
      break;
    }
    HandleTimers();
    HandleApprovals();
    ApplyStop();
  }
  RunSummary summary;
  summary.status = FinalStatus();
  summary.attempts_spawned = static_cast<int>(latencies_us_.size());
  if (!latencies_us_.empty()) {
    std::sort(latencies_us_.begin(), latencies_us_.end());
    summary.latency_p50_us = latencies_us_[latencies_us_.size() / 2];
    summary.latency_p99_us = latencies_us_[std::min(latencies_us_.size() - 1,
                                                     latencies_us_.size() * 99 / 100)];
  }
  Event fin;
  fin.kind = EventKind::kRunFinished;
  fin.status = summary.status;
  fin.data = fmt::format("{{\"latency_p50_us\":{},\"latency_p99_us\":{},\"attempts\":{}}}",
                         summary.latency_p50_us, summary.latency_p99_us, latencies_us_.size());
  Emit(fin);
  if (auto st = Commit(); !st) return std::unexpected(st.error());
  return summary;
}

// The store failed: nothing more can be recorded, so stop every running attempt (TERM, grace,
// KILL) rather than leave processes whose outcome no one will collect. `resume` later finds
// their attempts open and handles them as lost.
std::unexpected<Error> Engine::Abandon(const Error& err) {
  TerminateRunning(false);
  return std::unexpected(err);
}

// TERM to every running process group, KILL to those still there after the grace period;
// returns when all have exited, recording each attempt cancelled when `record` is set.
void Engine::TerminateRunning(bool record) {
  for (const auto& [pid, i] : by_handle_) executor_.Signal(pid, SIGTERM);
  int64_t kill_at = clock_.NowUs() + opts_.kill_grace_us;
  while (!by_handle_.empty()) {
    int64_t left = kill_at - clock_.NowUs();
    if (left <= 0) {
      for (const auto& [pid, i] : by_handle_) executor_.Signal(pid, SIGKILL);
      left = opts_.kill_grace_us;
      kill_at = clock_.NowUs() + left;
    }
    for (const auto& exit : executor_.Wait(left).exits) {
      auto it = by_handle_.find(exit.pid);
      if (it == by_handle_.end()) continue;
      int i = it->second;
      by_handle_.erase(it);
      if (record) FinishAttempt(i, false, "cancelled", 0, "cancelled", Value());
    }
  }
}

void Engine::RecoverLost() {
  for (size_t i = 0; i < instances_.size(); ++i) {
    Instance& in = instances_[i];
    if (in.attempt_open) {
      executor_.Reclaim(opts_.run_id, in.name, in.attempt);
      FinishAttempt(static_cast<int>(i), false, "lost", 0,
                    "the attempt's outcome is unknown: sluice stopped while it ran", Value());
    }
  }
  for (size_t i = 0; i < instances_.size(); ++i) {
    const Instance& in = instances_[i];
    if (in.expanded && !IsTerminal(in.state) && in.children_done == static_cast<int>(in.children.size())) {
      finalize_.push_back(static_cast<int>(i));
    }
  }
}

int64_t Engine::NextTimerUs() const {
  int64_t next = -1;
  auto consider = [&](int64_t t) {
    if (t > 0 && (next < 0 || t < next)) next = t;
  };
  if (RunDeadlineUs() > 0 && !run_deadline_hit_) consider(RunDeadlineUs());
  for (const auto& g : groups_) {
    if (g.waiting) consider(g.due_us);
  }
  for (int i : awaiting_) consider(instances_[i].retry_due_us);
  for (int i : TimerCandidates()) {
    const Instance& in = instances_[i];
    int64_t deadline_ms = plan_->tasks[in.plan].deadline_ms;
    if (in.state == TaskState::kWaiting) {
      consider(in.retry_due_us);
      if (deadline_ms > 0) consider(in.first_start_us + deadline_ms * 1000);
    }
    if (in.attempt_open && in.handle) {
      consider(in.kill_at_us ? in.kill_at_us : in.timeout_at_us);
      if (deadline_ms > 0 && !in.deadline_passed) consider(in.first_start_us + deadline_ms * 1000);
    }
  }
  return next;
}

// Timers belong to running attempts and to tasks waiting for a retry only, so this and
// NextTimerUs() look at those instead of every instance: a turn costs O(running + waiting).
std::vector<int> Engine::TimerCandidates() const {
  std::vector<int> out(waiting_.begin(), waiting_.end());
  for (const auto& [pid, i] : by_handle_) out.push_back(i);
  return out;
}

void Engine::HandleTimers() {
  int64_t now = clock_.NowUs();
  if (RunDeadlineUs() > 0 && now >= RunDeadlineUs()) run_deadline_hit_ = true;
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (!groups_[g].waiting || now < groups_[g].due_us) continue;
    groups_[g].waiting = false;
    for (int m : plan_->groups[g].members) {
      if (instances_[m].state == TaskState::kPending && instances_[m].remaining_deps == 0) MarkReady(m);
    }
  }
  for (int i : TimerCandidates()) {
    Instance& in = instances_[i];
    int64_t deadline_ms = plan_->tasks[in.plan].deadline_ms;
    bool deadline_due = deadline_ms > 0 && in.first_start_us > 0 &&
                        now >= in.first_start_us + deadline_ms * 1000;
    if (in.state == TaskState::kWaiting) {
      if (deadline_due) {
        in.deadline_passed = true;
        FailTask(i, "timeout", 0, "deadline passed while waiting to retry");
      } else if (now >= in.retry_due_us) {
        MarkReady(i);
      }
      continue;
    }
    if (!in.attempt_open || !in.handle) continue;
    if (in.kill_at_us && now >= in.kill_at_us) {
      executor_.Signal(in.handle, SIGKILL);
      in.kill_at_us = now + opts_.kill_grace_us;  // keep trying while it lingers
      continue;
    }
    bool timeout_due = in.timeout_at_us && now >= in.timeout_at_us;
    if ((timeout_due || (deadline_due && !in.deadline_passed)) && !in.kill_at_us) {
      in.timed_out = true;
      if (deadline_due) in.deadline_passed = true;
      executor_.Signal(in.handle, SIGTERM);
      in.kill_at_us = now + opts_.kill_grace_us;
    }
  }
}

// Starts what is ready, in two steps. First every newly ready instance is vetted once: the
// decisions that need no slot (upstream failure, skip, when, forEach expansion, builtins) are
// taken at once, and what needs a process joins `runnable_`. Then runnable attempts start in
// queue order while slots last; one that does not fit its resources lets later ones that do fit
// go first. A turn therefore costs O(newly ready + started), not O(everything waiting): a
// fan-out of thousands waiting for two slots is not rescanned on every exit. Cache hits finish
// tasks and can make more ready, hence the loop.
void Engine::StartReady() {
  bool progress = true;
  while (progress) {
    progress = false;
    while (!ready_.empty() || !finalize_.empty() || !handler_done_.empty()) {
      std::vector<int> handlers;
      handlers.swap(handler_done_);
      for (int h : handlers) HandlerDone(h);
      std::deque<int> queue;
      queue.swap(ready_);
      for (int i : queue) {
        if (instances_[i].state != TaskState::kReady) continue;  // stale entry
        if (Vet(i)) runnable_.push_back(i);
        // A turn that settles a huge number of tasks without processes (builtins, skips)
        // commits in chunks, to bound memory. Any prefix of the log is a valid state.
        if (uncommitted_ >= kCommitChunk) {
          if (auto st = Commit(); !st) {
            commit_error_ = st.error();
            return;
          }
        }
      }
      std::vector<int> parents;
      parents.swap(finalize_);
      for (int p : parents) FinishForEach(p);
    }
    std::deque<int> keep;
    while (!runnable_.empty() && running_slots_ < opts_.jobs) {
      int i = runnable_.front();
      runnable_.pop_front();
      if (instances_[i].state != TaskState::kReady) continue;
      if (StopStarting(i)) continue;
      if (!Fits(instances_[i])) {
        keep.push_back(i);
        continue;
      }
      if (auto err = StartAttempt(i)) FailTask(i, "expression-error", 0, *err);
      progress = progress || !ready_.empty() || !finalize_.empty() || !handler_done_.empty();
    }
    // Entries passed over keep their place ahead of the rest.
    runnable_.insert(runnable_.begin(), keep.begin(), keep.end());
  }
}

// Takes the decisions that need no slot. Returns true when the instance is left waiting for a
// slot to run an attempt.
bool Engine::Vet(int i) {
  Instance& in = instances_[i];
  const PlanTask& t = plan_->tasks[in.plan];
  const bool in_dag = t.role == TaskRole::kMain || t.role == TaskRole::kFinally;
  if (in_dag && in.parent < 0 && in.attempt == in.attempt_base && !in.expanded) {
    // A task waiting for a group that will be retried waits for the group's next round.
    for (int d : t.deps) {
      int g = plan_->tasks[d].group;
      if (g >= 0 && g != t.group && (groups_[g].failing || groups_[g].waiting)) {
        in.state = TaskState::kPending;
        return false;
      }
    }
    // Upstream verdicts first: a failure blocks, a skipped input skips.
    bool all_skipped = !t.deps.empty();
    for (int d : t.deps) {
      const Instance& up = instances_[top_[d]];
      bool tolerated = plan_->tasks[d].spec->continue_on_failure && up.state == TaskState::kFailed;
      if ((up.state == TaskState::kFailed && !tolerated) || up.state == TaskState::kUpstreamFailed ||
          up.state == TaskState::kCancelled) {
        FinishTask(i, TaskState::kUpstreamFailed,
                   fmt::format("upstream task {} {}", Quote(up.name), TaskStateName(up.state)));
        return false;
      }
      if (up.state != TaskState::kSkipped) all_skipped = false;
    }
    if (StopStarting(i)) return false;
    for (int d : t.data_deps) {
      // A tolerated failure (continueOnFailure) has no outputs to read either, nor a task
      // recovered by a catch handler.
      const Instance& up = instances_[top_[d]];
      TaskState s = up.state;
      if (s == TaskState::kSkipped || s == TaskState::kFailed ||
          (s == TaskState::kRecovered && !up.outputs.is_map())) {
        SkipTask(i, fmt::format("it reads outputs of {}, which {}", Quote(up.name),
                                s == TaskState::kSkipped  ? "was skipped"
                                : s == TaskState::kFailed ? "failed"
                                                          : "was recovered without outputs"));
        return false;
      }
    }
    if (all_skipped) {
      SkipTask(i, "every task it needs was skipped");
      return false;
    }
    if (!t.when_reads_item && DecidedByWhen(i)) return false;
    if (t.spec->for_each) {
      StartForEach(i);
      return false;
    }
  }
  if (in.parent >= 0 && StopStarting(i)) return false;
  if (t.approval && !in.approved) {
    RequestApproval(i);
    return false;
  }
  if (!t.gate.empty() && in.attempt == in.attempt_base && !GatePasses(i)) return false;
  // A `when` that reads `item` decides for each forEach item on its own.
  if (in.parent >= 0 && in.attempt == 0 && t.when_reads_item && DecidedByWhen(i)) return false;
  if (t.kind == Body::Kind::kBuiltin) {
    FinishTask(i, TaskState::kSucceeded, "");  // a builtin: no process, no attempt
    return false;
  }
  // A task that can never fit must fail rather than wait forever.
  const Resources& r = *t.resources;
  if (r.cpu > opts_.cpu_capacity || r.gpu > opts_.gpu_capacity ||
      (opts_.memory_capacity > 0 && r.memory > opts_.memory_capacity)) {
    FailTask(i, "unschedulable", 0, fmt::format("it asks for cpu={} memory={} gpu={}, more than this machine offers "
                            "(cpu={} memory={} gpu={})", r.cpu, r.memory, r.gpu,
                            opts_.cpu_capacity, opts_.memory_capacity, opts_.gpu_capacity));
    return false;
  }
  return true;
}

// Evaluates the task's `when`; returns true when that settled the instance (skipped, or failed
// on an evaluation error).
bool Engine::DecidedByWhen(int i) {
  const Instance& in = instances_[i];
  const TaskSpec& spec = *plan_->tasks[in.plan].spec;
  if (!spec.when) return false;
  Scope scope(*this, in, 1, nullptr);
  auto v = spec.when->Evaluate(scope);
  Result<bool> cond = v ? AsCondition(*v) : Result<bool>(std::unexpected(v.error()));
  if (!cond) {
    FailTask(i, "expression-error", 0, fmt::format("when: {}", cond.error().message));
    return true;
  }
  if (*cond) return false;
  SkipTask(i, fmt::format("when is false: {}", spec.when->tmpl.text()));
  return true;
}

void Engine::StartForEach(int i) {
  Instance& in = instances_[i];
  const TaskSpec& spec = *plan_->tasks[in.plan].spec;
  Value items;
  if (spec.for_each->literal) {
    items = *spec.for_each->literal;
  } else {
    Scope scope(*this, in, 1, nullptr);
    auto v = spec.for_each->expr->Evaluate(scope);
    if (!v) {
      FailTask(i, "expression-error", 0, fmt::format("forEach: {}", v.error().message));
      return;
    }
    items = *v;
    if (items.is_string()) {  // an upstream output holding a JSON list
      auto parsed = ParseJson(items.as_string());
      if (parsed) items = *parsed;
    }
  }
  if (!items.is_list()) {
    FailTask(i, "expression-error", 0, fmt::format("forEach must give a list, got {} {}", items.TypeName(),
                            Quote(items.ToText())));
    return;
  }
  if (items.as_list().size() > 100000) {
    FailTask(i, "expression-error", 0,
             fmt::format("forEach gives {} items; the limit is 100000", items.as_list().size()));
    return;
  }
  Event e;
  e.kind = EventKind::kTaskExpanded;
  e.task = in.name;
  e.data = items.ToJson();
  Emit(e);
  if (items.as_list().empty()) finalize_.push_back(i);
}

// Gathers the children's outputs into lists, in item order, and finishes the parent.
void Engine::FinishForEach(int p) {
  Instance& parent = instances_[p];
  if (IsTerminal(parent.state)) return;
  const OutputsDecl& decl = *plan_->tasks[parent.plan].outputs;
  std::string failed;
  const Instance* failed_child = nullptr;
  ValueMap params, artifacts;
  for (const auto& o : decl.params) params.emplace_back(o.name, Value(ValueList{}));
  for (const auto& a : decl.artifacts) artifacts.emplace_back(a.name, Value(ValueList{}));
  std::vector<ValueList> plists(params.size()), alists(artifacts.size());
  for (int c : parent.children) {
    const Instance& child = instances_[c];
    if (child.state == TaskState::kSkipped) {  // keeps the lists aligned with the items
      for (auto& l : plists) l.push_back(Value());
      for (auto& l : alists) l.push_back(Value());
      continue;
    }
    if (child.state != TaskState::kSucceeded && child.state != TaskState::kCached &&
        child.state != TaskState::kRecovered) {
      if (failed.empty()) {
        failed = fmt::format("{} {}", child.name, TaskStateName(child.state));
        failed_child = &child;
      }
      continue;
    }
    const Value* cp = child.outputs.is_map() ? child.outputs.Find("params") : nullptr;
    const Value* ca = child.outputs.is_map() ? child.outputs.Find("artifacts") : nullptr;
    for (size_t k = 0; k < params.size(); ++k) {
      const Value* v = cp && cp->is_map() ? cp->Find(params[k].first) : nullptr;
      plists[k].push_back(v ? *v : Value());
    }
    for (size_t k = 0; k < artifacts.size(); ++k) {
      const Value* v = ca && ca->is_map() ? ca->Find(artifacts[k].first) : nullptr;
      alists[k].push_back(v ? *v : Value());
    }
  }
  if (!failed.empty()) {
    FinishTask(p, TaskState::kFailed, fmt::format("forEach item failed: {}", failed), "",
               failed_child->last_failure().cls, failed_child->last_failure().code);
    return;
  }
  for (size_t k = 0; k < params.size(); ++k) params[k].second = Value(std::move(plists[k]));
  for (size_t k = 0; k < artifacts.size(); ++k) artifacts[k].second = Value(std::move(alists[k]));
  FinishTask(p, TaskState::kSucceeded, "",
             Value(ValueMap{{"params", Value(std::move(params))},
                            {"artifacts", Value(std::move(artifacts))}})
                 .ToJson());
}

// Ctrl-C or `sluice cancel`: terminate every running process group (TERM, grace, KILL), then
// record every unfinished task cancelled.
void Engine::CancelAll() {
  cancelled_ = true;
  TerminateRunning(true);
  for (size_t i = 0; i < instances_.size(); ++i) {
    Instance& in = instances_[i];
    if (!in.attempt_open) continue;
    executor_.Reclaim(opts_.run_id, in.name, in.attempt);  // from a dead process
    FinishAttempt(static_cast<int>(i), false, "cancelled", 0, "cancelled", Value());
  }
  for (size_t i = 0; i < instances_.size(); ++i) {
    if (IsTerminal(instances_[i].state)) continue;
    FinishTask(static_cast<int>(i), TaskState::kCancelled, "the run was cancelled");
  }
}

}  // namespace sluice
