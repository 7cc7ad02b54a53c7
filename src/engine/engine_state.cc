// The engine's state and how events change it. Apply() is the only place that mutates run
// state from events, and it never emits: the same code serves live runs and replay.
#include <algorithm>

#include "common/strings.h"
#include "engine/breaker.h"
#include "engine/engine.h"
#include "engine/instance.h"

namespace sluice {

namespace {
constexpr std::string_view kStateNames[] = {"pending",   "ready",     "running", "waiting",
                                            "awaiting-approval",
                                            "succeeded", "cached",    "recovered", "failed",
                                            "skipped",   "upstream-failed", "cancelled"};
}  // namespace

std::string_view TaskStateName(TaskState s) { return kStateNames[static_cast<int>(s)]; }

bool IsTerminal(TaskState s) { return s >= TaskState::kSucceeded; }

static std::optional<TaskState> ParseTaskState(std::string_view name) {
  for (size_t i = 0; i < std::size(kStateNames); ++i) {
    if (kStateNames[i] == name) return static_cast<TaskState>(i);
  }
  return std::nullopt;
}

Engine::Engine(std::shared_ptr<const Plan> plan, Value params, EngineOptions opts, Clock& clock,
               Executor& executor, EventSink& sink, CacheLookup* cache, RunObserver* observer)
    : plan_(std::move(plan)),
      params_(std::move(params)),
      opts_(std::move(opts)),
      clock_(clock),
      executor_(executor),
      sink_(sink),
      cache_(cache),
      observer_(observer) {
  groups_.resize(plan_->groups.size());
  approvals_ = opts_.approvals;
  breakers_ = opts_.breakers;
  if (!breakers_) {
    own_breakers_ = std::make_unique<MemoryBreakers>();
    breakers_ = own_breakers_.get();
  }
  InitInstances();
}

Engine::~Engine() = default;

// The main tasks' instances, at the same indices as their plan tasks. Finally tasks and
// handlers get theirs when their phase or their owner's failure comes.
void Engine::InitInstances() {
  const int n = plan_->num_main;
  instances_.reserve(n);
  top_.assign(plan_->tasks.size(), -1);
  for (int i = 0; i < n; ++i) {
    top_[i] = AddInstance(i, -1, plan_->tasks[i].name, std::nullopt);
    instances_[i].remaining_deps = static_cast<int>(plan_->tasks[i].deps.size());
  }
  for (int i = 0; i < n; ++i) {
    if (instances_[i].remaining_deps == 0) MarkReady(i);
  }
}

int Engine::AddInstance(int plan_index, int parent, std::string name, std::optional<Value> item) {
  Instance in;
  in.plan = plan_index;
  in.parent = parent;
  in.name = std::move(name);
  in.item = std::move(item);
  int idx = static_cast<int>(instances_.size());
  // A main or finally task's own instance is found through the plan's index (FindInstance).
  const bool top = parent < 0 && plan_index < plan_->num_main + plan_->num_finally &&
                   in.name == plan_->tasks[plan_index].name;
  if (!top) by_name_[in.name] = idx;
  instances_.push_back(std::move(in));
  return idx;
}

int Engine::FindInstance(std::string_view name) const {
  const std::string key(name);
  if (auto p = plan_->by_name.find(key); p != plan_->by_name.end()) {
    const int top = p->second < static_cast<int>(top_.size()) ? top_[p->second] : -1;
    if (top >= 0 && instances_[top].name == key) return top;
  }
  auto it = by_name_.find(key);
  return it == by_name_.end() ? -1 : it->second;
}

void Engine::MarkReady(int i) {
  Instance& in = instances_[i];
  waiting_.erase(i);
  in.state = TaskState::kReady;
  in.ready_us = clock_.NowUs();
  ready_.push_back(i);
}

TaskState Engine::StateOf(std::string_view name) const {
  int i = FindInstance(name);
  return i < 0 ? TaskState::kPending : instances_[i].state;
}

std::map<std::string, int> Engine::CountByState() const {
  std::map<std::string, int> out;
  for (const auto& in : instances_) {
    if (in.name.find('[') == std::string::npos) ++out[std::string(TaskStateName(in.state))];
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Engine::FailedTasks(int limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& in : instances_) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (in.state == TaskState::kFailed && in.attempt > 0 && in.name.find('[') == std::string::npos) {
      out.emplace_back(in.name, in.last_failure().message);
    }
  }
  return out;
}

const Value* Engine::OutputsOf(std::string_view name) const {
  int i = FindInstance(name);
  return i < 0 ? nullptr : &instances_[i].outputs;
}

bool Engine::Fits(const Instance& in) const {
  const PlanTask& t = plan_->tasks[in.plan];
  if (running_slots_ + 1 > opts_.jobs) return false;
  if (in.parent >= 0) {
    const Instance& p = instances_[in.parent];
    int limit = plan_->tasks[p.plan].spec->for_each->parallelism;
    if (limit > 0 && p.children_running >= limit) return false;
  }
  const Resources& r = *t.resources;
  if (used_cpu_ + r.cpu > opts_.cpu_capacity + 1e-9 && r.cpu > 0) return false;
  if (opts_.memory_capacity > 0 && r.memory > 0 && used_memory_ + r.memory > opts_.memory_capacity) {
    return false;
  }
  if (r.gpu > 0 && used_gpu_ + r.gpu > opts_.gpu_capacity + 1e-9) return false;
  for (const auto& [pool, units] : r.pools) {
    auto it = used_pools_.find(pool);
    double used = it == used_pools_.end() ? 0 : it->second;
    if (used + units > plan_->pipeline->pools.at(pool) + 1e-9) return false;
  }
  return true;
}

void Engine::Take(const Instance& in, int sign) {
  const Resources& r = *plan_->tasks[in.plan].resources;
  running_slots_ += sign;
  used_cpu_ += sign * r.cpu;
  used_memory_ += sign * r.memory;
  used_gpu_ += sign * r.gpu;
  for (const auto& [pool, units] : r.pools) used_pools_[pool] += sign * units;
  if (in.parent >= 0) instances_[in.parent].children_running += sign;
}

void Engine::Emit(Event e, int instance, const Value* data) {
  e.run_id = opts_.run_id;
  if (e.time_us == 0) e.time_us = clock_.NowUs();
  sink_.Append(e);
  ++uncommitted_;
  (void)Apply(e, instance, data);
  if (observer_) observer_->OnEvent(e, MakeProgress());
}

void Engine::FinishTask(int i, TaskState state, std::string message, std::string data,
                        std::string error_class, int code, const Value* outputs) {
  Event e;
  e.kind = EventKind::kTaskFinished;
  e.task = instances_[i].name;
  e.attempt = instances_[i].attempt;
  e.status = std::string(TaskStateName(state));
  e.message = std::move(message);
  e.data = std::move(data);
  e.error_class = std::move(error_class);
  e.exit_code = code;
  Emit(std::move(e), i, outputs);
}

void Engine::SkipTask(int i, std::string message) {
  Event e;
  e.kind = EventKind::kTaskSkipped;
  e.task = instances_[i].name;
  e.message = std::move(message);
  Emit(std::move(e), i);
}

Status Engine::Commit() {
  uncommitted_ = 0;
  return sink_.Commit();
}

RunObserver::Progress Engine::MakeProgress() const {
  RunObserver::Progress p;
  p.total = static_cast<int>(instances_.size());
  p.finished = finished_;
  for (const auto& [pid, i] : by_handle_) p.running.push_back(instances_[i].name);
  std::sort(p.running.begin(), p.running.end());
  return p;
}

Status Engine::Replay(const std::vector<Event>& events) {
  for (const auto& e : events) {
    if (auto st = Apply(e); !st) return st;
  }
  return {};
}

Status Engine::Apply(const Event& e, int instance, const Value* data) {
  if (e.kind == EventKind::kRunCreated) return {};
  if (e.kind == EventKind::kRunStarted) {
    if (run_started_us_ == 0) run_started_us_ = e.time_us;
    return {};
  }
  if (e.kind == EventKind::kRunFinished) {
    run_finished_ = true;
    final_status_ = e.status;
    return {};
  }
  if (e.kind == EventKind::kRunPhase) return ApplyPhase(e);
  if (e.kind == EventKind::kHandlerStarted) return ApplyHandler(e);
  if (e.kind == EventKind::kGroupRetry) return ApplyGroupRetry(e);
  const int i = instance >= 0 ? instance : FindInstance(e.task);
  if (i < 0) {
    return Fail(ErrorCode::kInternal, "event {} names task {}, which this run does not have",
                e.seq, Quote(e.task));
  }
  Instance& in = instances_[i];
  if (IsTerminal(in.state) && (e.kind == EventKind::kTaskExpanded ||
                               e.kind == EventKind::kAttemptStarted ||
                               e.kind == EventKind::kRetryScheduled)) {
    // A log that runs a finished task again was not written by one run of this engine.
    return Fail(ErrorCode::kInternal, "event {}: task {} is already {}", e.seq, Quote(e.task),
                TaskStateName(in.state));
  }
  switch (e.kind) {
    case EventKind::kTaskExpanded: {
      auto items = ParseJson(e.data);
      if (!items || !items->is_list()) {
        return Fail(ErrorCode::kInternal, "event {}: bad forEach items", e.seq);
      }
      in.expanded = true;
      in.state = TaskState::kRunning;
      // AddInstance grows instances_, so `in` must not be used after the first call.
      const int plan = in.plan;
      const std::string base = in.name;
      const auto& list = items->as_list();
      instances_.reserve(instances_.size() + list.size());
      for (size_t k = 0; k < list.size(); ++k) {
        int c = AddInstance(plan, i, fmt::format("{}[{}]", base, k), list[k]);
        instances_[i].children.push_back(c);
        MarkReady(c);
      }
      return {};
    }
    case EventKind::kAttemptStarted: {
      in.state = TaskState::kRunning;
      in.attempt = e.attempt;
      in.attempt_open = true;
      in.handle = 0;
      if (e.attempt == 1 || in.first_start_us == 0) in.first_start_us = e.time_us;
      in.attempt_start_us = e.time_us;
      int64_t timeout_ms = plan_->tasks[in.plan].timeout_ms;
      in.timeout_at_us = timeout_ms > 0 ? e.time_us + timeout_ms * 1000 : 0;
      in.kill_at_us = 0;
      in.timed_out = false;
      in.cache_key.clear();
      if (!e.data.empty()) {
        if (auto d = ParseJson(e.data); d && d->is_map()) {
          if (const Value* k = d->Find("cache_key"); k && k->is_string()) in.cache_key = k->as_string();
        }
      }
      if (!in.holds_slot) {
        in.holds_slot = true;
        Take(in, +1);
      }
      return {};
    }
    case EventKind::kAttemptSpawned:
      in.handle = static_cast<int>(e.pid);
      return {};
    case EventKind::kAttemptFinished:
      if (e.status != "succeeded") {
        Failure& f = in.failed();
        f.cls = e.error_class;
        f.code = e.exit_code;
        f.message = e.message;
      }
      in.attempt_open = false;
      requests_.erase(i);
      if (in.handle) by_handle_.erase(in.handle);
      in.handle = 0;
      if (in.holds_slot) {
        in.holds_slot = false;
        Take(in, -1);
      }
      return {};
    case EventKind::kApprovalRequested:
      in.state = TaskState::kAwaitingApproval;
      in.retry_due_us = e.due_us;  // the approval's deadline
      awaiting_.insert(i);
      return {};
    case EventKind::kApprovalDecided:
      awaiting_.erase(i);
      if (e.status == "approved") {
        in.approved = true;
        MarkReady(i);
      }
      return {};
    case EventKind::kRetryScheduled:
      in.state = TaskState::kWaiting;
      in.retry_due_us = e.due_us;
      waiting_.insert(i);
      return {};
    case EventKind::kTaskSkipped:
    case EventKind::kTaskFinished: {
      std::optional<TaskState> s = e.kind == EventKind::kTaskSkipped ? TaskState::kSkipped
                                                                      : ParseTaskState(e.status);
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
      in.state = *s;
      if (data) {
        in.outputs = *data;
      } else if (!e.data.empty()) {
        if (auto d = ParseJson(e.data); d) in.outputs = *d;
      }
      if (e.attempt > in.attempt) in.attempt = e.attempt;
      if (*s == TaskState::kSucceeded) in.completed = ++completions_;
      if (*s == TaskState::kFailed) {
        if (!e.error_class.empty()) {
          in.failed().cls = e.error_class;
          in.failed().code = e.exit_code;
        }
        in.failed().message = e.message;
        const PlanTask& t = plan_->tasks[in.plan];
        if (t.group >= 0 && (groups_[t.group].failing ||
                             GroupWillRetry(t.group, in.failed().cls, in.failed().code))) {
          if (!groups_[t.group].failing) groups_[t.group].failed = in.name;
          groups_[t.group].failing = true;  // not a failure of the run: the group runs again
        } else if (t.role == TaskRole::kMain && !t.spec->continue_on_failure &&
                   first_failure_.empty()) {
          first_failure_ = in.name;
        }
      }
      OnTaskDone(i);
      return {};
    }
    default: return {};
  }
}

bool Engine::GroupWillRetry(int g, std::string_view cls, int code) const {
  const RetryPolicy& r = *plan_->groups[g].retry;
  return groups_[g].rounds < r.limit && !cancelled_ && cls != "cancelled" &&
         cls != "policy-denied" && cls != "approval-rejected" &&
         (r.on.empty() || MatchesError(r.on, cls, code)) && !MatchesError(r.except, cls, code);
}

// A group starts over: every member back to pending (its attempt numbers go on), its
// dependencies counted again, and what waits outside for the group waits again. Members start
// when the backoff has passed (HandleTimers).
Status Engine::ApplyGroupRetry(const Event& e) {
  auto d = ParseJson(e.data);
  const Value* name = d && d->is_map() ? d->Find("group") : nullptr;
  const Value* round = d && d->is_map() ? d->Find("round") : nullptr;
  int g = -1;
  for (size_t k = 0; k < plan_->groups.size(); ++k) {
    if (name && name->is_string() && plan_->groups[k].name == name->as_string()) g = static_cast<int>(k);
  }
  if (g < 0 || !round || !round->is_int()) {
    return Fail(ErrorCode::kInternal, "event {}: bad group retry {}", e.seq, Quote(e.data));
  }
  GroupRun& gr = groups_[g];
  gr.rounds = static_cast<int>(round->as_int());
  gr.failing = gr.stopping = false;
  gr.waiting = true;
  gr.due_us = e.due_us;
  const auto& members = plan_->groups[g].members;
  for (int m : members) {
    Instance& in = instances_[m];
    if (in.attempt_open) {
      return Fail(ErrorCode::kInternal, "event {}: group {} reset while {} runs", e.seq,
                  Quote(plan_->groups[g].name), Quote(in.name));
    }
    if (IsTerminal(in.state)) {
      --finished_;
      for (int dep : plan_->tasks[m].dependents) {
        if (plan_->tasks[dep].group == g) continue;
        Instance& out = instances_[top_[dep]];
        ++out.remaining_deps;
        if (out.state == TaskState::kReady) out.state = TaskState::kPending;  // vetted again later
      }
    }
    waiting_.erase(m);
    Instance fresh;
    fresh.plan = in.plan;
    fresh.name = std::move(in.name);
    fresh.attempt = in.attempt;
    fresh.attempt_base = in.attempt;
    in = std::move(fresh);
  }
  for (int m : members) {
    int remaining = 0;
    for (int dep : plan_->tasks[m].deps) {
      remaining += plan_->tasks[dep].group == g || !IsTerminal(instances_[top_[dep]].state);
    }
    instances_[m].remaining_deps = remaining;
  }
  return {};
}

// A handler's instance: named after its owner instance ("train[2].fallback"), with the owner's
// item, ready at once. The owner waits for it in kRunning, holding no slot.
Status Engine::ApplyHandler(const Event& e) {
  auto d = ParseJson(e.data);
  const Value* owner = d && d->is_map() ? d->Find("owner") : nullptr;
  const Value* plan = d && d->is_map() ? d->Find("plan") : nullptr;
  const int o = owner && owner->is_string() ? FindInstance(owner->as_string()) : -1;
  const PlanTask* pt = plan && plan->is_string() ? plan_->Find(plan->as_string()) : nullptr;
  if (o < 0 || !pt || pt->owner != instances_[o].plan || FindInstance(e.task) >= 0) {
    return Fail(ErrorCode::kInternal, "event {}: bad handler {} {}", e.seq, Quote(e.task),
                Quote(e.data));
  }
  Instance& own = instances_[o];
  own.state = TaskState::kRunning;
  waiting_.erase(o);
  Failure& f = own.failed();
  if (pt->role == TaskRole::kFallback) f.fallback_tried = true;
  if (pt->role == TaskRole::kCatch) f.catch_tried = true;
  if (const Value* err = d->Find("error"); err && err->is_map()) {
    const Value* c = err->Find("class");
    const Value* code = err->Find("code");
    const Value* msg = err->Find("message");
    if (c && c->is_string()) f.cls = c->as_string();
    if (code && code->is_int()) f.code = static_cast<int>(code->as_int());
    if (msg && msg->is_string()) f.message = msg->as_string();
  }
  std::optional<Value> item = own.item;
  int h = AddInstance(pt->index, -1, e.task, std::move(item));
  instances_[h].owner = o;
  instances_[o].failed().handler = h;
  MarkReady(h);
  return {};
}

// A new phase: its instances, with their order. Compensations wait for the compensations of
// everything downstream of their task (reverse completion order; unrelated ones in parallel);
// finally tasks wait for the finally tasks they need.
Status Engine::ApplyPhase(const Event& e) {
  auto d = ParseJson(e.data);
  if (!d || !d->is_map()) return Fail(ErrorCode::kInternal, "event {}: bad phase data", e.seq);
  run_finished_ = false;  // `sluice rollback` reopens a finished run
  const Value* st = d->Find("status");
  phase_status_ = st && st->is_string() ? st->as_string() : "";
  if (e.status == "finalizing") {
    phase_ = Phase::kFinally;
    const int first = plan_->num_main, last = first + plan_->num_finally;
    for (int p = first; p < last; ++p) {
      top_[p] = AddInstance(p, -1, plan_->tasks[p].name, std::nullopt);
      finally_.push_back(top_[p]);
    }
    for (int p = first; p < last; ++p) {
      instances_[top_[p]].remaining_deps = static_cast<int>(plan_->tasks[p].deps.size());
      if (plan_->tasks[p].deps.empty()) MarkReady(top_[p]);
    }
    return {};
  }
  if (e.status != "compensating") {
    return Fail(ErrorCode::kInternal, "event {}: unknown phase {}", e.seq, Quote(e.status));
  }
  phase_ = Phase::kCompensating;
  const Value* rb = d->Find("rollback");
  rollback_ = rb && rb->is_bool() && rb->as_bool();
  const Value* list = d->Find("instances");
  if (!list || !list->is_list()) return Fail(ErrorCode::kInternal, "event {}: bad phase", e.seq);
  std::vector<int> owners;
  for (const auto& v : list->as_list()) {
    const int o = v.is_string() ? FindInstance(v.as_string()) : -1;
    if (o < 0 || plan_->tasks[instances_[o].plan].compensate < 0) {
      return Fail(ErrorCode::kInternal, "event {}: cannot compensate {}", e.seq, Quote(v.ToText()));
    }
    owners.push_back(o);
  }
  // What is downstream of each owner's task, once per task.
  std::map<int, std::vector<bool>> downstream;
  for (int o : owners) {
    int p = instances_[o].plan;
    if (downstream.count(p)) continue;
    std::vector<bool> reach(plan_->num_main, false);
    std::vector<int> stack(plan_->tasks[p].dependents);
    while (!stack.empty()) {
      int t = stack.back();
      stack.pop_back();
      if (reach[t]) continue;
      reach[t] = true;
      for (int next : plan_->tasks[t].dependents) stack.push_back(next);
    }
    downstream[p] = std::move(reach);
  }
  const size_t base = instances_.size();
  for (int o : owners) {
    int p = plan_->tasks[instances_[o].plan].compensate;
    std::optional<Value> item = instances_[o].item;
    int c = AddInstance(p, -1, instances_[o].name + ".compensate", std::move(item));
    instances_[c].owner = o;
    compensations_.push_back(c);
  }
  for (size_t a = 0; a < owners.size(); ++a) {
    const std::vector<bool>& reach = downstream[instances_[owners[a]].plan];
    for (size_t b = 0; b < owners.size(); ++b) {
      if (a == b || !reach[instances_[owners[b]].plan]) continue;
      ++instances_[base + a].remaining_deps;  // a waits for b
      waiters_[static_cast<int>(base + b)].push_back(static_cast<int>(base + a));
    }
  }
  for (size_t a = 0; a < owners.size(); ++a) {
    if (instances_[base + a].remaining_deps == 0) MarkReady(static_cast<int>(base + a));
  }
  return {};
}

// Bookkeeping when an instance reaches a terminal state: count it, tell its forEach parent,
// and make dependents ready when their last dependency is done. Whether a dependent then runs,
// is skipped or is upstream-failed is decided when it is started (StartInstance).
void Engine::OnTaskDone(int i) {
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
      if (--instances_[w].remaining_deps == 0 && instances_[w].state == TaskState::kPending) MarkReady(w);
    }
  }
  if (in.owner >= 0) {
    handler_done_.push_back(i);
    return;
  }
  for (int d : plan_->tasks[in.plan].dependents) {
    int di = top_[d];
    if (di >= 0 && --instances_[di].remaining_deps == 0 && instances_[di].state == TaskState::kPending) {
      MarkReady(di);
    }
  }
}

}  // namespace sluice
