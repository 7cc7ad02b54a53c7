// The part of the leader's loop that fires schedules (docs/schedules.md, "What the server does
// at each fire"). Only the leader ticks it: every second and so within a second of the end of a
// run a schedule started, since each tick reads the active runs afresh from the store.
//
// Each tick, for every stored schedule: load it from its snapshot (cached until it is applied
// again), find its active runs (the unfinished runs whose run.created names it), ask
// DecideSchedule (schedule/schedule.h) what to do at `now`, and do it: cancel what Replace
// replaces (SIGTERM to the process that executes the run, as `sluice cancel` does), record and
// start each run under its deterministic id (schedule_runs.h), record the skipped and missed
// fires as one schedule.skipped audit record, and raise the watermark last.
//
// Crash safety: the watermark is stored after the runs. A leader that dies in between leaves
// fires the next leader decides again; their runs exist already, so CreateRun refuses the ids
// (kConflict) and the fire is not started twice. The next leader only makes sure such a run
// has an engine (one the dead leader created but never started).
//
// Not thread-safe: owned and ticked by the leader's thread.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "cli/commands.h"
#include "cli/schedule_runs.h"
#include "env/env.h"
#include "store/store.h"

namespace sluice {

class Scheduler {
 public:
  // What the scheduler does outside the store: start a run's engine (StartEngine in the
  // server) and log a line.
  struct Hooks {
    std::function<Status(const std::string& run_id)> start;
    std::function<void(const std::string& msg)> log;
  };
  Scheduler(Env& env, GlobalOptions g, Hooks hooks)
      : env_(env), g_(std::move(g)), hooks_(std::move(hooks)) {}

  // Handles every schedule of `store` at `now_us`. A schedule that fails (its snapshot does not
  // load, the store fails) is logged and tried again at the next tick; the others go on.
  void Tick(Store& store, int64_t now_us);

 private:
  // One schedule at `now_us`, with the unfinished runs schedules started (id, run.created data).
  Status TickOne(Store& store, const ScheduleRow& row,
                 const std::vector<std::pair<std::string, std::string>>& scheduled,
                 int64_t now_us);
  // Starts fire `t` of `s`; a run that exists already (kConflict) only gets an engine if it has
  // none. On failure of the store returns the error, and the fire is decided again later.
  Status Fire(Store& store, const LoadedSchedule& s, const ScheduleTimes& t);
  // Replace: asks the process executing `run_id` to cancel it.
  void Cancel(const std::string& run_id, const std::string& schedule);
  Result<const LoadedSchedule*> Loaded(const ScheduleRow& row);

  Env& env_;
  GlobalOptions g_;
  Hooks hooks_;
  std::map<std::string, LoadedSchedule> loaded_;  // by "ns/name", while applied_us matches
};

}  // namespace sluice
