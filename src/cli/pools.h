// Central pools from the command line (docs/pools.md): the state folder's STATE/pools.yaml read
// and trusted as users.yaml is, admission's check of a run's pools against it, the store-backed
// CentralPools a run's engine uses, and `sluice pools`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/value.h"
#include "engine/interfaces.h"
#include "spec/plan.h"
#include "spec/pools_spec.h"
#include "store/store.h"

namespace sluice {

// STATE/pools.yaml, or an empty spec when there is none. Fails when it is not trusted (a
// regular file owned by the state folder's owner, writable by no one else: whoever may edit it
// could lift the limits) or not a valid Pools file (FILE:LINE:COL).
Result<CentralPoolsSpec> LoadCentralPools(Env& env, const std::string& state_dir);

// Admission's check of a run of namespace `ns` against the state folder's central
// configuration: its central pools against STATE/pools.yaml (CheckCentralPools), and its deploy
// tasks against STATE/environments (CheckDeploys). Reads nothing for a plan that asks for
// neither.
Status CheckRunCentral(Env& env, const std::string& state_dir, const Plan& plan,
                       const std::string& ns);

// The CentralPools of run `run_id` (namespace `ns`) in `store`. An ask the store refuses first
// reclaims, at most every kReclaimEveryUs, the holds of runs that no process executes any more
// (their run folder's lock is free: a `sluice run` killed with kill -9, an engine that died).
class StorePools : public CentralPools {
 public:
  StorePools(Env& env, const GlobalOptions& g, Store& store, CentralPoolsSpec spec,
             std::string run_id, std::string ns)
      : env_(env), g_(g), store_(store), spec_(std::move(spec)), run_id_(std::move(run_id)),
        ns_(std::move(ns)) {}
  Result<bool> Acquire(const std::string& task, int attempt, int64_t since_us, const Units& units,
                       int64_t now_us) override;
  Status Release(const std::string& task) override;
  Status Reset(const std::vector<Held>& held, int64_t now_us) override;
  static constexpr int64_t kReclaimEveryUs = 5'000'000;

 private:
  Result<std::vector<PoolAsk>> Asks(const Units& units) const;
  // Gives back the holds in `asks`' pools of runs whose lock is free (taken while it does so).
  Status Reclaim(const std::vector<PoolAsk>& asks);

  Env& env_;
  const GlobalOptions& g_;
  Store& store_;
  CentralPoolsSpec spec_;
  std::string run_id_;
  std::string ns_;
  int64_t next_reclaim_us_ = 0;
};

// The CentralPools for executing `run_id` of `plan` (the run's namespace read from `store`), or
// null when no task of the plan asks for a central pool.
Result<std::unique_ptr<StorePools>> OpenStorePools(Env& env, const GlobalOptions& g, Store& store,
                                                   const Plan& plan, const std::string& run_id);

// The pools as `sluice pools -o json` gives them: a list of {name, namespace, kind (pool or
// mutex), capacity, used, holders: [{run, task, attempt, units}], waiting: [...]}, the file's
// pools first (in its order), then any pool the store has rows of that the file no longer
// declares (capacity null).
Value PoolsJson(const CentralPoolsSpec& spec, const std::vector<PoolHoldRow>& rows);
// That list as the text table `sluice pools` prints.
std::string PoolsText(const Value& items);
// `sluice pools`: prints PoolsJson of the state folder. Returns the exit code.
int CmdPools(Env& env, const GlobalOptions& g);

}  // namespace sluice
