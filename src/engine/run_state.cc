// How events change a run's state. Nothing here reads a clock or acts: times come from the
// events themselves.
#include "engine/run_state.h"

#include <algorithm>
#include <map>

#include "common/strings.h"

namespace sluice {

namespace {
constexpr std::string_view kStateNames[] = {"pending",   "ready",     "running", "waiting",
                                            "awaiting-approval",
                                            "succeeded", "cached",    "recovered", "failed",
                                            "skipped",   "upstream-failed", "cancelled"};
}  // namespace

std::string_view TaskStateName(TaskState s) { return kStateNames[static_cast<int>(s)]; }

bool IsTerminal(TaskState s) { return s >= TaskState::kSucceeded; }

std::optional<TaskState> ParseTaskState(std::string_view name) {
  for (size_t i = 0; i < std::size(kStateNames); ++i) {
    if (kStateNames[i] == name) return static_cast<TaskState>(i);
  }
  return std::nullopt;
}

bool HasOutputs(TaskState s, const Value& outputs) {
  // A recovered task has its fallback's outputs, if any; a skipped one its outputs' defaults.
  return s == TaskState::kSucceeded || s == TaskState::kCached ||
         ((s == TaskState::kRecovered || s == TaskState::kSkipped) && outputs.is_map());
}

// The main tasks' instances, at the same indices as their plan tasks. Finally tasks and
// handlers get theirs when their phase or their owner's failure comes.
RunState::RunState(std::shared_ptr<const Plan> plan) : plan_(std::move(plan)) {
  groups_.resize(plan_->groups.size());
  const int n = plan_->num_main;
  instances_.reserve(n);
  top_.assign(plan_->tasks.size(), -1);
  for (int i = 0; i < n; ++i) {
    top_[i] = AddInstance(i, -1, plan_->tasks[i].name, nullptr);
    instances_[i].remaining_deps = static_cast<int>(plan_->tasks[i].deps.size());
  }
  for (int i = 0; i < n; ++i) {
    if (instances_[i].remaining_deps == 0) MarkReady(i, 0);
  }
}

int RunState::AddInstance(int plan_index, int parent, std::string name,
                          std::shared_ptr<const Value> item) {
  Instance in;
  in.plan = plan_index;
  in.parent = parent;
  in.name = std::move(name);
  in.item = std::move(item);
  if (!retired_attempts_.empty()) ContinueAttempts(in);  // a retried run's attempt numbers go on
  int idx = size();
  // A main or finally task's own instance is found through the plan's index (Find).
  const bool top = parent < 0 && plan_index < plan_->num_main + plan_->num_finally &&
                   in.name == plan_->tasks[plan_index].name;
  if (!top) by_name_[in.name] = idx;
  instances_.push_back(std::move(in));
  return idx;
}

int RunState::Find(std::string_view name) const {
  const std::string key(name);
  if (auto p = plan_->by_name.find(key); p != plan_->by_name.end()) {
    const int t = p->second < static_cast<int>(top_.size()) ? top_[p->second] : -1;
    if (t >= 0 && instances_[t].name == key) return t;
  }
  auto it = by_name_.find(key);
  return it == by_name_.end() ? -1 : it->second;
}

const std::string& RunState::cache_key(int i) const {
  static const std::string kNone;
  auto it = cache_keys_.find(i);
  return it == cache_keys_.end() ? kNone : it->second;
}

bool RunState::AnyGroupWaiting() const {
  return std::any_of(groups_.begin(), groups_.end(), [](const GroupState& g) { return g.waiting; });
}

bool RunState::GroupWillRetry(int g, ErrorClass cls, int code) const {
  const RetryPolicy& r = *plan_->groups[g].retry;
  return groups_[g].rounds < r.limit && !NeverRetried(cls) &&
         (r.on.empty() || MatchesError(r.on, cls, code)) && !MatchesError(r.except, cls, code);
}

void RunState::MarkReady(int i, int64_t now_us) {
  Instance& in = instances_[i];
  waiting_.erase(i);
  in.state = TaskState::kReady;
  in.ready_us = now_us;
  ready_.push_back(i);
}

void RunState::MarkDue(int i, int64_t now_us) { MarkReady(i, now_us); }

void RunState::EndGroupWait(int g, int64_t now_us) {
  groups_[g].waiting = false;
  for (int m : plan_->groups[g].members) {
    if (instances_[m].state == TaskState::kPending && instances_[m].remaining_deps == 0) {
      MarkReady(m, now_us);
    }
  }
}

void RunState::Defer(int i) { instances_[i].state = TaskState::kPending; }

void RunState::QueueDoneParents() {
  for (int i = 0; i < size(); ++i) {
    const Instance& in = instances_[i];
    if (in.expanded && !IsTerminal(in.state) &&
        in.children_done == static_cast<int>(in.children.size())) {
      finalize_.push_back(i);
    }
  }
}

void RunState::Take(const Instance& in, int sign) {
  const PlanTask& t = plan_->tasks[in.plan];
  const Resources& r = *t.resources;
  if (!t.remote()) {  // a worker's attempt counts against the worker's slots and capacity
    usage_.slots += sign;
    usage_.cpu += sign * r.cpu;
    usage_.memory += sign * r.memory;
    usage_.gpu += sign * r.gpu;
  }
  for (const auto& [pool, units] : r.pools) usage_.pools[pool] += sign * units;
  if (in.parent >= 0) instances_[in.parent].children_running += sign;
}

Status RunState::Replay(const std::vector<Event>& events) {
  for (const auto& e : events) {
    if (auto st = Apply(e); !st) return st;
  }
  return {};
}

Status RunState::Apply(const Event& e, int instance, const Value* data) {
  switch (e.kind) {
    case EventKind::kRunCreated: return {};
    case EventKind::kPolicyDecision:
      began_ = true;
      return {};
    case EventKind::kRunStarted:
      if (run_started_us_ == 0) run_started_us_ = e.time_us;
      // What waits to start is ready from the moment a process runs it: tasks ready before
      // any did (the roots, made ready with no clock; a run submitted to a server, or resumed)
      // would otherwise count the time no engine ran as scheduling latency.
      for (Instance& in : instances_) {
        if (in.state == TaskState::kReady && !in.attempt_open && in.ready_us < e.time_us) {
          in.ready_us = e.time_us;
        }
      }
      return {};
    case EventKind::kRunFinished: {
      auto s = ParseRunStatus(e.status);
      if (!s || !IsFinished(*s)) {
        return Fail(ErrorCode::kInternal, "event {}: bad run status {}", e.seq, Quote(e.status));
      }
      run_finished_ = true;
      began_ = false;
      final_status_ = *s;
      return {};
    }
    case EventKind::kRunPhase: return ApplyPhase(e);
    case EventKind::kHandlerStarted:
      began_ = true;
      return ApplyHandler(e);
    case EventKind::kGroupRetry:
      began_ = true;
      return ApplyGroupRetry(e);
    case EventKind::kRunRetried:
      began_ = false;
      return ApplyRetried(e);  // run_state_retry.cc
    default: break;
  }
  began_ = true;
  const int i = instance >= 0 ? instance : Find(e.task);
  if (i < 0) {
    return Fail(ErrorCode::kInternal, "event {} names task {}, which this run does not have",
                e.seq, Quote(e.task));
  }
  if (auto st = CheckTaskEvent(e, i); !st) return st;
  return ApplyTaskEvent(e, i, data);
}

// A log that runs a finished task again was not written by one run of this engine.
Status RunState::CheckTaskEvent(const Event& e, int i) const {
  const Instance& in = instances_[i];
  if (IsTerminal(in.state) && (e.kind == EventKind::kTaskExpanded ||
                               e.kind == EventKind::kAttemptStarted ||
                               e.kind == EventKind::kRetryScheduled)) {
    return Fail(ErrorCode::kInternal, "event {}: task {} is already {}", e.seq, Quote(e.task),
                TaskStateName(in.state));
  }
  return {};
}

Status RunState::ApplyTaskEvent(const Event& e, int i, const Value* data) {
  Instance& in = instances_[i];
  switch (e.kind) {
    case EventKind::kTaskExpanded: return ApplyExpanded(e, i);
    case EventKind::kAttemptStarted: return ApplyAttemptStarted(e, i);
    case EventKind::kAttemptSpawned:
      in.handle = e.pid;
      return {};
    case EventKind::kAttemptFinished:
      ApplyAttemptFinished(e, i);
      return {};
    case EventKind::kApprovalRequested:
      in.state = TaskState::kAwaitingApproval;
      in.due_us = e.due_us;  // the approval's deadline
      awaiting_.insert(i);
      return {};
    case EventKind::kApprovalDecided:
      awaiting_.erase(i);
      if (e.status == "approved") {
        in.approved = true;
        MarkReady(i, e.time_us);
      }
      return {};
    case EventKind::kRetryScheduled:
      in.state = TaskState::kWaiting;
      in.due_us = e.due_us;
      waiting_.insert(i);
      return {};
    case EventKind::kTaskSkipped:
    case EventKind::kTaskFinished: return ApplyTaskFinished(e, i, data);
    default: return {};
  }
}

Status RunState::ApplyExpanded(const Event& e, int i) {
  auto items = ParseJson(e.data);
  // A call's instance expands into its template's tasks; a forEach task's into its items.
  const bool items_expected = instances_[i].parent < 0 && task_of(i).spec->for_each;
  if (!items_expected && task_of(i).tmpl() >= 0 && items && items->is_map()) {
    return ApplyScope(e, i, *items);
  }
  if (!items || !items->is_list()) {
    return Fail(ErrorCode::kInternal, "event {}: bad forEach items", e.seq);
  }
  instances_[i].expanded = true;
  instances_[i].state = TaskState::kRunning;
  // AddInstance grows instances_, so no reference into it is kept across the calls.
  const int plan = instances_[i].plan;
  const std::string base = instances_[i].name;
  const auto& list = items->as_list();
  instances_.reserve(instances_.size() + list.size());
  instances_[i].children.reserve(list.size());
  for (size_t k = 0; k < list.size(); ++k) {
    int c = AddInstance(plan, i, fmt::format("{}[{}]", base, k),
                        std::make_shared<const Value>(list[k]));
    instances_[c].scope = instances_[i].scope;
    instances_[i].children.push_back(c);
    MarkReady(c, e.time_us);
  }
  return {};
}

Status RunState::ApplyAttemptStarted(const Event& e, int i) {
  Instance& in = instances_[i];
  in.state = TaskState::kRunning;
  in.attempt = e.attempt;
  in.attempt_open = true;
  in.handle = 0;
  if (e.attempt == 1 || in.first_start_us == 0) in.first_start_us = e.time_us;
  in.attempt_start_us = e.time_us;
  waiting_.erase(i);  // a retry that started is no longer waiting (a replay has no MarkDue)
  if (!cache_keys_.empty()) cache_keys_.erase(i);
  if (!e.data.empty()) {
    if (auto d = ParseJson(e.data); d && d->is_map()) {
      if (const Value* k = d->Find("cache_key"); k && k->is_string()) cache_keys_[i] = k->as_string();
    }
  }
  open_.insert(i);
  if (!in.holds_slot) {
    in.holds_slot = true;
    Take(in, +1);
  }
  return {};
}

void RunState::ApplyAttemptFinished(const Event& e, int i) {
  Instance& in = instances_[i];
  if (e.status != AttemptStatusName(AttemptStatus::kSucceeded)) {
    Failure& f = in.failed();
    f.cls = ParseErrorClass(e.error_class).value_or(ErrorClass::kInternal);
    f.code = e.exit_code;
    f.message = e.message;
  }
  in.attempt_open = false;
  in.handle = 0;
  open_.erase(i);
  if (in.holds_slot) {
    in.holds_slot = false;
    Take(in, -1);
  }
}

Status RunState::ApplyTaskFinished(const Event& e, int i, const Value* data) {
  Instance& in = instances_[i];
  std::optional<TaskState> s =
      e.kind == EventKind::kTaskSkipped ? TaskState::kSkipped : ParseTaskState(e.status);
  if (!s || !IsTerminal(*s)) {
    return Fail(ErrorCode::kInternal, "event {}: bad task status {}", e.seq, Quote(e.status));
  }
  if (IsTerminal(in.state)) return {};  // already final; keep the first verdict
  waiting_.erase(i);
  awaiting_.erase(i);
  if (in.holds_slot) {
    in.holds_slot = false;
    Take(in, -1);
  }
  if (in.parent >= 0 && in.expanded) --instances_[in.parent].children_running;  // a call item
  in.state = *s;
  in.omitted = e.kind == EventKind::kTaskSkipped && e.status == "omitted";
  if (data) {
    in.outputs = *data;
  } else if (!e.data.empty()) {
    if (auto d = ParseJson(e.data); d) in.outputs = *d;
  }
  if (e.attempt > in.attempt) in.attempt = e.attempt;
  if (*s == TaskState::kSucceeded) in.completed = ++completions_;
  if (*s == TaskState::kFailed) {
    Failure& f = in.failed();
    if (!e.error_class.empty()) {
      f.cls = ParseErrorClass(e.error_class).value_or(ErrorClass::kInternal);
      f.code = e.exit_code;
    }
    f.message = e.message;
    const PlanTask& t = plan_->tasks[in.plan];
    if (t.group >= 0 && (groups_[t.group].failing || GroupWillRetry(t.group, f.cls, f.code))) {
      if (!groups_[t.group].failing) groups_[t.group].failed = in.name;
      groups_[t.group].failing = true;  // not a failure of the run: the group runs again
    } else if (t.role == TaskRole::kMain && !t.spec->continue_on_failure && in.scope < 0 &&
               first_failure_.empty()) {
      // (A template's task fails its call, which speaks for it once its scope is settled.)
      first_failure_ = in.name;
    }
  }
  OnTaskDone(i, e.time_us);
  return {};
}

// Bookkeeping when an instance reaches a terminal state: count it, tell its forEach parent,
// and make dependents ready when their last dependency is done. Whether a dependent then runs,
// is skipped or is upstream-failed is the Decider's to say when it vets it.
void RunState::OnTaskDone(int i, int64_t now_us) {
  ++finished_;
  Instance& in = instances_[i];
  if (in.parent >= 0) {
    Instance& p = instances_[in.parent];
    if (++p.children_done == static_cast<int>(p.children.size())) finalize_.push_back(in.parent);
    return;
  }
  // Only compensations wait for one another; spare the common finish a hash lookup.
  if (auto it = waiters_.empty() ? waiters_.end() : waiters_.find(i); it != waiters_.end()) {
    for (int w : it->second) {
      if (--instances_[w].remaining_deps == 0 && instances_[w].state == TaskState::kPending) {
        MarkReady(w, now_us);
      }
    }
  }
  if (in.owner >= 0) {
    handlers_done_.push_back(i);
    return;
  }
  const int scope = in.scope;
  for (int d : plan_->tasks[in.plan].dependents) {
    int di = InScope(scope, d);
    if (di >= 0 && --instances_[di].remaining_deps == 0 &&
        instances_[di].state == TaskState::kPending) {
      MarkReady(di, now_us);
    }
  }
  if (scope >= 0) OnScopeChildDone(scope, i, now_us);
}

// A template's task is settled: once its main tasks all are, its finally tasks may start; once
// every one is, the call is finished (by the Decider).
void RunState::OnScopeChildDone(int scope, int child, int64_t now_us) {
  Instance& s = instances_[scope];
  const int n = static_cast<int>(s.children.size());
  ++s.children_done;
  ScopeState& ss = scopes_[scope];
  if (task_of(child).role == TaskRole::kMain && --ss.main_left == 0) {
    for (int c : s.children) {
      Instance& f = instances_[c];
      if (plan_->tasks[f.plan].role != TaskRole::kFinally) continue;
      if (--f.remaining_deps == 0 && f.state == TaskState::kPending) MarkReady(c, now_us);
    }
  }
  if (s.children_done == n) finalize_.push_back(scope);
}

// A call's instance expands into its template's tasks, with the params it bound. Expanded
// again (its retry), the tasks of the earlier round make way for new ones of the same names.
Status RunState::ApplyScope(const Event& e, int i, const Value& data) {
  const int k = task_of(i).tmpl();
  const Value* params = data.Find("scope");
  if (k < 0 || !params || !params->is_map()) {
    return Fail(ErrorCode::kInternal, "event {}: bad template call {}", e.seq, Quote(e.data));
  }
  const PlanTemplate& tp = plan_->templates[k];
  // A forEach item that calls a template runs (for its parent's parallelism) from its first
  // round until it is settled.
  if (instances_[i].parent >= 0 && !instances_[i].expanded) {
    ++instances_[instances_[i].parent].children_running;
  }
  // A call with an earlier round (its own retry, or `sluice retry`): that round's tasks make way.
  if (instances_[i].attempt > 0) RetireDescendants(i);
  ScopeState ss;
  ss.params = std::make_shared<const Value>(*params);
  ss.depth = instances_[i].scope >= 0 ? scopes_[instances_[i].scope].depth + 1 : 1;
  ss.main_left = tp.num_main;
  ss.started_us = e.time_us;
  scopes_[i] = std::move(ss);
  {
    Instance& call = instances_[i];
    call.expanded = true;
    call.state = TaskState::kRunning;
    call.attempt = std::max(call.attempt, e.attempt);
    call.children_done = 0;
    call.children.clear();
    call.children.reserve(tp.size());
    waiting_.erase(i);
  }
  // AddInstance grows instances_: no reference into it is kept across the calls.
  const std::string base = instances_[i].name + ".";
  instances_.reserve(instances_.size() + tp.size());
  for (int t = tp.first; t < tp.first + tp.size(); ++t) {
    int c = AddInstance(t, -1, base + plan_->tasks[t].spec->name, nullptr);
    instances_[c].scope = i;
    instances_[c].remaining_deps = static_cast<int>(plan_->tasks[t].deps.size()) +
                                   (plan_->tasks[t].role == TaskRole::kFinally ? 1 : 0);
    instances_[i].children.push_back(c);
  }
  for (int c : instances_[i].children) {
    if (instances_[c].remaining_deps == 0) MarkReady(c, e.time_us);
  }
  return {};
}

// Everything a call's earlier round created (named "CALL.…") is no longer found by name; the
// instances stay, settled and retired, so counts and indices hold.
void RunState::RetireDescendants(int i) {
  const std::string prefix = instances_[i].name + ".";
  std::vector<int> gone;
  for (const auto& [name, idx] : by_name_) {
    if (name.starts_with(prefix)) gone.push_back(idx);
  }
  for (int g : gone) {
    Retire(g);
    scopes_.erase(g);
  }
}

}  // namespace sluice
