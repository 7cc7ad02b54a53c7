#include "cli/identity.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "spec/yaml_tree.h"

namespace sluice {

namespace {

std::string LoginName() {
  if (const char* user = std::getenv("USER"); user && *user) return user;
  if (const struct passwd* pw = getpwuid(getuid()); pw && pw->pw_name) return pw->pw_name;
  return "";
}

class EmbeddedIdentity : public Identity {
 public:
  EmbeddedIdentity(std::string state_dir, std::string as)
      : state_dir_(std::move(state_dir)), as_(std::move(as)) {}

  Result<Principal> Current() const override {
    Principal p;
    const char* env_user = std::getenv("SLUICE_USER");
    p.name = !as_.empty() ? as_ : env_user && *env_user ? env_user : LoginName();
    if (p.name.empty()) {
      return Fail(ErrorCode::kInvalidInput, "who are you? pass --as USER or set SLUICE_USER");
    }
    std::string path = state_dir_ + "/users.yaml";
    std::ifstream in(path);
    if (!in) return p;  // no users file: any name, no groups
    std::stringstream text;
    text << in.rdbuf();
    auto tree = YamlTree::Parse(text.str());
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
  std::string state_dir_;
  std::string as_;
};

}  // namespace

std::unique_ptr<Identity> NewEmbeddedIdentity(const std::string& state_dir, const std::string& as) {
  return std::make_unique<EmbeddedIdentity>(state_dir, as);
}

}  // namespace sluice
