// Running a stored run again (rerun.cc): `sluice retry` gives its failed tasks new attempts in
// the same run; `sluice rerun` starts a new run of the same pipeline snapshot and params,
// reusing the results of the tasks upstream of --from. docs/cli.md and
// docs/failure-handling.md ("Retry, rerun or resume") say when to use which.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "env/env.h"

namespace sluice {

// `sluice retry RUN [TASK...]`: the finished run's failed, upstream-failed and cancelled tasks
// (or those of `tasks`) and what depends on them start over in the same run, after admission
// is judged again; audited as run.retried. Refused (exit 2) for a run still executing, one that
// did not finish (resume it), or one that ended compensated (rerun it). Returns the exit code
// of the run it executes: 0 succeeded, 1 failed.
int CmdRetry(Env& env, const GlobalOptions& g, const std::string& run,
             const std::vector<std::string>& tasks, const ExecOptions& o);

struct RerunOptions {
  std::string run;
  std::string from;  // --from TASK: the tasks upstream of it are reused ("": none)
  std::map<std::string, std::string> params;  // -p: params that change (secret ones again)
  ExecOptions exec;
};

// `sluice rerun RUN [--from TASK] [-p NAME=VALUE]`: a new run of RUN's stored pipeline with its
// params (those of -p changed), admitted again, with the tasks upstream of --from recorded as
// reused from RUN (status cached, their outputs and artifacts) instead of run. Returns the exit
// code of the new run, 2 for bad input (an unknown task, a reused task without results).
int CmdRerun(Env& env, const GlobalOptions& g, const RerunOptions& o);

}  // namespace sluice
