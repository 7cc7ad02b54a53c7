// What the command files share (defined in commands.cc): error reporting, opening the store,
// times as text, run folders and shown statuses, and audit records. Each takes what it reaches
// outside memory from the Env the command was given.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "common/value.h"
#include "env/env.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

int Report(const Error& e);
// The store in g.state_dir. On success returns it open; when the folder is missing, creates it
// if `create`, else fails with kNotFound. On failure returns the error to report.
Result<std::unique_ptr<Store>> OpenStore(Env& env, const GlobalOptions& g, bool create,
                                         int fail_fsync_at = 0);
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

}  // namespace sluice
