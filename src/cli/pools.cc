// Central pools from the command line (pools.h; docs/pools.md).
#include "cli/pools.h"
#include "spec/environment_spec.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "cli/cli_support.h"
#include "cli/schedule_runs.h"
#include "common/outcome.h"
#include "common/strings.h"

namespace sluice {

namespace {

int64_t Milli(double units) { return std::llround(units * 1000); }

// Whether a keeper of the run (keeper_posix.h) still lives: the attempts of an engine that died
// go on under it, holding what they held, until they end.
bool KeeperAlive(Env& env, const std::string& run_dir) {
  const std::string dir = PathJoin(run_dir, "keepers");
  auto names = env.files().ListDir(dir);
  if (!names) return false;
  for (const auto& name : *names) {
    if (name.ends_with(".lock") && env.IsLocked(PathJoin(dir, name), nullptr)) return true;
  }
  return false;
}

}  // namespace

Result<CentralPoolsSpec> LoadCentralPools(Env& env, const std::string& state_dir) {
  FileSystem& fs = env.files();
  const std::string path = fs.Absolute(PathJoin(state_dir, "pools.yaml"));
  FileInfo info = fs.StatNoFollow(path);
  if (!info.exists) return CentralPoolsSpec{};
  SLUICE_TRY_STATUS(CheckTrusted(path, info, fs.Stat(state_dir).uid, false, "central pools"));
  SLUICE_TRY(text, fs.ReadFileAtMost(path, 1 << 20));
  return ParsePools(path, *text);
}

Status CheckRunCentral(Env& env, const std::string& state_dir, const Plan& plan,
                       const std::string& ns) {
  if (plan.has_deploy) {
    SLUICE_TRY(envs, LoadEnvironments(env.files(), state_dir));
    SLUICE_TRY_STATUS(CheckDeploys(plan, **envs));
    SLUICE_TRY(central, LoadCentralPolicies(env.files(), state_dir));
    SLUICE_TRY_STATUS(CheckPromotionPolicies(plan, **envs, *central));
  }
  if (!plan.asks_central_pools) return {};
  SLUICE_TRY(spec, LoadCentralPools(env, state_dir));
  return CheckCentralPools(plan, *spec, ns);
}

Result<std::vector<PoolAsk>> StorePools::Asks(const Units& units) const {
  std::vector<PoolAsk> asks;
  for (const auto& [name, n] : units) {
    const CentralPool* p = spec_.Find(name, ns_);
    if (!p) {
      return Fail(ErrorCode::kInvalidInput, "pool {} is no longer declared for namespace {} in "
                  "{} (it was when the run was admitted)", Quote(name), Quote(ns_),
                  spec_.file.empty() ? PathJoin(g_.state_dir, "pools.yaml") : spec_.file);
    }
    asks.push_back(PoolAsk{p->Key(), Milli(p->capacity), Milli(n)});
  }
  return asks;
}

Result<bool> StorePools::Acquire(const std::string& task, int attempt, int64_t since_us,
                                 const Units& units, int64_t now_us) {
  SLUICE_TRY(asks, Asks(units));
  SLUICE_TRY(took, store_.AcquirePools(run_id_, task, attempt, since_us, *asks, now_us));
  if (*took || now_us < next_reclaim_us_) return *took;
  next_reclaim_us_ = now_us + kReclaimEveryUs;
  SLUICE_TRY_STATUS(Reclaim(*asks));
  return store_.AcquirePools(run_id_, task, attempt, since_us, *asks, now_us);
}

Status StorePools::Reclaim(const std::vector<PoolAsk>& asks) {
  std::set<std::string> pools;
  for (const PoolAsk& a : asks) pools.insert(a.pool);
  SLUICE_TRY(rows, store_.ListPoolHolds());
  std::set<std::string> runs;
  for (const PoolHoldRow& r : *rows) {
    if (r.granted && r.run_id != run_id_ && pools.count(r.pool)) runs.insert(r.run_id);
  }
  for (const std::string& run : runs) {
    const std::string dir = RunDir(env_, g_, run);
    // Held while the rows go, so that no engine starts the run (and takes its holds) meanwhile.
    auto lock = env_.TryLock(PathJoin(dir, "lock"), std::to_string(env_.Pid()));
    if (!lock || !*lock) continue;  // executed now, or its folder is not here: kept
    if (KeeperAlive(env_, dir)) continue;  // its engine died, but its attempts still run
    // What a run holds as a whole (spec.resources) stays until it ends, as Argo's workflow-level
    // locks do: resumed, it goes on holding them; cancelled, it gives them back.
    auto record = store_.GetRun(run);
    auto status = record ? ParseRunStatus(record->status) : std::nullopt;
    if (!record || (status && IsFinished(*status))) {
      SLUICE_TRY_STATUS(store_.ReleasePools(run, ""));
      continue;
    }
    for (const PoolHoldRow& r : *rows) {
      if (r.run_id != run || r.task == CentralPools::kRunHolder) continue;
      SLUICE_TRY_STATUS(store_.ReleasePools(run, r.task));
    }
  }
  return {};
}

Status StorePools::Release(const std::string& task) { return store_.ReleasePools(run_id_, task); }

Status StorePools::Reset(const std::vector<Held>& held, int64_t now_us) {
  std::vector<PoolHoldRow> rows;
  for (const Held& h : held) {
    // A pool the file no longer declares is not held again: the attempt runs on, unbounded.
    for (const auto& [name, n] : h.units) {
      const CentralPool* p = spec_.Find(name, ns_);
      if (!p) continue;
      rows.push_back(PoolHoldRow{p->Key(), run_id_, h.task, h.attempt, Milli(n), true, now_us,
                                 now_us});
    }
  }
  return store_.SetPoolHolds(run_id_, rows);
}

Result<std::unique_ptr<StorePools>> OpenStorePools(Env& env, const GlobalOptions& g, Store& store,
                                                   const Plan& plan, const std::string& run_id) {
  if (!plan.asks_central_pools) return std::unique_ptr<StorePools>();
  SLUICE_TRY(spec, LoadCentralPools(env, g.state_dir));
  SLUICE_TRY(run, store.GetRun(run_id));
  return std::make_unique<StorePools>(env, g, store, std::move(*spec), run_id, run->ns);
}

Value PoolsJson(const CentralPoolsSpec& spec, const std::vector<PoolHoldRow>& rows) {
  auto entry = [&](const std::string& key, const CentralPool* p) {
    ValueList holders, waiting;
    int64_t used = 0;
    for (const PoolHoldRow& r : rows) {
      if (r.pool != key) continue;
      // A run the reader may not see (GET /api/v1/pools) has no id here: counted, not named.
      Value row(ValueMap{{"run", r.run_id.empty() ? Value() : Value(r.run_id)},
                         {"task", r.task.empty() ? Value() : Value(r.task)},
                         {"attempt", Value(static_cast<int64_t>(r.attempt))},
                         {"units", Value(static_cast<double>(r.units_milli) / 1000)},
                         {"since", Value(UtcOfUs(r.since_us))}});
      if (r.granted) used += r.units_milli;
      (r.granted ? holders : waiting).push_back(std::move(row));
    }
    // A pool the file no longer declares is named by its key: "NS/NAME" or "NAME".
    const auto [ns, name] = CentralPool::SplitKey(key);
    return Value(ValueMap{{"name", Value(p ? p->name : name)},
                          {"namespace", Value(p ? p->ns : ns)},
                          {"kind", Value(p && p->mutex ? "mutex" : "pool")},
                          {"capacity", p ? Value(p->capacity) : Value()},
                          {"used", Value(static_cast<double>(used) / 1000)},
                          {"holders", Value(std::move(holders))},
                          {"waiting", Value(std::move(waiting))}});
  };
  ValueList items;
  std::set<std::string> shown;
  for (const CentralPool& p : spec.pools) {
    items.push_back(entry(p.Key(), &p));
    shown.insert(p.Key());
  }
  for (const PoolHoldRow& r : rows) {
    if (shown.insert(r.pool).second) items.push_back(entry(r.pool, nullptr));
  }
  return Value(std::move(items));
}

std::string PoolsText(const Value& items) {
  std::string out = fmt::format("{:<24} {:<16} {:<6} {:>9} {:>9} {:>8}  {}\n", "NAME", "NAMESPACE",
                                "KIND", "CAPACITY", "USED", "WAITING", "HOLDERS");
  if (!items.is_list()) return out;
  auto field = [](const Value& item, const char* key) {
    const Value* v = item.is_map() ? item.Find(key) : nullptr;
    if (!v || v->is_null() || (v->is_string() && v->as_string().empty())) return std::string("-");
    if (v->is_number()) return fmt::format("{}", v->to_double());
    return v->is_string() ? v->as_string() : v->ToJson();
  };
  auto list = [](const Value& item, const char* key) {
    const Value* v = item.is_map() ? item.Find(key) : nullptr;
    return v && v->is_list() ? v->as_list() : ValueList();
  };
  for (const Value& item : items.as_list()) {
    std::vector<std::string> holders;
    for (const Value& h : list(item, "holders")) {
      holders.push_back(field(h, "run") + "/" + field(h, "task"));
    }
    const std::string ns = field(item, "namespace");
    out += fmt::format("{:<24} {:<16} {:<6} {:>9} {:>9} {:>8}  {}\n", field(item, "name"),
                       ns == "-" ? "(all)" : ns, field(item, "kind"), field(item, "capacity"),
                       field(item, "used"), list(item, "waiting").size(),
                       holders.empty() ? "-" : Join(holders, ", "));
  }
  return out;
}

int CmdPools(Env& env, const GlobalOptions& g) {
  auto spec = LoadCentralPools(env, g.state_dir);
  if (!spec) return Report(spec.error());
  std::vector<PoolHoldRow> rows;
  if (!g.store.empty() || env.files().Stat(PathJoin(g.state_dir, "sluice.db")).exists) {
    auto store = OpenStore(env, g, false);
    if (!store) return Report(store.error());
    auto listed = (*store)->ListPoolHolds();
    if (!listed) return Report(listed.error());
    rows = std::move(*listed);
  }
  const Value items = PoolsJson(*spec, rows);
  if (g.json) std::printf("%s\n", items.ToJson().c_str());
  else std::fputs(PoolsText(items).c_str(), stdout);
  return 0;
}

}  // namespace sluice
