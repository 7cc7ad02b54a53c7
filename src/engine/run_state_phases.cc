// The events that add instances or start a run over in part: a handler serving a failed
// instance, a phase (compensation, finally), and a group that starts over.
#include <algorithm>
#include <map>

#include "common/strings.h"
#include "engine/run_state.h"

namespace sluice {

namespace {

const Value* Field(const Result<Value>& d, std::string_view key) {
  return d && d->is_map() ? d->Find(key) : nullptr;
}

}  // namespace

// A handler's instance: named after its owner instance ("train[2].fallback"), with the owner's
// item, ready at once. The owner waits for it in kRunning, holding no slot.
Status RunState::ApplyHandler(const Event& e) {
  auto d = ParseJson(e.data);
  const Value* owner = Field(d, "owner");
  const Value* plan = Field(d, "plan");
  const int o = owner && owner->is_string() ? Find(owner->as_string()) : -1;
  const PlanTask* pt = plan && plan->is_string() ? plan_->Find(plan->as_string()) : nullptr;
  if (o < 0 || !pt || pt->owner != instances_[o].plan || Find(e.task) >= 0) {
    return Fail(ErrorCode::kInternal, "event {}: bad handler {} {}", e.seq, Quote(e.task),
                Quote(e.data));
  }
  Instance& own = instances_[o];
  own.state = TaskState::kRunning;
  waiting_.erase(o);
  Failure& f = own.failed();
  if (pt->role == TaskRole::kFallback) f.fallback_tried = true;
  if (pt->role == TaskRole::kCatch) f.catch_tried = true;
  if (const Value* err = Field(d, "error"); err && err->is_map()) {
    const Value* c = err->Find("class");
    const Value* code = err->Find("code");
    const Value* msg = err->Find("message");
    if (c && c->is_string()) f.cls = ParseErrorClass(c->as_string()).value_or(ErrorClass::kInternal);
    if (code && code->is_int()) f.code = static_cast<int>(code->as_int());
    if (msg && msg->is_string()) f.message = msg->as_string();
  }
  int h = AddInstance(pt->index, -1, e.task, own.item);
  instances_[h].owner = o;
  instances_[h].scope = instances_[o].scope;
  instances_[o].failed().handler = h;
  MarkReady(h, e.time_us);
  return {};
}

// A new phase and its instances.
Status RunState::ApplyPhase(const Event& e) {
  auto d = ParseJson(e.data);
  if (!d || !d->is_map()) return Fail(ErrorCode::kInternal, "event {}: bad phase data", e.seq);
  const Value* st = d->Find("status");
  RunStatus status = RunStatus::kRunning;
  if (st && st->is_string()) status = ParseRunStatus(st->as_string()).value_or(RunStatus::kRunning);
  if (e.status == "finalizing") {
    phase_status_ = status;
    run_finished_ = false;  // `sluice rollback` reopens a finished run
    phase_ = Phase::kFinally;
    return ApplyFinalizing(e.time_us);
  }
  if (e.status != "compensating") {
    return Fail(ErrorCode::kInternal, "event {}: unknown phase {}", e.seq, Quote(e.status));
  }
  if (auto s = ApplyCompensating(e, *d); !s) return s;
  phase_status_ = status;
  run_finished_ = false;
  return {};
}

// Finally tasks wait for the finally tasks they need.
Status RunState::ApplyFinalizing(int64_t now_us) {
  const int first = plan_->num_main, last = first + plan_->num_finally;
  for (int p = first; p < last; ++p) {
    top_[p] = AddInstance(p, -1, plan_->tasks[p].name, nullptr);
    finally_.push_back(top_[p]);
  }
  for (int p = first; p < last; ++p) {
    instances_[top_[p]].remaining_deps = static_cast<int>(plan_->tasks[p].deps.size());
    if (plan_->tasks[p].deps.empty()) MarkReady(top_[p], now_us);
  }
  return {};
}

// Compensations, one per instance listed, each waiting for the compensations of everything
// downstream of its task (reverse completion order; unrelated ones in parallel).
Status RunState::ApplyCompensating(const Event& e, const Value& d) {
  const Value* list = d.Find("instances");
  if (!list || !list->is_list()) return Fail(ErrorCode::kInternal, "event {}: bad phase", e.seq);
  std::vector<int> owners;
  for (const auto& v : list->as_list()) {
    const int o = v.is_string() ? Find(v.as_string()) : -1;
    if (o < 0 || plan_->tasks[instances_[o].plan].compensate < 0) {
      return Fail(ErrorCode::kInternal, "event {}: cannot compensate {}", e.seq, Quote(v.ToText()));
    }
    owners.push_back(o);
  }
  phase_ = Phase::kCompensating;
  const Value* rb = d.Find("rollback");
  rollback_ = rb && rb->is_bool() && rb->as_bool();
  // What is downstream of each owner's task, once per task.
  std::map<int, std::vector<bool>> downstream;
  for (int o : owners) {
    int p = instances_[o].plan;
    if (downstream.count(p)) continue;
    std::vector<bool> reach(plan_->tasks.size(), false);
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
    int c = AddInstance(p, -1, instances_[o].name + ".compensate", instances_[o].item);
    instances_[c].owner = o;
    instances_[c].scope = instances_[o].scope;
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
    if (instances_[base + a].remaining_deps == 0) MarkReady(static_cast<int>(base + a), e.time_us);
  }
  return {};
}

// A group starts over: every member back to pending (its attempt numbers go on), its
// dependencies counted again, and what waits outside for the group waits again. Members start
// when the backoff has passed (EndGroupWait).
Status RunState::ApplyGroupRetry(const Event& e) {
  auto d = ParseJson(e.data);
  const Value* name = Field(d, "group");
  const Value* round = Field(d, "round");
  int g = -1;
  for (size_t k = 0; k < plan_->groups.size(); ++k) {
    if (name && name->is_string() && plan_->groups[k].name == name->as_string()) g = static_cast<int>(k);
  }
  if (g < 0 || !round || !round->is_int()) {
    return Fail(ErrorCode::kInternal, "event {}: bad group retry {}", e.seq, Quote(e.data));
  }
  const auto& members = plan_->groups[g].members;
  for (int m : members) {
    if (instances_[m].attempt_open) {
      return Fail(ErrorCode::kInternal, "event {}: group {} reset while {} runs", e.seq,
                  Quote(plan_->groups[g].name), Quote(instances_[m].name));
    }
  }
  GroupState& gs = groups_[g];
  gs.rounds = static_cast<int>(round->as_int());
  gs.failing = false;
  gs.waiting = true;
  gs.due_us = e.due_us;
  for (int m : members) ResetGroupMember(g, m);
  for (int m : members) {
    int remaining = 0;
    for (int dep : plan_->tasks[m].deps) {
      remaining += plan_->tasks[dep].group == g || !IsTerminal(instances_[top_[dep]].state);
    }
    instances_[m].remaining_deps = remaining;
  }
  return {};
}

void RunState::ResetGroupMember(int g, int m) {
  Instance& in = instances_[m];
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

}  // namespace sluice
