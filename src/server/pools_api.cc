// GET /api/v1/pools (docs/api.md, "Pools"; docs/pools.md): the server's central pools and
// mutexes with who holds and who waits, and their gauges in /metrics. A token sees the shared
// pools and those of the namespaces it may read; a holder or waiter whose run it may not read is
// counted but not named.
#include "cli/pools.h"
#include "server/api.h"
#include "server/metrics.h"
#include "store/store.h"

namespace sluice {

namespace {

ApiResponse ListPoolsRoute(const ApiContext& ctx, const ApiRequest& req) {
  auto spec = LoadCentralPools(ctx.env, ctx.g.state_dir);
  if (!spec) return FromError(spec.error());
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto rows = (*store)->ListPoolHolds();
  if (!rows) return FromError(rows.error());
  auto readable = [&](const std::string& ns) { return ns.empty() || req.who.Can(Action::kRead, ns); };
  CentralPoolsSpec shown;
  shown.file = spec->file;
  for (const CentralPool& p : spec->pools) {
    if (readable(p.ns)) shown.pools.push_back(p);
  }
  std::vector<PoolHoldRow> visible;
  for (PoolHoldRow& r : *rows) {
    if (!readable(CentralPool::SplitKey(r.pool).first)) continue;
    if (!MayReadRun(ctx, req.who, r.run_id)) r.run_id = r.task = "";  // counted, not named
    visible.push_back(std::move(r));
  }
  return Json(Value(ValueMap{{"items", PoolsJson(shown, visible)}}));
}

}  // namespace

Result<std::string> PoolGauges(const ApiContext& ctx) {
  auto spec = LoadCentralPools(ctx.env, ctx.g.state_dir);
  if (!spec) return std::unexpected(spec.error());
  if (spec->pools.empty()) return std::string();
  auto store = ctx.ThreadStore();
  if (!store) return std::unexpected(store.error());
  auto rows = (*store)->ListPoolHolds();
  if (!rows) return std::unexpected(rows.error());
  std::string out =
      "# HELP sluice_pool_capacity Units of each central pool (pools.yaml).\n"
      "# TYPE sluice_pool_capacity gauge\n";
  std::string used =
      "# HELP sluice_pool_used Units of each central pool held by running attempts.\n"
      "# TYPE sluice_pool_used gauge\n";
  std::string waiting =
      "# HELP sluice_pool_waiting Tasks waiting for units of each central pool.\n"
      "# TYPE sluice_pool_waiting gauge\n";
  for (const CentralPool& p : spec->pools) {
    int64_t held = 0, queued = 0;
    for (const PoolHoldRow& r : *rows) {
      if (r.pool != p.Key()) continue;
      if (r.granted) held += r.units_milli;
      else ++queued;
    }
    const std::string labels = fmt::format("{{pool=\"{}\",namespace=\"{}\"}}", EscapeLabel(p.name),
                                           EscapeLabel(p.ns));
    out += fmt::format("sluice_pool_capacity{} {}\n", labels, p.capacity);
    used += fmt::format("sluice_pool_used{} {}\n", labels, static_cast<double>(held) / 1000);
    waiting += fmt::format("sluice_pool_waiting{} {}\n", labels, queued);
  }
  return out + used + waiting;
}

void AddPoolRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/pools", true, Action::kRead,
              [c](const ApiRequest& r) { return ListPoolsRoute(*c, r); }, /*namespaced=*/false});
}

}  // namespace sluice
