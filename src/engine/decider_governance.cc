// What people and policies decide before a task starts: gate policies on its inputs, and
// approvals with their quorum and deadline.
#include <algorithm>

#include "common/strings.h"
#include "engine/decider.h"
#include "policy/policy.h"
#include "spec/environment_spec.h"

namespace sluice {

// The gate's input: the task, the run's params, and what its upstream tasks produced, with each
// artifact's digest and size as the executor reported them.
Value Decider::GateInput(int i) const {
  const PlanTask& t = state_.task_of(i);
  ValueMap tasks;
  std::vector<int> ups(t.deps.begin(), t.deps.end());
  ups.insert(ups.end(), t.data_deps.begin(), t.data_deps.end());
  std::sort(ups.begin(), ups.end());
  ups.erase(std::unique(ups.begin(), ups.end()), ups.end());
  for (int d : ups) {
    const Instance& up = state_.at(state_.InScope(state_.at(i).scope, d));
    const Value& out = up.outputs;
    const Value* params = out.is_map() ? out.Find("params") : nullptr;
    const Value* paths = out.is_map() ? out.Find("artifacts") : nullptr;
    const Value* info = out.is_map() ? out.Find("artifact_info") : nullptr;
    ValueMap arts;
    for (const auto& [name, path] : paths && paths->is_map() ? paths->as_map() : ValueMap{}) {
      const Value* meta = info && info->is_map() ? info->Find(name) : nullptr;
      const Value* digest = meta && meta->is_map() ? meta->Find("digest") : nullptr;
      const Value* size = meta && meta->is_map() ? meta->Find("size") : nullptr;
      arts.emplace_back(
          name, Value(ValueMap{{"path", path.is_string() ? path : Value("")},
                               {"digest", digest && digest->is_string() ? *digest : Value("")},
                               {"size", size && size->is_int() ? *size : Value(int64_t{0})}}));
    }
    tasks.emplace_back(
        up.name,
        Value(ValueMap{{"state", Value(std::string(TaskStateName(up.state)))},
                       {"outputs", Value(ValueMap{{"params", params ? *params : Value(ValueMap{})},
                                                  {"artifacts", Value(std::move(arts))}})}}));
  }
  ValueMap labels;
  for (const auto& [k, v] : plan_.pipeline->labels) labels.emplace_back(k, Value(v));
  return Value(ValueMap{{"object", Value(ValueMap{{"task", Value(state_.at(i).name)},
                                                  {"pipeline", Value(plan_.pipeline->name)},
                                                  {"labels", Value(std::move(labels))},
                                                  {"params", ctx_.params},
                                                  {"tasks", Value(std::move(tasks))}})}});
}

// Evaluates instance i's gate policies and records the decisions; false when one denies (the
// task then fails with policy-denied).
namespace {

// What a gate policy is asked about for task `t` of `plan`.
PolicyScope GateScope(const Plan& plan, const PlanTask& t) {
  PolicyScope scope;
  scope.pipeline = plan.pipeline->name;
  scope.labels = plan.pipeline->labels;
  scope.task = t.spec->name;  // a template's task by its own name, as in the pipeline
  if (t.component()) scope.components.push_back(t.component()->name + "@" + t.component()->version);
  return scope;
}

}  // namespace

bool Decider::HasGate(int i) const {
  const PlanTask& t = state_.task_of(i);
  if (!t.gate().empty()) return true;
  const PolicySet* central = ctx_.central_policies.get();
  if (!central) return false;
  bool any_gate = std::any_of(central->policies.begin(), central->policies.end(),
                              [](const auto& p) { return p->stage == "gate"; });
  if (!any_gate) return false;
  PolicyScope scope = GateScope(plan_, t);
  return std::any_of(central->policies.begin(), central->policies.end(),
                     [&](const auto& p) { return p->stage == "gate" && PolicyMatches(*p, scope); });
}

bool Decider::GatePasses(int i) {
  const Instance& in = state_.at(i);
  const PlanTask& t = state_.task_of(i);
  Value input = GateInput(i);
  PolicyScope scope = GateScope(plan_, t);
  std::vector<Decision> decisions;
  for (const PolicySpec* p : t.gate()) {
    if (!PolicyMatches(*p, scope)) continue;
    auto ds = EvaluatePolicy(*p, input, plan_.waivers, scope, now_, ctx_.time_zones);
    decisions.insert(decisions.end(), ds.begin(), ds.end());
  }
  // Central gate policies need no `gate:` in the pipeline: they judge every task they match.
  if (const PolicySet* central = ctx_.central_policies.get()) {
    for (const auto& p : central->policies) {
      if (p->stage != "gate" || !PolicyMatches(*p, scope)) continue;
      auto ds = EvaluatePolicy(*p, input, central->waivers, scope, now_, ctx_.time_zones);
      decisions.insert(decisions.end(), ds.begin(), ds.end());
    }
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
  e.data =
      Value(ValueMap{{"stage", Value("gate")}, {"decisions", Value(std::move(list))}}).ToJson();
  Record(std::move(e), i);
  if (denied.empty()) return true;
  FailTask(i, ErrorClass::kPolicyDenied, 0, denied);
  return false;
}

const ApprovalSpec* Decider::ApprovalOf(int i) const {
  const PlanTask& t = state_.task_of(i);
  if (const DeploySpec* d = t.body ? t.body->deploy() : nullptr; d && ctx_.environments) {
    const EnvironmentSpec* env = ctx_.environments->Find(d->environment);
    if (env && env->promotion.approval) return env->promotion.approval.get();
  }
  return t.approval();
}

void Decider::RequestApproval(int i) {
  const ApprovalSpec& a = *ApprovalOf(i);
  ValueList approvers;
  for (const auto& who : a.approvers) approvers.push_back(Value(who));
  Event e;
  e.kind = EventKind::kApprovalRequested;
  e.task = state_.at(i).name;
  e.due_us = a.timeout_ms > 0 ? now_ + a.timeout_ms * 1000 : 0;
  e.message = a.instructions;
  e.data = Value(ValueMap{{"approvers", Value(std::move(approvers))},
                          {"quorum", Value(static_cast<int64_t>(a.quorum))},
                          {"forbidSelfApproval", Value(a.forbid_self)},
                          {"instructions", Value(a.instructions)}})
               .ToJson();
  Record(std::move(e), i);
}

// Decides each pending approval from the votes cast so far: one rejection rejects, a quorum of
// distinct approvers approves, and a passed deadline rejects (never auto-continues).
void Decider::DecideApprovals() {
  std::vector<int> pending(state_.awaiting().begin(), state_.awaiting().end());
  for (int i : pending) {
    const Instance& in = state_.at(i);
    const ApprovalSpec& a = *ApprovalOf(i);
    std::vector<ApprovalVote> votes;
    if (approvals_) {
      auto v = approvals_->Votes(ctx_.run_id, in.name);
      if (!v) {
        rec_.Fail(v.error());
        return;
      }
      votes = std::move(*v);
    }
    // A quorum counts distinct accounts: one account's votes under several names count once.
    // A vote cast at or after the deadline counts for nothing (the store refuses it as well).
    std::vector<std::string> yes, accounts;
    const ApprovalVote* no = nullptr;
    for (const auto& v : votes) {
      if (in.due_us > 0 && v.time_us >= in.due_us) continue;
      if (!v.approve && !no) no = &v;
      if (v.approve && std::find(accounts.begin(), accounts.end(), v.account) == accounts.end()) {
        accounts.push_back(v.account);
        yes.push_back(ActorName(v.user, v.account));
      }
    }
    Event e;
    e.kind = EventKind::kApprovalDecided;
    e.task = in.name;
    if (no) {
      e.status = "rejected";
      e.message = fmt::format("rejected by {}{}{}", ActorName(no->user, no->account),
                              no->comment.empty() ? "" : ": ", no->comment);
    } else if (static_cast<int>(yes.size()) >= a.quorum) {
      e.status = "approved";
      e.message = fmt::format("approved by {}", Join(yes, ", "));
    } else if (in.due_us > 0 && now_ >= in.due_us) {
      e.status = "rejected";
      e.message = fmt::format("not approved within {} ({} of {} approvals): rejected",
                              FormatDurationMs(a.timeout_ms), yes.size(), a.quorum);
    } else {
      continue;
    }
    const bool rejected = e.status == "rejected";
    std::string why = "approval " + e.message;
    Record(std::move(e), i);
    if (rejected) FailTask(i, ErrorClass::kApprovalRejected, 0, why);
  }
}

}  // namespace sluice
