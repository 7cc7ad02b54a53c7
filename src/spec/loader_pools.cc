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

Status CheckCentralPools(const Plan& plan, const CentralPoolsSpec& pools, std::string_view ns) {
  for (const PlanTask& t : plan.tasks) {
    for (const auto& [name, units] : t.central_pools()) {
      const CentralPool* p = pools.Find(name, ns);
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
