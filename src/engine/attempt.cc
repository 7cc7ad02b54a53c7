#include "engine/attempt.h"

#include <algorithm>
#include <cmath>

#include "common/sha256.h"
#include "common/strings.h"
#include "env/env.h"
#include "schedule/schedule.h"

namespace sluice {

Result<Activation::Resolved> InstanceScope::Resolve(std::span<const std::string> path) const {
  const std::string& root = path[0];
  if (root == "params") {
    if (component_params_) return Resolved{*component_params_, 1};
    if (scope_ >= 0) {
      const ScopeState* ss = state_.scope_state(scope_);
      return Resolved{ss && ss->params ? *ss->params : Value(ValueMap{}), 1};
    }
    if (see_secret_params_ && ctx_.secrets) return Resolved{ctx_.secrets->params, 1};
    return Resolved{ctx_.params, 1};
  }
  if (root == "run") return ResolveRun(path);
  if (root == "schedule") {  // docs/schedules.md, "In expressions"
    return Resolved{ctx_.schedule.is_null() ? ScheduleValue(nullptr) : ctx_.schedule, 1};
  }
  if (root == "scope" && !component_params_) return ResolveScope(path);
  if (root == "error") return ResolveError();
  if (root == "task") {
    return Resolved{Value(ValueMap{{"name", Value(in_.name)},
                                   {"attempt", Value(static_cast<int64_t>(attempt_))}}),
                    1};
  }
  if (root == "component" && component_params_) {
    const ComponentSpec* c = state_.plan().tasks[in_.plan].component();
    return Resolved{Value(ValueMap{{"dir", Value(c ? c->dir : "")}}), 1};
  }
  if (root == "pipeline") {
    return Resolved{Value(ValueMap{{"dir", Value(Dirname(state_.plan().pipeline->file))}}), 1};
  }
  if (root == "item" && !component_params_) {
    if (!in_.item) return Fail(ErrorCode::kInvalidInput, "item is not defined here");
    return Resolved{*in_.item, 1};
  }
  if (root == "tasks" && !component_params_ && path.size() >= 4) return ResolveTasks(path);
  return Fail(ErrorCode::kInvalidInput, "unknown variable {}", Quote(Join(
      std::vector<std::string>(path.begin(), path.end()), ".")));
}

// Built per field: failedTasks and failures walk the instances, and run.id is read often.
Result<Activation::Resolved> InstanceScope::ResolveRun(std::span<const std::string> path) const {
  auto field = [&](std::string_view f) -> Value {
    if (f == "id") return Value(ctx_.run_id);
    if (f == "status") return Value(std::string(RunStatusName(state_.phase_status())));
    if (f == "duration") return Duration(state_.run_started_us());
    if (f == "started") {
      const int64_t us = state_.run_started_us();
      return Value(Timestamp{us / 1'000'000, static_cast<int32_t>(us % 1'000'000 * 1000)});
    }
    if (f == "failures") return Failures(-1);
    ValueList failed;
    for (int i = 0; i < state_.plan().num_main; ++i) {
      if (state_.at(i).state == TaskState::kFailed) failed.push_back(Value(state_.at(i).name));
    }
    return Value(std::move(failed));
  };
  static constexpr std::string_view kFields[] = {"id", "status", "failedTasks", "duration",
                                                 "failures", "started"};
  if (path.size() >= 2 && std::ranges::find(kFields, path[1]) != std::end(kFields)) {
    return Resolved{field(path[1]), 2};
  }
  ValueMap m;
  for (auto f : kFields) m.emplace_back(std::string(f), field(f));
  return Resolved{Value(std::move(m)), 1};
}

// scope.name, scope.duration, scope.failures, scope.depth: the template call it runs in, or
// the run outside any.
Result<Activation::Resolved> InstanceScope::ResolveScope(std::span<const std::string> path) const {
  const ScopeState* ss = scope_ >= 0 ? state_.scope_state(scope_) : nullptr;
  auto field = [&](std::string_view f) -> Value {
    if (f == "name") return Value(scope_ >= 0 ? state_.at(scope_).name : std::string());
    if (f == "duration") return Duration(ss ? ss->started_us : state_.run_started_us());
    if (f == "depth") return Value(static_cast<int64_t>(ss ? ss->depth : 0));
    return Failures(scope_);
  };
  static constexpr std::string_view kFields[] = {"name", "duration", "failures", "depth"};
  if (path.size() >= 2 && std::ranges::find(kFields, path[1]) != std::end(kFields)) {
    return Resolved{field(path[1]), 2};
  }
  ValueMap m;
  for (auto f : kFields) m.emplace_back(std::string(f), field(f));
  return Resolved{Value(std::move(m)), 1};
}

// The time from `since_us` to now, whole milliseconds (0 when either is unknown).
Value InstanceScope::Duration(int64_t since_us) const {
  const int64_t us = since_us > 0 && now_us_ > since_us ? (now_us_ - since_us) / 1000 * 1000 : 0;
  return Value(sluice::Duration{us / 1'000'000, static_cast<int32_t>(us % 1'000'000 * 1000)});
}

// Every task instance that failed inside `scope` (-1: the whole run), nested calls included:
// its name, error class, exit code or signal, and message. A forEach parent or a call that
// only speaks for what failed inside it is not listed again.
Value InstanceScope::Failures(int scope) const {
  ValueList out;
  for (int i = 0; i < state_.size(); ++i) {
    const Instance& in = state_.at(i);
    const PlanTask& t = state_.task_of(i);
    if (in.state != TaskState::kFailed || state_.retired(i) || state_.IsForEachParent(i) ||
        (t.tmpl() >= 0 && in.expanded) ||
        (t.role != TaskRole::kMain && t.role != TaskRole::kFinally)) {
      continue;
    }
    int s = in.scope;
    while (scope >= 0 && s >= 0 && s != scope) s = state_.at(s).scope;
    if (scope >= 0 && s != scope) continue;
    const Failure& f = in.last_failure();
    out.push_back(Value(ValueMap{{"task", Value(in.name)},
                                 {"class", Value(std::string(ErrorClassName(f.cls)))},
                                 {"exitCode", Value(static_cast<int64_t>(f.code))},
                                 {"message", Value(f.message)}}));
  }
  return Value(std::move(out));
}

// A handler sees its owner's failure; retry.when sees the instance's own.
Result<Activation::Resolved> InstanceScope::ResolveError() const {
  const Instance& who = in_.owner >= 0 ? state_.at(in_.owner) : in_;
  const Failure& f = who.last_failure();
  const bool exit = f.cls == ErrorClass::kExit, sig = f.cls == ErrorClass::kSignal;
  return Resolved{Value(ValueMap{{"class", Value(std::string(ErrorClassName(f.cls)))},
                                 {"exitCode", Value(static_cast<int64_t>(exit ? f.code : 0))},
                                 {"signal", Value(static_cast<int64_t>(sig ? f.code : 0))},
                                 {"message", Value(f.message)},
                                 {"task", Value(who.name)}}),
                  1};
}

// tasks.T.outputs.params as a whole (has(tasks.T.outputs.params.x) selects from it), or one
// output. A handler reading its owner's outputs reads its own instance's (a forEach item's).
Result<Activation::Resolved> InstanceScope::ResolveTasks(std::span<const std::string> path) const {
  const Instance* up = nullptr;
  const Plan& plan = state_.plan();
  if (scope_ == in_.scope && in_.owner >= 0 && state_.task_of(in_.owner).spec->name == path[1]) {
    up = &state_.at(in_.owner);
  } else if (const PlanTask* pt = plan.FindIn(
                 scope_ >= 0 ? state_.task_of(scope_).tmpl() : -1, path[1])) {
    if (int i = state_.InScope(scope_, pt->index); i >= 0) up = &state_.at(i);
  }
  if (!up) return Fail(ErrorCode::kInvalidInput, "no task {}", Quote(path[1]));
  if (path.size() == 4) {
    const Value* group = up->outputs.is_map() ? up->outputs.Find(path[3]) : nullptr;
    return Resolved{group ? *group : Value(ValueMap{}), 4};
  }
  if (!HasOutputs(up->state, up->outputs)) {
    return Fail(ErrorCode::kInvalidInput, "task {} has no outputs (it is {})", Quote(path[1]),
                TaskStateName(up->state));
  }
  const Value* group = up->outputs.is_map() ? up->outputs.Find(path[3]) : nullptr;
  const Value* v = group && group->is_map() ? group->Find(path[4]) : nullptr;
  if (!v) {
    return Fail(ErrorCode::kInvalidInput, "task {} did not produce output {}", Quote(path[1]),
                Quote(path[4]));
  }
  return Resolved{*v, 5};
}

Result<bool> EvaluateCondition(const TemplateField& cond, const RunState& state,
                               const RunContext& ctx, int instance, int attempt, int64_t now_us) {
  InstanceScope scope(state, ctx, instance, attempt, nullptr, now_us);
  auto v = cond.Evaluate(scope);
  if (!v) return std::unexpected(v.error());
  return AsCondition(*v);
}

namespace {

// The message when the value of env `name` holds a NUL: the task would get only what is before
// it, while a policy judged the whole value.
std::optional<std::string> NulInEnv(const std::string& name, const std::string& text) {
  if (text.find('\0') == std::string::npos) return std::nullopt;
  return fmt::format("env {} holds a NUL character (\\u0000): the task would get only the text "
                     "before it", name);
}


// A deterministic uniform number in [0, 1) for jitter, so replays and tests agree.
double UnitRandom(const std::string& seed) {
  std::string h = Sha256Hex(seed);
  uint64_t x = std::stoull(h.substr(0, 13), nullptr, 16);
  return static_cast<double>(x) / static_cast<double>(1ULL << 52);
}

// A component's params, as the plan bound them at compile time: values known then are used as
// they are; `with:` arguments with placeholders are evaluated and must give the declared type.
// Returns the message of the first that does not.
std::optional<std::string> BindComponentParams(const PlanTask& t, const InstanceScope& scope,
                                               Value* out) {
  ValueMap m;
  m.reserve(t.component_args().size());
  for (const ComponentArg& a : t.component_args()) {
    if (!a.field) {
      m.emplace_back(a.name, a.value);
      continue;
    }
    auto v = a.field->Evaluate(scope);
    if (!v) return fmt::format("with.{}: {}", a.name, v.error().message);
    Value val = std::move(*v);
    // Values pasted from text (an upstream output read as a string) may need reading.
    if (!ValueMatchesType(val, a.type) && val.is_string() && a.type != ParamType::kString) {
      if (auto parsed = ParseJson(val.as_string()); parsed) val = std::move(*parsed);
    }
    if (a.type == ParamType::kString && !val.is_string()) val = Value(val.ToText());
    if (!ValueMatchesType(val, a.type)) {
      return fmt::format("with.{}: component {} declares it {}, got {} {}", a.name,
                         t.component()->name, ParamTypeName(a.type), val.TypeName(),
                         Quote(val.ToText()));
    }
    m.emplace_back(a.name, std::move(val));
  }
  *out = Value(std::move(m));
  return std::nullopt;
}

// argv and env: a script runs under its shell; `run` arguments and env values are evaluated
// (a component's in its own scope; the task's env overrides its component's).
std::optional<std::string> AddEnvWithSecrets(const PlanTask& t, const InstanceScope& task_scope,
                                             const RunContext& ctx, AttemptRequest& req);

std::optional<std::string> ResolveCommand(const PlanTask& t, const InstanceScope& task_scope,
                                          const InstanceScope& body_scope, const RunContext& ctx,
                                          AttemptRequest& req) {
  const Body& body = *t.body;
  if (t.kind == Body::Kind::kBuiltin) {
    req.argv.push_back("builtin:" + body.text);  // a worker's noop (docs/workers.md): never run
  } else if (t.kind == Body::Kind::kScript) {
    for (const auto& part : Split(body.shell(), ' ')) {
      if (!part.empty()) req.argv.push_back(part);
    }
    req.argv.push_back("-c");
    req.argv.push_back(body.text);
  } else {
    for (const auto& a : body.run) {
      auto v = a.Evaluate(body_scope);
      if (!v) return fmt::format("run argument {}: {}", Quote(a.tmpl.text()), v.error().message);
      req.argv.push_back(v->ToText());
      if (req.argv.back().find('\0') != std::string::npos) {
        return fmt::format("run argument {} holds a NUL character (\\u0000): the program would "
                           "get only the text before it", Quote(a.tmpl.text()));
      }
    }
  }
  auto add_env = [&](const auto& list, const InstanceScope& scope) -> std::optional<std::string> {
    for (const auto& [name, field] : list) {
      auto v = field.Evaluate(scope);
      if (!v) return fmt::format("env {}: {}", name, v.error().message);
      std::string text = v->ToText();
      if (auto err = NulInEnv(name, text)) return err;
      auto same = std::find_if(req.env.begin(), req.env.end(),
                               [&](const auto& kv) { return kv.first == name; });
      if (same != req.env.end()) same->second = std::move(text);
      else req.env.emplace_back(name, std::move(text));
    }
    return std::nullopt;
  };
  if (t.component()) {
    if (auto err = add_env(t.component()->env, body_scope)) return err;
  }
  if (ctx.secrets && !ctx.secrets->secret_params.empty()) {
    return AddEnvWithSecrets(t, task_scope, ctx, req);
  }
  return add_env(t.spec->env(), task_scope);
}

// Whether an env value reads a secret param (or the whole params map).
bool ReadsSecretParam(const TemplateField& f, const std::set<std::string>& secret) {
  if (f.literal) return false;
  for (const auto& piece : f.tmpl.pieces()) {
    if (!piece.expr) continue;
    for (const auto& ref : piece.expr->references()) {
      const auto& path = ref.path;
      if (path[0] == "params" && (path.size() < 2 || secret.contains(path[1]))) return true;
    }
  }
  return false;
}

// The task's env: when the run has secret params. Values that read one are evaluated with the
// real values, go to secret_env (never a cache key) and have the params' values masked.
std::optional<std::string> AddEnvWithSecrets(const PlanTask& t, const InstanceScope& task_scope,
                                             const RunContext& ctx, AttemptRequest& req) {
  InstanceScope secret_scope = task_scope;
  secret_scope.SeeSecretParams();
  for (const auto& [name, field] : t.spec->env()) {
    const bool secret = ReadsSecretParam(field, ctx.secrets->secret_params);
    auto v = field.Evaluate(secret ? secret_scope : task_scope);
    if (!v) return fmt::format("env {}: {}", name, v.error().message);
    std::string text = v->ToText();
    if (auto err = NulInEnv(name, text)) return err;
    std::erase_if(req.env, [&](const auto& kv) { return kv.first == name; });
    if (!secret) {
      req.env.emplace_back(name, std::move(text));
      continue;
    }
    req.secret_env.emplace_back(name, std::move(text));
    for (const auto& p : ctx.secrets->secret_params) {
      const Value* pv = ctx.secrets->params.is_map() ? ctx.secrets->params.Find(p) : nullptr;
      if (pv && pv->is_string()) req.masked.push_back(pv->as_string());
    }
  }
  return std::nullopt;
}

// The secrets the task names, as variables or files; the message when one was not fetched.
std::optional<std::string> AddSecrets(const PlanTask& t, const RunContext& ctx,
                                      AttemptRequest& req) {
  for (const auto& u : t.spec->secrets()) {
    if (!ctx.secrets || !ctx.secrets->values.contains(u.name)) {
      return fmt::format("secret {} was not fetched by this process", Quote(u.name));
    }
    const auto it = ctx.secrets->values.find(u.name);
    if (!u.env.empty()) {
      std::erase_if(req.env, [&](const auto& kv) { return kv.first == u.env; });
      req.secret_env.emplace_back(u.env, it->second);
    } else {
      req.secret_files.emplace_back(u.file, it->second);
    }
    req.masked.push_back(it->second);
  }
  return std::nullopt;
}

// The cache key: everything that decides what the attempt does and what it hands back.
std::string CacheKey(const PlanTask& t, const Instance& in, const AttemptRequest& req,
                     FileSystem* files, const PipelineSpec& pipeline) {
  Sha256 h;
  auto field = [&](std::string_view s) {
    h.Update(s);
    h.Update(std::string_view("\0", 1));
  };
  // v2: outputs carry each artifact's digest and size (older entries lack them).
  field("sluice-cache-v2");
  if (t.component()) field(t.component()->name + "@" + t.component()->version);
  for (const auto& a : req.argv) {
    field(a);
    // A file named by an absolute argument (a component's script) is part of the body.
    if (files && !a.empty() && a[0] == '/' && a.size() < 4096) {
      FileInfo info = files->Stat(a);
      if (info.exists && !info.is_dir && info.size < (64 << 20)) {
        if (auto d = files->HashFile(a)) field("file:" + *d);
      }
    }
  }
  for (const auto& [k, v] : req.env) field(k + "=" + v);
  if (!req.working_dir.empty()) field("cwd:" + req.working_dir);
  for (const auto& p : req.private_paths) field("private:" + p);
  // Secrets by name and version, never by value: a new value of the same version hits the
  // cache (the user bumps `version:` when a new value must run again).
  for (const auto& u : t.spec->secrets()) {
    const SecretDecl* d = pipeline.FindSecret(u.name);
    field(fmt::format("secret:{}@{}:{}:{}", u.name, d ? d->version : "", u.env, u.file));
  }
  for (const auto& [k, v] : req.secret_env) field("secret-env:" + k);
  if (in.item) field(in.item->ToJson());
  for (const auto& o : t.outputs->params) {
    field(fmt::format("out:{}:{}:{}:{}", o.name, static_cast<int>(o.source), o.path, o.json_path));
    if (o.default_value) field("out-default:" + *o.default_value);
    if (o.type) field(fmt::format("out-type:{}", ParamTypeName(*o.type)));  // cached values are typed
  }
  for (const auto& a : t.outputs->artifacts) field("art:" + a.name + ":" + a.path);
  return h.HexDigest();
}

// Where task `t` starts (workingDir: the task's, its component's, its DAG template's
// defaults', then spec.defaults'); "" = its attempt's own folder.
std::string WorkingDirFor(const PlanTask& t, const Plan& plan) {
  const PipelineSpec& pipeline = *plan.pipeline;
  std::optional<WorkingDir> w = t.spec->opts().working_dir;
  if (!w && t.component()) w = t.component()->working_dir;
  if (!w && t.scope >= 0) w = plan.templates[t.scope].component->dag->defaults.working_dir;
  if (!w) w = pipeline.defaults.working_dir;
  if (w != WorkingDir::kPipeline) return "";
  return Dirname(pipeline.file);
}

// An output param's declared type, as the executor checks it.
WantedParam::Type WantedTypeOf(const std::optional<ParamType>& t) {
  if (!t) return WantedParam::Type::kAny;
  switch (*t) {
    case ParamType::kString: return WantedParam::Type::kString;
    case ParamType::kInt: return WantedParam::Type::kInt;
    case ParamType::kNumber: return WantedParam::Type::kNumber;
    case ParamType::kBool: return WantedParam::Type::kBool;
    case ParamType::kList: return WantedParam::Type::kList;
    case ParamType::kMap: return WantedParam::Type::kMap;
  }
  return WantedParam::Type::kAny;
}

WantedParam::Source SourceOf(OutputSource s) {
  switch (s) {
    case OutputSource::kFile: return WantedParam::Source::kFile;
    case OutputSource::kFileJson: return WantedParam::Source::kFileJson;
    case OutputSource::kStdoutText: return WantedParam::Source::kStdoutText;
    case OutputSource::kStdoutJson: return WantedParam::Source::kStdoutJson;
  }
  return WantedParam::Source::kFile;
}

}  // namespace

void AddWantedOutputs(const PlanTask& t, std::vector<WantedParam>& params,
                      std::vector<WantedArtifact>& artifacts) {
  for (const auto& o : t.outputs->params) {
    params.push_back({o.name, SourceOf(o.source), o.path, o.json_path, WantedTypeOf(o.type),
                      o.default_value});
  }
  for (const auto& a : t.outputs->artifacts) artifacts.push_back({a.name, a.path});
}

Result<Value> BindCallParams(const RunState& state, const RunContext& ctx, int call) {
  InstanceScope caller(state, ctx, call, 1);
  Value params;
  if (auto err = BindComponentParams(state.task_of(call), caller, &params)) {
    return Fail(ErrorCode::kInvalidInput, "{}", *err);
  }
  return params;
}

Result<Value> CallOutputs(const RunState& state, const RunContext& ctx, int call, int64_t now_us) {
  const ComponentSpec& c = *state.task_of(call).component();
  InstanceScope inside = InstanceScope::Inside(state, ctx, call, now_us);
  ValueMap params, artifacts;
  for (const auto& [name, field] : c.dag->output_values) {
    auto v = field.Evaluate(inside);
    if (!v) return Fail(ErrorCode::kInvalidInput, "output {}: {}", Quote(name), v.error().message);
    const bool artifact = std::any_of(c.outputs.artifacts.begin(), c.outputs.artifacts.end(),
                                      [&](const ArtifactDecl& a) { return a.name == name; });
    (artifact ? artifacts : params).emplace_back(name, std::move(*v));
  }
  return Value(ValueMap{{"params", Value(std::move(params))},
                        {"artifacts", Value(std::move(artifacts))}});
}

int64_t BackoffUs(const RetryPolicy& r, int n, const std::string& seed) {
  double d = static_cast<double>(r.initial_ms) * std::pow(r.factor, n - 2);
  d = std::min(d, static_cast<double>(r.max_ms));
  double u = UnitRandom(seed);
  if (r.jitter == Jitter::kFull) d = d * u;
  if (r.jitter == Jitter::kEqual) d = d / 2 + d / 2 * u;
  return static_cast<int64_t>(d * 1000);
}

namespace {

Resolution ResolveUnmasked(const RunState& state, const RunContext& ctx, int i, int64_t now_us);

}  // namespace

// A message about an attempt may quote a value (an env placeholder that failed on a secret
// param): it is masked before it reaches an event.
Resolution ResolveAttempt(const RunState& state, const RunContext& ctx, int i, int64_t now_us) {
  Resolution r = ResolveUnmasked(state, ctx, i, now_us);
  if (ctx.secrets && ctx.secrets->masker && !r.message.empty()) {
    r.message = ctx.secrets->masker->Mask(r.message);
  }
  return r;
}

namespace {

Resolution ResolveUnmasked(const RunState& state, const RunContext& ctx, int i, int64_t now_us) {
  const Instance& in = state.at(i);
  const PlanTask& t = state.task_of(i);
  const int attempt = in.attempt + 1;
  Resolution r;
  InstanceScope task_scope(state, ctx, i, attempt, nullptr, now_us);
  Value component_params;
  if (t.component()) {
    if (auto err = BindComponentParams(t, task_scope, &component_params)) {
      r.kind = Resolution::Kind::kInvalid;
      r.message = std::move(*err);
      return r;
    }
  }
  InstanceScope body_scope(state, ctx, i, attempt, t.component() ? &component_params : nullptr);
  AttemptRequest& req = r.request;
  req.run_id = ctx.run_id;
  req.task = in.name;
  req.attempt = attempt;
  const DeploySpec* deploy = t.body->deploy();
  if (auto err = deploy ? ResolveDeploy(*deploy, state, ctx, i, task_scope, req)
                        : ResolveCommand(t, task_scope, body_scope, ctx, req)) {
    r.kind = Resolution::Kind::kInvalid;
    r.message = std::move(*err);
    return r;
  }
  req.working_dir = WorkingDirFor(t, state.plan());
  if (t.component()) req.private_paths = t.component()->private_paths;
  if (t.remote()) {
    req.executor = t.on_worker() ? "worker" : "slurm";
    if (t.labels()) req.labels = *t.labels();
    req.cpu = t.resources->cpu;
    req.memory = t.resources->memory;
    req.gpu = t.resources->gpu;
  }
  if (t.executor == ExecutorKind::kSlurm) {
    if (const SlurmSpec* s = t.slurm()) {
      req.slurm = {s->partition, s->account, s->qos, s->constraint, s->extra};
    }
    req.timeout_ms = t.timeout_ms;
    if (t.spec->for_each && in.parent >= 0) req.array_parallelism = t.spec->for_each->parallelism;
  }
  if (!t.spec->secrets().empty()) {
    if (auto err = AddSecrets(t, ctx, req)) {
      r.kind = Resolution::Kind::kInvalid;
      r.message = std::move(*err);
      return r;
    }
  }
  if (t.cache.enabled) {
    r.cache_key = CacheKey(t, in, req, ctx.files, *state.plan().pipeline);
    if (ctx.cache) {
      if (auto hit = ctx.cache->Find(r.cache_key, t.cache.ttl_ms, now_us)) {
        r.kind = Resolution::Kind::kCached;
        r.cached = std::move(*hit);
        return r;
      }
    }
  }
  if (t.breaker() && ctx.breakers) {
    auto ok = ctx.breakers->Acquire(*t.breaker(), now_us,
                                    fmt::format("{}/{}#{}", ctx.run_id, in.name, attempt));
    if (!ok) {
      r.kind = Resolution::Kind::kStoreError;
      r.error = ok.error();
      return r;
    }
    if (!*ok) {
      r.kind = Resolution::Kind::kCircuitOpen;
      r.message = fmt::format("circuit breaker {} is open", Quote(t.breaker()->name));
      return r;
    }
  }
  AddWantedOutputs(t, req.params, req.artifacts);
  if (t.spec->for_each && in.parent >= 0) req.array_key = state.at(in.parent).name;
  return r;
}

}  // namespace

}  // namespace sluice
