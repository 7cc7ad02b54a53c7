// What the command files share (defined in cli_support.cc): error reporting, opening the store,
// times as text, run folders and shown statuses, and audit records. Each takes what it reaches
// outside memory from the Env the command was given.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/identity.h"
#include "common/value.h"
#include "env/env.h"
#include "interop/argo_options.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

int Report(const Error& e);
// Whether `arg` is a global option that takes the next word as its value (--state-dir, --store,
// --as, -o/--output, --server): the one list the command-word scanners of sluice and sluice-net
// skip by (main.cc, server/remote_cli.cc), which AddGlobalOptions and AddClientCommands declare.
inline bool IsGlobalValueOption(std::string_view arg) {
  return arg == "--state-dir" || arg == "--store" || arg == "--as" || arg == "-o" ||
         arg == "--output" || arg == "--server" || arg == "--namespace";
}
// The current account, when it may do what only the state folder's owner and the accounts
// users.yaml grants `right` may (prune others' runs, define what a server fires); otherwise
// kInvalidInput: "ACTOR may not DOING here: only the state folder's owner and ...".
Result<Principal> OwnerOrGranted(Env& env, const GlobalOptions& g, std::string_view right,
                                 std::string_view doing);
// The state folder when --state-dir is not given: $SLUICE_HOME, else ./.sluice.
std::string DefaultStateDir(Env& env);
// The store in g.state_dir. On success returns it open; when the folder is missing, creates it
// if `create`, else fails with kNotFound. On failure returns the error to report.
Result<std::unique_ptr<Store>> OpenStore(Env& env, const GlobalOptions& g, bool create,
                                         const StoreFaults& faults = {});
std::string Ts(int64_t us);
// A new run id: the UTC time to the second and 32 random bits (Env::Random64) in hex,
// YYYYMMDD-HHMMSS-XXXXXXXX.
std::string NewRunId(Env& env);
// The run's folder, STATE/runs/ID, absolute.
std::string RunDir(Env& env, const GlobalOptions& g, const std::string& id);
// The run's status as recorded, or "interrupted" for one recorded running (or pending) whose
// process is gone.
std::string ShownStatus(Env& env, const GlobalOptions& g, const RunRecord& run);
bool IsFinishedRun(std::string_view status);
// A run whose process died may have committed events that only its journal holds (up to 25 ms
// of them; docs/store.md): publishes them into the tables, as `resume` does first, when no
// process executes the run. Best effort: a run being executed, or a state folder this user
// cannot write, is left as it is.
void PublishLeftJournal(Env& env, const GlobalOptions& g, Store& store, const RunRecord& run);
// An audit record of `action` by `actor`, now (by the Env's clock).
AuditRecord AuditOf(Env& env, std::string actor, std::string action, std::string run_id,
                    std::string subject, const Value& details);
// An audit record of `action` by the current user; fails when the user is not allowed (not in
// users.yaml).
Result<AuditRecord> AuditBy(Env& env, const GlobalOptions& g, std::string action,
                            std::string run_id, std::string subject, const Value& details);
// AuditBy, appended to the store. On failure (not allowed, or the store) nothing is appended.
Status Audit(Env& env, const GlobalOptions& g, Store& store, std::string action,
             std::string run_id, std::string subject, const Value& details = Value(ValueMap{}));

// The run's params as -p texts: those of `params_file` (when not "") with `overrides` (-p) on
// top. On failure returns the params file's error, located at FILE:LINE:COL.
Result<std::map<std::string, std::string>> ParamsWithFile(
    Env& env, const Plan& plan, const std::string& params_file,
    const std::map<std::string, std::string>& overrides);

// --- Executing runs: shared by commands.cc (run, resume, cancel) and rerun.cc (retry, rerun).
struct Decision;
struct FaultPlan;
struct Plan;
struct PolicySet;
struct RunSecrets;

