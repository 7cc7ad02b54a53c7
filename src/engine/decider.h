// Decider: what a run does next, given its plan, its RunState and the time. Every decision is
// an event recorded through the Recorder (start this attempt, retry at T, skip, expand, cancel,
// start a handler, compensate, fail with this class), plus two kinds of orders for the loop:
// attempts to submit (after the commit that records them started) and attempts to stop. It
// calls no executor: the loop does, and tells it how attempts ended.
//
// Besides the state it keeps only what no event records: the queue of vetted instances waiting
// for a slot, why it asked a running attempt to stop, and the run-level stops it has acted on.
// A Decider built on a replayed state decides those again.
//
// Owned by the loop for one run; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/attempt.h"
#include "engine/recorder.h"
#include "engine/run_state.h"
#include "executor/executor.h"

namespace sluice {

struct Decision;  // policy/policy.h

struct Capacity {
  int jobs = 2;
  double cpu = 2;
  double memory = 0;  // bytes; 0 = unlimited
  double gpu = 0;
};

// What the loop must do after a decision: submit these attempts once their start is committed,
// and stop these running ones (terminate; kill after the grace period).
struct Orders {
  std::vector<std::pair<int, AttemptRequest>> start;
  std::vector<int> stop;
};

class Decider {
 public:
  // `ctx` and `approvals` (null: nobody can vote, approvals time out) outlive the Decider.
  Decider(RunState& state, Recorder& rec, const RunContext& ctx, Capacity capacity,
          Approvals* approvals);

  // Whether the run may start now: Conflict when it is finished, or (rollback) when it cannot
  // be rolled back.
  Status CheckStart(bool rollback) const;
  // `sluice rollback`: compensation of a finished run begins.
  void BeginRollback(int64_t now_us);

  // One turn: handlers and forEach items that finished are settled, what became ready is vetted
  // (skip, expand, gate, approval, builtins), and runnable attempts start while slots last.
  // Groups with a failed member are stopped, and reset once settled.
  void Advance(int64_t now_us, Orders& orders);
  // Groups alone (after submit failures settled more tasks): a group whose last member just
  // failed starts over.
  void Regroup(int64_t now_us, Orders& orders) {
    now_ = now_us;
    HandleGroups(orders);
  }
  // Everything is settled: a failed run compensates what it completed, then every run but a
  // cancelled one or a rollback runs its finally tasks. False when the run is over.
  bool AdvancePhase(int64_t now_us);
  // Time passed: retries due, timeouts and deadlines, votes on approvals, the run's failFast
  // and deadline. Attempts to terminate go to `orders.stop`.
  void Tick(int64_t now_us, Orders& orders);

  // An attempt ended as its executor says; the stop the Decider ordered, if any, says why.
  void AttemptEnded(int i, const AttemptEnd& end, int64_t now_us);
  // An attempt recorded started could not be submitted.
  void SubmitFailed(int i, const std::string& why, int64_t now_us);

  // Cancel (Ctrl-C, `sluice cancel`): nothing starts any more. The loop stops the running
  // attempts and reports each by AttemptCancelled; CancelRest then records every instance not
  // settled cancelled.
  void BeginCancel() { cancelled_ = true; }
  void AttemptCancelled(int i, int64_t now_us);
  void CancelRest(int64_t now_us);
  bool cancelled() const { return cancelled_; }

  // Nothing is ready, runnable, waiting for a timer or a vote: the run cannot go on. Only a bug
  // leads here; FailStuck fails what is left rather than hang.
  bool Stuck() const;
  void FailStuck(int64_t now_us);
  // Runnable instances that could start now: not when all that waits waits for central pools
  // (the loop then sleeps until NextDueUs asks them again).
  bool HasRunnable() const { return !runnable_.empty() && !pool_wait_; }
  bool AwaitingVotes() const { return !state_.awaiting().empty(); }
  // The earliest time a timer of the Decider's is due, -1 when none is.
  int64_t NextDueUs() const;
  RunStatus FinalStatus() const;
  // Central pools (decider_pools.cc). On start: the run holds what its open attempts hold (a
  // process that died left the store's rows as they were). At the end: nothing.
  Status AdoptCentralPools(int64_t now_us);
  void ReleaseAllCentralPools(int64_t now_us);
  // The run waits for the central pools it holds as a whole (spec.resources): it decides
  // nothing until they are taken, so its ready work is not work the loop can do now.
  bool WaitsForRunPools() const { return !run_pools_held_ && !plan_.pipeline->run_pools.empty(); }

 private:
  enum class StopReason { kTimeout, kTaskDeadline, kRunDeadline, kCancelled };

