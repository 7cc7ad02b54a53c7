// Running a stored run again (rerun.cc): `sluice retry` gives its failed tasks new attempts in
// the same run; `sluice rerun` starts a new run of the same pipeline snapshot and params,
// reusing the results of the tasks upstream of --from. docs/cli.md and
// docs/failure-handling.md ("Retry, rerun or resume") say when to use which.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/event.h"
#include "env/env.h"
#include "policy/policy.h"
#include "spec/plan.h"
#include "store/store.h"

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

// --- The steps of retry and rerun before a run executes, shared with the API's retry and rerun
// (server/rerun_api.cc), which take them for the token's user and leave the execution to an
// engine of the server's.
// Admission judged again for a stored run's plan: its decisions, and the central policies its
// gates will apply.
struct Readmission {
  PolicySet central;
  std::vector<Decision> decisions;
  bool denied = false;
};
// Judges admission of `plan` with `params` again, as `run` does: the state folder's central
// policies (with granted waivers) and the pipeline's own (printed on stderr with `print`). A
// denial is audited as run.denied by `actor` (details: `about` and the denials) and returned with
// `denied` set. On failure (an untrusted policies folder, a malformed policy) returns the error.
Result<Readmission> AdmitAgain(Env& env, const GlobalOptions& g, Store& store, const Plan& plan,
                             const Value& params, const std::string& actor,
                             const std::string& run_id, ValueMap about, bool print = true);
// What an audit record says of an admission: how many decisions, and those that did not allow.
Value AdmissionSummary(const std::vector<Decision>& decisions);
// The refusals of `sluice retry` that need only the run's record (kConflict): a run being
// executed, one that did not finish, one whose completed work was undone.
Status CheckRetryable(Env& env, const GlobalOptions& g, const RunRecord& run);
// The run.retried event a retry of `tasks` (empty: every failed one) by `actor` records, decided
// from the stored events so that a bad request is refused before anything is recorded
// (kInvalidInput: not a task that failed; kConflict: nothing to retry).
Result<Event> PlanRetry(Store& store, const std::shared_ptr<const Plan>& plan, const RunRecord& run,
                        const std::vector<std::string>& tasks, const std::string& actor);
// The new run's params as -p gives them: the stored run's (`stored`), with `changed` over them.
// A secret param the run had a value for must be given again (kInvalidInput otherwise).
Result<std::map<std::string, std::string>> RerunParams(
    Env& env, const Plan& plan, const Value& stored,
    const std::map<std::string, std::string>& changed);
// The events that record every task upstream of `from` ("": none) as reused from `old`. Fails
// (kInvalidInput) when `from` is not a task of the pipeline, or a task upstream of it has no
// results in `old`.
Result<std::vector<Event>> ReusedTasks(Store& store, const std::shared_ptr<const Plan>& plan,
                                       const RunRecord& old, const std::string& from);

}  // namespace sluice
