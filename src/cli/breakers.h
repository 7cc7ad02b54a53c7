// Circuit breakers from the command line: the store-backed Breakers the engine uses, and
// `sluice breakers [reset|open|close|disable NAME]`.
#pragma once

#include <string>

#include "common/value.h"
#include "engine/interfaces.h"
#include "env/env.h"
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

// A breaker as `sluice breakers -o json` and GET /api/v1/breakers show it: its state, rates and
// last 10 transitions at `now_us`. On failure returns the store's error or its unreadable data.
Result<Value> BreakerJson(Store& store, const BreakerRow& row, int64_t now_us);

// Carries out `order` (open, close, reset, disable) on breaker `name` and appends its audit
// record `audit` (breaker.ORDER, its actor named in the transitions). On success returns the
// transitions made; kNotFound (nothing recorded) when no breaker of that name has been used.
Result<std::vector<BreakerTransitionRow>> OrderBreaker(Env& env, Store& store,
                                                       const std::string& order,
                                                       const std::string& name,
                                                       const AuditRecord& audit);

// An order's answer, as POST /api/v1/breakers/{name}/{order} serves it and `sluice breakers
// ORDER` renders it (BreakerOrderText): {"name", "order", "by", "transitions": [{"from", "to"}]}.
Value BreakerOrderJson(const std::string& name, const std::string& order, const std::string& by,
                       const std::vector<BreakerTransitionRow>& transitions);

}  // namespace sluice
