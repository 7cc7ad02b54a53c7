// Circuit breakers: resilience4j's state machine over a sliding window of calls, as pure
// functions on a BreakerData that the caller loads and saves (in the store, shared by every run
// of a state directory; in memory for tests).
//
//   closed --(failure or slow-call rate >= threshold, over >= minimumNumberOfCalls)--> open
//   open --(waitDurationInOpenState passed, at the next call)--> half-open
//   half-open --(the permitted calls done: rates below thresholds)--> closed
//   half-open --(rates at or above a threshold, or maxWaitDurationInHalfOpenState)--> open
//   forced-open and disabled are set by operators (`sluice breakers open|disable`) and left
//   only by them (`close`, `reset`).
//
// A call is one attempt of a task that names the breaker. A failed attempt (any class but
// cancelled) is a failed call; an attempt longer than slowCallDurationThreshold is a slow call.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "engine/interfaces.h"
#include "spec/model.h"

namespace sluice {

enum class BreakerState { kClosed, kOpen, kHalfOpen, kForcedOpen, kDisabled };
std::string_view BreakerStateName(BreakerState s);
std::optional<BreakerState> ParseBreakerState(std::string_view name);

struct BreakerCall {
  int64_t end_us = 0;
  bool failed = false;
  bool slow = false;
};

struct BreakerTransition {
  BreakerState from = BreakerState::kClosed;
  BreakerState to = BreakerState::kClosed;
  std::string reason;
};

// What is stored per breaker.
struct BreakerData {
  BreakerState state = BreakerState::kClosed;
  int64_t since_us = 0;            // when the current state began
  std::vector<BreakerCall> calls;  // closed: the sliding window; half-open: the trial calls
  int permits = 0;                 // half-open: calls let through and not yet recorded
  BreakerSpec config;              // as last used, so `sluice breakers` can show rates

  std::string ToJson() const;
  static Result<BreakerData> FromJson(std::string_view json);  // "" = a new breaker
};

struct BreakerRates {
  int calls = 0;             // in the window (or the half-open trial)
  double failure_rate = -1;  // percent; -1 while fewer calls than the minimum
  double slow_rate = -1;
};

// May a call start now? Moves open -> half-open when the wait is over, half-open -> open when
// maxWaitDurationInHalfOpenState passed. Appends what changed to `out`.
bool BreakerAcquire(const BreakerSpec& c, BreakerData& d, int64_t now_us,
                    std::vector<BreakerTransition>* out);
// The outcome of a call that Acquire let through.
void BreakerRecord(const BreakerSpec& c, BreakerData& d, int64_t now_us, bool failed,
                   int64_t duration_us, std::vector<BreakerTransition>* out);
// A call that Acquire let through ended without an outcome (cancelled): its half-open permit
// goes back.
void BreakerRelease(BreakerData& d);
// An operator's order: open (forced-open), close, reset (closed, window emptied), disable.
Status BreakerOperate(BreakerData& d, std::string_view order, int64_t now_us,
                      std::vector<BreakerTransition>* out);
BreakerRates BreakerMetrics(const BreakerSpec& c, const BreakerData& d, int64_t now_us);

// Breakers kept in memory: one run's worth (tests, and a run given no store).
class MemoryBreakers : public Breakers {
 public:
  struct Logged {
    std::string name;
    BreakerTransition t;
    std::string who;
  };
  Result<bool> Acquire(const BreakerSpec& b, int64_t now_us, const std::string& who) override;
  Status Record(const BreakerSpec& b, int64_t now_us, std::optional<bool> failed,
                int64_t duration_us, const std::string& who) override;

  std::map<std::string, BreakerData> data;
  std::vector<Logged> transitions;
};

}  // namespace sluice
