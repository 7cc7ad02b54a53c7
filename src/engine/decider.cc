// The Decider's turn: settling what finished, vetting what became ready, and starting attempts
// while slots last. Outcomes are in decider_outcomes.cc, gates and approvals in
// decider_governance.cc, run-level stops, groups, timers and phases in decider_run.cc.
#include "engine/decider.h"

#include <algorithm>

#include "common/strings.h"

namespace sluice {

Decider::Decider(RunState& state, Recorder& rec, const RunContext& ctx, Capacity capacity,
                 Approvals* approvals)
    : state_(state),
      rec_(rec),
      ctx_(ctx),
      plan_(state.plan()),
      capacity_(capacity),
      approvals_(approvals),
      group_stopped_(state.num_groups(), false) {}

Status Decider::CheckStart(bool rollback) const {
  const std::string& id = ctx_.run_id;
  // An interrupted rollback is continued like any interrupted run.
  if (rollback && !(state_.rollback() && !state_.run_finished())) {
    if (!state_.run_finished()) {
      return Fail(ErrorCode::kConflict, "run {} is not finished; let it finish or cancel it "
                  "before rolling it back", id);
    }
    RunStatus s = state_.final_status();
    if (s != RunStatus::kSucceeded && s != RunStatus::kFailed) {
      return Fail(ErrorCode::kConflict, "run {} ended {}; only a succeeded or failed run can be "
                  "rolled back", id, RunStatusName(s));
    }
    if (Compensable().empty()) {
      return Fail(ErrorCode::kConflict, "run {} has nothing to compensate: no task that "
                  "declares compensate succeeded in it", id);
    }
    return {};
  }
  if (state_.run_finished()) {
    return Fail(ErrorCode::kConflict, "run {} already finished ({})", id,
                RunStatusName(state_.final_status()));
  }
  return {};
}

void Decider::BeginRollback(int64_t now_us) {
  now_ = now_us;
  RecordPhase("compensating", state_.final_status(), true);
}

// Vets every newly ready instance once: the decisions that need no slot (upstream failure,
// skip, when, forEach expansion, gates, approvals, builtins) are taken at once, and what needs
// a process joins `runnable_`. Then runnable attempts start in queue order while slots last;
// one that does not fit its resources lets later ones that do fit go first. A turn therefore
// costs O(newly ready + started), not O(everything waiting): a fan-out of thousands waiting for
// two slots is not rescanned on every exit. Cache hits finish tasks and can make more ready,
// hence the loop.
void Decider::Advance(int64_t now_us, Orders& orders) {
  now_ = now_us;
  pool_wait_ = false;
  std::erase_if(pool_retry_at_, [&](const auto& p) { return p.second <= now_; });
  if (!pool_held_.empty()) ReleaseCentralPools();
  if (WaitsForRunPools() && !TakeRunPools()) return;
  do {
    SettleFinished();
    StartRunnable(orders);
  } while (state_.HasWork() && rec_.ok());
  HandleGroups(orders);
}

void Decider::SettleFinished() {
  while (state_.HasWork() && rec_.ok()) {
    for (int h : state_.TakeHandlersDone()) HandlerDone(h);
    for (int i : state_.TakeReady()) {
      if (state_.at(i).state != TaskState::kReady) continue;  // stale entry
      if (Vet(i)) runnable_.push_back(i);
    }
    for (int p : state_.TakeFinalize()) {
      if (state_.IsForEachParent(p)) FinishForEach(p);
      else FinishCall(p);
    }
  }
}

void Decider::StartRunnable(Orders& orders) {
  std::vector<int> keep;  // a vector: a deque allocates when made, and this is made every turn
  while (!runnable_.empty() && state_.usage().slots < capacity_.jobs && rec_.ok()) {
    int i = runnable_.front();
    runnable_.pop_front();
    if (state_.at(i).state != TaskState::kReady) continue;
    if (StopStarting(i)) continue;
    if (!run_pools_error_.empty() && state_.task_of(i).tmpl() < 0) {
      FailTask(i, ErrorClass::kUnschedulable, 0, run_pools_error_);
      continue;
    }
    if (state_.task_of(i).tmpl() >= 0) {  // a call under forEach: no slot, only parallelism
      if (ParallelismFull(state_.at(i))) {
        keep.push_back(i);
      } else {
        ExpandCall(i);
      }
      continue;
    }
    if (!Fits(state_.at(i))) {
      keep.push_back(i);
      continue;
    }
    if (!state_.task_of(i).central_pools().empty()) {
      PoolTake took = TakeCentralPools(i);
      if (took == PoolTake::kWait) keep.push_back(i);
      if (took != PoolTake::kTaken) continue;
      StartAttempt(i, orders);
      HeldCentralPools(i);
      continue;
    }
    StartAttempt(i, orders);
  }
  // Entries passed over keep their place ahead of the rest.
  runnable_.insert(runnable_.begin(), keep.begin(), keep.end());
}

// Whether a forEach item must wait: its parent runs `parallelism` items already.
bool Decider::ParallelismFull(const Instance& in) const {
  // A Slurm fan-out is one job array whose %P the cluster keeps (docs/slurm.md).
  if (in.parent < 0 || plan_.tasks[in.plan].executor == ExecutorKind::kSlurm) return false;
  const Instance& p = state_.at(in.parent);
  int limit = plan_.tasks[p.plan].spec->for_each->parallelism;
  return limit > 0 && p.children_running >= limit;
}

bool Decider::Fits(const Instance& in) const {
  const Usage& u = state_.usage();
  const PlanTask& t = plan_.tasks[in.plan];
  if (ParallelismFull(in)) return false;
  const Resources& r = *t.resources;
  // A worker's attempt counts against the worker's slots, cpu, memory and gpu: the worker that
  // leases it checks them.
  if (!t.remote()) {
    if (u.slots + 1 > capacity_.jobs) return false;
    if (r.cpu > 0 && u.cpu + r.cpu > capacity_.cpu + 1e-9) return false;
    if (capacity_.memory > 0 && r.memory > 0 && u.memory + r.memory > capacity_.memory) return false;
    if (r.gpu > 0 && u.gpu + r.gpu > capacity_.gpu + 1e-9) return false;
  }
  for (const auto& [pool, units] : r.pools) {
    auto declared = plan_.pipeline->pools.find(pool);
    if (declared == plan_.pipeline->pools.end()) continue;  // central: TakeCentralPools
    auto it = u.pools.find(pool);
    double used = it == u.pools.end() ? 0 : it->second;
    if (used + units > declared->second + 1e-9) return false;
  }
  return true;
}

// Takes the decisions that need no slot. Returns true when the instance is left waiting for a
// slot to run an attempt.
bool Decider::Vet(int i) {
  const Instance& in = state_.at(i);
  const PlanTask& t = state_.task_of(i);
  const bool in_dag = t.role == TaskRole::kMain || t.role == TaskRole::kFinally;
  if (in_dag && in.parent < 0 && in.attempt == in.attempt_base && !in.expanded) {
    if (!VetUpstream(i)) return false;
    if (!t.when_reads_item && DecidedByWhen(i)) return false;
    if (t.spec->for_each) {
      StartForEach(i);
      return false;
    }
  }
  if (in.parent >= 0 && StopStarting(i)) return false;
  if (!in.approved && ApprovalOf(i)) {
    RequestApproval(i);
    return false;
  }
  if (in.attempt == in.attempt_base && HasGate(i) && !GatePasses(i)) return false;
  // A `when` that reads `item` decides for each forEach item on its own.
  if (in.parent >= 0 && in.attempt == in.attempt_base && t.when_reads_item && DecidedByWhen(i)) {
    return false;
  }
  if (t.tmpl() >= 0) {
    // Its template's tasks run in its place; a forEach item first waits for parallelism.
    if (in.parent >= 0) return true;
    ExpandCall(i);
    return false;
  }
  // A builtin runs no process. Beside the engine it takes no attempt either; on a worker it is
  // an attempt the worker ends at once (docs/workers.md), so the data plane's path is measured
  // without a process. An approval-only task is decided here wherever its executor points.
  if (t.kind == Body::Kind::kBuiltin && !t.body->deploy() && (!t.on_worker() || t.approval())) {
    FinishTask(i, TaskState::kSucceeded, "");
    return false;
  }
  return !Unschedulable(i);
}

// Upstream verdicts: a group that will be retried holds it, a failure blocks it, a skipped
// input (or reading outputs that do not exist) skips it. False when that settled it.
bool Decider::VetUpstream(int i) {
  const PlanTask& t = state_.task_of(i);
  for (int d : t.deps) {
    int g = plan_.tasks[d].group;
    if (g >= 0 && g != t.group && (state_.group(g).failing || state_.group(g).waiting)) {
      state_.Defer(i);  // waits for the group's next round
      return false;
    }
  }
  const DependsExpr* depends = t.spec->depends();
  bool all_skipped = !t.deps.empty() && !depends;
  const int scope = state_.at(i).scope;
  for (int d : t.deps) {
    const Instance& up = state_.at(state_.InScope(scope, d));
    if (depends && std::ranges::find(depends->names(), plan_.tasks[d].spec->name) !=
                       depends->names().end()) {
      continue;  // its depends: decides what this one's end means
    }
    bool tolerated = plan_.tasks[d].spec->continue_on_failure && up.state == TaskState::kFailed;
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
    const Instance& up = state_.at(state_.InScope(scope, d));
    TaskState s = up.state;
    if ((s == TaskState::kSkipped && !up.outputs.is_map()) || s == TaskState::kFailed ||
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
  return !depends || DependsHold(i);
}

bool Decider::DependsHold(int i) {
  const PlanTask& t = state_.task_of(i);
  const DependsExpr& depends = *t.spec->depends();
  const int scope = state_.at(i).scope;
  auto outcome = [&](int name) {
    DependsOutcome o;
    for (int d : t.deps) {
      if (plan_.tasks[d].spec->name != depends.names()[name]) continue;
      const Instance& up = state_.at(state_.InScope(scope, d));
      const ErrorClass cls = up.last_failure().cls;
      o.succeeded = up.state == TaskState::kSucceeded || up.state == TaskState::kCached ||
                    up.state == TaskState::kRecovered;
      // Argo's Errored: the step could not run to an exit of its own.
      o.errored = up.state == TaskState::kFailed &&
                  (cls == ErrorClass::kSpawnError || cls == ErrorClass::kLost ||
                   cls == ErrorClass::kOutputsError || cls == ErrorClass::kUnschedulable);
      o.failed = up.state == TaskState::kFailed && !o.errored;
      o.skipped = up.state == TaskState::kSkipped && !up.omitted;
      o.omitted = up.omitted || up.state == TaskState::kUpstreamFailed;
      bool all_failed = !up.children.empty();
      for (int c : up.children) {
        TaskState cs = state_.at(c).state;
        o.any_succeeded = o.any_succeeded || cs == TaskState::kSucceeded ||
                          cs == TaskState::kCached || cs == TaskState::kRecovered;
        all_failed = all_failed && cs == TaskState::kFailed;
      }
      o.all_failed = all_failed;
    }
    return o;
  };
  if (depends.Evaluate(outcome)) return true;
  SkipTask(i, fmt::format("depends is false: {}", depends.text()), true);
  return false;
}

// A task that can never fit must fail rather than wait forever.
bool Decider::Unschedulable(int i) {
  const Resources& r = *state_.task_of(i).resources;
  if (state_.task_of(i).remote()) return false;  // the workers judge it (docs/workers.md)
  if (r.cpu <= capacity_.cpu && r.gpu <= capacity_.gpu &&
      (capacity_.memory <= 0 || r.memory <= capacity_.memory)) {
    return false;
  }
  FailTask(i, ErrorClass::kUnschedulable, 0,
           fmt::format("it asks for cpu={} memory={} gpu={}, more than this machine offers "
                       "(cpu={} memory={} gpu={})", r.cpu, r.memory, r.gpu, capacity_.cpu,
                       capacity_.memory, capacity_.gpu));
  return true;
}

// Evaluates the task's `when`; returns true when that settled the instance (skipped, or failed
// on an evaluation error).
bool Decider::DecidedByWhen(int i) {
  const TaskSpec& spec = *state_.task_of(i).spec;
  if (!spec.when()) return false;
  Result<bool> cond = EvaluateCondition(*spec.when(), state_, ctx_, i, 1, now_);
  if (!cond) {
    FailTask(i, ErrorClass::kExpressionError, 0, fmt::format("when: {}", cond.error().message));
    return true;
  }
  if (*cond) return false;
  SkipTask(i, fmt::format("when is false: {}", spec.when()->tmpl.text()));
  return true;
}

void Decider::StartForEach(int i) {
  const TaskSpec& spec = *state_.task_of(i).spec;
  Value items;
  if (spec.for_each->literal) {
    items = *spec.for_each->literal;
  } else {
    InstanceScope scope(state_, ctx_, i, 1);
    auto v = spec.for_each->expr->Evaluate(scope);
    if (!v) {
      FailTask(i, ErrorClass::kExpressionError, 0, fmt::format("forEach: {}", v.error().message));
      return;
    }
    items = std::move(*v);
    if (items.is_string()) {  // an upstream output holding a JSON list
      if (auto parsed = ParseJson(items.as_string()); parsed) items = std::move(*parsed);
    }
  }
  if (!items.is_list()) {
    FailTask(i, ErrorClass::kExpressionError, 0, fmt::format("forEach must give a list, got {} {}",
                                                             items.TypeName(), Quote(items.ToText())));
    return;
  }
  if (items.as_list().size() > 100000) {
    FailTask(i, ErrorClass::kExpressionError, 0,
             fmt::format("forEach gives {} items; the limit is 100000", items.as_list().size()));
    return;
  }
  Event e;
  e.kind = EventKind::kTaskExpanded;
  e.task = state_.at(i).name;
  e.data = items.ToJson();
  Record(std::move(e), i);
  if (items.as_list().empty()) FinishForEach(i);
}

// Gathers the items' outputs into lists, in item order, and finishes the parent.
void Decider::FinishForEach(int p) {
  const Instance& parent = state_.at(p);
  if (IsTerminal(parent.state)) return;
  const OutputsDecl& decl = *plan_.tasks[parent.plan].outputs;
  const Instance* failed = nullptr;
  std::vector<ValueList> plists(decl.params.size()), alists(decl.artifacts.size());
  for (int c : parent.children) {
    const Instance& child = state_.at(c);
    if (child.state == TaskState::kSkipped) {  // keeps the lists aligned with the items
      for (auto& l : plists) l.push_back(Value());
      for (auto& l : alists) l.push_back(Value());
      continue;
    }
    if (child.state != TaskState::kSucceeded && child.state != TaskState::kCached &&
        child.state != TaskState::kRecovered) {
      if (!failed) failed = &child;
      continue;
    }
    const Value* cp = child.outputs.is_map() ? child.outputs.Find("params") : nullptr;
    const Value* ca = child.outputs.is_map() ? child.outputs.Find("artifacts") : nullptr;
    for (size_t k = 0; k < plists.size(); ++k) {
      const Value* v = cp && cp->is_map() ? cp->Find(decl.params[k].name) : nullptr;
      plists[k].push_back(v ? *v : Value());
    }
    for (size_t k = 0; k < alists.size(); ++k) {
      const Value* v = ca && ca->is_map() ? ca->Find(decl.artifacts[k].name) : nullptr;
      alists[k].push_back(v ? *v : Value());
    }
  }
  if (failed) {
    FinishTask(p, TaskState::kFailed,
               fmt::format("forEach item failed: {} {}", failed->name, TaskStateName(failed->state)),
               "", failed->last_failure().cls, failed->last_failure().code);
    return;
  }
  ValueMap params, artifacts;
  for (size_t k = 0; k < plists.size(); ++k) {
    params.emplace_back(decl.params[k].name, Value(std::move(plists[k])));
  }
  for (size_t k = 0; k < alists.size(); ++k) {
    artifacts.emplace_back(decl.artifacts[k].name, Value(std::move(alists[k])));
  }
  FinishTask(p, TaskState::kSucceeded, "",
             Value(ValueMap{{"params", Value(std::move(params))},
                            {"artifacts", Value(std::move(artifacts))}})
                 .ToJson());
}

// Resolves the attempt; records it started and orders its submission, or settles it from the
// cache, or fails it (an open breaker, a placeholder that cannot be resolved).
void Decider::StartAttempt(int i, Orders& orders) {
  Resolution r = ResolveAttempt(state_, ctx_, i, now_);
  const Instance& in = state_.at(i);
  switch (r.kind) {
    case Resolution::Kind::kInvalid:
      FailTask(i, ErrorClass::kExpressionError, 0, r.message);
      return;
    case Resolution::Kind::kStoreError:
      rec_.Fail(std::move(r.error));  // the breakers' store failed: the run stops
      return;
    case Resolution::Kind::kCached:
      FinishTask(i, TaskState::kCached, "outputs reused from the cache", r.cached.ToJson(),
                 ErrorClass::kNone, 0, &r.cached);
      return;
    case Resolution::Kind::kCircuitOpen: {
      Event open;
      open.kind = EventKind::kAttemptStarted;
      open.task = in.name;
      open.attempt = in.attempt + 1;
      Record(std::move(open), i);
      FinishAttempt(i, ErrorClass::kCircuitOpen, 0, r.message, nullptr);
      return;
    }
    case Resolution::Kind::kStart: break;
  }
  Event e;
  e.kind = EventKind::kAttemptStarted;
  e.task = in.name;
  e.attempt = in.attempt + 1;
  if (!r.cache_key.empty()) e.data = fmt::format("{{\"cache_key\":\"{}\"}}", r.cache_key);
  Record(std::move(e), i);
  orders.start.emplace_back(i, std::move(r.request));
}

}  // namespace sluice
