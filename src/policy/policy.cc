#include "policy/policy.h"

#include <algorithm>

#include "common/sha256.h"
#include "common/strings.h"
#include "expr/expr.h"

namespace sluice {

namespace {

// Resolves `object` and `variables` for one evaluation; variables are computed on first use,
// in declaration order, each seeing the ones before it.
class PolicyActivation : public Activation {
 public:
  PolicyActivation(const PolicySpec& p, const Value& object, const TimeZones* zones)
      : p_(p), object_(object), zones_(zones) {}

  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    if (path[0] == "object") return Resolved{object_, 1};
    if (path[0] == "variables") {
      if (path.size() < 2) return Fail(ErrorCode::kInvalidInput, "variables needs a name");
      for (size_t k = 0; k < p_.variables.size(); ++k) {
        if (p_.variables[k].name != path[1]) continue;
        auto it = cache_.find(k);
        if (it == cache_.end()) {
          if (evaluating_[k]) return Fail(ErrorCode::kInvalidInput, "variable {} refers to itself", Quote(path[1]));
          evaluating_[k] = true;
          auto v = p_.variables[k].expr->Evaluate(*this);
          evaluating_[k] = false;
          if (!v) return Fail(ErrorCode::kInvalidInput, "variable {}: {}", path[1], v.error().message);
          it = cache_.emplace(k, *v).first;
        }
        return Resolved{it->second, 2};
      }
      return Fail(ErrorCode::kInvalidInput, "unknown variable {}", Quote(path[1]));
    }
    return Fail(ErrorCode::kInvalidInput, "unknown name {}", Quote(path[0]));
  }
  const TimeZones* time_zones() const override { return zones_; }

 private:
  const PolicySpec& p_;
  const Value& object_;
  const TimeZones* zones_;
  mutable std::map<size_t, Value> cache_;
  mutable std::map<size_t, bool> evaluating_;
};

bool AnyGlob(const std::vector<std::string>& globs, std::string_view s) {
  return globs.empty() ||
         std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return GlobMatch(g, s); });
}

const WaiverSpec* FindWaiver(const std::vector<std::shared_ptr<const WaiverSpec>>& waivers,
                             const PolicySpec& p, const PolicyRule& r, const PolicyScope& scope,
                             int64_t now_us) {
  for (const auto& w : waivers) {
    // Only a waiver of the policy's own origin: the judged pipeline cannot waive a central rule.
    if (w->origin != p.origin) continue;
    if (w->policy != p.name || (!w->rule.empty() && w->rule != r.name)) continue;
    if (!w->pipeline.empty() && !GlobMatch(w->pipeline, scope.pipeline)) continue;
    if (!w->task.empty() && !GlobMatch(w->task, scope.task)) continue;
    if (now_us >= w->expires_us) continue;  // expired: no longer applies
    return w.get();
  }
  return nullptr;
}

}  // namespace

bool PolicyMatches(const PolicySpec& p, const PolicyScope& scope) {
  if (!AnyGlob(p.match_pipelines, scope.pipeline)) return false;
  if (!scope.task.empty() && !AnyGlob(p.match_tasks, scope.task)) return false;
  for (const auto& [k, v] : p.match_labels) {
    auto it = scope.labels.find(k);
    if (it == scope.labels.end() || !GlobMatch(v, it->second)) return false;
  }
  if (!p.match_components.empty()) {
    bool any = std::any_of(scope.components.begin(), scope.components.end(),
                           [&](const std::string& c) { return AnyGlob(p.match_components, c); });
    if (!any) return false;
  }
  if (!p.match_environments.empty()) {
    bool any = std::any_of(scope.environments.begin(), scope.environments.end(),
                           [&](const std::string& e) { return AnyGlob(p.match_environments, e); });
    if (!any) return false;
  }
  return true;
}

