#include "engine/breaker.h"

#include <algorithm>

#include "common/strings.h"
#include "common/value.h"

namespace sluice {

namespace {

constexpr std::string_view kNames[] = {"closed", "open", "half-open", "forced-open", "disabled"};
constexpr size_t kMaxCalls = 10000;  // a time-based window of a busy breaker stays bounded

int MinimumCalls(const BreakerSpec& c) {
  // As resilience4j: a count-based window cannot hold more calls than its size.
  return c.time_based ? c.minimum_calls : std::min(c.minimum_calls, c.window_size);
}

void Prune(const BreakerSpec& c, BreakerData& d, int64_t now_us) {
  auto& calls = d.calls;
  if (d.state != BreakerState::kClosed) return;
  if (c.time_based) {
    int64_t from = now_us - static_cast<int64_t>(c.window_size) * 1'000'000;
    calls.erase(calls.begin(), std::find_if(calls.begin(), calls.end(),
                                            [&](const BreakerCall& x) { return x.end_us > from; }));
  }
  size_t keep = c.time_based ? kMaxCalls : static_cast<size_t>(c.window_size);
  if (calls.size() > keep) calls.erase(calls.begin(), calls.end() - static_cast<long>(keep));
}

void MoveTo(BreakerData& d, BreakerState to, int64_t now_us, std::string reason,
            std::vector<BreakerTransition>* out) {
  if (out) out->push_back({d.state, to, std::move(reason)});
  d.state = to;
  d.since_us = now_us;
  d.calls.clear();
  d.permits = 0;
}

BreakerRates Rates(const std::vector<BreakerCall>& calls, int minimum) {
  BreakerRates r;
  r.calls = static_cast<int>(calls.size());
  if (r.calls == 0 || r.calls < minimum) return r;
  int failed = 0, slow = 0;
  for (const auto& x : calls) {
    failed += x.failed;
    slow += x.slow;
  }
  r.failure_rate = 100.0 * failed / r.calls;
  r.slow_rate = 100.0 * slow / r.calls;
  return r;
}

// "failure rate 60% >= 50%" when a threshold is crossed, "" when not.
std::string Crossed(const BreakerSpec& c, const BreakerRates& r) {
  if (r.failure_rate >= 0 && r.failure_rate >= c.failure_rate) {
    return fmt::format("failure rate {:.0f}% >= {:g}% over {} calls", r.failure_rate,
                       c.failure_rate, r.calls);
  }
  if (r.slow_rate >= 0 && r.slow_rate >= c.slow_rate) {
    return fmt::format("slow-call rate {:.0f}% >= {:g}% over {} calls", r.slow_rate, c.slow_rate,
                       r.calls);
  }
  return "";
}

// Half-open too long: back to open.
void CheckHalfOpenWait(const BreakerSpec& c, BreakerData& d, int64_t now_us,
                       std::vector<BreakerTransition>* out) {
  if (d.state == BreakerState::kHalfOpen && c.max_wait_half_open_ms > 0 &&
      now_us - d.since_us >= c.max_wait_half_open_ms * 1000) {
    MoveTo(d, BreakerState::kOpen, now_us,
           fmt::format("half-open for {} (maxWaitDurationInHalfOpenState)",
                       FormatDurationMs(c.max_wait_half_open_ms)), out);
  }
}

}  // namespace

std::string_view BreakerStateName(BreakerState s) { return kNames[static_cast<int>(s)]; }

std::optional<BreakerState> ParseBreakerState(std::string_view name) {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == name) return static_cast<BreakerState>(i);
  }
  return std::nullopt;
}

