// The JSON documents shared by `-o json` and the API (views.h).
#include "cli/views.h"

#include <map>

#include "cli/cli_support.h"
#include "common/strings.h"
#include "spec/model.h"

namespace sluice {

Value RunSummaryJson(const RunRecord& r, const std::string& status) {
  return Value(ValueMap{{"id", Value(r.id)},
                        {"namespace", Value(r.ns)},
                        {"pipeline", Value(r.pipeline)},
                        {"status", Value(status)},
                        {"started", Value(Ts(r.started_us))},
                        {"finished", Value(Ts(r.finished_us))}});
}

Value TokenJson(const TokenRow& t, int64_t now_us) {
  const char* state = t.revoked_us ? "revoked"
                      : (t.expires_us && now_us >= t.expires_us) ? "expired" : "active";
  auto roles = ParseJson(t.roles);
  return Value(ValueMap{{"id", Value(t.id)}, {"user", Value(t.user)},
                        {"roles", roles ? *roles : Value()},
                        {"createdBy", Value(t.created_by)},
                        {"created", Value(Ts(t.created_us))},
                        {"expires", Value(Ts(t.expires_us))},
                        {"revoked", Value(Ts(t.revoked_us))},
                        {"state", Value(state)}});
}

Value EventJson(const Event& e) {
  ValueMap m{{"seq", Value(e.seq)}, {"time", Value(Ts(e.time_us))},
             {"kind", Value(std::string(EventKindName(e.kind)))}};
  if (!e.task.empty()) m.emplace_back("task", Value(e.task));
  if (e.attempt) m.emplace_back("attempt", Value(static_cast<int64_t>(e.attempt)));
  if (!e.status.empty()) m.emplace_back("status", Value(e.status));
  if (!e.error_class.empty()) {
    m.emplace_back("errorClass", Value(ErrorLabel(e.error_class, e.exit_code)));
  }
  if (!e.message.empty()) m.emplace_back("message", Value(e.message));
  if (e.pid) m.emplace_back("pid", Value(e.pid));
  if (e.due_us) m.emplace_back("due", Value(Ts(e.due_us)));  // a retry's or a deadline's time
  if (!e.data.empty()) {
    auto d = ParseJson(e.data);
    m.emplace_back("data", d ? *d : Value(e.data));
  }
  return Value(std::move(m));
}

Value StatusJson(const RunRecord& run, const std::string& status, const std::vector<TaskRecord>& tasks,
                 const std::vector<AttemptRecord>& attempts, const std::vector<DecisionRow>& decisions,
                 const std::vector<ComponentUse>& uses, const Value& labels) {
  std::map<std::string, std::string> version_of;  // plan task -> "name@version"
  for (const auto& u : uses) version_of[u.task] = u.component + "@" + u.version;
  ValueList tl;
  for (const auto& t : tasks) {
    auto out = ParseJson(t.outputs);
    auto used = version_of.find(t.name.substr(0, t.name.find('[')));  // a forEach item: its task's
    tl.push_back(Value(ValueMap{{"name", Value(t.name)},
                                {"component", used == version_of.end() ? Value() : Value(used->second)},
                                {"state", Value(t.state)},
                                {"attempts", Value(static_cast<int64_t>(t.attempts))},
                                {"message", Value(t.message)},
                                {"outputs", out ? *out : Value()},
                                {"started", Value(Ts(t.started_us))},
                                {"finished", Value(Ts(t.finished_us))}}));
  }
  ValueList al;
  for (const auto& a : attempts) {
    al.push_back(Value(ValueMap{{"task", Value(a.task)},
                                {"attempt", Value(static_cast<int64_t>(a.attempt))},
                                {"status", Value(a.status)},
                                {"class", Value(a.error_class)},
                                {"exitCode", Value(static_cast<int64_t>(a.exit_code))},
                                {"message", Value(a.message)},
                                {"started", Value(Ts(a.started_us))},
                                {"finished", Value(Ts(a.finished_us))}}));
  }
  ValueList dl;
  for (const auto& d : decisions) {
    dl.push_back(Value(ValueMap{{"stage", Value(d.stage)}, {"task", Value(d.task)},
                                {"policy", Value(d.policy)}, {"rule", Value(d.rule)},
                                {"result", Value(d.result)}, {"message", Value(d.message)},
                                {"waiver", Value(d.waiver)}, {"policyHash", Value(d.policy_hash)},
                                {"inputDigest", Value(d.input_digest)},
                                {"time", Value(Ts(d.time_us))}}));
  }
  auto params = ParseJson(run.params);
  auto stats = ParseJson(run.stats);
  return Value(ValueMap{{"id", Value(run.id)},
                        {"namespace", Value(run.ns)},
                        {"pipeline", Value(run.pipeline)},
                        {"labels", labels.is_map() ? labels : Value(ValueMap{})},
                        {"status", Value(status)},
                        {"started", Value(Ts(run.started_us))},
                        {"finished", Value(Ts(run.finished_us))},
                        {"params", params ? *params : Value()},
                        {"stats", stats ? *stats : Value()},
                        {"specDigest", Value(run.spec_digest)},
                        {"components", ComponentUsesJson(uses)},
                        {"tasks", Value(std::move(tl))},
                        {"attempts", Value(std::move(al))},
                        {"decisions", Value(std::move(dl))}});
}

Value StoredLabels(Store& store, const std::string& run_id) {
  auto submitted = store.SubmittedRecord(run_id);
  if (!submitted || !*submitted) return Value(ValueMap{});
  auto details = ParseJson((*submitted)->details);
  const Value* labels = details && details->is_map() ? details->Find("labels") : nullptr;
  return labels && labels->is_map() ? *labels : Value(ValueMap{});
}

Value AuditRecordJson(const AuditRecord& r) {
  auto details = ParseJson(r.details);
  return Value(ValueMap{{"seq", Value(r.seq)},
                        {"time", Value(Ts(r.time_us))},
                        {"time_us", Value(r.time_us)},
                        {"actor", Value(r.actor)},
                        {"action", Value(r.action)},
                        {"run", Value(r.run_id)},
                        {"subject", Value(r.subject)},
                        {"details", details ? *details : Value(r.details)},
                        {"prevHash", Value(r.prev_hash)},
                        {"hash", Value(r.hash)}});
}

Value AuditCheckJson(const AuditCheck& c) {
  return Value(ValueMap{{"ok", Value(c.broken_at == 0)},
                        {"records", Value(c.records)},
                        {"brokenAt", c.broken_at ? Value(c.broken_at) : Value()},
                        {"why", Value(c.why)},
                        {"head", Value(c.head)}});
}

}  // namespace sluice
