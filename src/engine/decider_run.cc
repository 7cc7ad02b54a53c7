// Decisions about the run as a whole: the timers (retries due, timeouts, deadlines), failFast
// and onFailure, the run's deadline, groups that start over, the phases after the main DAG
// (compensation, finally) and the run's verdict.
#include <algorithm>

#include "common/strings.h"
#include "engine/decider.h"

namespace sluice {

void Decider::Tick(int64_t now_us, Orders& orders) {
  now_ = now_us;
  HandleTimers(orders);
  DecideApprovals();
  ApplyRunStop(orders);
}

void Decider::Stop(int i, StopReason why, Orders& orders) {
  if (stopping_.emplace(i, why).second) orders.stop.push_back(i);
}

// Timers belong to running attempts and to tasks waiting for a retry only, so this and
// NextDueUs() look at those instead of every instance: a turn costs O(running + waiting).
void Decider::HandleTimers(Orders& orders) {
  if (RunDeadlineUs() > 0 && now_ >= RunDeadlineUs()) run_deadline_hit_ = true;
  for (int g = 0; g < state_.num_groups(); ++g) {
    if (state_.group(g).waiting && now_ >= state_.group(g).due_us) state_.EndGroupWait(g, now_);
  }
  std::vector<int> waiting(state_.waiting().begin(), state_.waiting().end());
  for (int i : waiting) {
    const Instance& in = state_.at(i);
    int64_t deadline_ms = state_.task_of(i).deadline_ms;
    if (deadline_ms > 0 && in.first_start_us > 0 && now_ >= in.first_start_us + deadline_ms * 1000) {
      FailTask(i, ErrorClass::kTimeout, 0, "deadline passed while waiting to retry");
    } else if (now_ >= in.due_us) {
      state_.MarkDue(i, now_);
    }
  }
  std::vector<int> open(state_.open().begin(), state_.open().end());
  for (int i : open) CheckAttemptTimers(i, orders);
}

// A running attempt past its timeout or its task's deadline is asked to stop.
void Decider::CheckAttemptTimers(int i, Orders& orders) {
  const Instance& in = state_.at(i);
  if (!in.handle || stopping_.count(i)) return;
  const PlanTask& t = state_.task_of(i);
  const bool deadline_due = t.deadline_ms > 0 && in.first_start_us > 0 &&
                            now_ >= in.first_start_us + t.deadline_ms * 1000;
  const bool timeout_due = t.timeout_ms > 0 && now_ >= in.attempt_start_us + t.timeout_ms * 1000;
  if (deadline_due) {
    Stop(i, StopReason::kTaskDeadline, orders);
  } else if (timeout_due) {
    Stop(i, StopReason::kTimeout, orders);
  }
}

int64_t Decider::NextDueUs() const {
  int64_t next = -1;
  auto consider = [&](int64_t t) {
    if (t > 0 && (next < 0 || t < next)) next = t;
  };
  if (!run_deadline_hit_) consider(RunDeadlineUs());
  for (const auto& [pool, at] : pool_retry_at_) consider(at);
  for (int g = 0; g < state_.num_groups(); ++g) {
    if (state_.group(g).waiting) consider(state_.group(g).due_us);
  }
  for (int i : state_.awaiting()) consider(state_.at(i).due_us);
  for (int i : state_.waiting()) {
    const Instance& in = state_.at(i);
    int64_t deadline_ms = state_.task_of(i).deadline_ms;
    consider(in.due_us);
    if (deadline_ms > 0) consider(in.first_start_us + deadline_ms * 1000);
  }
  for (int i : state_.open()) {
    const Instance& in = state_.at(i);
    if (!in.handle || stopping_.count(i)) continue;  // a stopping attempt's timer is the loop's
    const PlanTask& t = state_.task_of(i);
    if (t.timeout_ms > 0) consider(in.attempt_start_us + t.timeout_ms * 1000);
    if (t.deadline_ms > 0) consider(in.first_start_us + t.deadline_ms * 1000);
  }
  return next;
}

// Whether instance i, not yet started, must not start: its group is being retried, the run is
// failing and failFast is on, or the run's deadline passed. Records it cancelled when so. Only
// main tasks stop: handlers, compensations and finally tasks are how a failing run cleans up.
bool Decider::StopStarting(int i) {
  const Instance& in = state_.at(i);
  const PlanTask& t = state_.task_of(i);
  if (in.attempt > in.attempt_base || t.role != TaskRole::kMain || state_.phase() != Phase::kMain) {
    return false;
  }
  std::string why;
  if (t.group >= 0 && state_.group(t.group).failing) {
    why = fmt::format("not started: group {} is retried after {} failed",
                      Quote(plan_.groups[t.group].name), Quote(state_.group(t.group).failed));
  } else if (run_deadline_hit_) {
    why = fmt::format("not started: the run's deadline of {} passed",
                      FormatDurationMs(plan_.pipeline->deadline_ms));
  } else if (plan_.pipeline->fail_fast && !state_.first_failure().empty()) {
    why = fmt::format("not started: task {} failed and failFast is on", Quote(state_.first_failure()));
  } else {
    return false;
  }
  FinishTask(i, TaskState::kCancelled, why, "", ErrorClass::kCancelled);
  return true;
}

// Acts once on a failing run (failFast with onFailure: cancel) or a passed run deadline:
// running attempts of main tasks are stopped and their retries given up; handlers already
// running finish. Tasks not yet started are stopped by StopStarting().
void Decider::ApplyRunStop(Orders& orders) {
  if (run_stop_applied_ || state_.phase() != Phase::kMain) return;
  const bool cancel = plan_.pipeline->fail_fast && plan_.pipeline->cancel_on_failure &&
                      !state_.first_failure().empty();
  if (!cancel && !run_deadline_hit_) return;
  run_stop_applied_ = true;
  auto is_main = [&](int i) { return state_.task_of(i).role == TaskRole::kMain; };
  std::vector<int> open(state_.open().begin(), state_.open().end());
  for (int i : open) {
    if (!state_.at(i).handle || !is_main(i)) continue;
    Stop(i, run_deadline_hit_ ? StopReason::kRunDeadline : StopReason::kCancelled, orders);
  }
  const std::string failed = Quote(state_.first_failure());
  std::vector<int> awaiting(state_.awaiting().begin(), state_.awaiting().end());
  for (int i : awaiting) {
    if (!is_main(i)) continue;
    FinishTask(i, TaskState::kCancelled,
               run_deadline_hit_ ? "cancelled while awaiting approval: the run's deadline passed"
                                 : fmt::format("cancelled while awaiting approval: task {} failed "
                                               "and onFailure is cancel", failed),
               "", ErrorClass::kCancelled);
  }
  std::vector<int> waiting(state_.waiting().begin(), state_.waiting().end());
  for (int i : waiting) {
    if (!is_main(i)) continue;
    if (run_deadline_hit_) {
      FailTask(i, ErrorClass::kTimeout, 0,
               fmt::format("the run's deadline of {} passed while it waited to retry",
                           FormatDurationMs(plan_.pipeline->deadline_ms)));
    } else {
      FinishTask(i, TaskState::kCancelled,
                 fmt::format("cancelled while waiting to retry: task {} failed and onFailure "
                             "is cancel", failed),
                 "", ErrorClass::kCancelled);
    }
  }
}

// A group with a member that failed (and retries left): its running members are stopped
// (they end cancelled), retries waiting are given up, members not started are cancelled as
// they come up (StopStarting). Once every member is settled the group is reset to run again
// after its backoff.
void Decider::HandleGroups(Orders& orders) {
  for (int g = 0; g < state_.num_groups(); ++g) {
    if (!state_.group(g).failing || cancelled_ || !rec_.ok()) continue;
    if (!group_stopped_[g]) StopGroup(g, orders);
    const auto& members = plan_.groups[g].members;
    bool settled = std::all_of(members.begin(), members.end(),
                               [&](int m) { return IsTerminal(state_.at(m).state); });
    if (!settled) continue;
    const GroupState& gs = state_.group(g);
    const RetryPolicy& r = *plan_.groups[g].retry;
    const std::string& name = plan_.groups[g].name;
    Event e;
    e.kind = EventKind::kGroupRetry;
    e.due_us = now_ + BackoffUs(r, gs.rounds + 2,
                                fmt::format("{}/group:{}/{}", ctx_.run_id, name, gs.rounds + 1));
    e.message = fmt::format("group {} runs again (retry {} of {}) after {} failed", name,
                            gs.rounds + 1, r.limit, gs.failed);
    e.data = Value(ValueMap{{"group", Value(name)},
                            {"round", Value(static_cast<int64_t>(gs.rounds + 1))},
                            {"failed", Value(gs.failed)}})
                 .ToJson();
    Record(std::move(e));
    group_stopped_[g] = false;
  }
}

void Decider::StopGroup(int g, Orders& orders) {
  group_stopped_[g] = true;
  for (int m : plan_.groups[g].members) {
    const Instance& in = state_.at(m);
    if (in.state == TaskState::kWaiting) {
      FinishTask(m, TaskState::kCancelled,
                 fmt::format("cancelled while waiting to retry: group {} is retried",
                             Quote(plan_.groups[g].name)),
                 "", ErrorClass::kCancelled);
    } else if (in.attempt_open && in.handle) {
      Stop(m, StopReason::kCancelled, orders);
    }
  }
}

// When the main phase must end (spec.deadline), or 0. Compensation and finally tasks are not
// bound by it: they exist to clean up after exactly such an end.
int64_t Decider::RunDeadlineUs() const {
  int64_t ms = plan_.pipeline->deadline_ms;
  if (ms <= 0 || state_.phase() != Phase::kMain || state_.run_started_us() == 0) return 0;
  return state_.run_started_us() + ms * 1000;
}

// The verdict of the main DAG: top-level tasks only (a forEach parent speaks for its items).
// Cancelled tasks here were stopped by failFast or the run deadline; the deadline fails the
// run through what it stopped.
RunStatus Decider::MainStatus() const {
  for (int i = 0; i < plan_.num_main; ++i) {
    TaskState s = state_.at(i).state;
    bool tolerated = plan_.tasks[i].spec->continue_on_failure;
    if ((s == TaskState::kFailed && !tolerated) || s == TaskState::kUpstreamFailed ||
        s == TaskState::kCancelled) {
      return RunStatus::kFailed;
    }
  }
  return RunStatus::kSucceeded;
}

RunStatus Decider::FinalStatus() const {
  if (cancelled_) return RunStatus::kCancelled;
  RunStatus status = MainStatus();
  if (!state_.compensations().empty()) {
    status = RunStatus::kCompensated;
    for (int c : state_.compensations()) {
      if (state_.at(c).state != TaskState::kSucceeded) status = RunStatus::kCompensationFailed;
    }
  }
  for (int f : state_.finally_instances()) {
    TaskState s = state_.at(f).state;
    bool tolerated = state_.task_of(f).spec->continue_on_failure;
    if (status == RunStatus::kSucceeded &&
        ((s == TaskState::kFailed && !tolerated) || s == TaskState::kUpstreamFailed)) {
      status = RunStatus::kFailed;
    }
  }
  return status;
}

bool Decider::AdvancePhase(int64_t now_us) {
  now_ = now_us;
  if (state_.phase() == Phase::kMain && MainStatus() == RunStatus::kFailed &&
      !Compensable().empty()) {
    RecordPhase("compensating", RunStatus::kFailed, false);
    return true;
  }
  if (state_.phase() != Phase::kFinally && !state_.rollback() && plan_.num_finally > 0) {
    RecordPhase("finalizing", FinalStatus(), false);
    return true;
  }
  return false;
}

void Decider::RecordPhase(std::string_view phase, RunStatus status, bool rollback) {
  ValueMap data{{"status", Value(std::string(RunStatusName(status)))}};
  if (phase == "compensating") {
    ValueList names;
    for (int i : Compensable()) names.push_back(Value(state_.at(i).name));
    data.emplace_back("rollback", Value(rollback));
    data.emplace_back("instances", Value(std::move(names)));
  }
  Event e;
  e.kind = EventKind::kRunPhase;
  e.status = std::string(phase);
  e.data = Value(std::move(data)).ToJson();
  Record(std::move(e));
}

// Instances whose own body succeeded in this run (not cached, not recovered) and whose task
// declares compensate, latest completion first.
std::vector<int> Decider::Compensable() const {
  std::vector<int> out;
  for (int i = 0; i < state_.size(); ++i) {
    const Instance& in = state_.at(i);
    const PlanTask& t = state_.task_of(i);
    // (An earlier round of a retried call or run was retired: its successor, by the same
    // name, is the one that counts.)
    if (t.role == TaskRole::kMain && t.compensate >= 0 && !in.expanded &&
        in.state == TaskState::kSucceeded && !state_.retired(i)) {
      out.push_back(i);
    }
  }
  std::sort(out.begin(), out.end(),
            [&](int a, int b) { return state_.at(a).completed > state_.at(b).completed; });
  return out;
}

bool Decider::Stuck() const {
  return !state_.HasWork() && state_.open().empty() && state_.waiting().empty() &&
         runnable_.empty() && !state_.AnyGroupWaiting() && state_.awaiting().empty() &&
         !WaitsForRunPools();
}

void Decider::FailStuck(int64_t now_us) {
  now_ = now_us;
  for (int i = 0; i < state_.size(); ++i) {
    if (!IsTerminal(state_.at(i).state)) {
      FinishTask(i, TaskState::kFailed, "internal error: stuck", "", ErrorClass::kInternal);
    }
  }
}

void Decider::CancelRest(int64_t now_us) {
  now_ = now_us;
  for (int i = 0; i < state_.size(); ++i) {
    if (!IsTerminal(state_.at(i).state)) {
      FinishTask(i, TaskState::kCancelled, "the run was cancelled");
    }
  }
}

}  // namespace sluice
