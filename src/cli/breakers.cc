#include "cli/breakers.h"

#include <cstdio>

#include "cli/cli_support.h"

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
  int64_t now = env.clock().NowUs();
  ValueList out;
  if (!g.json) {
    std::printf("%-24s %-12s %-24s %-7s %-9s %-9s %s\n", "BREAKER", "STATE", "SINCE", "CALLS",
                "FAILURES", "SLOW", "WINDOW");
  }
  for (const auto& row : *rows) {
    if (g.json) {
      auto v = BreakerJson(**store, row, now);
      if (!v) return Report(v.error());
      out.push_back(std::move(*v));
      continue;
    }
    auto d = BreakerData::FromJson(row.data);
    if (!d) return Report(d.error());
    const BreakerSpec& c = d->config;
    BreakerRates r = BreakerMetrics(c, *d, now);
    std::string window = c.time_based ? fmt::format("last {}s", c.window_size)
                                      : fmt::format("last {} calls", c.window_size);
    auto pct = [](double x) { return x < 0 ? std::string("-") : fmt::format("{:.0f}%", x); };
    auto trans = (*store)->ListBreakerTransitions(row.name, 10);
    if (!trans) return Report(trans.error());
    std::printf("%-24s %-12s %-24s %-7d %-9s %-9s %s\n", row.name.c_str(),
                std::string(BreakerStateName(d->state)).c_str(),
                d->since_us ? Ts(d->since_us).c_str() : "-", r.calls, pct(r.failure_rate).c_str(),
                pct(r.slow_rate).c_str(), window.c_str());
    for (const auto& t : *trans) {
      std::printf("  %s  %s -> %s  %s (%s)\n", Ts(t.time_us).c_str(), t.from.c_str(), t.to.c_str(),
                  t.reason.c_str(), t.who.c_str());
    }
  }
  if (g.json) std::printf("%s\n", Value(std::move(out)).ToJson().c_str());
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

int CmdBreakerOrder(Env& env, const GlobalOptions& g, const std::string& order,
                    const std::string& name) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto audit = AuditBy(env, g, "breaker." + order, "", name, Value(ValueMap{}));
  if (!audit) return Report(audit.error());
  auto r = OrderBreaker(env, **store, order, name, *audit);
  if (!r) return Report(r.error());
  for (const auto& t : *r) std::printf("%s: %s -> %s\n", name.c_str(), t.from.c_str(), t.to.c_str());
  return 0;
}

}  // namespace sluice
