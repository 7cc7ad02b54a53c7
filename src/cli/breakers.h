// Circuit breakers from the command line: the store-backed Breakers the engine uses, and
// `sluice breakers [reset|open|close|disable NAME]`.
#pragma once

#include <string>

#include "engine/interfaces.h"
#include "store/store.h"

namespace sluice {

// Breaker state in the store: every Acquire and Record is one transaction on the breaker's
// row, so runs sharing a state directory share their breakers' windows and states.
class StoreBreakers : public Breakers {
 public:
  explicit StoreBreakers(Store& store) : store_(store) {}
  Result<bool> Acquire(const BreakerSpec& b, int64_t now_us, const std::string& who) override;
  Status Record(const BreakerSpec& b, int64_t now_us, std::optional<bool> failed,
                int64_t duration_us, const std::string& who) override;

 private:
  Store& store_;
};

}  // namespace sluice
