// RunLoop: the only part of the engine that talks to an Executor. A single-threaded loop in
// ninja's Builder style: the Decider decides a turn, the turn is committed (write-ahead: an
// attempt is recorded started before it exists), the attempts are submitted, the loop waits
// for ends or a timer, feeds the ends back to the Decider, and repeats.
//
// Besides the executor's handles it owns the stopping of attempts the Decider asked to stop:
// terminate, then kill after the grace period, again while they linger.
//
// Owned by the Engine for one run; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "engine/decider.h"
#include "engine/recorder.h"
#include "engine/run_state.h"
#include "env/env.h"
#include "executor/executor.h"

namespace sluice {

struct LoopOptions {
  int64_t kill_grace_us = 5'000'000;
  int64_t pid = 0;           // of the process executing the run, recorded in run.started
  bool cancel_only = false;  // cancel what is left instead of executing it
  bool rollback = false;     // compensate a finished run (`sluice rollback`)
};

struct RunSummary {
  RunStatus status = RunStatus::kSucceeded;
  int64_t latency_p50_us = 0;
  int64_t latency_p99_us = 0;
  int attempts_spawned = 0;  // by this process (a resumed run counts from the resume)
};

class RunLoop {
 public:
  RunLoop(RunState& state, Recorder& rec, Decider& decider, Executor& executor, Clock& clock,
          LoopOptions opts);

  // Runs to completion. Attempts left open by a process that died are adopted from the
  // executor, or recorded lost and handled by their retry policy. Returns the summary; an
  // error when the store failed or an event did not fit (the running attempts are stopped and
  // the run can be resumed), or Conflict when the run may not start (finished already).
  Result<RunSummary> Run();

 private:
  void Submit(std::vector<std::pair<int, AttemptRequest>>& starts);
  void Stop(const std::vector<int>& instances);
  void EscalateKills();
  void HandleEnds(std::vector<AttemptEnd>& ends);
  std::vector<Adoption> AdoptOpen(const std::vector<int>& open);
  void Recover();
  void CancelAll();
  void TerminateRunning(bool record);
  std::unexpected<Error> Abandon(const Error& err);
  int64_t WaitTimeoutUs() const;
  RunSummary Summarize();

  static constexpr int64_t kApprovalPollUs = 500'000;

  RunState& state_;
  Recorder& rec_;
  Decider& decider_;
  Executor& executor_;
  Clock& clock_;
  LoopOptions opts_;
  int64_t now_ = 0;
  std::unordered_map<AttemptHandle, int> running_;   // handle -> instance
  std::unordered_map<AttemptHandle, int64_t> kill_at_;  // stopping: when to kill (again)
  std::vector<int64_t> latencies_us_;  // ready -> submitted, per attempt of this process
};

}  // namespace sluice