// The faults $SLUICE_FAULTS asks to inject (env/faults.h), for tests and chaos experiments.
Result<FaultPlan> FaultsFromEnv(Env& env);
// The faults of `plan` injected under the store (fsync-fail, disk-full: faulty_vfs.h).
StoreFaults StoreFaultsOf(const FaultPlan& plan);
// What resume, retry and rerun start with: who acts, the store (with the fsync faults
// $SLUICE_FAULTS asks for) and stored run `id`. On failure returns the first error.
struct OpenedRun {
  std::optional<Principal> who;
  std::unique_ptr<Store> store;
  std::optional<RunRecord> run;
};
Result<OpenedRun> OpenStoredRun(Env& env, const GlobalOptions& g, const std::string& id);
// Runs (or, with `replay`, continues from its stored events) a run in this process until it
// finishes or is cancelled; with x.retry first records its retry (Engine::Retry). `central`
// holds the central policies its gates apply (null: none, for a cancel); `secrets` the values of
// its secrets and secret params (null: none fetched). Returns the command's exit code.
int Execute(Env& env, const GlobalOptions& g, Store& store, std::shared_ptr<const Plan> plan,
            const Value& params, const std::string& run_id, bool replay, const ExecOptions& x,
            std::shared_ptr<const PolicySet> central, const RunSecrets* secrets = nullptr);
// What `sluice rerun` adds to a new run's record: the run it reruns and the task it reruns
// from, written into its run.submitted audit record, and the events that record the tasks it
// reuses, stored after run.created in the same transaction (run ids and times are set there).
// A run a schedule started has `schedule` instead ({"namespace", "name", "time",
// "intervalStart", "intervalEnd"}: schedule_runs.h), in run.created and run.submitted.
// Where a new run comes from, beyond its plan and params: its namespace, and what a rerun or a
// schedule adds.
struct RunOrigin {
  std::string ns = "default";  // the namespace it is submitted to
  std::string rerun_of;
  std::string from;  // "" when every task runs again
  std::vector<Event> reused;
  Value schedule;    // null unless a schedule started the run
  // The run's labels ({KEY: VALUE}), in run.created and run.submitted: a webhook trigger's, with
  // sluice.trigger=NAME (docs/triggers.md). Null for none.
  Value labels;
};
// Records a new run, admitted with `decisions`, under a new id (commands.cc says how); `again`
// (null for a local `run`: namespace "default") where it comes from. On failure returns the
// store's error; nothing is recorded.
Result<RunRecord> CreateRunRecord(Env& env, const std::string& actor, Store& store,
                                  const Plan& plan, const Value& params,
                                  const Value& secret_digests,
                                  const std::vector<Decision>& decisions,
                                  const RunOrigin* again);
// The same under id `id`: kConflict, nothing recorded, when a run of that id exists.
Result<RunRecord> CreateRunRecordWithId(Env& env, const std::string& actor, Store& store,
                                        const Plan& plan, const Value& params,
                                        const Value& secret_digests,
                                        const std::vector<Decision>& decisions,
                                        const std::string& id, const RunOrigin* again);
// Whether stored run `run` may be resumed (or, with `rollback`, rolled back) now: refused
// (kConflict, saying why) when it finished (for a rollback: when it has not, or ended other than
// succeeded or failed), or when a process executes it. `sluice resume|rollback` and the API's
// resume and rollback ask this before anything is recorded.
Status CheckResumable(Env& env, const GlobalOptions& g, const RunRecord& run, bool rollback);
// A stored run's plan, loaded from the sources it was submitted with, and its params; refused
// (kConflict) when either is not what its run.submitted audit record says was submitted.
Result<std::pair<std::shared_ptr<const Plan>, Value>> LoadStoredRun(Store& store,
                                                                    const RunRecord& run);
// A stored run's secret params given again (o.secret_params, or their variables) and checked
// against their digests, and its secrets fetched again. Null when the pipeline has none.
Result<std::shared_ptr<RunSecrets>> SecretsAgain(Env& env, Store& store, const Plan& plan,
                                                 const Value& stored, const RunRecord& run,
                                                 const ExecOptions& o);

// Adds each --image-map IMAGE=PROGRAM of `args` to `argo`; fails with the one-line message
// (naming the first that is not of that form) that `run` prints, locally and against a server.
Status AddImageMaps(const std::vector<std::string>& args, ArgoImportOptions& argo);

}  // namespace sluice
