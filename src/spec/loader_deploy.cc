// Reading a deploy task's body (model.h DeploySpec; docs/rollouts.md): the environment, the
// model, and the strategy, checked here key by key so that every mistake is FILE:LINE:COL before
// a run exists. The strategy is kept as a Value with durations in milliseconds: the rollout
// process reads that, never the YAML.
#include "spec/plan.h"
#include "spec/yaml_reader.h"

namespace sluice {

namespace {

constexpr int64_t kArgoScaleDownDelayMs = 30'000;  // Argo Rollouts' scaleDownDelaySeconds

// scaleDownDelay and abortScaleDownDelay, with their defaults, into `out` (in ms).
Status Delays(const Reader& r, const YNode& n, int64_t abort_default, ValueMap* out) {
  int64_t scale_down = kArgoScaleDownDelayMs, abort_down = abort_default;
  if (n["scaleDownDelay"]) {
    SLUICE_TRY(ms, r.Delay(n["scaleDownDelay"], "scaleDownDelay"));
    scale_down = *ms;
  }
  if (n["abortScaleDownDelay"]) {
    SLUICE_TRY(ms, r.Delay(n["abortScaleDownDelay"], "abortScaleDownDelay"));
    abort_down = *ms;
  }
  out->emplace_back("scaleDownDelayMs", Value(scale_down));
  out->emplace_back("abortScaleDownDelayMs", Value(abort_down));
  return {};
}

// {templates: [NAME...], args: {NAME: TEXT}}: an analysis a strategy runs. The template names
// are collected for admission, which checks them against STATE/environments.
Result<Value> Analysis(const Reader& r, const YNode& n, std::string_view what, bool background,
                       DeploySpec* d) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, what));
  if (background) {
    SLUICE_TRY_STATUS(r.CheckKeys(n, {"templates", "args", "startingStep"}, what));
  } else {
    SLUICE_TRY_STATUS(r.CheckKeys(n, {"templates", "args"}, what));
  }
  if (!n["templates"]) return FailAt(r.Loc(n), "{} needs templates: AnalysisTemplate names", what);
  SLUICE_TRY_STATUS(r.ExpectList(n["templates"], "templates"));
  ValueList names;
  for (const auto& t : n["templates"]) {
    SLUICE_TRY(name, r.Name(t, "an AnalysisTemplate name"));
    d->templates.emplace_back(*name, r.Loc(t));
    names.push_back(Value(*name));
  }
  if (names.empty()) return FailAt(r.Loc(n["templates"]), "{} needs at least one template", what);
  ValueMap out{{"templates", Value(std::move(names))}};
  ValueMap args;
  if (const YNode& a = n["args"]) {
    SLUICE_TRY_STATUS(r.ExpectMap(a, "args"));
    for (const auto& e : a) {
      const YNode& k = e.first;
      const YNode& v = e.second;
      SLUICE_TRY(key, r.Name(k, "an arg name"));
      if (!v.IsScalar()) return FailAt(r.Loc(v), "an analysis arg is text, number or bool");
      args.emplace_back(*key, Value(std::string(v.Scalar())));
    }
  }
  out.emplace_back("args", Value(std::move(args)));
  if (background) {
    int64_t start = 0;
    if (n["startingStep"]) {
      SLUICE_TRY(s, r.Int(n["startingStep"], "startingStep", 0, 1000));
      start = *s;
    }
    out.emplace_back("startingStep", Value(start));
  }
  return Value(std::move(out));
}

Result<Value> CanaryStep(const Reader& r, const YNode& n, DeploySpec* d) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "a canary step"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"setWeight", "pause", "analysis"}, "a canary step"));
  if (n.size() != 1) {
    return FailAt(r.Loc(n), "a canary step is one of setWeight, pause or analysis");
  }
  if (n["setWeight"]) {
    SLUICE_TRY(w, r.Int(n["setWeight"], "setWeight", 0, 100));
    return Value(ValueMap{{"setWeight", Value(*w)}});
  }
  if (const YNode& p = n["pause"]) {
    SLUICE_TRY_STATUS(r.ExpectMap(p, "pause"));
    SLUICE_TRY_STATUS(r.CheckKeys(p, {"duration"}, "pause"));
    ValueMap pause;  // {}: until a person promotes it
    if (p["duration"]) {
      SLUICE_TRY(ms, r.Duration(p["duration"], "pause.duration"));
      pause.emplace_back("durationMs", Value(*ms));
    }
    return Value(ValueMap{{"pause", Value(std::move(pause))}});
  }
  SLUICE_TRY(a, Analysis(r, n["analysis"], "a canary step's analysis", false, d));
  return Value(ValueMap{{"analysis", std::move(*a)}});
}

Result<Value> Canary(const Reader& r, const YNode& n, DeploySpec* d) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "canary"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"steps", "analysis", "scaleDownDelay", "abortScaleDownDelay",
                                    "maxWeight"}, "canary"));
  if (!n["steps"]) return FailAt(r.Loc(n), "canary needs steps");
  SLUICE_TRY_STATUS(r.ExpectList(n["steps"], "steps"));
  ValueList steps;
  int64_t max_weight = 100;
  if (n["maxWeight"]) {
    SLUICE_TRY(m, r.Int(n["maxWeight"], "maxWeight", 1, 100));
    max_weight = *m;
  }
  for (const auto& s : n["steps"]) {
    SLUICE_TRY(step, CanaryStep(r, s, d));
    if (const Value* w = step->Find("setWeight"); w && w->as_int() > max_weight && w->as_int() < 100) {
      return FailAt(r.Loc(s), "setWeight {} is above maxWeight {}", w->as_int(), max_weight);
    }
    steps.push_back(std::move(*step));
  }
  if (steps.empty()) return FailAt(r.Loc(n["steps"]), "canary needs at least one step");
  ValueMap out{{"steps", Value(std::move(steps))}};
  if (n["analysis"]) {
    SLUICE_TRY(a, Analysis(r, n["analysis"], "canary.analysis", true, d));
    out.emplace_back("analysis", std::move(*a));
  }
  SLUICE_TRY_STATUS(Delays(r, n, kArgoScaleDownDelayMs, &out));
  return Value(ValueMap{{"canary", Value(std::move(out))}});
}

