// `sluice token create|list|revoke`: the API tokens of a `sluice server` that serves this state
// folder (access/access.h, docs/server.md). The token's text is printed once; the store keeps
// only its secret's hash. Creating and revoking are audited by the account that does it.
//
// Who may: with a users.yaml in the state folder, accounts holding its manage-tokens right; with
// none (one person's folder), the accounts that can write the store.
#include <cstdio>

#include "access/access.h"
#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/views.h"
#include "common/strings.h"

namespace sluice {

namespace {

Result<Principal> TokenManager(Env& env, const GlobalOptions& g) {
  auto who = NewEmbeddedIdentity(env, g.state_dir, g.as)->Current();
  if (!who) return who;
  const std::string users = PathJoin(g.state_dir, "users.yaml");
  if (env.files().Stat(users).exists && !who->Has(kRightManageTokens)) {
    return Fail(ErrorCode::kInvalidInput, "account {} may not manage API tokens: that needs the "
                "manage-tokens right in {} (docs/server.md#tokens)", Quote(who->account), users);
  }
  return who;
}

// "ns=role" or "role" (in namespace "default") into `roles`.
Status AddRole(const std::string& text, std::map<std::string, Role>& roles) {
  const size_t eq = text.find('=');
  const std::string ns = eq == std::string::npos ? "default" : text.substr(0, eq);
  const std::string name = eq == std::string::npos ? text : text.substr(eq + 1);
  auto role = ParseRole(name);
  if (!role || (ns != "*" && !IsNamespaceName(ns))) {
    return Fail(ErrorCode::kInvalidInput, "--role {}: expected ROLE or NAMESPACE=ROLE, ROLE one "
                "of viewer, operator, approver, admin, worker, NAMESPACE a-z, 0-9 and '-' (* for "
                "all)", Quote(text));
  }
  roles[ns] = *role;
  return {};
}

}  // namespace

int CmdTokenCreate(Env& env, const GlobalOptions& g, const TokenRequest& req) {
  if (req.user.empty()) return Report(Error(ErrorCode::kInvalidInput, "--user is required"));
  if (!IsPlainName(req.user)) {  // audit records name it, and "eve (by x)" reads as an actor
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("--user {}: a user name is 1 to 64 letters, digits and . _ - "
                                    "@, with no spaces, parentheses or group: prefix",
                                    Quote(req.user))));
  }
  std::map<std::string, Role> roles;
  for (const auto& r : req.roles) {
    if (auto s = AddRole(r, roles); !s) return Report(s.error());
  }
  if (roles.empty()) return Report(Error(ErrorCode::kInvalidInput, "give at least one --role"));
  auto who = TokenManager(env, g);
  if (!who) return Report(who.error());
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  const NewToken made = MakeToken(env.RandomBytes(40));
  TokenRow row;
  row.id = made.id;
  row.secret_hash = made.secret_hash;
  row.user = req.user;
  row.roles = RolesJson(roles);
  row.created_by = who->Actor();
  row.created_us = env.clock().NowUs();
  row.expires_us = req.expires_in_s > 0 ? row.created_us + req.expires_in_s * 1'000'000 : 0;
  auto roles_value = ParseJson(row.roles);
  auto audit = AuditOf(env, row.created_by, "token.created", "", row.id,
                       Value(ValueMap{{"user", Value(row.user)},
                                      {"roles", roles_value ? *roles_value : Value()},
                                      {"expires", Value(Ts(row.expires_us))}}));
  if (auto s = (*store)->CreateToken(row, std::move(audit)); !s) return Report(s.error());
  if (g.json) {
    std::printf("%s\n", Value(ValueMap{{"id", Value(row.id)}, {"token", Value(made.text)},
                                       {"user", Value(row.user)}})
                            .ToJson()
                            .c_str());
  } else {
    std::printf("%s\n", made.text.c_str());
    std::fprintf(stderr, "token %s for %s: keep it now, it is not shown again\n", row.id.c_str(),
                 row.user.c_str());
  }
  return 0;
}

int CmdTokenList(Env& env, const GlobalOptions& g) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto tokens = (*store)->ListTokens();
  if (!tokens) return Report(tokens.error());
  ValueList items;
  if (!g.json) {
    std::printf("%-16s %-12s %-34s %-24s %s\n", "ID", "USER", "ROLES", "CREATED", "STATE");
  }
  const int64_t now = env.clock().NowUs();
  for (const auto& t : *tokens) {
    Value shown = TokenJson(t, now);
    if (g.json) {
      items.push_back(std::move(shown));
      continue;
    }
    const std::string state = shown.Find("state")->as_string();
    std::printf("%-16s %-12s %-34s %-24s %s\n", t.id.c_str(), t.user.c_str(), t.roles.c_str(),
                Ts(t.created_us).c_str(), state.c_str());
  }
  if (g.json) std::printf("%s\n", Value(std::move(items)).ToJson().c_str());
  return 0;
}

int CmdTokenRevoke(Env& env, const GlobalOptions& g, const std::string& id) {
  auto who = TokenManager(env, g);
  if (!who) return Report(who.error());
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto audit = AuditOf(env, who->Actor(), "token.revoked", "", id, Value(ValueMap{}));
  if (auto s = (*store)->RevokeToken(id, env.clock().NowUs(), std::move(audit)); !s) {
    return Report(s.error());
  }
  std::printf("token %s revoked\n", id.c_str());
  return 0;
}

}  // namespace sluice
