// WorkerQueueExecutor: hands attempts of executor: worker to `sluice worker`s through the
// store's work queue (docs/workers.md). It never talks to a worker: it queues a row per attempt,
// reads the rows that ended (or were made lost by the server's sweeper), and flags rows to
// cancel. The store is reached through WorkQueue, so this module does not link the store; the
// CLI gives it one over the run's state folder (cli/work_queue.h).
// Used by the engine's loop thread only; not thread-safe.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "env/env.h"
#include "executor/executor.h"

namespace sluice {

// A queue row as the executor sees it.
struct QueuedWork {
  int64_t id = 0;
  std::string state;  // queued, leased, ended, lost
  std::string end;    // ended, lost: the AttemptEnd as JSON (exec/work_codec.h)
};

// The work table of one run's store, as the executor uses it. Implementations report store
// failures as errors.
class WorkQueue {
 public:
  virtual ~WorkQueue() = default;
  // Queues one row per request (`json[k]` is request k's stored form); their ids, in order.
  virtual Result<std::vector<int64_t>> Enqueue(std::span<const AttemptRequest> batch,
                                               const std::vector<std::string>& json) = 0;
  // The run's rows that ended or were lost and are not yet collected.
  virtual Result<std::vector<QueuedWork>> Ended() = 0;
  virtual Status Collected(const std::vector<int64_t>& ids) = 0;
  // Ends a queued row with `end_json`, or flags a leased one for its worker to kill.
  virtual Status Cancel(int64_t id, const std::string& end_json) = 0;
  // The row of an attempt of the run; nullopt when it was never queued.
  virtual Result<std::optional<QueuedWork>> Find(const std::string& task, int attempt) = 0;
};

// Handles of queued attempts carry this bit (a pid never does, nor a local adopted handle), so
// a handle recorded in the event log says which executor it belongs to after a restart.
inline constexpr AttemptHandle kQueueHandleBit = AttemptHandle{1} << 52;
inline bool IsQueueHandle(AttemptHandle h) { return (h & kQueueHandleBit) != 0; }

class WorkerQueueExecutor : public Executor {
 public:
  // `artifact_root` and `bundle_root` are the server's folders (absolute) that requests may
  // name paths in: they travel with each request, so a worker knows which paths to fetch and
  // rewrite into its own cache.
  WorkerQueueExecutor(WorkQueue& queue, std::string artifact_root, std::string bundle_root);

  // Requests with secrets are refused (a queued request is stored, and secrets never are).
  std::vector<Result<AttemptHandle>> Submit(std::span<const AttemptRequest> batch) override;
  void Cancel(AttemptHandle handle, StopMode mode) override;
  // One query for the run's ended and lost rows; never waits (RoutingExecutor waits between
  // polls). A store failure returns no ends: the next poll asks again.
  PollResult Poll(int64_t timeout_us) override;
  std::vector<Adoption> Adopt(std::span<const OpenAttempt> open) override;
  void Recorded() override;

  // The adoption of `a` when the queue has a row for it; nullopt when it never reached the
  // queue (RoutingExecutor then asks the local executor, for a handle never recorded).
  std::optional<Adoption> AdoptIfQueued(const OpenAttempt& a);

 private:
  WorkQueue& queue_;
  std::string artifact_root_, bundle_root_;
  std::set<int64_t> returned_;        // ends returned by Poll, not yet recorded
  std::vector<int64_t> to_collect_;   // returned and recorded at the next Recorded()
};

}  // namespace sluice
