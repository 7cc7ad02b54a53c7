// Who may do what on a `sluice server`: API tokens (their text form and how one is checked
// against its stored row) and the four roles. Pure: the store keeps token rows (store.h,
// TokenRow), the server asks this module. docs/server.md has the role table this encodes.
//
// A token is "sluice.ID.SECRET": ID is 16 hex digits that find the row, SECRET 32 random bytes
// (base64url) whose SHA-256 the row holds. Both are random, so a plain SHA-256 (not a slow
// password hash) is enough: there is no dictionary to try. The comparison takes the same time
// whatever the hashes share.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace sluice {

struct TokenRow;

// Every role but worker may read; the others add what the table in docs/server.md says. A
// worker (a `sluice worker`'s machine identity) may only work: lease attempts and report them.
enum class Role { kViewer, kOperator, kApprover, kAdmin, kWorker };
std::string_view RoleName(Role r);
std::optional<Role> ParseRole(std::string_view s);

// What a request asks to do in a namespace.
enum class Action {
  kRead,     // list and read runs, tasks, events, logs, artifacts, approvals, breakers; policy eval
  kSubmit,   // submit a run, trigger a schedule
  kOperate,  // cancel, resume, retry, rerun, roll back a run; open, close, reset a breaker
  kApprove,  // vote on an approval
  kAdmin,    // tokens, audit export and verify, waivers, schedules' definitions
  kWork,     // a worker's routes: register, lease, heartbeat, logs, blobs, ends (workers.cc)
};
std::string_view ActionName(Action a);
bool Allows(Role r, Action a);

// A namespace's name: 1 to 63 of a-z, 0-9 and '-', starting and ending with a letter or digit
// (a DNS label, as Kubernetes names namespaces), so it is safe in a URL, a file name and a run id.
bool IsNamespaceName(std::string_view ns);

// Whom a checked token speaks for: a user and a role per namespace ("*" = every namespace).
struct ApiPrincipal {
  std::string user;
  std::map<std::string, Role> roles;
  // The role in `ns`, if any.
  std::optional<Role> RoleIn(const std::string& ns) const;
  bool Can(Action a, const std::string& ns) const;
};

// A new token's text and the row to store for it (id, secret_hash; the caller fills the rest).
struct NewToken {
  std::string text;
  std::string id;
  std::string secret_hash;
};
// Makes a token from 8 + 32 random bytes.
NewToken MakeToken(std::string_view random40);

// Splits a token's text into its id and secret; nullopt when it is not a token's shape.
std::optional<std::pair<std::string, std::string>> SplitToken(std::string_view text);

// Checks `secret` against `row` at `now_us`: the principal when the token is in force, else why
// not (revoked, expired, wrong secret, unreadable roles: the server answers 401 whatever the reason).
Result<ApiPrincipal> CheckToken(const TokenRow& row, std::string_view secret, int64_t now_us);

// Whether `secret` is the secret whose SHA-256 (hex) is `hash`, in a time that does not depend
// on where they differ (a webhook trigger's token, docs/triggers.md).
bool SecretMatches(std::string_view secret, std::string_view hash);

// {"ns": "role", ...} as canonical JSON, and back (kInvalidArgument naming the bad entry).
std::string RolesJson(const std::map<std::string, Role>& roles);
Result<std::map<std::string, Role>> ParseRolesJson(std::string_view json);

}  // namespace sluice