Result<Value> BlueGreen(const Reader& r, const YNode& n, DeploySpec* d) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "blueGreen"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"autoPromotionEnabled", "prePromotionAnalysis",
                                    "postPromotionAnalysis", "scaleDownDelay",
                                    "abortScaleDownDelay"}, "blueGreen"));
  ValueMap out;
  bool auto_promote = true;
  if (n["autoPromotionEnabled"]) {
    SLUICE_TRY(b, r.Bool(n["autoPromotionEnabled"], "autoPromotionEnabled"));
    auto_promote = *b;
  }
  out.emplace_back("autoPromotionEnabled", Value(auto_promote));
  for (const char* key : {"prePromotionAnalysis", "postPromotionAnalysis"}) {
    if (!n[key]) continue;
    SLUICE_TRY(a, Analysis(r, n[key], key, false, d));
    out.emplace_back(key, std::move(*a));
  }
  SLUICE_TRY_STATUS(Delays(r, n, 0, &out));  // the old version is still up: an abort is instant
  return Value(ValueMap{{"blueGreen", Value(std::move(out))}});
}

}  // namespace

Status Reader::DeployBody(const YNode& n, Body* body) const {
  SLUICE_TRY_STATUS(ExpectMap(n, "deploy"));
  SLUICE_TRY_STATUS(CheckKeys(n, {"environment", "model", "version", "strategy", "args",
                                  "supersede"}, "deploy"));
  if (!n["environment"] || !n["model"] || !n["strategy"]) {
    return FailAt(Loc(n), "deploy needs environment, model (the model file's path) and strategy "
                  "(canary or blueGreen)");
  }
  auto d = std::make_shared<DeploySpec>();
  d->loc = Loc(n);
  SLUICE_TRY(env, Name(n["environment"], "deploy.environment"));
  d->environment = *env;
  d->environment_loc = Loc(n["environment"]);
  SLUICE_TRY(model, Field(n["model"], "deploy.model", false));
  d->model = std::move(*model);
  if (n["version"]) {
    SLUICE_TRY(v, Field(n["version"], "deploy.version", false));
    d->version = std::make_unique<TemplateField>(std::move(*v));
  }
  if (const YNode& a = n["args"]) {
    SLUICE_TRY_STATUS(ExpectMap(a, "deploy.args"));
    for (const auto& e : a) {
      const YNode& k = e.first;
      const YNode& v = e.second;
      SLUICE_TRY(key, Name(k, "an arg name"));
      SLUICE_TRY(f, Field(v, "a deploy arg", false));
      d->args.emplace_back(*key, std::move(*f));
    }
  }
  if (n["supersede"]) {
    SLUICE_TRY(b, Bool(n["supersede"], "supersede"));
    d->supersede = *b;
  }
  const YNode& s = n["strategy"];
  SLUICE_TRY_STATUS(ExpectMap(s, "strategy"));
  SLUICE_TRY_STATUS(CheckKeys(s, {"canary", "blueGreen"}, "strategy"));
  if (static_cast<bool>(s["canary"]) == static_cast<bool>(s["blueGreen"])) {
    return FailAt(Loc(s), "strategy is canary or blueGreen (one of them)");
  }
  SLUICE_TRY(strategy, s["canary"] ? Canary(*this, s["canary"], d.get())
                                   : BlueGreen(*this, s["blueGreen"], d.get()));
  d->strategy = std::move(*strategy);
  body->kind = Body::Kind::kBuiltin;
  body->text = "deploy";
  body->loc = Loc(n);
  body->MutableExtra().deploy = std::move(d);
  return {};
}

Status DeployDefaults(const TaskSpec& t, PlanTask* pt) {
  const TaskOptions& o = t.opts();
  if (o.placement.executor && *o.placement.executor != ExecutorKind::kLocal) {
    return FailAt(t.loc, "deploy task {} runs beside the engine; remove executor: {}",
                  Quote(t.name), *o.placement.executor == ExecutorKind::kWorker ? "worker" : "slurm");
  }
  static const RetryPolicy kLostOnly = [] {
    RetryPolicy r;
    r.limit = 3;
    r.initial_ms = 200;
    r.on = {ErrorMatch{ErrorClass::kLost, -1}};
    return r;
  }();
  if (o.resources.set) {
    return FailAt(t.loc, "deploy task {} takes no resources: its rollout runs beside the engine "
                  "and its model servers in the environment's slots", Quote(t.name));
  }
  static const Resources kNone;
  pt->retry = t.retry() ? t.retry() : &kLostOnly;
  pt->resources = &kNone;
  pt->timeout_ms = o.timeout_ms.value_or(0);
  pt->deadline_ms = o.deadline_ms.value_or(0);
  pt->cache = CacheSpec{};
  return {};
}

}  // namespace sluice
