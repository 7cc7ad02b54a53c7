// Reading `kind: Pools` files (pools_spec.h) with the loader's Reader, and admission's check of
// a plan's central pools against them.
#include <algorithm>

#include "access/access.h"
#include "common/strings.h"
#include "spec/plan.h"
#include "spec/pools_spec.h"
#include "spec/text_checks.h"
#include "spec/yaml_reader.h"

namespace sluice {

namespace {

// One entry of `pools:` (a capacity) or of `mutexes:` (capacity 1).
Result<CentralPool> ReadPool(const Reader& r, const YNode& n, bool mutex) {
  const char* what = mutex ? "a mutex" : "a pool";
  SLUICE_TRY_STATUS(r.ExpectMap(n, what));
  if (mutex) {
    SLUICE_TRY_STATUS(r.CheckKeys(n, {"name", "namespace", "description"}, what));
  } else {
    SLUICE_TRY_STATUS(r.CheckKeys(n, {"name", "namespace", "capacity", "description"}, what));
  }
  if (!n["name"] || (!mutex && !n["capacity"])) {
    return FailAt(r.Loc(n), "{}", mutex ? "a mutex needs a name" : "a pool needs name and capacity");
  }
  CentralPool p;
  SLUICE_TRY(name, r.Name(n["name"], mutex ? "mutex name" : "pool name"));
  p.name = *name;
  p.loc = r.Loc(n["name"]);
  if (p.name == "cpu" || p.name == "memory" || p.name == "gpu") {
    return FailAt(p.loc, "{} is a built-in resource, not a pool", p.name);
  }
  if (const auto& ns = n["namespace"]) {
    SLUICE_TRY(v, r.Str(ns, "namespace"));
    if (!IsNamespaceName(*v)) {
      return FailAt(r.Loc(ns), "namespace {} is not a namespace name (lower-case letters, digits "
                    "and '-', at most 63)", Quote(*v));
    }
    p.ns = *v;
  }
  if (mutex) {
    p.mutex = true;
  } else {
    SLUICE_TRY(cap, r.Int(n["capacity"], "pool capacity", 1, 1'000'000));
    p.capacity = static_cast<double>(*cap);
  }
  if (const auto& d = n["description"]) {
    SLUICE_TRY(text, r.Str(d, "description"));  // for readers of the file only
    (void)text;
  }
  return p;
}

}  // namespace

// spec.resources: what the whole run holds. Only central pools: a pool of spec.pools is a limit
// within the run, which a run holding it as a whole could never share.
Status Reader::RunPools(const YNode& n, PipelineSpec* p) const {
  SLUICE_TRY(r, ResourcesOf(n));
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string key(it->first.Scalar());
    if (key == "cpu" || key == "memory" || key == "gpu") {
      return FailAt(Loc(it->first), "spec.resources names central pools the run holds as a "
                    "whole; {} is a task's request (put it in defaults.resources)", key);
    }
    if (p->pools.count(key)) {
      return FailAt(Loc(it->first), "spec.resources asks for pool {}, which spec.pools declares: "
                    "a run holds only central pools as a whole (docs/pools.md)", Quote(key));
    }
    p->run_pool_locs.push_back(Loc(it->first));
  }
  p->run_pools = std::move(r->pools);
  return {};
}

const CentralPool* CentralPoolsSpec::Find(std::string_view name, std::string_view ns) const {
  const CentralPool* shared = nullptr;
  for (const auto& p : pools) {
    if (p.name != name) continue;
    if (p.ns == ns) return &p;
    if (p.ns.empty()) shared = &p;
  }
  return shared;
}

