// Attempts: resolving a task's command and environment in its scope, the cache key, spawning,
// classifying exits, and the retry decision.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/sha256.h"
#include "common/strings.h"
#include "engine/instance.h"

namespace sluice {

AttemptPaths AttemptPathsFor(const std::string& run_dir, const std::string& task, int attempt) {
  std::string base = fmt::format("{}/tasks/{}@{}", run_dir, task, attempt);
  return {base, base + ".stdout.log", base + ".stderr.log"};
}

Result<Activation::Resolved> Engine::Scope::Resolve(std::span<const std::string> path) const {
  const std::string& root = path[0];
  if (root == "params") return Resolved{component_params_ ? *component_params_ : e_.params_, 1};
  if (root == "run") {
    // Built per field: failedTasks walks every instance, and run.id is read often.
    auto field = [&](std::string_view f) -> Value {
      if (f == "id") return Value(e_.opts_.run_id);
      if (f == "status") return Value(e_.phase_status_.empty() ? "running" : e_.phase_status_);
      ValueList failed;
      for (int i = 0; i < e_.plan_->num_main; ++i) {
        if (e_.instances_[i].state == TaskState::kFailed) failed.push_back(Value(e_.instances_[i].name));
      }
      return Value(std::move(failed));
    };
    if (path.size() >= 2 && (path[1] == "id" || path[1] == "status" || path[1] == "failedTasks")) {
      return Resolved{field(path[1]), 2};
    }
    return Resolved{Value(ValueMap{{"id", field("id")}, {"status", field("status")},
                                   {"failedTasks", field("failedTasks")}}),
                    1};
  }
  if (root == "error") {
    // A handler sees its owner's failure; retry.when sees the instance's own.
    const Instance& who = in_.owner >= 0 ? e_.instances_[in_.owner] : in_;
    const Failure& f = who.last_failure();
    bool exit = f.cls == "exit", sig = f.cls == "signal";
    return Resolved{Value(ValueMap{{"class", Value(f.cls)},
                                   {"exitCode", Value(static_cast<int64_t>(exit ? f.code : 0))},
                                   {"signal", Value(static_cast<int64_t>(sig ? f.code : 0))},
                                   {"message", Value(f.message)},
                                   {"task", Value(who.name)}}),
                    1};
  }
  if (root == "task") {
    return Resolved{Value(ValueMap{{"name", Value(in_.name)},
                                   {"attempt", Value(static_cast<int64_t>(attempt_))}}),
                    1};
  }
  if (root == "component" && component_params_) {
    const ComponentSpec* c = e_.plan_->tasks[in_.plan].component;
    return Resolved{Value(ValueMap{{"dir", Value(c ? c->dir : "")}}), 1};
  }
  if (root == "item" && !component_params_) {
    if (!in_.item) return Fail(ErrorCode::kInvalidInput, "item is not defined here");
    return Resolved{*in_.item, 1};
  }
  // A handler reading its owner's outputs reads its own instance's (a forEach item's).
  auto find_task = [&](const std::string& name) -> const Instance* {
    if (in_.owner >= 0 && e_.plan_->tasks[e_.instances_[in_.owner].plan].name == name) {
      return &e_.instances_[in_.owner];
    }
    int i = e_.FindInstance(name);
    return i < 0 ? nullptr : &e_.instances_[i];
  };
  if (root == "tasks" && !component_params_ && path.size() == 4) {
    // tasks.T.outputs.params as a whole (has(tasks.T.outputs.params.x) selects from it).
    const Instance* found = find_task(path[1]);
    if (!found) return Fail(ErrorCode::kInvalidInput, "no task {}", Quote(path[1]));
    const Instance& up = *found;
    const Value* group = up.outputs.is_map() ? up.outputs.Find(path[3]) : nullptr;
    return Resolved{group ? *group : Value(ValueMap{}), 4};
  }
  if (root == "tasks" && !component_params_ && path.size() >= 5) {
    const Instance* found = find_task(path[1]);
    if (!found) return Fail(ErrorCode::kInvalidInput, "no task {}", Quote(path[1]));
    const Instance& up = *found;
    if (up.state != TaskState::kSucceeded && up.state != TaskState::kCached &&
        !(up.state == TaskState::kRecovered && up.outputs.is_map())) {
      return Fail(ErrorCode::kInvalidInput, "task {} has no outputs (it is {})", Quote(path[1]),
                  TaskStateName(up.state));
    }
    const Value* group = up.outputs.is_map() ? up.outputs.Find(path[3]) : nullptr;
    const Value* v = group && group->is_map() ? group->Find(path[4]) : nullptr;
    if (!v) {
      return Fail(ErrorCode::kInvalidInput, "task {} did not produce output {}", Quote(path[1]),
                  Quote(path[4]));
    }
    return Resolved{*v, 5};
  }
  return Fail(ErrorCode::kInvalidInput, "unknown variable {}", Quote(Join(
      std::vector<std::string>(path.begin(), path.end()), ".")));
}

namespace {

// A deterministic uniform number in [0, 1) for jitter, so replays and tests agree.
double UnitRandom(const std::string& seed) {
  std::string h = Sha256Hex(seed);
  uint64_t x = std::stoull(h.substr(0, 13), nullptr, 16);
  return static_cast<double>(x) / static_cast<double>(1ULL << 52);
}

Value EmptyOutputs() {
  return Value(ValueMap{{"params", Value(ValueMap{})}, {"artifacts", Value(ValueMap{})}});
}

}  // namespace

int64_t Engine::BackoffUs(const RetryPolicy& r, int n, const std::string& seed) {
  double d = static_cast<double>(r.initial_ms) * std::pow(r.factor, n - 2);
  d = std::min(d, static_cast<double>(r.max_ms));
  double u = UnitRandom(seed);
  if (r.jitter == Jitter::kFull) d = d * u;
  if (r.jitter == Jitter::kEqual) d = d / 2 + d / 2 * u;
  return static_cast<int64_t>(d * 1000);
}

// Resolves the attempt's command and environment, consults the cache, and records the attempt
// as started. Returns an error message when the task must fail instead.
std::optional<std::string> Engine::StartAttempt(int i) {
  Instance& in = instances_[i];
  const PlanTask& t = plan_->tasks[in.plan];
  int attempt = in.attempt + 1;
  Scope pipeline_scope(*this, in, attempt, nullptr);

  // A component's params: defaults, overridden by the task's `with:` arguments.
  Value component_params;
  if (t.component) {
    ValueMap m;
    for (const auto& d : t.component->params) m.emplace_back(d.name, d.default_value.value_or(Value()));
    for (const auto& [name, field] : t.spec->body.with) {
      auto v = field.Evaluate(pipeline_scope);
      if (!v) return fmt::format("with.{}: {}", name, v.error().message);
      for (auto& [k, cur] : m) {
        if (k != name) continue;
        auto decl = std::find_if(t.component->params.begin(), t.component->params.end(),
                                 [&](const ParamDecl& d) { return d.name == name; });
        Value val = *v;
        // Values pasted from text (an upstream output read as a string) may need reading.
        if (!ValueMatchesType(val, decl->type) && val.is_string() && decl->type != ParamType::kString) {
          if (auto parsed = ParseJson(val.as_string()); parsed) val = *parsed;
        }
        if (decl->type == ParamType::kString && !val.is_string()) val = Value(val.ToText());
        if (!ValueMatchesType(val, decl->type)) {
          return fmt::format("with.{}: component {} declares it {}, got {} {}", name,
                             t.component->name, ParamTypeName(decl->type), val.TypeName(),
                             Quote(val.ToText()));
        }
        cur = val;
      }
    }
    component_params = Value(std::move(m));
  }
  Scope body_scope(*this, in, attempt, t.component ? &component_params : nullptr);

  AttemptRequest req;
  req.task = in.name;
  req.attempt = attempt;
  req.paths = AttemptPathsFor(opts_.run_dir, in.name, attempt);
  const Body& body = *t.body;
  if (t.kind == Body::Kind::kScript) {
    for (const auto& part : Split(body.shell, ' ')) {
      if (!part.empty()) req.argv.push_back(part);
    }
    req.argv.push_back("-c");
    req.argv.push_back(body.text);
  } else {
    for (const auto& a : body.run) {
      auto v = a.Evaluate(body_scope);
      if (!v) return fmt::format("run argument {}: {}", Quote(a.tmpl.text()), v.error().message);
      req.argv.push_back(v->ToText());
    }
  }
  auto add_env = [&](const auto& list, const Scope& scope) -> std::optional<std::string> {
    for (const auto& [name, field] : list) {
      auto v = field.Evaluate(scope);
      if (!v) return fmt::format("env {}: {}", name, v.error().message);
      // The task's env overrides its component's for the same name.
      auto same = std::find_if(req.env.begin(), req.env.end(),
                               [&](const auto& kv) { return kv.first == name; });
      if (same != req.env.end()) same->second = v->ToText();
      else req.env.emplace_back(name, v->ToText());
    }
    return std::nullopt;
  };
  if (t.component) {
    if (auto err = add_env(t.component->env, body_scope)) return err;
  }
  if (auto err = add_env(t.spec->env, pipeline_scope)) return err;

  std::string cache_key;
  if (t.cache.enabled) {
    Sha256 h;
    auto field = [&](std::string_view s) {
      h.Update(s);
      h.Update(std::string_view("\0", 1));
    };
    field("sluice-cache-v1");
    if (t.component) field(t.component->name + "@" + t.component->version);
    for (const auto& a : req.argv) {
      field(a);
      // A file named by an absolute argument (a component's script) is part of the body.
      if (opts_.files && !a.empty() && a[0] == '/' && a.size() < 4096) {
        FileInfo info = opts_.files->Stat(a);
        if (info.exists && !info.is_dir && info.size < (64 << 20)) {
          if (auto d = opts_.files->HashFile(a)) field("file:" + *d);
        }
      }
    }
    for (const auto& [k, v] : req.env) field(k + "=" + v);
    if (in.item) field(in.item->ToJson());
    for (const auto& o : t.outputs->params) {
      field(fmt::format("out:{}:{}:{}:{}", o.name, static_cast<int>(o.source), o.path, o.json_path));
    }
    for (const auto& a : t.outputs->artifacts) field("art:" + a.name + ":" + a.path);
    cache_key = h.HexDigest();
    if (cache_) {
      if (auto hit = cache_->Find(cache_key, t.cache.ttl_ms, clock_.NowUs())) {
        FinishTask(i, TaskState::kCached, "outputs reused from the cache", hit->ToJson(), "", 0,
                   &*hit);
        return std::nullopt;
      }
    }
  }
  if (t.breaker && !AcquireBreaker(i)) {
    if (commit_error_) return std::nullopt;  // the breakers' store failed: the run stops
    Event open;
    open.kind = EventKind::kAttemptStarted;
    open.task = in.name;
    open.attempt = attempt;
    Emit(open);
    FinishAttempt(i, false, "circuit-open", 0,
                  fmt::format("circuit breaker {} is open", Quote(t.breaker->name)), Value());
    return std::nullopt;
  }
  req.env.emplace_back("SLUICE_RUN_ID", opts_.run_id);
  req.env.emplace_back("SLUICE_TASK", in.name);
  req.env.emplace_back("SLUICE_ATTEMPT", std::to_string(attempt));

  Event e;
  e.kind = EventKind::kAttemptStarted;
  e.task = in.name;
  e.attempt = attempt;
  if (!cache_key.empty()) e.data = fmt::format("{{\"cache_key\":\"{}\"}}", cache_key);
  int64_t ready_us = in.ready_us;
  Emit(e, i);
  requests_[i] = std::move(req);
  in.ready_us = ready_us;
  to_spawn_.push_back(i);
  return std::nullopt;
}

// Spawns the attempts recorded as started in the last commit (write-ahead: the record exists
// before the process does).
void Engine::SpawnPending() {
  std::vector<int> batch;
  batch.swap(to_spawn_);
  for (int i : batch) {
    Instance& in = instances_[i];
    if (!in.attempt_open) continue;
    auto handle = executor_.Start(requests_[i]);
    if (!handle) {
      FinishAttempt(i, false, "spawn-error", 0, handle.error().message, Value());
      continue;
    }
    latencies_us_.push_back(clock_.NowUs() - in.ready_us);
    by_handle_[*handle] = i;  // before Emit, so observers see it running
    Event e;
    e.kind = EventKind::kAttemptSpawned;
    e.task = in.name;
    e.attempt = in.attempt;
    e.pid = *handle;
    Emit(e, i);
  }
}

void Engine::HandleExit(int i, const ProcessExit& exit) {
  Instance& in = instances_[i];
  by_handle_.erase(exit.pid);
  // The attempt is over when its main process is: whatever it left running in its process
  // group (`sleep 30 &`) goes with it, so nothing outlives the attempt that started it.
  executor_.Signal(exit.pid, SIGKILL);
  if (in.cancelling) {
    const int g = plan_->tasks[in.plan].group;
    FinishAttempt(i, false, "cancelled", 0,
                  g >= 0 && groups_[g].failing
                      ? fmt::format("cancelled: group {} is retried after {} failed",
                                    Quote(plan_->groups[g].name), Quote(groups_[g].failed))
                      : fmt::format("cancelled: task {} failed and onFailure is cancel",
                                    Quote(first_failure_)),
                  Value());
    return;
  }
  if (in.timed_out) {
    const PlanTask& t = plan_->tasks[in.plan];
    std::string what =
        in.run_deadline ? fmt::format("the run's deadline of {} passed",
                                      FormatDurationMs(plan_->pipeline->deadline_ms))
        : in.deadline_passed ? fmt::format("deadline of {} passed", FormatDurationMs(t.deadline_ms))
                             : fmt::format("timed out after {}", FormatDurationMs(t.timeout_ms));
    FinishAttempt(i, false, "timeout", 0, what, Value());
    return;
  }
  if (exit.signal) {
    FinishAttempt(i, false, "signal", exit.signal,
                  fmt::format("killed by signal {} ({})", exit.signal, strsignal(exit.signal)),
                  Value());
    return;
  }
  if (exit.exit_code != 0) {
    FinishAttempt(i, false, "exit", exit.exit_code, fmt::format("exited with {}", exit.exit_code),
                  Value());
    return;
  }
  auto outputs = executor_.Collect(requests_[i], *plan_->tasks[in.plan].outputs);
  if (!outputs) {
    FinishAttempt(i, false, "outputs-error", 0, outputs.error().message, Value());
    return;
  }
  FinishAttempt(i, true, "", 0, "", *outputs);
}

void Engine::FinishAttempt(int i, bool ok, const std::string& error_class, int code,
                           const std::string& message, const Value& outputs) {
  Instance& in = instances_[i];
  const PlanTask& t = plan_->tasks[in.plan];
  if (t.breaker && error_class != "circuit-open") RecordBreaker(i, ok, error_class);
  Event e;
  e.kind = EventKind::kAttemptFinished;
  e.task = in.name;
  e.attempt = in.attempt;
  e.status = ok ? "succeeded" : "failed";
  e.error_class = error_class;
  e.exit_code = code;
  e.message = message;
  Emit(e, i);
  if (error_class == "cancelled") {
    FinishTask(i, TaskState::kCancelled, message, "", "cancelled");
    return;
  }
  if (ok) {
    Value out = outputs.is_map() ? outputs : EmptyOutputs();
    if (!in.cache_key.empty()) {
      ValueMap m = out.as_map();
      m.emplace_back("cache_key", Value(in.cache_key));
      out = Value(std::move(m));
    }
    FinishTask(i, TaskState::kSucceeded, "", out.ToJson(), "", 0, &out);
    return;
  }
  const RetryPolicy& r = *t.retry;
  std::string note;
  // A compensation lost in a crash runs again, whatever its retry says: it must run to the
  // end, and compensations are written to be repeatable.
  const bool rerun_lost = error_class == "lost" && t.role == TaskRole::kCompensate && !cancelled_;
  bool retryable = rerun_lost ||
                   (!in.deadline_passed && in.attempt - in.attempt_base <= r.limit && !cancelled_ &&
                    error_class != "policy-denied" && error_class != "approval-rejected" &&
                    (r.on.empty() || MatchesError(r.on, error_class, code)) &&
                    !MatchesError(r.except, error_class, code));
  if (retryable && r.when && !rerun_lost) {
    Scope scope(*this, in, in.attempt, nullptr);
    auto v = r.when->Evaluate(scope);
    Result<bool> cond = v ? AsCondition(*v) : Result<bool>(std::unexpected(v.error()));
    if (!cond) note = fmt::format("; not retried: retry.when: {}", cond.error().message);
    retryable = cond && *cond;
  }
  if (retryable) {
    Event e2;
    e2.kind = EventKind::kRetryScheduled;
    e2.task = in.name;
    e2.attempt = in.attempt + 1;
    e2.due_us = clock_.NowUs() + BackoffUs(r, in.attempt + 1 - in.attempt_base,
                                           fmt::format("{}/{}/{}", opts_.run_id, in.name,
                                                       in.attempt + 1));
    e2.message = message;
    Emit(e2);
    return;
  }
  FailTask(i, error_class, code,
           (in.attempt - in.attempt_base > 1
                ? fmt::format("{} (attempt {} of {})", message, in.attempt - in.attempt_base,
                              r.limit + 1)
                           : message) + note);
}

}  // namespace sluice
