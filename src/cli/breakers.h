// Circuit breakers from the command line: the store-backed Breakers the engine uses, and
// `sluice breakers [reset|open|close|disable NAME]`.
#pragma once

#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/value.h"
#include "engine/interfaces.h"
#include "env/env.h"
#include "store/store.h"

namespace sluice {

// Breaker state in the store: every Acquire and Record is one transaction on the breaker's
// row, so runs sharing a state directory share their breakers' windows and states.
class StoreBreakers : public Breakers {
 public:
  StoreBreakers(Store& store, Clock& clock) : store_(store), clock_(clock) {}
  Result<bool> Acquire(const BreakerSpec& b, int64_t now_us, const std::string& who) override;
  Status Record(const BreakerSpec& b, int64_t now_us, std::optional<bool> failed,
                int64_t duration_us, const std::string& who) override;

 private:
  Store& store_;
  Clock& clock_;
};

// Helpers the command files share (defined in commands.cc).
int Report(const Error& e);
Result<std::unique_ptr<Store>> OpenStore(const GlobalOptions& g, FileSystem& fs, bool create,
                                         int fail_fsync_at = 0);
std::string Ts(int64_t us);
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