std::vector<Decision> EvaluatePolicy(const PolicySpec& p, const Value& input,
                                     const std::vector<std::shared_ptr<const WaiverSpec>>& waivers,
                                     const PolicyScope& scope, int64_t now_us,
                                     const TimeZones* zones) {
  const Value* object = input.is_map() ? input.Find("object") : nullptr;
  static const Value kNull;
  PolicyActivation act(p, object ? *object : kNull, zones);
  const std::string digest = Sha256Hex(CanonicalJson(input));
  std::vector<Decision> out;
  for (const auto& r : p.rules) {
    Decision d;
    d.policy = p.name;
    d.rule = r.name;
    d.policy_hash = p.hash;
    d.source = PolicyOriginName(p.origin);
    d.input_digest = digest;
    d.task = scope.task;
    auto v = r.expr->Evaluate(act);
    std::optional<bool> pass;
    if (v && v->is_bool()) pass = v->as_bool();
    if (!pass) {
      std::string why = v ? fmt::format("the rule gave {} {}, not a bool", v->TypeName(), v->ToText())
                          : v.error().message;
      d.result = p.fail_closed ? "deny" : "allow";
      d.message = fmt::format("evaluation error: {}{}", why,
                              p.fail_closed ? " (failurePolicy: fail)" : " (ignored: failurePolicy: ignore)");
    } else if (*pass) {
      d.result = "allow";
    } else {
      d.result = r.action == PolicyRule::Action::kDeny   ? "deny"
                 : r.action == PolicyRule::Action::kWarn ? "warn"
                                                         : "audit";
      d.message = r.message.empty() ? fmt::format("rule {} failed", r.name) : r.message;
      if (r.message_expr) {
        auto m = r.message_expr->Evaluate(act);
        if (m && m->is_string()) d.message = m->as_string();
        else if (m) d.message = m->ToText();
        else d.message += fmt::format(" (messageExpression failed: {})", m.error().message);
      }
    }
    if (d.result == "deny") {
      if (const WaiverSpec* w = FindWaiver(waivers, p, r, scope, now_us)) {
        d.result = "waived";
        d.waiver = w->name;
        d.waiver_granted_by = w->granted_by;
        d.message += fmt::format(" (waived by {}, granted by {}: {})", w->name, w->granted_by,
                                 w->justification);
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

namespace {

// A task's approval as the admission input shows it, or null.
Value ApprovalOf(const PlanTask& t) {
  const ApprovalSpec* a = t.approval();
  if (!a) return Value();
  ValueList approvers;
  for (const auto& who : a->approvers) approvers.push_back(Value(who));
  return Value(ValueMap{{"approvers", Value(std::move(approvers))},
                        {"quorum", Value(static_cast<int64_t>(a->quorum))},
                        {"forbidSelfApproval", Value(a->forbid_self)},
                        {"timeout", Value(a->timeout_ms / 1000.0)}});
}

}  // namespace

Value AdmissionInput(const Plan& plan, const Value& params) {
  ValueList tasks;
  // Every task a run may start: the pipeline's, and each DAG template's (named
  // "NAME@VERSION/TASK", with `template` set), so that no rule is lifted by moving a task into a
  // template.
  for (const PlanTask& t : plan.tasks) {
    if (t.role != TaskRole::kMain && t.role != TaskRole::kFinally) continue;
    const TaskSpec& s = *t.spec;
    static const char* kKinds[] = {"none", "run", "script", "uses", "builtin"};
    ValueList needs;
    for (int d : t.deps) needs.push_back(Value(plan.tasks[d].name));
    const TaskHandlers* h = s.handlers();
    ValueMap task{
        {"name", Value(t.name)},
        {"template", Value(t.scope >= 0 ? plan.templates[t.scope].component->name + "@" +
                                              plan.templates[t.scope].component->version
                                        : std::string())},
        {"finally", Value(t.role == TaskRole::kFinally)},
        {"kind", Value(kKinds[static_cast<int>(t.component() ? Body::Kind::kUses : t.kind)])},
        {"uses", Value(s.body.kind == Body::Kind::kUses ? s.body.text : "")},
        {"argoSubstitution", Value(t.component() && t.component()->argo_substitution)},
        {"component", t.component() ? Value(ValueMap{{"name", Value(t.component()->name)},
                                                   {"version", Value(t.component()->version)}})
                                  : Value()},
        {"retry", Value(ValueMap{{"limit", Value(static_cast<int64_t>(t.retry->limit))}})},
        {"timeout", Value(t.timeout_ms / 1000.0)},
        {"deadline", Value(t.deadline_ms / 1000.0)},
        {"resources", Value(ValueMap{{"cpu", Value(t.resources->cpu)},
                                     {"memory", Value(t.resources->memory)},
                                     {"gpu", Value(t.resources->gpu)}})},
        {"cache", Value(t.cache.enabled)},
        {"breaker", Value(t.breaker() ? t.breaker()->name : "")},
        {"forEach", Value(s.for_each != nullptr)},
        {"handlers", Value(ValueMap{{"catch", Value(static_cast<int64_t>(t.catches().size()))},
                                    {"fallback", Value(t.fallback >= 0)},
                                    {"compensate", Value(t.compensate >= 0)}})},
        {"gate", Value(static_cast<int64_t>(h ? h->gate.size() : 0))},
        {"needs", Value(std::move(needs))},
        {"approval", ApprovalOf(t)},
        {"when", s.when() ? Value(s.when()->tmpl.text()) : Value()}};
    tasks.push_back(Value(std::move(task)));
  }
  ValueMap labels;
  for (const auto& [k, v] : plan.pipeline->labels) labels.emplace_back(k, Value(v));
  return Value(ValueMap{{"object", Value(ValueMap{{"name", Value(plan.pipeline->name)},
                                                  {"labels", Value(std::move(labels))},
                                                  {"file", Value(plan.pipeline->file)},
                                                  {"params", params},
                                                  {"tasks", Value(std::move(tasks))}})}});
}

PolicyScope AdmissionScope(const Plan& plan) {
  PolicyScope s;
  s.pipeline = plan.pipeline->name;
  s.labels = plan.pipeline->labels;
  for (const auto& t : plan.tasks) {
    if (t.component()) s.components.push_back(t.component()->name + "@" + t.component()->version);
    if (const DeploySpec* d = t.body ? t.body->deploy() : nullptr) {
      s.environments.push_back(d->environment);
    }
  }
  return s;
}

bool AnyDenied(const std::vector<Decision>& ds) {
  return std::any_of(ds.begin(), ds.end(), [](const Decision& d) { return d.result == "deny"; });
}

Value DecisionToValue(const Decision& d) {
  ValueMap m{{"policy", Value(d.policy)},          {"rule", Value(d.rule)},
             {"result", Value(d.result)},          {"message", Value(d.message)},
             {"policyHash", Value(d.policy_hash)}, {"inputDigest", Value(d.input_digest)}};
  if (!d.source.empty()) m.emplace_back("source", Value(d.source));
  if (!d.waiver.empty()) {
    m.emplace_back("waiver", Value(d.waiver));
    m.emplace_back("grantedBy", Value(d.waiver_granted_by));
  }
  if (!d.task.empty()) m.emplace_back("task", Value(d.task));
  return Value(std::move(m));
}

}  // namespace sluice
