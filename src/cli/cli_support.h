// What the command files share (defined in commands.cc): error reporting, opening the store,
// times as text, run folders and shown statuses, and audit records.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "common/value.h"
#include "env/env.h"
#include "store/store.h"

namespace sluice {

int Report(const Error& e);
Result<std::unique_ptr<Store>> OpenStore(const GlobalOptions& g, FileSystem& fs, bool create,
                                         int fail_fsync_at = 0);
std::string Ts(int64_t us);
// The run's folder, STATE/runs/ID, absolute.
std::string RunDir(const GlobalOptions& g, FileSystem& fs, const std::string& id);
// The run's status as recorded, or "interrupted" for one recorded running (or pending) whose
// process is gone.
std::string ShownStatus(const GlobalOptions& g, FileSystem& fs, const RunRecord& run);
bool IsFinishedRun(std::string_view status);
// A run whose process died may have committed events that only its journal holds (up to 25 ms
// of them; docs/store.md): publishes them into the tables, as `resume` does first, when no
// process executes the run. Best effort: a run being executed, or a state folder this user
// cannot write, is left as it is.
void PublishLeftJournal(const GlobalOptions& g, FileSystem& fs, Store& store,
                        const RunRecord& run);
// An audit record of `action` by `actor`, now.
AuditRecord AuditOf(std::string actor, std::string action, std::string run_id,
                    std::string subject, const Value& details);
// An audit record of `action` by the current user; fails when the user is not allowed (not in
// users.yaml).
Result<AuditRecord> AuditBy(const GlobalOptions& g, std::string action, std::string run_id,
                            std::string subject, const Value& details);
Status Audit(const GlobalOptions& g, Store& store, std::string action, std::string run_id,
             std::string subject, const Value& details = Value(ValueMap{}));

}  // namespace sluice