Result<CentralPoolsSpec> ParsePools(const std::string& path, std::string_view content) {
  Reader r(path);
  SLUICE_TRY(file, ParseOwnFile(path, content, r, "Pools", {"pools", "mutexes"}));
  const YNode& doc = *file->doc;
  CentralPoolsSpec out;
  out.file = path;
  for (const char* key : {"pools", "mutexes"}) {
    const auto& list = doc["spec"][key];
    if (!list) continue;
    SLUICE_TRY_STATUS(r.ExpectList(list, key));
    for (const auto& n : list) {
      SLUICE_TRY(p, ReadPool(r, n, std::string_view(key) == "mutexes"));
      for (const auto& other : out.pools) {
        if (other.name == p->name && other.ns == p->ns) {
          return FailAt(p->loc, "{} is declared twice{} (also at {})", Quote(p->name),
                        p->ns.empty() ? "" : " in namespace " + Quote(p->ns),
                        other.loc.ToString());
        }
      }
      out.pools.push_back(std::move(*p));
    }
  }
  return out;
}

namespace {

// The units of `name` the run holds as a whole (spec.resources), 0 when none.
double RunHolds(const PipelineSpec& p, std::string_view name) {
  for (const auto& [pool, units] : p.run_pools) {
    if (pool == name) return units;
  }
  return 0;
}

}  // namespace

Status CheckCentralPools(const Plan& plan, const CentralPoolsSpec& pools, std::string_view ns) {
  const PipelineSpec& spec = *plan.pipeline;
  for (size_t k = 0; k < spec.run_pools.size(); ++k) {
    const auto& [name, units] = spec.run_pools[k];
    const CentralPool* p = pools.Find(name, ns);
    const std::string what = fmt::format("spec.resources asks for pool {}", Quote(name));
    if (!p) {
      std::vector<std::string> known;
      for (const auto& c : pools.pools) {
        if (c.ns.empty() || c.ns == ns) known.push_back(c.name);
      }
      if (pools.file.empty()) {
        return FailAt(spec.run_pool_locs[k], "{}, but the state folder has no pools.yaml of "
                      "central pools (docs/pools.md)", what);
      }
      return FailAt(spec.run_pool_locs[k], "{}, which {} does not declare for namespace {}{}",
                    what, pools.file, Quote(ns), DidYouMean(name, known));
    }
    if (units > p->capacity + 1e-9) {
      return FailAt(spec.run_pool_locs[k], "spec.resources asks for {} units of {} {}, which "
                    "only has {}", units, p->mutex ? "mutex" : "central pool", Quote(p->Key()),
                    p->capacity);
    }
  }
  for (const PlanTask& t : plan.tasks) {
    for (const auto& [name, units] : t.central_pools()) {
      const CentralPool* p = pools.Find(name, ns);
      if (p && units + RunHolds(spec, name) > p->capacity + 1e-9 && RunHolds(spec, name) > 0) {
        return FailAt(t.spec->loc, "task {} asks for {} units of {} {}, which has {} and the "
                      "run holds {} of them as a whole (spec.resources): it would wait for its "
                      "own run", Quote(t.name), units, p->mutex ? "mutex" : "central pool",
                      Quote(p->Key()), p->capacity, RunHolds(spec, name));
      }
      if (!p) {
        std::vector<std::string> known;
        for (const auto& [k, v] : plan.pipeline->pools) known.push_back(k);
        for (const auto& c : pools.pools) {
          if (c.ns.empty() || c.ns == ns) known.push_back(c.name);
        }
        const std::string where =
            pools.file.empty()
                ? "spec.pools does not declare, and the state folder has no pools.yaml of "
                  "central pools (docs/pools.md)"
                : fmt::format("neither spec.pools nor {} declares for namespace {}", pools.file,
                              Quote(ns));
        return FailAt(t.spec->loc, "task {} asks for pool {}, which {}{}", Quote(t.name),
                      Quote(name), where, DidYouMean(name, known));
      }
      if (units > p->capacity + 1e-9) {
        return FailAt(t.spec->loc, "task {} asks for {} units of {} {}, which only has {}",
                      Quote(t.name), units, p->mutex ? "mutex" : "central pool", Quote(p->Key()),
                      p->capacity);
      }
    }
  }
  return {};
}

}  // namespace sluice
