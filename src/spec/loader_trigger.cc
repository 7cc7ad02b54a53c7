// Reading `kind: Trigger` documents (trigger_spec.h), with the loader's Reader: unknown keys,
// wrong types, bad expressions and expressions that read anything but the request fail at
// FILE:LINE:COL.
#include <filesystem>
#include <set>

#include "common/strings.h"
#include "expr/expr.h"
#include "spec/trigger_spec.h"
#include "spec/yaml_reader.h"

namespace sluice {

namespace {

// Every placeholder of `f` reads only the request: body and headers.
Status ReadsOnlyTheRequest(const TemplateField& f, std::string_view what) {
  if (f.literal) return {};
  for (const auto& piece : f.tmpl.pieces()) {
    if (!piece.expr) continue;
    for (const Reference& ref : piece.expr->references()) {
      const std::string& root = ref.path.front();
      if (root == kTriggerVariables[0] || root == kTriggerVariables[1]) continue;
      std::vector<std::string> names(std::begin(kTriggerVariables), std::end(kTriggerVariables));
      Location at = f.loc;
      return FailAt(at, "in {}: {} is not known here: a trigger's expressions read the request, "
                    "body and headers{}", what, Quote(root), DidYouMean(root, names));
    }
  }
  return {};
}

Status ReadTriggerParams(const Reader& r, const YNode& ps, TriggerSpec* t) {
  SLUICE_TRY_STATUS(r.ExpectMap(ps, "params"));
  std::set<std::string_view> seen;  // any name goes here: the pipeline's declarations decide
  for (auto it = ps.begin(); it != ps.end(); ++it) {
    if (!it->first.IsScalar()) return FailAt(r.Loc(it->first), "keys must be param names");
    if (!seen.insert(it->first.Scalar()).second) {
      return FailAt(r.Loc(it->first), "param {} is given twice", Quote(it->first.Scalar()));
    }
    TriggerParam p;
    p.name = std::string(it->first.Scalar());
    const std::string what = "param " + Quote(p.name);
    SLUICE_TRY(f, r.Field(it->second, what, true));
    SLUICE_TRY_STATUS(ReadsOnlyTheRequest(*f, what));
    p.value = std::move(*f);
    t->params.push_back(std::move(p));
  }
  return {};
}

Status ReadWhen(const Reader& r, const YNode& n, TriggerSpec* t) {
  SLUICE_TRY(f, r.Field(n, "when", true));
  if (f->literal || !f->tmpl.has_placeholders()) {
    return FailAt(f->loc, "when must be a condition inside ${{{{ }}}}, e.g. "
                  "\"${{{{ headers['x-github-event'] == 'push' }}}}\"");
  }
  SLUICE_TRY_STATUS(ReadsOnlyTheRequest(*f, "when"));
  t->when = std::make_shared<const TemplateField>(std::move(*f));
  return {};
}

}  // namespace

std::string TriggerSpec::PipelinePath() const {
  std::filesystem::path p = pipeline.starts_with('/') ? pipeline : PathJoin(Dirname(file), pipeline);
  return p.lexically_normal().string();
}

Result<TriggerSpec> ReadTrigger(const Reader& r, const YNode& doc) {
  TriggerSpec t;
  t.file = r.file();
  SLUICE_TRY_STATUS(r.KindMetadata(doc["metadata"], "trigger name", &t.name, &t.loc,
                                    &t.description, &t.labels));
  const auto& spec = doc["spec"];
  SLUICE_TRY_STATUS(r.CheckKeys(spec, {"pipeline", "params", "when", "signature"},
                                "a Trigger spec"));
  if (!spec["pipeline"]) {
    return FailAt(r.Loc(spec), "a Trigger needs pipeline (a pipeline file, relative to this file)");
  }
  SLUICE_TRY(pipeline, r.Str(spec["pipeline"], "pipeline"));
  if (Trim(*pipeline).empty()) return FailAt(r.Loc(spec["pipeline"]), "pipeline is an empty path");
  t.pipeline = *pipeline;
  t.pipeline_loc = r.Loc(spec["pipeline"]);
  if (const auto& ps = spec["params"]) SLUICE_TRY_STATUS(ReadTriggerParams(r, ps, &t));
  if (const auto& w = spec["when"]) SLUICE_TRY_STATUS(ReadWhen(r, w, &t));
  if (const auto& sig = spec["signature"]) {
    SLUICE_TRY(v, r.Str(sig, "signature"));
    static const std::vector<std::string> kKinds = {"github", "gitlab"};
    if (*v != kKinds[0] && *v != kKinds[1]) {
      return FailAt(r.Loc(sig), "signature must be github (X-Hub-Signature-256) or gitlab "
                    "(X-Gitlab-Token), not {}{}", Quote(*v), DidYouMean(*v, kKinds));
    }
    t.signature = *v;
  }
  return t;
}

}  // namespace sluice