  void Record(Event e, int instance = -1, const Value* data = nullptr) {
    rec_.Record(std::move(e), now_, instance, data);
  }
  // Vetting and starting (decider.cc).
  void SettleFinished();
  void StartRunnable(Orders& orders);
  bool Vet(int i);
  bool VetUpstream(int i);
  // A task with depends: whether the tasks it names ended as it asks (false: it was omitted).
  bool DependsHold(int i);
  bool Fits(const Instance& in) const;
  bool ParallelismFull(const Instance& in) const;
  bool Unschedulable(int i);
  bool DecidedByWhen(int i);
  void StartForEach(int i);
  void FinishForEach(int parent);
  // Calls of DAG templates (decider_templates.cc).
  void ExpandCall(int i);
  void FinishCall(int call);
  void FailCall(int call, ErrorClass cls, int code, const std::string& message);
  void StartAttempt(int i, Orders& orders);
  // Central pools (decider_pools.cc): takes instance i's units before its attempt starts
  // (kWait: not free yet; kFailed: the task or the run failed), and gives back those of
  // attempts that ended.
  enum class PoolTake { kTaken, kWait, kFailed };
  PoolTake TakeCentralPools(int i);
  void ReleaseCentralPools();
  void HeldCentralPools(int i);
  bool UsesCentralPools() const { return ctx_.pools && plan_.asks_central_pools; }
  // Takes the run's spec.resources before it decides anything; false while they are not free
  // (or the store failed).
  bool TakeRunPools();
  // Outcomes (decider_outcomes.cc).
  void FinishAttempt(int i, ErrorClass cls, int code, const std::string& message,
                     const Value* outputs, bool may_retry = true);
  bool Retryable(int i, ErrorClass cls, int code, std::string* note) const;
  void ScheduleRetry(int i, const std::string& message);
  void FinishTask(int i, TaskState state, std::string message, std::string data = "",
                  ErrorClass cls = ErrorClass::kNone, int code = 0, const Value* outputs = nullptr);
  // omitted: skipped because its depends: was false.
  void SkipTask(int i, std::string message, bool omitted = false);
  void FailTask(int i, ErrorClass cls, int code, const std::string& message);
  void StartHandler(int owner, int plan_task, ErrorClass cls, int code, const std::string& message);
  void HandlerDone(int h);
  void RecordBreaker(int i, ErrorClass cls);
  std::string StopMessage(int i, StopReason why) const;
  // Gates and approvals (decider_governance.cc).
  // Whether instance i has a gate: gate policies of its own, or a central gate policy that
  // matches it.
  bool HasGate(int i) const;
  bool GatePasses(int i);
  // The policies of `stage` (gate, or promotion: a deploy's) that judge instance i.
  std::vector<const PolicySpec*> GatePolicies(int i, const std::string& stage) const;
  Result<Value> PromotionInput(int i, const DeploySpec& d) const;
  std::string RecordDecisions(int i, const std::string& stage, std::vector<Decision>& decisions);
  Value GateInput(int i) const;
  void RequestApproval(int i);
  // The sign-off instance i waits for: a deploy task's environment's (central, so its author
  // cannot drop it), else the task's own approval; null: none.
  const ApprovalSpec* ApprovalOf(int i) const;
  void DeployEnded(int i, int code);  // a deploy's rollout exited non-zero (decider_outcomes.cc)
  void DecideApprovals();
  // Run-level stops, groups and phases (decider_run.cc).
  bool StopStarting(int i);
  void ApplyRunStop(Orders& orders);
  void HandleGroups(Orders& orders);
  void StopGroup(int g, Orders& orders);
  void HandleTimers(Orders& orders);
  void CheckAttemptTimers(int i, Orders& orders);
  void Stop(int i, StopReason why, Orders& orders);
  int64_t RunDeadlineUs() const;
  RunStatus MainStatus() const;
  void RecordPhase(std::string_view phase, RunStatus status, bool rollback);
  std::vector<int> Compensable() const;

  RunState& state_;
  Recorder& rec_;
  const RunContext& ctx_;
  const Plan& plan_;
  Capacity capacity_;
  Approvals* approvals_;
  int64_t now_ = 0;                 // the time of the decision being made
  std::deque<int> runnable_;        // vetted, waiting for a slot
  std::unordered_map<int, StopReason> stopping_;  // running attempts asked to stop, and why
  std::vector<bool> group_stopped_;  // groups whose running members were asked to stop
  bool run_deadline_hit_ = false;
  bool run_stop_applied_ = false;   // ApplyRunStop acted on the failure or the deadline
  bool cancelled_ = false;
  // Central pools: instances holding units (-> the attempt that holds them), when each pool
  // refused last may be asked again, and whether something waits for one.
  std::unordered_map<int, int> pool_held_;
  std::unordered_map<std::string, int64_t> pool_retry_at_;
  bool pool_wait_ = false;
  // spec.resources: taken (or adopted on resume); why they cannot be ("" when they can): the
  // pools file changed since admission, so every attempt fails unschedulable.
  bool run_pools_held_ = false;
  std::string run_pools_error_;
};

}  // namespace sluice
