// `sluice schedule apply|ls|suspend|resume|trigger` and `sluice backfill` on the state folder's
// store (docs/schedules.md, "Commands"). They store schedules and start runs now; nothing fires
// at a schedule's times without `sluice server`. With --server the same commands ask the
// server (src/server/remote_schedules.cc).
#pragma once

#include <string>

#include "cli/commands.h"
#include "env/env.h"

namespace sluice {

// Stores the schedules of `file` (a snapshot of it and its pipelines' files) in namespace
// "default", audited as schedule.applied by the current user. Exit 0, or 2 at the first bad
// schedule (nothing stored).
int CmdScheduleApply(Env& env, const GlobalOptions& g, const std::string& file);
// The stored schedules: name, cron, zone, suspended, next fire, watermark. Exit 0.
int CmdScheduleLs(Env& env, const GlobalOptions& g);
// Sets or clears a stored schedule's suspend flag, audited. Exit 2 when there is no such one.
int CmdScheduleSuspend(Env& env, const GlobalOptions& g, const std::string& name, bool suspend);
// Starts a run of schedule `name` now, in this process as `sluice run` would, with
// schedule.time now and its interval from the last fire. Exits as the run ended (0 succeeded).
int CmdScheduleTrigger(Env& env, const GlobalOptions& g, const std::string& name,
                       const ExecOptions& x);
// Starts the runs of schedule `name`'s fires from `from` to `to` (both included; times
// ParseInstant reads in its zone), one after another in this process, each with its own
// schedule.*; a fire whose run exists already is left out. Exit 0 when every run succeeded.
int CmdBackfill(Env& env, const GlobalOptions& g, const std::string& name, const std::string& from,
                const std::string& to, const ExecOptions& x);

}  // namespace sluice
