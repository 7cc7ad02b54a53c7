// Circuit breakers from the command line (breakers.h).
#include "cli/breakers.h"

#include <cstdio>

#include "cli/cli_support.h"
#include "cli/render.h"
#include "common/strings.h"
#include "common/value.h"
#include "engine/breaker.h"

namespace sluice {

namespace {

std::vector<BreakerTransitionRow> Rows(const std::vector<BreakerTransition>& ts,
                                       const std::string& who) {
  std::vector<BreakerTransitionRow> rows;
  for (const auto& t : ts) {
    rows.push_back({"", std::string(BreakerStateName(t.from)), std::string(BreakerStateName(t.to)),
                    t.reason, who, 0});
  }
  return rows;
}

// Loads a breaker's data, applies `f` and saves it, in one store transaction.
template <typename F>
Result<std::vector<BreakerTransitionRow>> Update(Store& store, const std::string& name,
                                                 int64_t now_us, const std::string& who, F f) {
  return store.UpdateBreaker(name, now_us, [&](std::string& json)
                                               -> Result<std::vector<BreakerTransitionRow>> {
    SLUICE_TRY(d, BreakerData::FromJson(json));
    std::vector<BreakerTransition> ts;
    SLUICE_TRY_STATUS(f(*d, &ts));
    json = d->ToJson();
    return Rows(ts, who);
  });
}

}  // namespace

Result<bool> StoreBreakers::Acquire(const BreakerSpec& b, int64_t now_us, const std::string& who) {
  bool ok = false;
  auto r = Update(store_, b.name, now_us, who, [&](BreakerData& d, auto* ts) -> Status {
    ok = BreakerAcquire(b, d, now_us, ts);
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return ok;
}

Status StoreBreakers::Record(const BreakerSpec& b, int64_t now_us, std::optional<bool> failed,
                             int64_t duration_us, const std::string& who) {
  auto r = Update(store_, b.name, now_us, who, [&](BreakerData& d, auto* ts) -> Status {
    if (failed) BreakerRecord(b, d, now_us, *failed, duration_us, ts);
    else BreakerRelease(d);
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<Value> BreakerJson(Store& store, const BreakerRow& row, int64_t now_us) {
  SLUICE_TRY(d, BreakerData::FromJson(row.data));
  const BreakerSpec& c = d->config;
  BreakerRates r = BreakerMetrics(c, *d, now_us);
  SLUICE_TRY(trans, store.ListBreakerTransitions(row.name, 10));
  ValueList ts;
  for (const auto& t : *trans) {
    ts.push_back(Value(ValueMap{{"from", Value(t.from)}, {"to", Value(t.to)},
                                {"reason", Value(t.reason)}, {"who", Value(t.who)},
                                {"time", Value(Ts(t.time_us))}}));
  }
  return Value(ValueMap{
      {"name", Value(row.name)},
      {"state", Value(std::string(BreakerStateName(d->state)))},
      {"since", Value(d->since_us ? Ts(d->since_us) : "")},
      {"calls", Value(static_cast<int64_t>(r.calls))},
      {"failureRate", r.failure_rate < 0 ? Value() : Value(r.failure_rate)},
      {"slowCallRate", r.slow_rate < 0 ? Value() : Value(r.slow_rate)},
      {"failureRateThreshold", Value(c.failure_rate)},
      {"window", Value(c.time_based ? fmt::format("last {}s", c.window_size)
                                    : fmt::format("last {} calls", c.window_size))},
      {"transitions", Value(std::move(ts))}});
}

int CmdBreakers(Env& env, const GlobalOptions& g) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto rows = (*store)->ListBreakers();
  if (!rows) return Report(rows.error());
  const int64_t now = env.clock().NowUs();
  ValueList out;
  for (const auto& row : *rows) {
    auto v = BreakerJson(**store, row, now);
    if (!v) return Report(v.error());
    out.push_back(std::move(*v));
  }
  const Value list(std::move(out));
  // The text is drawn from the JSON, as it is against a server (render.h).
  std::fputs(g.json ? (list.ToJson() + "\n").c_str() : BreakersText(list).c_str(), stdout);
  return 0;
}

Result<std::vector<BreakerTransitionRow>> OrderBreaker(Env& env, Store& store,
                                                       const std::string& order,
                                                       const std::string& name,
                                                       const AuditRecord& audit) {
  SLUICE_TRY(rows, store.ListBreakers());
  std::vector<std::string> names;
  for (const auto& r : *rows) names.push_back(r.name);
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return Fail(ErrorCode::kNotFound, "no breaker {} has been used here{}", Quote(name),
                DidYouMean(name, names));
  }
  int64_t now = env.clock().NowUs();
  SLUICE_TRY(r, Update(store, name, now, "operator " + audit.actor, [&](BreakerData& d, auto* ts) {
    return BreakerOperate(d, order, now, ts);
  }));
  SLUICE_TRY_STATUS(store.AppendAudit(audit));
  return std::move(*r);
}

Value BreakerOrderJson(const std::string& name, const std::string& order, const std::string& by,
                       const std::vector<BreakerTransitionRow>& transitions) {
  ValueList ts;
  for (const auto& t : transitions) {
    ts.push_back(Value(ValueMap{{"from", Value(t.from)}, {"to", Value(t.to)}}));
  }
  return Value(ValueMap{{"name", Value(name)}, {"order", Value(order)}, {"by", Value(by)},
                        {"transitions", Value(std::move(ts))}});
}

int CmdBreakerOrder(Env& env, const GlobalOptions& g, const std::string& order,
                    const std::string& name) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto audit = AuditBy(env, g, "breaker." + order, "", name, Value(ValueMap{}));
  if (!audit) return Report(audit.error());
  auto r = OrderBreaker(env, **store, order, name, *audit);
  if (!r) return Report(r.error());
  std::fputs(BreakerOrderText(BreakerOrderJson(name, order, audit->actor, *r)).c_str(), stdout);
  return 0;
}

}  // namespace sluice
