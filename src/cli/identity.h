// Who is running a command. In embedded mode that is the operating-system account of the
// process (its real user id): `$USER` and the login name are not asked. `--as NAME` (or
// $SLUICE_USER) acts for another name, and only an account that the state folder's users.yaml
// grants `act-as` may do so; the audit then records both names ("bob (by root)"), and
// everything that counts people (a quorum, forbidSelfApproval) counts the account.
//
// users.yaml (STATE/users.yaml) lists the names that may act, their groups and their rights. It
// is trusted only when it is a regular file owned by the state folder's owner and writable by no
// one else; otherwise every command refuses to run. Without it, each account acts as itself,
// with no groups and no rights.
//
// Commands ask this interface, so the server mode can answer from API tokens instead.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "env/env.h"
#include "interop/argo_options.h"

namespace sluice {

// The rights users.yaml grants an account (each checked by the command it names).
inline constexpr std::string_view kRightActAs = "act-as";                 // --as another name
inline constexpr std::string_view kRightGrantWaivers = "grant-waivers";   // sluice waiver grant
inline constexpr std::string_view kRightManageTokens = "manage-tokens";   // sluice token create|revoke
inline constexpr std::string_view kRightPrune = "prune";                  // sluice prune
inline constexpr std::string_view kRightSchedules = "schedules";  // sluice schedule apply|suspend|resume
// sluice trigger apply|rotate|rm in a state folder the account does not own (docs/triggers.md)
inline constexpr std::string_view kRightManageTriggers = "manage-triggers";
inline constexpr std::string_view kRights[] = {kRightActAs, kRightGrantWaivers, kRightManageTokens,
                                               kRightPrune, kRightSchedules, kRightManageTriggers};

struct Principal {
  std::string name;                 // who acts: the account, or the name it acts for (--as)
  std::string account;              // the operating-system account behind it: the real principal
  std::vector<std::string> groups;  // of `name`, from users.yaml
  std::vector<std::string> rights;  // of `account`, from users.yaml

  bool Has(std::string_view right) const;
  bool InGroup(std::string_view group) const;
  // How the audit names it: "bob", or "bob (by root)" when root acts for bob.
  std::string Actor() const;
};

// A user name people and audit records can tell apart: 1 to 64 letters, digits and . _ - @, no
// "group:" prefix (that is a group), no spaces or parentheses (the audit's "bob (by root)").
// users.yaml's names and API tokens' users follow it.
bool IsPlainName(std::string_view name);

class Identity {
 public:
  virtual ~Identity() = default;
  // The principal, or an error a user can act on (an untrusted or malformed users.yaml, a name
  // it does not list, --as without the right): exit 2, before anything happens.
  virtual Result<Principal> Current() const = 0;
};

// `as` is the --as flag ("" when not given). The variables, the account and users.yaml are read
// through `env`, which must outlive the identity.
std::unique_ptr<Identity> NewEmbeddedIdentity(Env& env, const std::string& state_dir,
                                              const std::string& as);
// `argo` with whoever acts here (NewEmbeddedIdentity's principal) as the default approver of an
// Argo suspend without a duration, as Argo lets the submitter resume (docs/interop.md); unchanged
// when the identity fails, which the command reports itself when it needs it.
ArgoImportOptions WithActingApprover(Env& env, const std::string& state_dir, const std::string& as,
                                     ArgoImportOptions argo);
// On a `sluice server`: the user of an API token, which is both the name and the account (so
// forbidSelfApproval and quorums count token users), with its groups from the state folder's
// users.yaml (none when it is not listed there) and no rights. Fails as the embedded identity
// does on an untrusted or malformed users.yaml.
std::unique_ptr<Identity> NewTokenIdentity(Env& env, const std::string& state_dir,
                                           const std::string& user);

}  // namespace sluice
