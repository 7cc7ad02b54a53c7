// Waivers of central policies granted from the command line: `sluice waiver grant|list|revoke`,
// and the granted waivers admission and gates use (GrantedWaivers).
//
// A waiver of a central policy may come only from the central configuration: a file in
// STATE/policies/, or a grant stored here by an account with users.yaml's grant-waivers right.
// A grant is a `waivers` row and its waiver.granted audit record, written in one transaction;
// only grants whose record chains count (Store::ListWaivers).
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/policy_cmds.h"
#include "cli/waivers.h"
#include "common/strings.h"
#include "spec/loader.h"

namespace sluice {

namespace {

// The current principal, when it holds the grant-waivers right.
Result<Principal> Granter(Env& env, const GlobalOptions& g, std::string_view verb) {
  auto who = NewEmbeddedIdentity(env, g.state_dir, g.as)->Current();
  if (!who) return who;
  if (!who->Has(kRightGrantWaivers)) {
    return Fail(ErrorCode::kInvalidInput, "account {} may not {} waivers: that needs the "
                "grant-waivers right in {} (docs/governance.md#waivers)", Quote(who->account),
                verb, PathJoin(g.state_dir, "users.yaml"));
  }
  return who;
}

// The Waiver document a grant stores: what `w` asks for, granted by `actor`.
Value WaiverDocument(const WaiverGrant& w, const std::string& actor) {
  ValueMap spec{{"policy", Value(w.policy)}};
  if (!w.rule.empty()) spec.emplace_back("rule", Value(w.rule));
  ValueMap scope;
  if (!w.pipeline.empty()) scope.emplace_back("pipeline", Value(w.pipeline));
  if (!w.task.empty()) scope.emplace_back("task", Value(w.task));
  if (!scope.empty()) spec.emplace_back("scope", Value(std::move(scope)));
  spec.emplace_back("justification", Value(w.justification));
  spec.emplace_back("grantedBy", Value(actor));
  spec.emplace_back("expires", Value(w.expires));
  return Value(ValueMap{{"apiVersion", Value("sluice/v1")},
                        {"kind", Value("Waiver")},
                        {"metadata", Value(ValueMap{{"name", Value(w.name)}})},
                        {"spec", Value(std::move(spec))}});
}

// Reads a stored document back with the loader's checks (a JSON text is YAML).
Result<WaiverSpec> ParseWaiver(const std::string& document) {
  SLUICE_TRY(file, ParseSpecFile("waiver", document));
  if (file->waivers.size() != 1) return Fail(ErrorCode::kInvalidInput, "not a waiver document");
  WaiverSpec w = std::move(file->waivers[0]);
  w.origin = PolicyOrigin::kCentral;
  return w;
}

// Checks that `w` waives a central policy (and one of its rules, when given).
Status WaivesACentralPolicy(const PolicySet& central, const WaiverGrant& w,
                            const std::string& dir) {
  for (const auto& p : central.policies) {
    if (p->name != w.policy) continue;
    if (w.rule.empty()) return {};
    for (const auto& r : p->rules) {
      if (r.name == w.rule) return {};
    }
    return Fail(ErrorCode::kInvalidInput, "central policy {} has no rule {}", Quote(w.policy),
                Quote(w.rule));
  }
  return Fail(ErrorCode::kInvalidInput, "no central policy {} in {}: `sluice waiver grant` "
              "waives the state folder's policies only (a pipeline's own waivers cover its own)",
              Quote(w.policy), dir);
}

}  // namespace

Result<std::vector<std::shared_ptr<const WaiverSpec>>> GrantedWaivers(Store& store) {
  SLUICE_TRY(rows, store.ListWaivers());
  std::vector<std::shared_ptr<const WaiverSpec>> out;
  for (const auto& row : *rows) {
    if (!row.verified || row.revoked_us != 0) continue;  // unrecorded or revoked: lifts nothing
    auto w = ParseWaiver(row.document);
    if (!w) continue;
    w->audit_seq = row.audit_seq;
    out.push_back(std::make_shared<const WaiverSpec>(std::move(*w)));
  }
  return out;
}

Result<WaiverGranted> GrantWaiverBy(Env& env, const GlobalOptions& g, Store& store,
                                    const WaiverGrant& w, const std::string& actor) {
  SLUICE_TRY(central, CentralPolicies(env, g, nullptr));
  SLUICE_TRY_STATUS(WaivesACentralPolicy(*central, w, PathJoin(g.state_dir, "policies")));
  Value document = WaiverDocument(w, actor);
  SLUICE_TRY(parsed, ParseWaiver(CanonicalJson(document)));
  const int64_t now = env.clock().NowUs();
  if (parsed->expires_us <= now) {
    return Fail(ErrorCode::kInvalidInput, "--expires {} is already past", w.expires);
  }
  WaiverRow row{w.name, CanonicalJson(document), actor, now, 0, 0, false};
  auto audit = AuditOf(env, actor, "waiver.granted", "", w.name,
                       Value(ValueMap{{"document", document}}));
  SLUICE_TRY(granted, store.GrantWaiver(row, std::move(audit)));
  return WaiverGranted{granted->seq, parsed->expires_us};
}

std::string WaiverGrantedText(const std::string& name, const std::string& policy,
                              const std::string& rule, const std::string& expires,
                              int64_t audit_seq) {
  return fmt::format("granted waiver {} of {}{} until {} (audit record {})\n", name, policy,
                     rule.empty() ? "" : "/" + rule, expires, audit_seq);
}

Result<int64_t> RevokeWaiverBy(Env& env, Store& store, const std::string& name,
                               const std::string& actor) {
  auto audit = AuditOf(env, actor, "waiver.revoked", "", name, Value(ValueMap{}));
  SLUICE_TRY(revoked, store.RevokeWaiver(name, env.clock().NowUs(), std::move(audit)));
  return revoked->seq;
}

std::string WaiverRevokedText(const std::string& name, int64_t audit_seq) {
  return fmt::format("revoked waiver {} (audit record {})\n", name, audit_seq);
}

Value WaiversJson(const std::vector<WaiverRow>& rows, int64_t now_us) {
  ValueList out;
  for (const auto& row : rows) {
    auto w = ParseWaiver(row.document);
    std::string state = !row.verified                  ? "unverified"
                        : row.revoked_us != 0          ? "revoked"
                        : w && w->expires_us <= now_us ? "expired"
                                                       : "in-force";
    ValueMap m{{"name", Value(row.name)}, {"state", Value(state)},
               {"grantedBy", Value(row.granted_by)}, {"granted", Value(Ts(row.granted_us))}};
    if (w) {
      m.emplace_back("policy", Value(w->policy));
      m.emplace_back("rule", Value(w->rule));
      m.emplace_back("pipeline", Value(w->pipeline));
      m.emplace_back("task", Value(w->task));
      m.emplace_back("expires", Value(Ts(w->expires_us)));
      m.emplace_back("justification", Value(w->justification));
    }
    out.push_back(Value(std::move(m)));
  }
  return Value(std::move(out));
}

std::string WaiversText(const Value& items) {
  if (!items.is_list() || items.as_list().empty()) return "no waivers granted\n";
  std::string out;
  for (const Value& m : items.as_list()) {
    auto field = [&](const char* k, const char* missing) {
      const Value* f = m.is_map() ? m.Find(k) : nullptr;
      return f && f->is_string() ? f->as_string() : std::string(missing);
    };
    const std::string rule = field("rule", "");
    out += fmt::format("{:<24} {:<10} {}{}{}  by {}  until {}: {}\n", field("name", "?"),
                       field("state", "?"), field("policy", "?"), rule.empty() ? "" : "/", rule,
                       field("grantedBy", "?"), field("expires", "?"), field("justification", ""));
  }
  return out;
}

int CmdWaiverGrant(Env& env, const GlobalOptions& g, const WaiverGrant& w) {
  auto who = Granter(env, g, "grant");
  if (!who) return Report(who.error());
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  auto granted = GrantWaiverBy(env, g, **store, w, who->Actor());
  if (!granted) return Report(granted.error());
  std::fputs(WaiverGrantedText(w.name, w.policy, w.rule, Ts(granted->expires_us), granted->audit_seq)
                 .c_str(),
             stdout);
  return 0;
}

int CmdWaiverRevoke(Env& env, const GlobalOptions& g, const std::string& name) {
  auto who = Granter(env, g, "revoke");
  if (!who) return Report(who.error());
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto revoked = RevokeWaiverBy(env, **store, name, who->Actor());
  if (!revoked) return Report(revoked.error());
  std::fputs(WaiverRevokedText(name, *revoked).c_str(), stdout);
  return 0;
}

int CmdWaiverList(Env& env, const GlobalOptions& g) {
  auto store = OpenStore(env, g, false);
  if (!store && store.error().code != ErrorCode::kNotFound) return Report(store.error());
  std::vector<WaiverRow> rows;
  if (store) {
    auto listed = (*store)->ListWaivers();
    if (!listed) return Report(listed.error());
    rows = std::move(*listed);
  }
  const Value items = WaiversJson(rows, env.clock().NowUs());
  std::fputs(g.json ? (items.ToJson() + "\n").c_str() : WaiversText(items).c_str(), stdout);
  return 0;
}

}  // namespace sluice