bool BreakerAcquire(const BreakerSpec& c, BreakerData& d, int64_t now_us,
                    std::vector<BreakerTransition>* out) {
  d.config = c;
  CheckHalfOpenWait(c, d, now_us, out);
  switch (d.state) {
    case BreakerState::kClosed:
    case BreakerState::kDisabled:
      return true;
    case BreakerState::kForcedOpen:
      return false;
    case BreakerState::kOpen:
      if (now_us - d.since_us < c.wait_open_ms * 1000) return false;
      MoveTo(d, BreakerState::kHalfOpen, now_us,
             fmt::format("open for {} (waitDurationInOpenState)", FormatDurationMs(c.wait_open_ms)),
             out);
      [[fallthrough]];
    case BreakerState::kHalfOpen:
      if (d.permits + static_cast<int>(d.calls.size()) >= c.half_open_calls) return false;
      ++d.permits;
      return true;
  }
  return false;
}

void BreakerRecord(const BreakerSpec& c, BreakerData& d, int64_t now_us, bool failed,
                   int64_t duration_us, std::vector<BreakerTransition>* out) {
  d.config = c;
  CheckHalfOpenWait(c, d, now_us, out);
  BreakerCall call{now_us, failed, duration_us > c.slow_ms * 1000};
  if (d.state == BreakerState::kClosed) {
    d.calls.push_back(call);
    Prune(c, d, now_us);
    std::string why = Crossed(c, Rates(d.calls, MinimumCalls(c)));
    if (!why.empty()) MoveTo(d, BreakerState::kOpen, now_us, why, out);
    return;
  }
  if (d.state != BreakerState::kHalfOpen || d.permits == 0) return;  // a call from before a change
  --d.permits;
  d.calls.push_back(call);
  if (static_cast<int>(d.calls.size()) < c.half_open_calls) return;
  BreakerRates r = Rates(d.calls, c.half_open_calls);
  std::string why = Crossed(c, r);
  if (!why.empty()) {
    MoveTo(d, BreakerState::kOpen, now_us, why + " in half-open", out);
  } else {
    MoveTo(d, BreakerState::kClosed, now_us,
           fmt::format("{} trial calls in half-open: failure rate {:.0f}%, slow-call rate {:.0f}%",
                       r.calls, r.failure_rate, r.slow_rate), out);
  }
}

void BreakerRelease(BreakerData& d) {
  if (d.state == BreakerState::kHalfOpen && d.permits > 0) --d.permits;
}

Status BreakerOperate(BreakerData& d, std::string_view order, int64_t now_us,
                      std::vector<BreakerTransition>* out) {
  std::string why = fmt::format("operator: {}", order);
  if (order == "open") MoveTo(d, BreakerState::kForcedOpen, now_us, why, out);
  else if (order == "close" || order == "reset") MoveTo(d, BreakerState::kClosed, now_us, why, out);
  else if (order == "disable") MoveTo(d, BreakerState::kDisabled, now_us, why, out);
  else return Fail(ErrorCode::kInvalidInput, "unknown breaker order {}; use open, close, reset "
                   "or disable", Quote(order));
  return {};
}

BreakerRates BreakerMetrics(const BreakerSpec& c, const BreakerData& d, int64_t now_us) {
  BreakerData copy = d;
  Prune(c, copy, now_us);
  return Rates(copy.calls, d.state == BreakerState::kHalfOpen ? c.half_open_calls : MinimumCalls(c));
}

Result<bool> MemoryBreakers::Acquire(const BreakerSpec& b, int64_t now_us, const std::string& who) {
  std::vector<BreakerTransition> out;
  bool ok = BreakerAcquire(b, data[b.name], now_us, &out);
  for (auto& t : out) transitions.push_back({b.name, std::move(t), who});
  return ok;
}

Status MemoryBreakers::Record(const BreakerSpec& b, int64_t now_us, std::optional<bool> failed,
                              int64_t duration_us, const std::string& who) {
  std::vector<BreakerTransition> out;
  if (failed) BreakerRecord(b, data[b.name], now_us, *failed, duration_us, &out);
  else BreakerRelease(data[b.name]);
  for (auto& t : out) transitions.push_back({b.name, std::move(t), who});
  return {};
}

