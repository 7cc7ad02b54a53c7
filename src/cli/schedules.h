// `sluice schedule next|validate`: the local schedule commands, which need no server
// (docs/schedules.md). Schedules fire only in `sluice server`; these read a Schedule file and
// say when it would fire and whether its pipeline and params hold.
#pragma once

#include <string>

#include "cli/commands.h"
#include "env/env.h"

namespace sluice {

// The next `count` fire times at or after `from` (a time ParseInstant reads in the schedule's
// zone; "" = now by the Env's clock) of every schedule in `file`, in UTC and local time, each
// with its data interval. Exit 0, or 2 with the error (located at FILE:LINE:COL).
int CmdScheduleNext(Env& env, const GlobalOptions& g, const std::string& file, int count,
                    const std::string& from);
// Checks every schedule in `file`: its cron and time zone, its pipeline (which must load and
// compile) and its params against the pipeline's declarations. Exit 0, or 2 with the first
// error.
int CmdScheduleValidate(Env& env, const GlobalOptions& g, const std::string& file);

}  // namespace sluice
