// Engine: one run of a compiled pipeline, wired together: its RunState (the projection of its
// events), the Decider (what happens next), the Recorder (where decisions go) and the RunLoop
// (the executor's side). Replay() rebuilds the state after a crash and Run() continues.
//
// Owned by the caller for the duration of one run; not thread-safe. All time comes from the
// clock it is given and all attempts go through the Executor, so tests drive it with fakes;
// tests of the decisions alone drive a RunState and a Decider directly.
#pragma once

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/decider.h"
#include "engine/interfaces.h"
#include "engine/loop.h"
#include "engine/recorder.h"
#include "engine/run_state.h"
#include "executor/executor.h"
#include "schedule/schedule.h"
#include "spec/plan.h"

namespace sluice {

struct EnvironmentsSpec;  // spec/environment_spec.h
struct EngineOptions {
  std::string run_id;
  Capacity capacity;
  int64_t kill_grace_us = 5'000'000;
  int64_t pid = 0;  // of the process executing the run, recorded in run.started
  // When set, the cache key covers the content of files named by absolute arguments.
  FileSystem* files = nullptr;
  bool cancel_only = false;  // Run() cancels what is left instead of executing it
  bool rollback = false;     // Run() compensates a finished run (`sluice rollback`)
  Breakers* breakers = nullptr;  // circuit breakers' state; null: kept in memory for this run
  CentralPools* pools = nullptr;  // the pools shared by runs; null: none (tasks asking fail)
  const TimeZones* time_zones = nullptr;  // named zones in expressions; null: UTC and offsets
  Approvals* approvals = nullptr;  // votes on approvals; null: nobody can vote (they time out)
  const RunSecrets* secrets = nullptr;  // the run's secret values; null: none. Outlives the engine.
  // The state folder's central policies and waivers: its gate-stage policies apply before every
  // task they match, waived only by central waivers. Null: none.
  std::shared_ptr<const PolicySet> central_policies;
  // The fire time and data interval of the schedule that started this run (what schedule.*
  // reads; `sluice server` sets it, docs/schedules.md). None: schedule.* are null.
  std::optional<ScheduleTimes> schedule;
  // Deploy tasks (docs/rollouts.md): the state folder's environments, whose approvals they wait
  // for, and what their rollout process is told ({"stateDir", "store"}). Null: none.
  std::shared_ptr<const EnvironmentsSpec> environments;
  Value rollout_context;
  ReleaseHistory* releases = nullptr;  // what promotion policies read as object.releases
};

class Engine {
 public:
  Engine(std::shared_ptr<const Plan> plan, Value params, EngineOptions opts, Clock& clock,
         Executor& executor, EventSink& sink, CacheLookup* cache, RunObserver* observer);

  // Applies stored events of this run in order, rebuilding state without side effects.
  // REQUIRES: called before Run(). Fails on events that do not fit the plan.
  Status Replay(const std::vector<Event>& events) { return state_.Replay(events); }

  // `sluice retry` of a finished run, after Replay(): records the run.retried event that starts
  // `tasks` (empty: every failed one) and what depends on them over (run_state_retry.h), done
  // by `by`; Run() then executes them. On failure (see RetryEvent) nothing is recorded.
  Status Retry(const std::vector<std::string>& tasks, const std::string& by, int64_t now_us);

  // Runs to completion (see RunLoop::Run).
  Result<RunSummary> Run() { return loop_.Run(); }

  const RunState& state() const { return state_; }
  // The state of an instance, by name (kPending when there is none yet).
  TaskState StateOf(std::string_view name) const;
  const Value* OutputsOf(std::string_view name) const;

 private:
  std::unique_ptr<Breakers> own_breakers_;  // when opts.breakers is null
  RunContext ctx_;
  RunState state_;
  Recorder rec_;
  Decider decider_;
  RunLoop loop_;
};

}  // namespace sluice