std::string BreakerData::ToJson() const {
  ValueList list;
  for (const auto& x : calls) {
    list.push_back(Value(ValueList{Value(x.end_us), Value(x.failed), Value(x.slow)}));
  }
  const BreakerSpec& c = config;
  Value conf(ValueMap{{"timeBased", Value(c.time_based)},
                      {"slidingWindowSize", Value(static_cast<int64_t>(c.window_size))},
                      {"minimumNumberOfCalls", Value(static_cast<int64_t>(c.minimum_calls))},
                      {"failureRateThreshold", Value(c.failure_rate)},
                      {"slowCallRateThreshold", Value(c.slow_rate)},
                      {"slowCallDurationMs", Value(c.slow_ms)},
                      {"waitDurationInOpenStateMs", Value(c.wait_open_ms)},
                      {"permittedNumberOfCallsInHalfOpenState",
                       Value(static_cast<int64_t>(c.half_open_calls))},
                      {"maxWaitDurationInHalfOpenStateMs", Value(c.max_wait_half_open_ms)}});
  return Value(ValueMap{{"state", Value(std::string(BreakerStateName(state)))},
                        {"since_us", Value(since_us)},
                        {"permits", Value(static_cast<int64_t>(permits))},
                        {"calls", Value(std::move(list))},
                        {"config", std::move(conf)}})
      .ToJson();
}

Result<BreakerData> BreakerData::FromJson(std::string_view json) {
  BreakerData d;
  if (json.empty()) return d;
  auto v = ParseJson(json);
  auto bad = [&] { return Fail(ErrorCode::kStore, "stored breaker data is damaged: {}", Quote(json.substr(0, 80))); };
  if (!v || !v->is_map()) return bad();
  auto num = [&](const Value* m, const char* k, int64_t def) {
    const Value* x = m ? m->Find(k) : nullptr;
    return x && x->is_int() ? x->as_int() : x && x->is_double() ? static_cast<int64_t>(x->as_double()) : def;
  };
  auto real = [&](const Value* m, const char* k, double def) {
    const Value* x = m ? m->Find(k) : nullptr;
    return x && x->is_double() ? x->as_double() : x && x->is_int() ? static_cast<double>(x->as_int()) : def;
  };
  const Value* st = v->Find("state");
  auto state = st && st->is_string() ? ParseBreakerState(st->as_string()) : std::nullopt;
  if (!state) return bad();
  d.state = *state;
  d.since_us = num(&*v, "since_us", 0);
  d.permits = static_cast<int>(num(&*v, "permits", 0));
  if (const Value* calls = v->Find("calls"); calls && calls->is_list()) {
    for (const auto& x : calls->as_list()) {
      if (!x.is_list() || x.as_list().size() != 3) return bad();
      const auto& l = x.as_list();
      d.calls.push_back({l[0].is_int() ? l[0].as_int() : 0, l[1].is_bool() && l[1].as_bool(),
                         l[2].is_bool() && l[2].as_bool()});
    }
  }
  if (const Value* c = v->Find("config"); c && c->is_map()) {
    const Value* tb = c->Find("timeBased");
    d.config.time_based = tb && tb->is_bool() && tb->as_bool();
    d.config.window_size = static_cast<int>(num(c, "slidingWindowSize", 100));
    d.config.minimum_calls = static_cast<int>(num(c, "minimumNumberOfCalls", 100));
    d.config.failure_rate = real(c, "failureRateThreshold", 50);
    d.config.slow_rate = real(c, "slowCallRateThreshold", 100);
    d.config.slow_ms = num(c, "slowCallDurationMs", 60000);
    d.config.wait_open_ms = num(c, "waitDurationInOpenStateMs", 60000);
    d.config.half_open_calls = static_cast<int>(num(c, "permittedNumberOfCallsInHalfOpenState", 10));
    d.config.max_wait_half_open_ms = num(c, "maxWaitDurationInHalfOpenStateMs", 0);
  }
  return d;
}

}  // namespace sluice
