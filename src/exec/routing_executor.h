// RoutingExecutor: the executor of a run whose tasks run on more than one data plane. Each
// attempt goes to the executor its request names (AttemptRequest::executor: "local", "worker"
// or "slurm"); Cancel, Poll and Adopt follow the handle, whose kQueueHandleBit or
// kSlurmHandleBit says whose it is, also after a restart (the handle is what the event log
// recorded).
// Used by the engine's loop thread only; not thread-safe.
#pragma once

#include <set>

#include "exec/slurm_executor.h"
#include "exec/worker_queue_executor.h"

namespace sluice {

class RoutingExecutor : public Executor {
 public:
  // Both outlive this. `queue` polls the store: while attempts wait on it, Poll wakes every
  // kQueuePollUs to look (the wait itself is the local executor's, which also sees signals).
  RoutingExecutor(Executor& local, WorkerQueueExecutor& queue);
  // A run without workers: local attempts and, once SetSlurm, Slurm jobs.
  explicit RoutingExecutor(Executor& local);
  // Attempts of executor "slurm" go to `slurm` (outlives this). While jobs are tracked, Poll
  // waits (on the local executor) only until its next squeue is due.
  void SetSlurm(SlurmExecutor* slurm) { slurm_ = slurm; }
  // The run's doorbell, which the server rings when a worker reports an end of this run
  // (docs/workers.md): while no local attempt runs, Poll waits on it instead, looking at the
  // queue on a ring and at least every kBellFallbackUs (a lost ring, a lease made lost), and
  // for signals after each wait. `bell` outlives this; null: poll.
  void SetBell(Doorbell* bell) { bell_ = bell; }

  std::vector<Result<AttemptHandle>> Submit(std::span<const AttemptRequest> batch) override;
  void Cancel(AttemptHandle handle, StopMode mode) override;
  PollResult Poll(int64_t timeout_us) override;
  // Attempts with a queue handle, or with no recorded handle and a queue row, are the queue's;
  // the rest are the local executor's.
  std::vector<Adoption> Adopt(std::span<const OpenAttempt> open) override;
  void Recorded() override;

  static constexpr int64_t kQueuePollUs = 5'000;
  static constexpr int64_t kBellFallbackUs = 50'000;

 private:
  // The executor of a request or a handle: local_, *queue_ or *slurm_.
  Executor& For(const AttemptRequest& req);
  Executor& For(AttemptHandle h);
  std::set<AttemptHandle>& Tracked(const Executor& e);

  Executor& local_;
  WorkerQueueExecutor* queue_ = nullptr;
  SlurmExecutor* slurm_ = nullptr;
  std::set<AttemptHandle> on_slurm_;  // submitted or adopted, end not yet returned
  std::set<AttemptHandle> on_queue_;  // queued or adopted, end not yet returned
  std::set<AttemptHandle> on_local_;  // started or adopted locally, end not yet returned
  Doorbell* bell_ = nullptr;
};

}  // namespace sluice
