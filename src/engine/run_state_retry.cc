// `sluice retry`: the instances a retry starts over (RetryEvent) and how its run.retried event
// changes a RunState (RunState::ApplyRetried). Pure, like the rest of RunState: times come from
// the event.
#include "engine/run_state_retry.h"

#include <algorithm>
#include <unordered_set>

#include "common/strings.h"

namespace sluice {

bool RetriedState(TaskState s) {
  return s == TaskState::kFailed || s == TaskState::kUpstreamFailed || s == TaskState::kCancelled;
}

namespace {

// What a retry starts over while it is being decided: whole top-level tasks (by plan index) and
// single forEach items (by instance) whose parent keeps its other items.
struct RetrySet {
  std::vector<bool> whole;
  std::vector<int> items;
  std::vector<int> work;  // plan tasks whose dependents and group are still to be added
};

void MarkWhole(RetrySet& set, int plan_task) {
  if (set.whole[plan_task]) return;
  set.whole[plan_task] = true;
  set.work.push_back(plan_task);
}

// A retried instance: a forEach item alone, a forEach task through its retried items (all of
// it when none of them is), any other task whole.
void Seed(const RunState& s, int i, RetrySet& set) {
  const Instance& in = s.at(i);
  if (in.parent >= 0) {
    set.items.push_back(i);
    set.work.push_back(in.plan);  // what reads the forEach task's lists runs again
    return;
  }
  if (s.IsForEachParent(i)) {  // (a call of a DAG template starts over whole)
    bool any = false;
    for (int c : in.children) {
      if (RetriedState(s.at(c).state)) {
        set.items.push_back(c);
        any = true;
      }
    }
    if (any) {
      set.work.push_back(in.plan);
      return;
    }
  }
  MarkWhole(set, in.plan);
}

// Everything downstream of what starts over starts over whole, and so does every member of a
// group (spec.groups) that has one starting over: a group runs as a unit.
void Close(const Plan& plan, RetrySet& set) {
  std::vector<bool> done(plan.num_main, false);
  while (!set.work.empty()) {
    const int t = set.work.back();
    set.work.pop_back();
    if (done[t]) continue;
    done[t] = true;
    for (int d : plan.tasks[t].dependents) {
      if (d < plan.num_main) MarkWhole(set, d);
    }
    if (const int g = plan.tasks[t].group; g >= 0) {
      for (int m : plan.groups[g].members) MarkWhole(set, m);
    }
  }
}

// Why instance i cannot be named to `sluice retry`, or "" when it can.
std::string RefusalFor(const RunState& s, int i, const std::string& name) {
  const Instance& in = s.at(i);
  if (in.scope >= 0) {
    return fmt::format("task {} runs inside call {} of a DAG template; retry {} (a call is "
                       "retried whole)", Quote(name), Quote(s.at(in.scope).name),
                       Quote(s.at(in.scope).name));
  }
  if (in.owner >= 0) {
    return fmt::format("{} is a handler of {}; retry the task it serves", Quote(name),
                       Quote(s.at(in.owner).name));
  }
  if (s.task_of(i).role == TaskRole::kFinally) {
    return fmt::format("{} is a finally task; finally tasks run again when the retried run ends",
                       Quote(name));
  }
  if (!RetriedState(in.state)) {
    return fmt::format(
        "task {} {}; only tasks that failed, were upstream-failed or were "
        "cancelled are retried",
        Quote(name), TaskStateName(in.state));
  }
  return "";
}

// The run-level reasons a run cannot be retried, as an error, or success.
Status CheckRetryable(const RunState& s) {
  if (!s.run_finished()) {
    return Fail(ErrorCode::kConflict,
                "the run is not finished; a run that stopped is continued "
                "with sluice resume");
  }
  if (!s.compensations().empty()) {
    return Fail(ErrorCode::kConflict,
                "the run ended {}: its completed work was undone, so it is "
                "not retried in place; start it anew with sluice rerun",
                RunStatusName(s.final_status()));
  }
  return {};
}

ValueList Names(const RunState& s, const std::vector<int>& instances) {
  ValueList out;
  out.reserve(instances.size());
  for (int i : instances) out.push_back(Value(s.at(i).name));
  return out;
}

}  // namespace

Result<Event> RetryEvent(const RunState& s, const std::vector<std::string>& requested,
                         const std::string& by) {
  SLUICE_TRY_STATUS(CheckRetryable(s));
  const Plan& plan = s.plan();
  RetrySet set;
  set.whole.assign(plan.num_main, false);
  if (requested.empty()) {
    for (int p = 0; p < plan.num_main; ++p) {
      if (s.top(p) >= 0 && RetriedState(s.at(s.top(p)).state)) Seed(s, s.top(p), set);
    }
    if (set.work.empty()) {
      return Fail(ErrorCode::kConflict,
                  "nothing to retry: no task failed, was upstream-failed "
                  "or was cancelled (sluice rerun runs it again)");
    }
  }
  for (const auto& name : requested) {
    const int i = s.Find(name);
    if (i < 0 || s.retired(i)) {
      std::vector<std::string> names;
      for (int p = 0; p < plan.num_main; ++p) names.push_back(plan.tasks[p].name);
      return Fail(ErrorCode::kInvalidInput, "the run has no task {}{}", Quote(name),
                  DidYouMean(name, names));
    }
    if (std::string why = RefusalFor(s, i, name); !why.empty()) {
      return Fail(ErrorCode::kInvalidInput, "{}", why);
    }
    Seed(s, i, set);
  }
  Close(plan, set);
  std::vector<int> reset;
  for (int p = 0; p < plan.num_main; ++p) {
    if (set.whole[p] && s.top(p) >= 0) reset.push_back(s.top(p));
  }
  std::sort(set.items.begin(), set.items.end());
  set.items.erase(std::unique(set.items.begin(), set.items.end()), set.items.end());
  for (int c : set.items) {
    if (!set.whole[s.at(c).plan]) reset.push_back(c);  // a parent started over whole retires it
  }
  Event e;
  e.kind = EventKind::kRunRetried;
  e.message = fmt::format("retried by {}: {} task{} start over", by, reset.size(),
                          reset.size() == 1 ? "" : "s");
  ValueList asked;
  for (const auto& name : requested) asked.push_back(Value(name));
  e.data = Value(ValueMap{{"tasks", Value(Names(s, reset))},
                          {"retired", Value(Names(s, RetiredByRetry(s, reset)))},
                          {"requested", Value(std::move(asked))},
                          {"by", Value(by)}})
               .ToJson();
  return e;
}

std::vector<int> RetiredByRetry(const RunState& s, const std::vector<int>& reset) {
  std::unordered_set<int> gone(reset.begin(), reset.end());  // whose handlers retire
  std::vector<int> out;
  auto retire = [&](int i) {
    out.push_back(i);
    gone.insert(i);
  };
  for (int r : reset) {
    const Instance& in = s.at(r);
    if (in.parent >= 0) gone.insert(in.parent);  // a forEach task that goes on: its handlers
    if (in.parent < 0 && in.expanded) {  // a forEach task's items, a call's tasks
      for (int c : in.children) retire(c);
    }
  }
  for (int f : s.finally_instances()) retire(f);
  // A handler comes after its owner, so one pass in order finds handlers of handlers too.
  for (int i = 0; i < s.size(); ++i) {
    const Instance& in = s.at(i);
    if (in.owner >= 0 && !s.retired(i) && gone.count(in.owner) && !gone.count(i)) retire(i);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The run is open again: what the event lists starts over (attempt numbers go on), what it
// retires keeps its history but loses its name, and the run is back in its main phase with its
// deadline counted from the next run.started. The work lists are emptied first: what a replay
// queued in them belongs to the round that ended.
Status RunState::ApplyRetried(const Event& e) {
  if (!run_finished_ || !compensations_.empty()) {
    return Fail(ErrorCode::kInternal, "event {}: run.retried on a run that is {}", e.seq,
                run_finished_ ? "compensated" : "not finished");
  }
  auto d = ParseJson(e.data);
  const Value* list = d && d->is_map() ? d->Find("tasks") : nullptr;
  if (!list || !list->is_list() || list->as_list().empty()) {
    return Fail(ErrorCode::kInternal, "event {}: bad run.retried data {}", e.seq, Quote(e.data));
  }
  std::vector<int> reset;
  for (const auto& v : list->as_list()) {
    const int i = v.is_string() ? Find(v.as_string()) : -1;
    if (i < 0 || !IsTerminal(instances_[i].state) || instances_[i].owner >= 0 ||
        plan_->tasks[instances_[i].plan].role != TaskRole::kMain) {
      return Fail(ErrorCode::kInternal, "event {}: cannot retry {}", e.seq, Quote(v.ToText()));
    }
    reset.push_back(i);
  }
  for (int r : RetiredByRetry(*this, reset)) Retire(r);
  finally_.clear();
  ready_.clear();
  finalize_.clear();
  handlers_done_.clear();
  for (int i : reset) {
    if (!retired(i)) ResetForRetry(i);  // an item whose parent starts over whole is retired
  }
  for (int i : reset) {
    Instance& in = instances_[i];
    if (retired(i)) continue;
    if (in.parent < 0) {
      int remaining = 0;
      for (int dep : plan_->tasks[in.plan].deps)
        remaining += !IsTerminal(instances_[top_[dep]].state);
      in.remaining_deps = remaining;
      if (const int g = plan_->tasks[in.plan].group; g >= 0) groups_[g] = GroupState{};
      if (remaining > 0) continue;
    }
    MarkReady(i, e.time_us);
  }
  first_failure_.clear();  // failFast acts on this round's failures
  phase_ = Phase::kMain;
  phase_status_ = RunStatus::kRunning;
  rollback_ = false;
  run_finished_ = false;
  final_status_ = RunStatus::kPending;
  run_started_us_ = 0;
  return {};
}

void RunState::Retire(int i) {
  Instance& in = instances_[i];
  retired_.insert(i);
  retired_attempts_[in.name] = in.attempt;
  if (in.parent < 0 && in.owner < 0 && top_[in.plan] == i) {
    top_[in.plan] = -1;  // a finally task: ApplyFinalizing adds it again
  } else if (auto it = by_name_.find(in.name); it != by_name_.end() && it->second == i) {
    by_name_.erase(it);
  }
}

// Back to pending with its history's attempt count; a forEach item's parent runs again.
void RunState::ResetForRetry(int i) {
  Instance& in = instances_[i];
  if (IsTerminal(in.state)) --finished_;
  if (in.parent >= 0) {
    Instance& p = instances_[in.parent];
    --p.children_done;
    if (IsTerminal(p.state)) {
      --finished_;
      p.state = TaskState::kRunning;
      p.failure.reset();
      p.outputs = Value();
      p.completed = 0;
    }
  }
  Instance fresh;
  fresh.plan = in.plan;
  fresh.parent = in.parent;
  fresh.name = std::move(in.name);
  fresh.item = std::move(in.item);
  fresh.attempt = in.attempt;
  fresh.attempt_base = in.attempt;
  in = std::move(fresh);
  if (!cache_keys_.empty()) cache_keys_.erase(i);
  waiting_.erase(i);
  awaiting_.erase(i);
}

void RunState::ContinueAttempts(Instance& in) {
  auto it = retired_attempts_.find(in.name);
  if (it == retired_attempts_.end()) return;
  in.attempt = it->second;
  in.attempt_base = it->second;
  retired_attempts_.erase(it);
}

}  // namespace sluice
