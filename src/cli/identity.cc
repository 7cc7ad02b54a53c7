#include "cli/identity.h"

#include "common/strings.h"
#include "spec/yaml_tree.h"

namespace sluice {

namespace {

// A variable that is set and not empty.
std::optional<std::string> NonEmptyVar(Env& env, const std::string& name) {
  auto value = env.GetVar(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

std::string LoginName(Env& env) {
  if (auto user = NonEmptyVar(env, "USER")) return *user;
  return env.UserName();
}

class EmbeddedIdentity : public Identity {
 public:
  EmbeddedIdentity(Env& env, std::string state_dir, std::string as)
      : env_(env), state_dir_(std::move(state_dir)), as_(std::move(as)) {}

  Result<Principal> Current() const override {
    Principal p;
    auto env_user = NonEmptyVar(env_, "SLUICE_USER");
    p.name = !as_.empty() ? as_ : env_user ? *env_user : LoginName(env_);
    if (p.name.empty()) {
      return Fail(ErrorCode::kInvalidInput, "who are you? pass --as USER or set SLUICE_USER");
    }
    std::string path = state_dir_ + "/users.yaml";
    FileSystem& files = env_.files();
    auto text = files.ReadFile(path);
    if (!text) {
      // No users file (or one this user cannot read): any name, no groups. A folder in its
      // place reads as empty, which is refused below.
      if (!files.Stat(path).is_dir) return p;
      text = std::string();
    }
    auto tree = YamlTree::Parse(*text);
    if (!tree) return Fail(ErrorCode::kInvalidInput, "{}:{}", path, tree.error().message);
    auto bad = [&](const YNode& n, std::string_view why) {
      return Fail(ErrorCode::kInvalidInput, "{}:{}:{}: {}", path, n.Mark().line + 1,
                  n.Mark().column + 1, why);
    };
    if ((*tree)->documents().empty()) return bad(YNode(), "empty users file");
    const YNode& doc = (*tree)->documents()[0];
    const YNode users = doc.IsMap() ? doc["users"] : YNode();
    if (!users.IsSequence()) return bad(doc, "users.yaml holds `users:`, a list of {name, groups}");
    std::vector<std::string> names;
    for (const auto& u : users) {
      const YNode name = u.IsMap() ? u["name"] : YNode();
      if (!name.IsScalar()) return bad(u, "a user needs a name");
      names.emplace_back(name.Scalar());
      if (name.Scalar() != p.name) continue;
      const YNode groups = u["groups"];
      if (groups.IsSequence()) {
        for (const auto& g : groups) {
          if (!g.IsScalar()) return bad(g, "a group is a name");
          p.groups.emplace_back(g.Scalar());
        }
      } else if (groups.type() != YNode::Type::kUndefined) {
        return bad(groups, "groups is a list of names");
      }
      return p;
    }
    return Fail(ErrorCode::kInvalidInput, "user {} is not in {}{}", Quote(p.name), path,
                DidYouMean(p.name, names));
  }

 private:
  Env& env_;
  std::string state_dir_;
  std::string as_;
};

}  // namespace

std::unique_ptr<Identity> NewEmbeddedIdentity(Env& env, const std::string& state_dir,
                                              const std::string& as) {
  return std::make_unique<EmbeddedIdentity>(env, state_dir, as);
}

}  // namespace sluice
