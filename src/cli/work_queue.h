// The engine's side of the work queue: a run whose plan has tasks of executor: worker executes
// them through the store's work table (store/work.h), which `sluice server` leases to workers.
#pragma once

#include <functional>
#include <memory>

#include "cli/cli_support.h"
#include "exec/routing_executor.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

// The work queue of run `run_id` in `store` (which must outlive it). `queued`, when set, is
// called after each batch is committed to the queue (to ring the server's bell).
std::unique_ptr<WorkQueue> NewStoreWorkQueue(Store& store, Clock& clock, const std::string& run_id,
                                             std::function<void()> queued = {});

// Whether any task of `plan` runs on workers.
bool HasWorkerTasks(const Plan& plan);

// The executors of such a run: the queue (over a store connection of its own, so that its polls
// never publish the run's journal early) and the router that sends each attempt to `local` or
// to the queue. Owned by Execute for the run's lifetime.
struct WorkerPlane {
  std::unique_ptr<Store> store;
  std::unique_ptr<WorkQueue> queue;
  std::unique_ptr<WorkerQueueExecutor> queued;
  std::unique_ptr<RoutingExecutor> routing;
  std::unique_ptr<Doorbell> bell;  // STATE/runs/ID/work.bell, rung by the server; null: polls
};

// Where a run's engine listens for the server's rings (ends reported), and where the server
// listens for engines' rings (work queued): docs/workers.md.
std::string RunBellPath(Env& env, const GlobalOptions& g, const std::string& run_id);
std::string ServerBellPath(Env& env, const GlobalOptions& g);

// Opens the run's work queue in the state folder of `g`. On failure (the store cannot be opened)
// an error.
Result<std::unique_ptr<WorkerPlane>> OpenWorkerPlane(Env& env, const GlobalOptions& g,
                                                     const std::string& run_id, Executor& local);

}  // namespace sluice
