// When things fail, and what may stop a task from starting: catch and fallback handlers,
// circuit breakers, gates and approvals, failFast and onFailure, the run deadline, group
// retries, and the phases after the main DAG (compensation, finally) with the run's verdict.
// The events these decisions emit are applied in engine_state.cc.
#include <signal.h>

#include <algorithm>

#include "common/strings.h"
#include "engine/instance.h"
#include "policy/policy.h"

namespace sluice {

bool Engine::GatePasses(int i) {
  const Instance& in = instances_[i];
  const PlanTask& t = plan_->tasks[in.plan];
  // The input: the task, the run's params, and what its upstream tasks produced, with each
  // artifact's digest and size.
  ValueMap tasks;
  std::vector<int> ups(t.deps.begin(), t.deps.end());
  ups.insert(ups.end(), t.data_deps.begin(), t.data_deps.end());
  std::sort(ups.begin(), ups.end());
  ups.erase(std::unique(ups.begin(), ups.end()), ups.end());
  for (int d : ups) {
    const Instance& up = instances_[top_[d]];
    Value outputs = up.outputs.is_map() ? up.outputs : Value(ValueMap{});
    ValueMap arts;
    if (const Value* a = outputs.Find("artifacts"); a && a->is_map()) {
      for (const auto& [name, path] : a->as_map()) {
        std::string p = path.is_string() ? path.as_string() : "";
        // The artifact store's layout: .../sha256/XX/DIGEST/NAME.
        std::string dir = p.substr(0, p.rfind('/'));
        std::string digest = dir.substr(dir.rfind('/') + 1);
        int64_t size = opts_.files && !p.empty() ? opts_.files->Stat(p).size : 0;
        arts.emplace_back(name, Value(ValueMap{{"path", Value(p)}, {"digest", Value(digest)},
                                               {"size", Value(size)}}));
      }
    }
    const Value* params = outputs.Find("params");
    tasks.emplace_back(up.name, Value(ValueMap{
        {"state", Value(std::string(TaskStateName(up.state)))},
        {"outputs", Value(ValueMap{{"params", params ? *params : Value(ValueMap{})},
                                   {"artifacts", Value(std::move(arts))}})}}));
  }
  ValueMap labels;
  for (const auto& [k, v] : plan_->pipeline->labels) labels.emplace_back(k, Value(v));
  Value input(ValueMap{{"object", Value(ValueMap{{"task", Value(in.name)},
                                                 {"pipeline", Value(plan_->pipeline->name)},
                                                 {"labels", Value(std::move(labels))},
                                                 {"params", params_},
                                                 {"tasks", Value(std::move(tasks))}})}});
  PolicyScope scope;
  scope.pipeline = plan_->pipeline->name;
  scope.labels = plan_->pipeline->labels;
  scope.task = t.name;
  if (t.component) scope.components.push_back(t.component->name + "@" + t.component->version);
  std::vector<Decision> decisions;
  for (const PolicySpec* p : t.gate) {
    if (!PolicyMatches(*p, scope)) continue;
    auto ds = EvaluatePolicy(*p, input, plan_->waivers, scope, clock_.NowUs(), opts_.time_zones);
    decisions.insert(decisions.end(), ds.begin(), ds.end());
  }
  ValueList list;
  std::string denied;
  for (auto& d : decisions) {
    d.task = in.name;
    list.push_back(DecisionToValue(d));
    if (d.result == "deny" && denied.empty()) {
      denied = fmt::format("gate: policy {} rule {}: {}", d.policy, d.rule, d.message);
    }
  }
  Event e;
  e.kind = EventKind::kPolicyDecision;
  e.task = in.name;
  e.status = denied.empty() ? "allow" : "deny";
  e.data = Value(ValueMap{{"stage", Value("gate")}, {"decisions", Value(std::move(list))}}).ToJson();
  Emit(std::move(e));
  if (denied.empty()) return true;
  FailTask(i, "policy-denied", 0, denied);
  return false;
}

void Engine::RequestApproval(int i) {
  const Instance& in = instances_[i];
  const ApprovalSpec& a = *plan_->tasks[in.plan].approval;
  ValueList approvers;
  for (const auto& who : a.approvers) approvers.push_back(Value(who));
  Event e;
  e.kind = EventKind::kApprovalRequested;
  e.task = in.name;
  e.due_us = a.timeout_ms > 0 ? clock_.NowUs() + a.timeout_ms * 1000 : 0;
  e.message = a.instructions;
  e.data = Value(ValueMap{{"approvers", Value(std::move(approvers))},
                          {"quorum", Value(static_cast<int64_t>(a.quorum))},
                          {"forbidSelfApproval", Value(a.forbid_self)},
                          {"instructions", Value(a.instructions)}})
               .ToJson();
  Emit(std::move(e));
}

// Decides each pending approval from the votes cast so far: one rejection rejects, a quorum of
// distinct approvers approves, and a passed timeout rejects (never auto-continues).
void Engine::HandleApprovals() {
  std::vector<int> pending(awaiting_.begin(), awaiting_.end());
  for (int i : pending) {
    const Instance& in = instances_[i];
    const ApprovalSpec& a = *plan_->tasks[in.plan].approval;
    std::vector<ApprovalVote> votes;
    if (approvals_) {
      auto v = approvals_->Votes(opts_.run_id, in.name);
      if (!v) {
        commit_error_ = v.error();
        return;
      }
      votes = std::move(*v);
    }
    std::vector<std::string> yes;
    const ApprovalVote* no = nullptr;
    for (const auto& v : votes) {
      if (!v.approve && !no) no = &v;
      if (v.approve && std::find(yes.begin(), yes.end(), v.user) == yes.end()) yes.push_back(v.user);
    }
    Event e;
    e.kind = EventKind::kApprovalDecided;
    e.task = in.name;
    std::string rejected;
    if (no) {
      rejected = fmt::format("rejected by {}{}{}", no->user, no->comment.empty() ? "" : ": ",
                             no->comment);
    } else if (static_cast<int>(yes.size()) >= a.quorum) {
      e.status = "approved";
      e.message = fmt::format("approved by {}", Join(yes, ", "));
    } else if (in.retry_due_us > 0 && clock_.NowUs() >= in.retry_due_us) {
      rejected = fmt::format("not approved within {} ({} of {} approvals): rejected",
                             FormatDurationMs(a.timeout_ms), yes.size(), a.quorum);
    } else {
      continue;
    }
    if (!rejected.empty()) {
      e.status = "rejected";
      e.message = rejected;
    }
    Emit(e);
    if (!rejected.empty()) FailTask(i, "approval-rejected", 0, "approval " + rejected);
  }
}

bool Engine::AcquireBreaker(int i) {
  const Instance& in = instances_[i];
  auto ok = breakers_->Acquire(*plan_->tasks[in.plan].breaker, clock_.NowUs(),
                               fmt::format("{}/{}#{}", opts_.run_id, in.name, in.attempt + 1));
  if (!ok) {
    commit_error_ = ok.error();
    return false;
  }
  return *ok;
}

// The outcome of an attempt its breaker let through: a failure of any class but cancelled
// (which gives back its permit), with its duration for the slow-call rate.
void Engine::RecordBreaker(int i, bool ok, std::string_view error_class) {
  const Instance& in = instances_[i];
  std::optional<bool> failed;
  if (error_class != "cancelled") failed = !ok;
  int64_t now = clock_.NowUs();
  auto st = breakers_->Record(*plan_->tasks[in.plan].breaker, now, failed,
                              now - in.attempt_start_us,
                              fmt::format("{}/{}#{}", opts_.run_id, in.name, in.attempt));
  if (!st && !commit_error_) commit_error_ = st.error();
}

void Engine::FailTask(int i, std::string_view cls, int code, const std::string& message) {
  Instance& in = instances_[i];
  const PlanTask& t = plan_->tasks[in.plan];
  if (t.role == TaskRole::kMain && !in.expanded && !cancelled_ && cls != "cancelled") {
    Failure& f = in.failed();  // what its handler sees (also carried in the event)
    f.cls = std::string(cls);
    f.code = code;
    f.message = message;
    if (t.fallback >= 0 && !f.fallback_tried) {
      StartHandler(i, t.fallback);
      return;
    }
    for (int c : t.catches) {
      if (f.catch_tried) break;
      const CatchSpec& cs = *plan_->tasks[c].catch_spec;
      if (cs.on.empty() || MatchesError(cs.on, cls, code)) {
        StartHandler(i, c);
        return;
      }
    }
  }
  FinishTask(i, TaskState::kFailed, message, "", std::string(cls), code);
}

void Engine::StartHandler(int owner, int plan_task) {
  const Instance& own = instances_[owner];
  const Failure& f = own.last_failure();
  const PlanTask& h = plan_->tasks[plan_task];
  const std::string& owner_task = plan_->tasks[h.owner].name;
  Event e;
  e.kind = EventKind::kHandlerStarted;
  e.task = own.name + h.name.substr(owner_task.size());  // "train[2]" + ".fallback"
  e.data = Value(ValueMap{{"owner", Value(own.name)},
                          {"plan", Value(h.name)},
                          {"error", Value(ValueMap{{"class", Value(f.cls)},
                                                   {"code", Value(static_cast<int64_t>(f.code))},
                                                   {"message", Value(f.message)}})}})
               .ToJson();
  Emit(std::move(e));
}

// A catch or fallback handler finished: its owner is recovered, or fails (after a failed
// fallback, a matching catch handler still gets its turn).
void Engine::HandlerDone(int h) {
  const Instance& hi = instances_[h];
  const PlanTask& ht = plan_->tasks[hi.plan];
  const int o = hi.owner;
  // Replay queues every handler that finished; only the owner's current one decides.
  if (ht.role == TaskRole::kCompensate || IsTerminal(instances_[o].state) ||
      instances_[o].last_failure().handler != h) {
    return;
  }
  const Instance& own = instances_[o];
  const bool ok = hi.state == TaskState::kSucceeded || hi.state == TaskState::kCached;
  const Failure& f = own.last_failure();
  std::string err = fmt::format("{}: {}", ErrorLabel(f.cls, f.code), f.message);
  std::string cls = f.cls, message = f.message;
  int code = f.code;
  if (ht.role == TaskRole::kFallback) {
    if (ok) {
      FinishTask(o, TaskState::kRecovered, fmt::format("recovered by its fallback after {}", err),
                 hi.outputs.ToJson(), cls, code);
    } else {
      const std::string& why = hi.last_failure().message;
      FailTask(o, cls, code, fmt::format("{}; its fallback failed too ({})", message,
                                         why.empty() ? TaskStateName(hi.state) : why));
    }
    return;
  }
  if (ok && ht.catch_spec->recover) {
    FinishTask(o, TaskState::kRecovered, fmt::format("recovered by its catch handler after {}", err),
               "", cls, code);
  } else {
    FinishTask(o, TaskState::kFailed,
               ok ? fmt::format("{} (its catch handler ran)", message)
                  : fmt::format("{}; its catch handler failed too", message),
               "", cls, code);
  }
}

// Whether instance i, not yet started, must not start: the run is failing and failFast is on,
// or the run's deadline passed. Records it cancelled when so. Only main tasks stop: handlers,
// compensations and finally tasks are how a failing run cleans up.
bool Engine::StopStarting(int i) {
  Instance& in = instances_[i];
  if (in.attempt > in.attempt_base || plan_->tasks[in.plan].role != TaskRole::kMain ||
      phase_ != Phase::kMain) {
    return false;
  }
  std::string why;
  const int g = plan_->tasks[in.plan].group;
  if (g >= 0 && groups_[g].failing) {
    why = fmt::format("not started: group {} is retried after {} failed",
                      Quote(plan_->groups[g].name), Quote(groups_[g].failed));
  } else if (run_deadline_hit_) {
    why = fmt::format("not started: the run's deadline of {} passed",
                      FormatDurationMs(plan_->pipeline->deadline_ms));
  } else if (plan_->pipeline->fail_fast && !first_failure_.empty()) {
    why = fmt::format("not started: task {} failed and failFast is on", Quote(first_failure_));
  } else {
    return false;
  }
  FinishTask(i, TaskState::kCancelled, why, "", "cancelled");
  return true;
}

// Acts once on a failing run (failFast with onFailure: cancel) or a passed run deadline:
// running attempts of main tasks are terminated (TERM, grace, KILL) and their retries given up;
// handlers already running finish. Tasks not yet started are stopped by StopStarting().
void Engine::ApplyStop() {
  if (stop_applied_ || phase_ != Phase::kMain) return;
  bool cancel = plan_->pipeline->fail_fast && plan_->pipeline->cancel_on_failure &&
                !first_failure_.empty();
  if (!cancel && !run_deadline_hit_) return;
  stop_applied_ = true;
  int64_t now = clock_.NowUs();
  auto is_main = [&](int i) { return plan_->tasks[instances_[i].plan].role == TaskRole::kMain; };
  for (const auto& [pid, i] : by_handle_) {
    Instance& in = instances_[i];
    if (in.kill_at_us || !is_main(i)) continue;  // already terminating, or a handler
    if (run_deadline_hit_) {
      in.timed_out = in.deadline_passed = in.run_deadline = true;
    } else {
      in.cancelling = true;
    }
    executor_.Signal(pid, SIGTERM);
    in.kill_at_us = now + opts_.kill_grace_us;
  }
  std::vector<int> awaiting(awaiting_.begin(), awaiting_.end());
  for (int i : awaiting) {
    if (!is_main(i)) continue;
    FinishTask(i, TaskState::kCancelled,
               run_deadline_hit_ ? "cancelled while awaiting approval: the run's deadline passed"
                                 : fmt::format("cancelled while awaiting approval: task {} failed "
                                               "and onFailure is cancel", Quote(first_failure_)),
               "", "cancelled");
  }
  std::vector<int> waiting(waiting_.begin(), waiting_.end());
  for (int i : waiting) {
    if (!is_main(i)) continue;
    if (run_deadline_hit_) {
      instances_[i].deadline_passed = true;
      FailTask(i, "timeout", 0, fmt::format("the run's deadline of {} passed while it waited to "
                                            "retry", FormatDurationMs(plan_->pipeline->deadline_ms)));
    } else {
      FinishTask(i, TaskState::kCancelled, fmt::format("cancelled while waiting to retry: task {} "
                                                       "failed and onFailure is cancel",
                                                       Quote(first_failure_)), "", "cancelled");
    }
  }
}

// A group with a member that failed (and retries left): its running members are stopped
// (TERM, grace, KILL; they end cancelled), retries waiting are given up, members not started
// are cancelled as they come up (StopStarting). Once every member is settled the group is reset
// to run again after its backoff.
void Engine::HandleGroups() {
  for (size_t g = 0; g < groups_.size(); ++g) {
    GroupRun& gr = groups_[g];
    if (!gr.failing || cancelled_) continue;
    const auto& members = plan_->groups[g].members;
    if (!gr.stopping) {
      gr.stopping = true;
      int64_t now = clock_.NowUs();
      for (int m : members) {
        Instance& in = instances_[m];
        if (in.state == TaskState::kWaiting) {
          FinishTask(m, TaskState::kCancelled,
                     fmt::format("cancelled while waiting to retry: group {} is retried",
                                 Quote(plan_->groups[g].name)), "", "cancelled");
        } else if (in.attempt_open && in.handle && !in.kill_at_us) {
          in.cancelling = true;
          executor_.Signal(in.handle, SIGTERM);
          in.kill_at_us = now + opts_.kill_grace_us;
        }
      }
    }
    bool settled = std::all_of(members.begin(), members.end(),
                               [&](int m) { return IsTerminal(instances_[m].state); });
    if (!settled) continue;
    const RetryPolicy& r = *plan_->groups[g].retry;
    Event e;
    e.kind = EventKind::kGroupRetry;
    e.due_us = clock_.NowUs() + BackoffUs(r, gr.rounds + 2,
                                          fmt::format("{}/group:{}/{}", opts_.run_id,
                                                      plan_->groups[g].name, gr.rounds + 1));
    e.message = fmt::format("group {} runs again (retry {} of {}) after {} failed",
                            plan_->groups[g].name, gr.rounds + 1, r.limit, gr.failed);
    e.data = Value(ValueMap{{"group", Value(plan_->groups[g].name)},
                            {"round", Value(static_cast<int64_t>(gr.rounds + 1))},
                            {"failed", Value(gr.failed)}})
                 .ToJson();
    Emit(std::move(e));
  }
}

// When the main phase must end (spec.deadline), or 0. Compensation and finally tasks are not
// bound by it: they exist to clean up after exactly such an end.
int64_t Engine::RunDeadlineUs() const {
  int64_t ms = plan_->pipeline->deadline_ms;
  if (ms <= 0 || phase_ != Phase::kMain || run_started_us_ == 0) return 0;
  return run_started_us_ + ms * 1000;
}

// The verdict of the main DAG: top-level tasks only (a forEach parent speaks for its
// children). Cancelled tasks here were stopped by failFast or the run deadline; the deadline
// fails the run through what it stopped.
std::string Engine::MainStatus() const {
  for (int i = 0; i < plan_->num_main; ++i) {
    TaskState s = instances_[i].state;
    bool tolerated = plan_->tasks[i].spec->continue_on_failure;
    if ((s == TaskState::kFailed && !tolerated) || s == TaskState::kUpstreamFailed ||
        s == TaskState::kCancelled) {
      return "failed";
    }
  }
  return "succeeded";
}

std::string Engine::FinalStatus() const {
  if (cancelled_) return "cancelled";
  std::string status = MainStatus();
  if (!compensations_.empty()) {
    status = "compensated";
    for (int c : compensations_) {
      if (instances_[c].state != TaskState::kSucceeded) status = "compensation-failed";
    }
  }
  for (int f : finally_) {
    TaskState s = instances_[f].state;
    bool tolerated = plan_->tasks[instances_[f].plan].spec->continue_on_failure;
    if (status == "succeeded" && ((s == TaskState::kFailed && !tolerated) ||
                                  s == TaskState::kUpstreamFailed)) {
      status = "failed";
    }
  }
  return status;
}

// Every instance is settled: a failed run compensates what it completed, then every run but a
// cancelled one or a rollback runs its finally tasks.
bool Engine::AdvancePhase() {
  if (phase_ == Phase::kMain && MainStatus() == "failed" && !Compensable().empty()) {
    EmitPhase("compensating", "failed", false);
    return true;
  }
  if (phase_ != Phase::kFinally && !rollback_ && plan_->num_finally > 0) {
    EmitPhase("finalizing", FinalStatus(), false);
    return true;
  }
  return false;
}

void Engine::EmitPhase(std::string_view phase, const std::string& status, bool rollback) {
  ValueMap data{{"status", Value(status)}};
  if (phase == "compensating") {
    ValueList names;
    for (int i : Compensable()) names.push_back(Value(instances_[i].name));
    data.emplace_back("rollback", Value(rollback));
    data.emplace_back("instances", Value(std::move(names)));
  }
  Event e;
  e.kind = EventKind::kRunPhase;
  e.status = std::string(phase);
  e.data = Value(std::move(data)).ToJson();
  Emit(std::move(e));
}

// Instances whose own body succeeded in this run (not cached, not recovered) and whose task
// declares compensate, latest completion first.
std::vector<int> Engine::Compensable() const {
  std::vector<int> out;
  for (size_t i = 0; i < instances_.size(); ++i) {
    const Instance& in = instances_[i];
    const PlanTask& t = plan_->tasks[in.plan];
    if (t.role == TaskRole::kMain && t.compensate >= 0 && !in.expanded &&
        in.state == TaskState::kSucceeded) {
      out.push_back(static_cast<int>(i));
    }
  }
  std::sort(out.begin(), out.end(), [&](int a, int b) {
    return instances_[a].completed > instances_[b].completed;
  });
  return out;
}

}  // namespace sluice
