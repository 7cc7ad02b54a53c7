#include "cli/identity.h"

#include <algorithm>

#include "common/strings.h"
#include "spec/yaml_tree.h"
#include "store/store.h"

namespace sluice {

bool Principal::Has(std::string_view right) const {
  return std::find(rights.begin(), rights.end(), right) != rights.end();
}

bool Principal::InGroup(std::string_view group) const {
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

std::string Principal::Actor() const { return ActorName(name, account); }

namespace {

// A variable that is set and not empty.
std::optional<std::string> NonEmptyVar(Env& env, const std::string& name) {
  auto value = env.GetVar(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

struct UserEntry {
  std::string name;
  std::vector<std::string> groups;
  std::vector<std::string> rights;
};

// The names of a list of scalars at `n` (absent: none).
Result<std::vector<std::string>> Names(const YNode& n, const std::string& path,
                                       std::string_view what) {
  std::vector<std::string> out;
  auto bad = [&](const YNode& at) {
    return Fail(ErrorCode::kInvalidInput, "{}:{}:{}: {} is a list of names", path,
                at.Mark().line + 1, at.Mark().column + 1, what);
  };
  if (n.type() == YNode::Type::kUndefined) return out;
  if (!n.IsSequence()) return bad(n);
  for (const auto& x : n) {
    if (!x.IsScalar()) return bad(x);
    out.emplace_back(x.Scalar());
  }
  return out;
}

// Reads users.yaml: `users:`, a list of {name, groups, rights}.
Result<std::vector<UserEntry>> ParseUsers(const std::string& text, const std::string& path) {
  auto tree = YamlTree::Parse(text);
  if (!tree) return Fail(ErrorCode::kInvalidInput, "{}:{}", path, tree.error().message);
  auto bad = [&](const YNode& n, std::string_view why) {
    return Fail(ErrorCode::kInvalidInput, "{}:{}:{}: {}", path, n.Mark().line + 1,
                n.Mark().column + 1, why);
  };
  if ((*tree)->documents().empty()) return bad(YNode(), "empty users file");
  const YNode& doc = (*tree)->documents()[0];
  const YNode users = doc.IsMap() ? doc["users"] : YNode();
  if (!users.IsSequence()) {
    return bad(doc, "users.yaml holds `users:`, a list of {name, groups, rights}");
  }
  std::vector<UserEntry> out;
  for (const auto& u : users) {
    const YNode name = u.IsMap() ? u["name"] : YNode();
    if (!name.IsScalar()) return bad(u, "a user needs a name");
    if (!IsPlainName(name.Scalar())) {
      return bad(name, fmt::format("{} is not a user name (letters, digits and . _ - @ only; "
                                   "group:NAME in approvers means a group)", Quote(name.Scalar())));
    }
    static const std::vector<std::string> kFields = {"name", "groups", "rights"};
    for (const auto& kv : u) {
      std::string key(kv.first.Scalar());
      if (std::find(kFields.begin(), kFields.end(), key) == kFields.end()) {
        return bad(kv.first, fmt::format("unknown field {} of a user (name, groups, rights){}",
                                         Quote(key), DidYouMean(key, kFields)));
      }
    }
    UserEntry e{std::string(name.Scalar()), {}, {}};
    SLUICE_TRY(groups, Names(u["groups"], path, "groups"));
    SLUICE_TRY(rights, Names(u["rights"], path, "rights"));
    e.groups = std::move(*groups);
    e.rights = std::move(*rights);
    for (const auto& r : e.rights) {
      if (std::find(std::begin(kRights), std::end(kRights), r) == std::end(kRights)) {
        std::vector<std::string> known(std::begin(kRights), std::end(kRights));
        return bad(u["rights"], fmt::format("unknown right {} ({})", Quote(r), Join(known, ", ")));
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

class EmbeddedIdentity : public Identity {
 public:
  EmbeddedIdentity(Env& env, std::string state_dir, std::string as)
      : env_(env), state_dir_(std::move(state_dir)), as_(std::move(as)) {}

  Result<Principal> Current() const override {
    Principal p;
    p.account = env_.UserName();
    if (p.account.empty()) p.account = fmt::format("uid-{}", env_.Uid());
    std::string claim = as_;
    if (claim.empty()) claim = NonEmptyVar(env_, "SLUICE_USER").value_or("");
    p.name = claim.empty() ? p.account : claim;
    SLUICE_TRY(users, ReadUsers());
    const UserEntry* me = Find(*users, p.name);
    const UserEntry* account = Find(*users, p.account);
    if (p.name != p.account) {
      if (!users->empty() && account && std::find(account->rights.begin(), account->rights.end(),
                                                  kRightActAs) != account->rights.end()) {
        if (!me) return std::unexpected(NotListed(p.name, *users));
      } else {
        return Fail(ErrorCode::kInvalidInput,
                    "account {} may not act as {}: --as and SLUICE_USER need the act-as right in "
                    "{} (see docs/governance.md#identity)",
                    Quote(p.account), Quote(p.name), UsersPath());
      }
    } else if (!users->empty() && !me) {
      return std::unexpected(NotListed(p.name, *users));
    }
    if (me) p.groups = me->groups;
    if (account) p.rights = account->rights;
    return p;
  }

  // The principal of a server's API token for `user`: the user is the account (a token stands
  // for one person), with the groups users.yaml gives that name and no rights.
  Result<Principal> ForToken(const std::string& user) const {
    Principal p;
    p.name = p.account = user;
    SLUICE_TRY(users, ReadUsers());
    if (const UserEntry* me = Find(*users, user)) p.groups = me->groups;
    return p;
  }

 private:
  std::string UsersPath() const { return PathJoin(state_dir_, "users.yaml"); }

  static const UserEntry* Find(const std::vector<UserEntry>& users, const std::string& name) {
    auto it = std::find_if(users.begin(), users.end(),
                           [&](const UserEntry& u) { return u.name == name; });
    return it == users.end() ? nullptr : &*it;
  }

  Error NotListed(const std::string& name, const std::vector<UserEntry>& users) const {
    std::vector<std::string> names;
    for (const auto& u : users) names.push_back(u.name);
    return Error(ErrorCode::kInvalidInput, fmt::format("user {} is not in {}{}", Quote(name),
                                                       UsersPath(), DidYouMean(name, names)));
  }

  // The users file, when there is one it is trusted; empty when there is none.
  Result<std::vector<UserEntry>> ReadUsers() const {
    FileSystem& files = env_.files();
    std::string path = UsersPath();
    FileInfo folder = files.Stat(state_dir_);
    // In a folder others may write, only the sticky bit keeps them from removing or replacing
    // what they do not own: users.yaml (and with it its groups) or STATE/policies/.
    if (folder.exists && (folder.mode & 022) != 0 && (folder.mode & 01000) == 0) {
      return Fail(ErrorCode::kInvalidInput,
                  "the state folder {} is writable by its group or others but not sticky: they "
                  "could remove users.yaml or policies/; run chmod +t {} (docs/security.md)",
                  state_dir_, state_dir_);
    }
    FileInfo f = files.StatNoFollow(path);
    if (!f.exists) return std::vector<UserEntry>();
    if (f.is_link || f.is_dir || f.uid != folder.uid || (f.mode & 022) != 0) {
      return Fail(ErrorCode::kInvalidInput,
                  "{} is not trusted: it must be a regular file owned by the state folder's owner "
                  "(uid {}) and writable by no one else (it is {}uid {}, mode {:04o}); fix it "
                  "with chown and chmod 644",
                  path, folder.uid, f.is_link ? "a symbolic link, " : f.is_dir ? "a folder, " : "",
                  f.uid, f.mode);
    }
    auto text = files.ReadFile(path);
    if (!text) return std::unexpected(text.error());
    return ParseUsers(*text, path);
  }

  Env& env_;
  std::string state_dir_;
  std::string as_;
};

// Identity::Current of a token's user (NewTokenIdentity).
class TokenIdentity : public Identity {
 public:
  TokenIdentity(Env& env, const std::string& state_dir, std::string user)
      : users_(env, state_dir, ""), user_(std::move(user)) {}
  Result<Principal> Current() const override { return users_.ForToken(user_); }

 private:
  EmbeddedIdentity users_;
  std::string user_;
};

}  // namespace

bool IsPlainName(std::string_view name) {
  if (name.empty() || name.size() > 64 || StartsWith(name, "group:")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '@';
  });
}

std::unique_ptr<Identity> NewTokenIdentity(Env& env, const std::string& state_dir,
                                           const std::string& user) {
  return std::make_unique<TokenIdentity>(env, state_dir, user);
}

std::unique_ptr<Identity> NewEmbeddedIdentity(Env& env, const std::string& state_dir,
                                              const std::string& as) {
  return std::make_unique<EmbeddedIdentity>(env, state_dir, as);
}

ArgoImportOptions WithActingApprover(Env& env, const std::string& state_dir, const std::string& as,
                                     ArgoImportOptions argo) {
  if (auto who = NewEmbeddedIdentity(env, state_dir, as)->Current()) argo.default_approver = who->name;
  return argo;
}

}  // namespace sluice
