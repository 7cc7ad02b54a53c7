// Attempt resolution: from an instance of the plan and the run's state to what an executor
// runs. Parameter binding, argv and env from placeholders, the cache key and lookup, and the
// circuit breaker's permit are one unit here, used by the Decider and tested without an
// executor. Also the scope placeholders, `when`, `forEach` and `retry.when` are evaluated in.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "common/masker.h"
#include "engine/interfaces.h"
#include "engine/run_state.h"
#include "executor/executor.h"
#include "expr/expr.h"

namespace sluice {

struct EnvironmentsSpec;  // spec/environment_spec.h
// The run's secret values, held only in the memory of the process that runs its tasks
// (cli/secrets.cc fetches them when it starts or resumes the run). Never in an event or a key.
struct RunSecrets {
  std::map<std::string, std::string> values;  // spec.secrets, by name
  // The run's params with the secret params' real values (RunContext::params shows "***"),
  // seen only by env: values.
  Value params;
  std::set<std::string> secret_params;  // names of the secret params
  std::shared_ptr<const Masker> masker;  // every value above: masks messages about attempts
};

// What resolution needs besides the state; the services are optional (null: none).
struct RunContext {
  std::string run_id;
  Value params;  // the run's bound parameters
  FileSystem* files = nullptr;  // when set, the cache key covers files named by absolute args
  const TimeZones* time_zones = nullptr;
  CacheLookup* cache = nullptr;
  Breakers* breakers = nullptr;
  CentralPools* pools = nullptr;  // null: no central pool is available
  const RunSecrets* secrets = nullptr;  // null: the run has none
  std::shared_ptr<const PolicySet> central_policies;  // EngineOptions::central_policies
  // schedule.*: ScheduleValue() of the fire that started the run; null: no schedule did.
  Value schedule;
  std::shared_ptr<const EnvironmentsSpec> environments;  // EngineOptions::environments
  Value rollout_context;                                 // EngineOptions::rollout_context
  ReleaseHistory* releases = nullptr;                    // EngineOptions::releases
};

// Resolves placeholders for one instance: the pipeline scope (params, tasks, item, run, task)
// or, with `component_params`, a component's scope (params, component, run, task).
//
// Inside a DAG template's call, params.* are the template's params and tasks.* its own tasks;
// scope.* (name, duration, failures) describes the call, or the run outside any call.
class InstanceScope : public Activation {
 public:
  InstanceScope(const RunState& state, const RunContext& ctx, int instance, int attempt,
                const Value* component_params = nullptr, int64_t now_us = 0)
      : state_(state), ctx_(ctx), in_(state.at(instance)), attempt_(attempt),
        component_params_(component_params), scope_(in_.scope), now_us_(now_us) {}
  // The scope inside call instance `call` (its template's outputs are read there).
  static InstanceScope Inside(const RunState& state, const RunContext& ctx, int call,
                              int64_t now_us) {
    InstanceScope s(state, ctx, call, 0, nullptr, now_us);
    s.scope_ = call;
    return s;
  }

  // Makes params.* give the secret params' real values (for a task's env: values only).
  void SeeSecretParams() { see_secret_params_ = true; }

  Result<Resolved> Resolve(std::span<const std::string> path) const override;
  const TimeZones* time_zones() const override { return ctx_.time_zones; }

 private:
  Result<Resolved> ResolveRun(std::span<const std::string> path) const;
  Result<Resolved> ResolveError() const;
  Result<Resolved> ResolveTasks(std::span<const std::string> path) const;
  Result<Resolved> ResolveScope(std::span<const std::string> path) const;
  Value Failures(int scope) const;
  Value Duration(int64_t since_us) const;

  const RunState& state_;
  const RunContext& ctx_;
  const Instance& in_;
  int attempt_;
  const Value* component_params_;
  int scope_;  // the call whose tasks and params are in scope, -1: the pipeline's
  int64_t now_us_;  // what durations are measured to (0: unknown, they read 0s)
  bool see_secret_params_ = false;
};

// A call's params: its `with:` arguments evaluated in the caller's scope and checked against
// the template's params (the plan bound literals and defaults already). The error says which
// argument failed.
Result<Value> BindCallParams(const RunState& state, const RunContext& ctx, int call);
// A finished call's outputs ({"params": …, "artifacts": …}), read inside it from its tasks'.
Result<Value> CallOutputs(const RunState& state, const RunContext& ctx, int call, int64_t now_us);

// Evaluates a condition (`when`, `retry.when`) in the instance's scope.
Result<bool> EvaluateCondition(const TemplateField& cond, const RunState& state,
                               const RunContext& ctx, int instance, int attempt,
                               int64_t now_us = 0);

// The instances instance i reads from: its upstream tasks (needs and data), in its scope.
std::vector<int> UpstreamInstances(const RunState& state, int i);

// The model a deploy task moves (attempt_deploy.cc): the path the rollout process reads and,
// when that is an upstream task's artifact, the digest and size it was stored with ("" and 0
// when not: the rollout process hashes the file itself).
struct DeployModel {
  std::string path;
  std::string digest;
  int64_t size = 0;
  std::string version;  // deploy.version; "": the digest's first 12 digits
};
Result<DeployModel> ResolveDeployModel(const DeploySpec& d, const RunState& state,
                                       const RunContext& ctx, int i, const InstanceScope& scope);

// A deploy task's attempt: the rollout process, `sluice-net rollout-exec SPEC`
// (attempt_deploy.cc). Returns why it cannot be resolved, or nothing.
std::optional<std::string> ResolveDeploy(const DeploySpec& d, const RunState& state,
                                         const RunContext& ctx, int i,
                                         const InstanceScope& scope, AttemptRequest& req);

struct Resolution {
  enum class Kind {
    kStart,        // record the attempt started with `cache_key`, then submit `request`
    kCached,       // the cache holds outputs of an earlier success: `cached`
    kCircuitOpen,  // its breaker is open: the attempt fails with circuit-open
    kInvalid,      // a placeholder could not be resolved: the task fails (`message`)
    kStoreError,   // a service failed (`error`): the run must stop
  };
  Kind kind = Kind::kStart;
  AttemptRequest request;
  std::string cache_key;
  Value cached;
  std::string message;
  Error error;
};

// Resolves the next attempt of instance `i` at `now_us`: binds its component's parameters,
// evaluates argv and env, computes the cache key and looks it up, and takes its breaker's
// permit. Never fails: the outcome is in the Resolution's kind.
Resolution ResolveAttempt(const RunState& state, const RunContext& ctx, int i, int64_t now_us);

// The delay before the n-th try (n >= 2) under `r`, with jitter seeded by `seed`: the same
// seed gives the same delay, so a replayed or tested run agrees with the live one.
// The outputs an attempt of `t` must hand back, as the executor is asked for them.
void AddWantedOutputs(const PlanTask& t, std::vector<WantedParam>& params,
                      std::vector<WantedArtifact>& artifacts);

int64_t BackoffUs(const RetryPolicy& r, int n, const std::string& seed);

}  // namespace sluice
