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

int CmdWaiverGrant(Env& env, const GlobalOptions& g, const WaiverGrant& w) {
  auto who = Granter(env, g, "grant");
  if (!who) return Report(who.error());
  auto central = CentralPolicies(env, g, nullptr);
  if (!central) return Report(central.error());
  if (auto s = WaivesACentralPolicy(*central, w, PathJoin(g.state_dir, "policies")); !s) return Report(s.error());
  Value document = WaiverDocument(w, who->Actor());
  auto parsed = ParseWaiver(CanonicalJson(document));
  if (!parsed) return Report(parsed.error());
  const int64_t now = env.clock().NowUs();
  if (parsed->expires_us <= now) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("--expires {} is already past", w.expires)));
  }
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  WaiverRow row{w.name, CanonicalJson(document), who->Actor(), now, 0, 0, false};
  auto audit = AuditOf(env, who->Actor(), "waiver.granted", "", w.name,
                       Value(ValueMap{{"document", document}}));
  auto granted = (*store)->GrantWaiver(row, std::move(audit));
  if (!granted) return Report(granted.error());
  std::printf("granted waiver %s of %s%s until %s (audit record %lld)\n", w.name.c_str(),
              w.policy.c_str(), w.rule.empty() ? "" : ("/" + w.rule).c_str(),
              Ts(parsed->expires_us).c_str(), static_cast<long long>(granted->seq));
  return 0;
}

int CmdWaiverRevoke(Env& env, const GlobalOptions& g, const std::string& name) {
  auto who = Granter(env, g, "revoke");
  if (!who) return Report(who.error());
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  const int64_t now = env.clock().NowUs();
  auto audit = AuditOf(env, who->Actor(), "waiver.revoked", "", name, Value(ValueMap{}));
  auto revoked = (*store)->RevokeWaiver(name, now, std::move(audit));
  if (!revoked) return Report(revoked.error());
  std::printf("revoked waiver %s (audit record %lld)\n", name.c_str(),
              static_cast<long long>(revoked->seq));
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
  const int64_t now = env.clock().NowUs();
  ValueList out;
  for (const auto& row : rows) {
    auto w = ParseWaiver(row.document);
    std::string state = !row.verified           ? "unverified"
                        : row.revoked_us != 0   ? "revoked"
                        : w && w->expires_us <= now ? "expired"
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
    if (!g.json) {
      std::printf("%-24s %-10s %s%s%s  by %s  until %s: %s\n", row.name.c_str(), state.c_str(),
                  w ? w->policy.c_str() : "?", w && !w->rule.empty() ? "/" : "",
                  w ? w->rule.c_str() : "", row.granted_by.c_str(),
                  w ? Ts(w->expires_us).c_str() : "?", w ? w->justification.c_str() : "");
    }
    out.push_back(Value(std::move(m)));
  }
  if (g.json) std::printf("%s\n", Value(std::move(out)).ToJson().c_str());
  else if (rows.empty()) std::printf("no waivers granted\n");
  return 0;
}

}  // namespace sluice
