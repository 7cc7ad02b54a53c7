// `kind: Pools` (docs/pools.md): the pools and mutexes shared by every run of a state folder or
// a server, like Argo's synchronization semaphores and mutexes and Airflow's pools. The file is
// the state folder's own (STATE/pools.yaml, trusted as users.yaml is), never a pipeline's: no
// author can raise a limit that bounds their own tasks. A task asks for a central pool with the
// `resources:` key it uses for a pool of its run (spec.pools); a name spec.pools declares stays
// a limit within the run.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace sluice {

struct Plan;

// One pool of the file; a mutex is a pool of capacity 1.
struct CentralPool {
  std::string name;
  std::string ns;  // the namespace it belongs to; "": shared by every namespace
  double capacity = 1;
  bool mutex = false;
  Location loc;  // of its name
  // The name its holds are stored under: "NS/NAME" for a namespace's own pool, else "NAME".
  std::string Key() const { return ns.empty() ? name : ns + "/" + name; }
  // A key's parts: {namespace ("" when shared), name}.
  static std::pair<std::string, std::string> SplitKey(const std::string& key) {
    const size_t slash = key.find('/');
    if (slash == std::string::npos) return {"", key};
    return {key.substr(0, slash), key.substr(slash + 1)};
  }
};

struct CentralPoolsSpec {
  std::string file;  // "" when the state folder has no pools file
  std::vector<CentralPool> pools;
  // The pool a run of namespace `ns` means by `name`: the namespace's own, else the shared
  // one; null when neither is declared.
  const CentralPool* Find(std::string_view name, std::string_view ns) const;
};

// Parses the text of a Pools file at `path`. Unknown keys, wrong types, a bad name or
// namespace, a capacity outside 1..1,000,000 and a pool declared twice for one namespace fail
// with FILE:LINE:COL.
Result<CentralPoolsSpec> ParsePools(const std::string& path, std::string_view content);

// Admission's check of a run of namespace `ns`: every pool a task asks for that its pipeline's
// spec.pools does not declare is a central pool of `pools`, and no task asks for more units
// than it has. Fails at the task's location otherwise.
Status CheckCentralPools(const Plan& plan, const CentralPoolsSpec& pools, std::string_view ns);

}  // namespace sluice
