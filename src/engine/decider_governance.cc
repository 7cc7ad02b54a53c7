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
  ValueMap tasks;
  for (int u : UpstreamInstances(state_, i)) {
    const Instance& up = state_.at(u);
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

// The promotion input: the gate's, and the environment, the candidate model (with the digest
// its upstream task stored it with) and every release of that model so far.
Result<Value> Decider::PromotionInput(int i, const DeploySpec& d) const {
  Value input = GateInput(i);
  ValueMap object = input.Find("object")->as_map();
  InstanceScope scope(state_, ctx_, i, state_.at(i).attempt + 1, nullptr, now_);
  auto model = ResolveDeployModel(d, state_, ctx_, i, scope);
  DeployModel m = model ? std::move(*model) : DeployModel{};  // the attempt reports the error
  ValueList releases;
  if (ctx_.releases && !m.digest.empty()) {
    SLUICE_TRY(rows, ctx_.releases->OfModel(m.digest));
    auto time = [](int64_t us) {
      return Value(FormatTimestamp(Timestamp{us / 1000000, static_cast<int32_t>(us % 1000000) * 1000}));
    };
    for (const ReleaseRow& r : *rows) {
      const int64_t end = r.until_us ? r.until_us : now_;
      releases.push_back(Value(ValueMap{
          {"environment", Value(r.environment)}, {"slot", Value(r.slot)},
          {"version", Value(r.version)}, {"digest", Value(r.digest)}, {"run", Value(r.run_id)},
          {"task", Value(r.task)}, {"promotedBy", Value(r.actor)}, {"since", time(r.since_us)},
          {"until", r.until_us ? time(r.until_us) : Value()}, {"live", Value(r.until_us == 0)},
          {"soak", Value(static_cast<double>(std::max<int64_t>(end - r.since_us, 0)) / 1e6)}}));
    }
  }
  object.emplace_back("environment", Value(d.environment));
  object.emplace_back("model", Value(ValueMap{{"path", Value(m.path)},
                                              {"digest", Value(m.digest)},
                                              {"size", Value(m.size)},
                                              {"version", Value(m.version)}}));
  object.emplace_back("releases", Value(std::move(releases)));
  return Value(ValueMap{{"object", Value(std::move(object))}});
}

namespace {

// What a gate or promotion policy is asked about for task `t` of `plan`.
PolicyScope GateScope(const Plan& plan, const PlanTask& t) {
  PolicyScope scope;
  scope.pipeline = plan.pipeline->name;
  scope.labels = plan.pipeline->labels;
  scope.task = t.spec->name;  // a template's task by its own name, as in the pipeline
  if (t.component()) scope.components.push_back(t.component()->name + "@" + t.component()->version);
  if (const DeploySpec* d = t.body ? t.body->deploy() : nullptr) {
    scope.environments.push_back(d->environment);
  }
  return scope;
}

}  // namespace

std::vector<const PolicySpec*> Decider::GatePolicies(int i, const std::string& stage) const {
  const PlanTask& t = state_.task_of(i);
  std::vector<const PolicySpec*> out;
  if (stage == "gate") out.assign(t.gate().begin(), t.gate().end());
  const DeploySpec* deploy = t.body ? t.body->deploy() : nullptr;
  if (stage == "promotion" && !deploy) return out;
  const PolicySet* central = ctx_.central_policies.get();
  if (!central || std::none_of(central->policies.begin(), central->policies.end(),
                               [&](const auto& p) { return p->stage == stage; })) {
    return out;
  }
  // A deploy's environment names the promotion policies that must allow it, whatever their
  // `match` says.
  const EnvironmentSpec* env =
      deploy && ctx_.environments ? ctx_.environments->Find(deploy->environment) : nullptr;
  auto named = [&](const PolicySpec& p) {
    return env && std::any_of(env->promotion.policies.begin(), env->promotion.policies.end(),
                              [&](const auto& named) { return named.first == p.name; });
  };
  PolicyScope scope = GateScope(plan_, t);
  for (const auto& p : central->policies) {
    if (p->stage == stage && (PolicyMatches(*p, scope) || (stage == "promotion" && named(*p)))) {
      out.push_back(p.get());
    }
  }
  return out;
}

bool Decider::HasGate(int i) const {
  return !GatePolicies(i, "gate").empty() || !GatePolicies(i, "promotion").empty();
}

// Evaluates instance i's gate policies, then (a deploy) its promotion policies, and records the
// decisions of each stage; false when one denies (the task then fails with policy-denied).
bool Decider::GatePasses(int i) {
  const PlanTask& t = state_.task_of(i);
  const PolicyScope scope = GateScope(plan_, t);
  std::string denied;
  for (const std::string stage : {"gate", "promotion"}) {
    const auto policies = GatePolicies(i, stage);
    if (policies.empty()) continue;
    Value input;
    if (stage == "gate") {
      input = GateInput(i);
    } else {
      auto promotion = PromotionInput(i, *t.body->deploy());
      if (!promotion) {
        rec_.Fail(promotion.error());
        return false;
      }
      input = std::move(*promotion);
    }
    // A pipeline's gate policies are judged with its waivers, central ones with central waivers.
    std::vector<Decision> decisions;
    for (const PolicySpec* p : policies) {
      const auto& waivers = p->origin == PolicyOrigin::kCentral ? ctx_.central_policies->waivers
                                                                : plan_.waivers;
      if (p->origin != PolicyOrigin::kCentral && !PolicyMatches(*p, scope)) continue;
      auto ds = EvaluatePolicy(*p, input, waivers, scope, now_, ctx_.time_zones);
      decisions.insert(decisions.end(), ds.begin(), ds.end());
    }
    denied = RecordDecisions(i, stage, decisions);
    if (!denied.empty()) break;
  }
  if (denied.empty()) return true;
  FailTask(i, ErrorClass::kPolicyDenied, 0, denied);
  return false;
}

// Records one stage's decisions as a policy.decision event; returns the first denial, or "".
std::string Decider::RecordDecisions(int i, const std::string& stage,
                                     std::vector<Decision>& decisions) {
  const Instance& in = state_.at(i);
  ValueList list;
  std::string denied;
  for (auto& d : decisions) {
    d.task = in.name;
    list.push_back(DecisionToValue(d));
    if (d.result == "deny" && denied.empty()) {
      denied = fmt::format("{}: policy {} rule {}: {}", stage, d.policy, d.rule, d.message);
    }
  }
  Event e;
  e.kind = EventKind::kPolicyDecision;
  e.task = in.name;
  e.status = denied.empty() ? "allow" : "deny";
  e.data =
      Value(ValueMap{{"stage", Value(stage)}, {"decisions", Value(std::move(list))}}).ToJson();
  Record(std::move(e), i);
  return denied;
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
