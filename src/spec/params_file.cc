#include "spec/params_file.h"

#include <algorithm>

#include "spec/yaml_reader.h"

namespace sluice {
namespace {

// The text -p would carry for value `n` of param `d`, or an error at `n`.
Result<std::string> ParamText(const Reader& r, const ParamDecl& d, const YNode& n) {
  if (d.type == ParamType::kString) {
    // A string param takes a scalar's text as written: `version: 1.10` stays "1.10".
    if (!n.IsScalar()) {
      return FailAt(r.Loc(n), "param {} must be a string, not {}", Quote(d.name), KindName(n));
    }
    return std::string(n.Scalar());
  }
  auto v = r.ToValue(n);
  if (!v) return std::unexpected(v.error());
  if (!ValueMatchesType(*v, d.type)) {
    return FailAt(r.Loc(n), "param {} must be {}, got {}", Quote(d.name), ParamTypeName(d.type),
                  Quote(v->is_string() ? v->as_string() : v->ToJson()));
  }
  return v->ToJson();
}

}  // namespace

Result<std::map<std::string, std::string>> ReadParamsFile(FileSystem& fs, const Plan& plan,
                                                          const std::string& path) {
  auto text = fs.ReadFile(path);
  if (!text) {
    return Fail(ErrorCode::kInvalidInput, "{}: cannot read the params file: {}", path,
                text.error().message);
  }
  Reader r(path);
  auto tree = YamlTree::Parse(*text);
  if (!tree) return Fail(ErrorCode::kInvalidInput, "{}:{}", path, tree.error().message);
  const auto& docs = (*tree)->documents();
  if (docs.size() > 1) {
    return FailAt(r.Loc(docs[1]), "a params file holds one map of param names to values, not "
                  "several documents");
  }
  std::map<std::string, std::string> out;
  if (docs.empty() || docs[0].IsNull()) return out;  // an empty file sets nothing
  const YNode& root = docs[0];
  if (!root.IsMap()) {
    return FailAt(r.Loc(root), "a params file must be a map of param names to values, not {}",
                  KindName(root));
  }
  std::vector<std::string> names;
  for (const auto& d : plan.pipeline->params) names.push_back(d.name);
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (!it->first.IsScalar()) return FailAt(r.Loc(it->first), "keys must be param names");
    std::string name(it->first.Scalar());
    auto d = std::find_if(plan.pipeline->params.begin(), plan.pipeline->params.end(),
                          [&](const ParamDecl& p) { return p.name == name; });
    if (d == plan.pipeline->params.end()) {
      return FailAt(r.Loc(it->first), "unknown param {}{}; pipeline {} declares: {}", Quote(name),
                    DidYouMean(name, names), plan.pipeline->name,
                    names.empty() ? "none" : Join(names, ", "));
    }
    if (out.count(name)) return FailAt(r.Loc(it->first), "param {} is given twice", Quote(name));
    auto value = ParamText(r, *d, it->second);
    if (!value) return std::unexpected(value.error());
    out.emplace(std::move(name), std::move(*value));
  }
  return out;
}

}  // namespace sluice
