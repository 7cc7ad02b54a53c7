// Policies outside a pipeline (`--policies DIR`), and the reference check of every policy.
#include <algorithm>

#include "common/strings.h"
#include "spec/loader.h"
#include "spec/plan.h"

namespace sluice {

Result<PolicySet> LoadPolicies(FileSystem& fs, const std::string& raw) {
  std::string path = fs.Absolute(raw);
  FileInfo info = fs.Stat(path);
  if (!info.exists) return Fail(ErrorCode::kInvalidInput, "{}: no such file or folder", path);
  std::vector<std::string> files;
  if (info.is_dir) {
    SLUICE_TRY(names, fs.ListDir(path));
    for (const auto& n : *names) {
      if ((n.ends_with(".yaml") || n.ends_with(".yml")) && !fs.Stat(PathJoin(path, n)).is_dir) {
        files.push_back(PathJoin(path, n));
      }
    }
  } else {
    files.push_back(path);
  }
  PolicySet set;
  LoadBudget budget;
  for (const auto& f : files) {
    SLUICE_TRY(content, budget.Read(fs, f));
    SLUICE_TRY(file, ParseSpecFile(f, *content, &budget));
    if (!file->pipelines.empty() || !file->components.empty() || !file->breakers.empty()) {
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
      set.policies.push_back(std::make_shared<const PolicySpec>(std::move(p)));
    }
    for (auto& w : file->waivers) set.waivers.push_back(std::make_shared<const WaiverSpec>(std::move(w)));
  }
  return set;
}

Status CheckPolicyReferences(const PolicySpec& p) {
  static const std::vector<std::string> kAdmission = {"name", "labels", "params", "tasks", "file"};
  static const std::vector<std::string> kGate = {"task", "pipeline", "labels", "params", "tasks"};
  const auto& fields = p.stage == "gate" ? kGate : kAdmission;
  std::vector<std::string> variables;
  auto check = [&](const Expression& e, const Location& loc) -> Status {
    for (const auto& ref : e.references()) {
      const std::string& root = ref.path[0];
      auto fail = [&](std::string msg) {
        return FailAt(loc, "{} (in the expression, column {})", msg, ref.column);
      };
      if (root == "object") {
        if (ref.path.size() >= 2 &&
            std::find(fields.begin(), fields.end(), ref.path[1]) == fields.end()) {
          return fail(fmt::format("{} {} policy's object has no field {}; it has {}{}",
                                  p.stage == "admission" ? "an" : "a", p.stage,
                                  Quote(ref.path[1]), Join(fields, ", "),
                                  DidYouMean(ref.path[1], fields)));
        }
      } else if (root == "variables") {
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
