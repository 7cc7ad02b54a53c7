// Policies outside a pipeline (`--policies DIR`, and the state folder's central policies in
// STATE/policies/ with their trust check), and the reference check of every policy.
#include <algorithm>

#include "common/strings.h"
#include "expr/check.h"
#include "expr/expr.h"
#include "spec/loader.h"
#include "spec/plan.h"

namespace sluice {

namespace {

// Reads the Policy and Waiver documents of `files`, marked with `origin`. A policy's name is
// unique in the set.
Result<PolicySet> LoadPolicyFiles(FileSystem& fs, const std::vector<std::string>& files,
                                  PolicyOrigin origin) {
  PolicySet set;
  LoadBudget budget;
  for (const auto& f : files) {
    SLUICE_TRY(content, budget.Read(fs, f));
    SLUICE_TRY(file, ParseSpecFile(f, *content, &budget));
    if (!file->pipelines.empty() || !file->components.empty() || !file->breakers.empty() ||
        !file->schedules.empty() || !file->triggers.empty()) {
      return Fail(ErrorCode::kInvalidInput, "{}: a policies folder holds only Policy and Waiver "
                  "documents", f);
    }
    for (auto& p : file->policies) {
      for (const auto& other : set.policies) {
        if (other->name == p.name) {
          return FailAt(p.loc, "policy {} is declared twice (also at {})", Quote(p.name),
                        other->loc.ToString());
        }
      }
      SLUICE_TRY_STATUS(CheckPolicyReferences(p));
      p.origin = origin;
      set.policies.push_back(std::make_shared<const PolicySpec>(std::move(p)));
    }
    for (auto& w : file->waivers) {
      w.origin = origin;
      set.waivers.push_back(std::make_shared<const WaiverSpec>(std::move(w)));
    }
  }
  return set;
}

bool IsYamlName(const std::string& n) { return n.ends_with(".yaml") || n.ends_with(".yml"); }

}  // namespace

Result<PolicySet> LoadPolicies(FileSystem& fs, const std::string& raw, PolicyOrigin origin) {
  std::string path = fs.Absolute(raw);
  FileInfo info = fs.Stat(path);
  if (!info.exists) return Fail(ErrorCode::kInvalidInput, "{}: no such file or folder", path);
  std::vector<std::string> files;
  if (info.is_dir) {
    SLUICE_TRY(names, fs.ListDir(path));
    for (const auto& n : *names) {
      if (IsYamlName(n) && !fs.Stat(PathJoin(path, n)).is_dir) files.push_back(PathJoin(path, n));
    }
  } else {
    files.push_back(path);
  }
  return LoadPolicyFiles(fs, files, origin);
}

// The rule users.yaml follows: `info` (of `path`, not following a link) is a regular file (a
// folder when `folder`) owned by `owner_uid` and writable by no one else.
Status CheckTrusted(const std::string& path, const FileInfo& info, int64_t owner_uid,
                    bool folder, std::string_view what) {
  if (!info.is_link && info.is_dir == folder && info.uid == owner_uid && (info.mode & 022) == 0) {
    return {};
  }
  std::string is = info.is_link ? "a symbolic link, "
                   : info.is_dir != folder ? (info.is_dir ? "a folder, " : "a file, ")
                                           : "";
  return Fail(ErrorCode::kInvalidInput,
              "{} is not trusted: {} must be a {} owned by the state folder's owner "
              "(uid {}) and writable by no one else (it is {}uid {}, mode {:04o}); no run is "
              "admitted until it is fixed (chown, and chmod {})",
              path, what, folder ? "folder" : "regular file", owner_uid, is, info.uid, info.mode,
              folder ? "755" : "644");
}

Result<std::vector<std::string>> TrustedYamlFiles(FileSystem& fs, const std::string& state_dir,
                                                  const std::string& folder_name,
                                                  std::string_view what) {
  std::string dir = fs.Absolute(PathJoin(state_dir, folder_name));
  FileInfo folder = fs.StatNoFollow(dir);
  if (!folder.exists) return std::vector<std::string>{};
  const int64_t owner = fs.Stat(state_dir).uid;
  SLUICE_TRY_STATUS(CheckTrusted(dir, folder, owner, true, what));
  SLUICE_TRY(names, fs.ListDir(dir));
  std::vector<std::string> files;
  for (const auto& n : *names) {
    if (!IsYamlName(n)) continue;
    std::string f = PathJoin(dir, n);
    SLUICE_TRY_STATUS(CheckTrusted(f, fs.StatNoFollow(f), owner, false, what));
    files.push_back(f);
  }
  return files;
}

Result<PolicySet> LoadCentralPolicies(FileSystem& fs, const std::string& state_dir) {
  SLUICE_TRY(files, TrustedYamlFiles(fs, state_dir, "policies", "central policies"));
  return LoadPolicyFiles(fs, *files, PolicyOrigin::kCentral);
}

namespace {

using ShapePtr = std::shared_ptr<const Shape>;
using Fields = std::vector<std::pair<std::string, ShapePtr>>;

ShapePtr Object(std::string name, Fields fields) {
  return std::make_shared<const Shape>(Shape{Shape::Kind::kObject, std::move(name), std::move(fields), nullptr});
}
ShapePtr ListOf(ShapePtr item) {
  return std::make_shared<const Shape>(Shape{Shape::Kind::kList, "a list", {}, std::move(item)});
}
ShapePtr DictOf(ShapePtr value) {
  return std::make_shared<const Shape>(Shape{Shape::Kind::kDict, "a map", {}, std::move(value)});
}

// The admission input's shape: AdmissionInput (src/policy) builds it; docs/governance.md shows it.
const Shape& AdmissionShape() {
  static const ShapePtr kShape = [] {
    ShapePtr task = Object("a task of object.tasks", Fields{
        {"name", nullptr}, {"template", nullptr}, {"finally", nullptr}, {"kind", nullptr},
        {"uses", nullptr}, {"argoSubstitution", nullptr},
        {"component", Object("a task's component", Fields{{"name", nullptr}, {"version", nullptr}})},
        {"retry", Object("a task's retry", Fields{{"limit", nullptr}})},
        {"timeout", nullptr}, {"deadline", nullptr},
        {"resources", Object("a task's resources", Fields{{"cpu", nullptr}, {"memory", nullptr},
                                                          {"gpu", nullptr}})},
        {"cache", nullptr}, {"breaker", nullptr}, {"forEach", nullptr},
        {"handlers", Object("a task's handlers", Fields{{"catch", nullptr}, {"fallback", nullptr},
                                                        {"compensate", nullptr}})},
        {"gate", nullptr}, {"needs", ListOf(nullptr)},
        {"approval", Object("a task's approval", Fields{{"approvers", ListOf(nullptr)},
                                                        {"quorum", nullptr},
                                                        {"forbidSelfApproval", nullptr},
                                                        {"timeout", nullptr}})},
        {"when", nullptr}});
    return Object("an admission policy's object",
                  Fields{{"name", nullptr}, {"labels", DictOf(nullptr)}, {"params", DictOf(nullptr)},
                         {"tasks", ListOf(task)}, {"file", nullptr}});
  }();
  return *kShape;
}

// The fields a gate's and a promotion's input share: the task, its pipeline, and what its
// upstream tasks produced.
Fields TaskInputFields() {
  ShapePtr artifact = Object("an artifact", Fields{{"path", nullptr}, {"digest", nullptr},
                                                   {"size", nullptr}});
  ShapePtr upstream = Object("an upstream task of object.tasks", Fields{
      {"state", nullptr},
      {"outputs", Object("a task's outputs", Fields{{"params", DictOf(nullptr)},
                                                    {"artifacts", DictOf(artifact)}})}});
  return Fields{{"task", nullptr}, {"pipeline", nullptr}, {"labels", DictOf(nullptr)},
                {"params", DictOf(nullptr)}, {"tasks", DictOf(upstream)}};
}

// The gate input's shape: Decider::GateInput (src/engine) builds it.
const Shape& GateShape() {
  static const ShapePtr kShape = Object("a gate policy's object", TaskInputFields());
  return *kShape;
}

// The promotion input's shape: Decider::PromotionInput (src/engine) builds it.
const Shape& PromotionShape() {
  static const ShapePtr kShape = [] {
    Fields fields = TaskInputFields();
    fields.emplace_back("environment", nullptr);
    fields.emplace_back("model", Object("object.model", Fields{{"path", nullptr},
                                                              {"digest", nullptr},
                                                              {"size", nullptr},
                                                              {"version", nullptr}}));
    fields.emplace_back("releases", ListOf(Object("a release of object.releases", Fields{
        {"environment", nullptr}, {"slot", nullptr}, {"version", nullptr}, {"digest", nullptr},
        {"run", nullptr}, {"task", nullptr}, {"promotedBy", nullptr}, {"since", nullptr},
        {"until", nullptr}, {"live", nullptr}, {"soak", nullptr}})));
    return Object("a promotion policy's object", std::move(fields));
  }();
  return *kShape;
}

// CheckShape's "column N: MESSAGE" as a policy error: "MESSAGE (in the expression, column N)".
std::unexpected<Error> ShapeError(const Location& loc, const std::string& message) {
  std::string_view m = message;
  std::string column;
  if (StartsWith(m, "column ")) {
    size_t colon = m.find(": ");
    if (colon != std::string_view::npos) {
      column = std::string(m.substr(7, colon - 7));
      m.remove_prefix(colon + 2);
    }
  }
  return FailAt(loc, "{} (in the expression, column {})", m, column);
}

}  // namespace

Status CheckPolicyReferences(const PolicySpec& p) {
  const Shape& shape = p.stage == "gate"        ? GateShape()
                       : p.stage == "promotion" ? PromotionShape()
                                                : AdmissionShape();
  std::vector<std::string> variables;
  auto check = [&](const Expression& e, const Location& loc) -> Status {
    for (const auto& ref : e.references()) {
      const std::string& root = ref.path[0];
      auto fail = [&](std::string msg) {
        return FailAt(loc, "{} (in the expression, column {})", msg, ref.column);
      };
      if (root == "object") continue;  // its fields: CheckShape, below
      if (root == "variables") {
        if (ref.path.size() >= 2 &&
            std::find(variables.begin(), variables.end(), ref.path[1]) == variables.end()) {
          return fail(fmt::format("unknown variable {}{}", Quote(ref.path[1]),
                                  DidYouMean(ref.path[1], variables)));
        }
      } else {
        static const std::vector<std::string> kTypeNames = {
            "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type",
            "type", "google"};
        if (std::find(kTypeNames.begin(), kTypeNames.end(), root) != kTypeNames.end()) continue;
        static const std::vector<std::string> kRoots = {"object", "variables"};
        return fail(fmt::format("unknown name {}: policy expressions see object and variables{}",
                                Quote(root), DidYouMean(root, kRoots)));
      }
    }
    // Fields the input can never have, at any depth (object.tasks.all(t, t.aproval != null)):
    // an error now rather than a denial of every run.
    if (auto s = CheckShape(e, "object", shape); !s) {
      return ShapeError(loc, s.error().message);
    }
    return {};
  };
  for (const auto& v : p.variables) {
    SLUICE_TRY_STATUS(check(*v.expr, v.loc));
    variables.push_back(v.name);  // a variable sees the ones before it
  }
  for (const auto& r : p.rules) {
    SLUICE_TRY_STATUS(check(*r.expr, r.loc));
    if (r.message_expr) SLUICE_TRY_STATUS(check(*r.message_expr, r.loc));
  }
  return {};
}

}  // namespace sluice
