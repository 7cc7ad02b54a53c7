// What the command files share (defined in commands.cc): error reporting, opening the store,
// times as text, run folders and shown statuses, and audit records.
#pragma once

#include <memory>
#include <string>

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
