// Engine: executes one run of a compiled pipeline. A single-threaded loop in ninja's style —
// start what is ready up to capacity, commit, wait, reap, commit, repeat — over a state that is
// a pure function of the run's events: Replay() rebuilds it after a crash and Run() continues.
//
// Owned by the caller for the duration of one run; not thread-safe. All time comes from the Env
// clock and all processes go through the Executor, so tests drive it with fakes.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/interfaces.h"
#include "spec/plan.h"

namespace sluice {

enum class TaskState {
  kPending,         // waiting for dependencies
  kReady,           // queued for a slot
  kRunning,         // an attempt is running (or a forEach parent has children to finish)
  kWaiting,         // waiting for a retry's backoff to pass; holds no slot
  kAwaitingApproval,  // waiting for people to approve it; holds no slot
  kSucceeded,
  kCached,
  kRecovered,       // failed, then recovered by its fallback (with its outputs) or a catch handler
  kFailed,
  kSkipped,
  kUpstreamFailed,
  kCancelled,
};
std::string_view TaskStateName(TaskState s);
bool IsTerminal(TaskState s);

struct EngineOptions {
  std::string run_id;
  std::string run_dir;  // attempts live in run_dir/tasks/NAME/ATTEMPT
  int jobs = 2;
  double cpu_capacity = 2;
  double memory_capacity = 0;  // bytes; 0 = unlimited
  double gpu_capacity = 0;
  int64_t kill_grace_us = 5'000'000;
  int64_t pid = 0;            // of the process executing the run, recorded in run.started
  // When set, the cache key covers the content of files named by absolute arguments.
  FileSystem* files = nullptr;
  bool cancel_only = false;   // Run() cancels what is left instead of executing it
  bool rollback = false;      // Run() compensates a finished run (`sluice rollback`)
  Breakers* breakers = nullptr;  // circuit breakers' state; null: kept in memory for this run
  const TimeZones* time_zones = nullptr;  // named zones in expressions; null: UTC and offsets
  Approvals* approvals = nullptr;  // votes on approvals; null: nobody can vote (they time out)
};

struct RunSummary {
  std::string status;  // succeeded, failed, cancelled, compensated, compensation-failed
  int64_t latency_p50_us = 0;
  int64_t latency_p99_us = 0;
  int attempts_spawned = 0;  // by this process (a resumed run counts from the resume)
};

class Engine {
 public:
  Engine(std::shared_ptr<const Plan> plan, Value params, EngineOptions opts, Clock& clock,
         Executor& executor, EventSink& sink, CacheLookup* cache, RunObserver* observer);
  ~Engine();

  // Applies stored events of this run in order, rebuilding state without side effects.
  // REQUIRES: called before Run(). Fails on events that do not fit the plan.
  Status Replay(const std::vector<Event>& events);

  // Runs to completion. Attempts that were running when the previous process died are
  // recorded lost and handled by their retry policy. Returns the final summary, or an error
  // when the store failed (the run can be resumed) or the run was already finished.
  Result<RunSummary> Run();

  // The state of every instance, by name (for tests and status).
  TaskState StateOf(std::string_view name) const;
  const Value* OutputsOf(std::string_view name) const;

  // For the end-of-run report, from memory rather than the store (whose queries scanned a
  // 100,000-task run's rows for ~150 ms): how many instances other than forEach items are in
  // each state, and the first `limit` of those that failed after an attempt, with why.
  std::map<std::string, int> CountByState() const;
  std::vector<std::pair<std::string, std::string>> FailedTasks(int limit) const;

 private:
  struct Instance;
  struct Failure;
  struct Running;

  // State transitions: Emit appends to the sink, applies, and notifies the observer.
  void Emit(Event e, int instance = -1, const Value* data = nullptr);
  // `instance`, when the caller knows it, saves looking the event's task up by name; `data`,
  // when the caller has it, is e.data already parsed (a task's outputs), saving parsing it back.
  Status Apply(const Event& e, int instance = -1, const Value* data = nullptr);
  int FindInstance(std::string_view name) const;  // -1 when there is none
  Status ApplyHandler(const Event& e);
  Status ApplyPhase(const Event& e);
  Status ApplyGroupRetry(const Event& e);
  // Groups: stop a failing group's members, and reset it once they are all settled.
  void HandleGroups();
  bool GroupWillRetry(int g, std::string_view cls, int code) const;
  Status Commit();

  void InitInstances();
  int AddInstance(int plan_index, int parent, std::string name, std::optional<Value> item);
  void MarkReady(int i);
  void OnTaskDone(int i);
  void PropagateFailure(int i);
  void CheckDependents(int i);
  void StartReady();
  bool Fits(const Instance& in) const;
  void Take(const Instance& in, int sign);
  bool Vet(int i);
  bool DecidedByWhen(int i);
  void StartForEach(int i);
  void FinishForEach(int parent);
  std::optional<std::string> StartAttempt(int i);
  void SpawnPending();
  void HandleExit(int i, const ProcessExit& exit);
  void FinishAttempt(int i, bool ok, const std::string& error_class, int code,
                     const std::string& message, const Value& outputs);
  // Record instance i's verdict (task.finished / task.skipped) with its last attempt number.
  // `outputs`, when given, is what `data` holds.
  void FinishTask(int i, TaskState state, std::string message, std::string data = "",
                  std::string error_class = "", int code = 0, const Value* outputs = nullptr);
  void SkipTask(int i, std::string message);
  // A terminal failure of class `cls`: runs the task's fallback or a matching catch handler
  // first when it has them, else records the task failed.
  void FailTask(int i, std::string_view cls, int code, const std::string& message);
  void StartHandler(int owner, int plan_task);
  // Asks instance i's breaker for a call; false: open (the attempt fails with circuit-open).
  bool AcquireBreaker(int i);
  // Evaluates instance i's gate policies and records the decisions; false when one denies (the
  // task then fails with policy-denied).
  bool GatePasses(int i);
  // Approvals: ask (the task then waits, holding no slot), and decide from the votes.
  void RequestApproval(int i);
  void HandleApprovals();
  void RecordBreaker(int i, bool ok, std::string_view error_class);
  void HandlerDone(int h);
  // Whether a not-yet-started instance must not start (failFast, run deadline); records it
  // cancelled when so.
  bool StopStarting(int i);
  void ApplyStop();
  // Moves to compensation or finally when the current phase is over; false when the run is.
  bool AdvancePhase();
  void EmitPhase(std::string_view phase, const std::string& status, bool rollback);
  std::vector<int> Compensable() const;
  std::string MainStatus() const;
  std::string FinalStatus() const;
  void HandleTimers();
  void CancelAll();
  void RecoverLost();
  std::unexpected<Error> Abandon(const Error& err);
  void TerminateRunning(bool record);
  int64_t NextTimerUs() const;
  int64_t RunDeadlineUs() const;
  std::vector<int> TimerCandidates() const;
  // The delay before the n-th try (n >= 2) under `r`, with jitter seeded by `seed`.
  static int64_t BackoffUs(const RetryPolicy& r, int n, const std::string& seed);
  class Scope;
  RunObserver::Progress MakeProgress() const;

  std::shared_ptr<const Plan> plan_;
  Value params_;
  EngineOptions opts_;
  Clock& clock_;
  Executor& executor_;
  EventSink& sink_;
  CacheLookup* cache_;
  RunObserver* observer_;

  std::vector<Instance> instances_;
  // Instances by name: main and finally tasks' own through the plan's index and top_, the
  // others (forEach items, handlers) here; a million-task run keeps one index, not two.
  std::unordered_map<std::string, int> by_name_;
  std::vector<int> top_;  // plan task -> its top-level instance, -1 while it has none
  enum class Phase { kMain, kCompensating, kFinally };
  Phase phase_ = Phase::kMain;
  std::string phase_status_;      // the run's status when the current phase began
  bool rollback_ = false;         // compensating on `sluice rollback`
  std::vector<int> compensations_;  // instances of compensate handlers
  std::vector<int> finally_;        // instances of finally tasks
  std::string first_failure_;     // the first main task that failed (failFast)
  int64_t run_started_us_ = 0;
  bool run_deadline_hit_ = false;
  bool stop_applied_ = false;     // ApplyStop() acted on the failure or deadline
  int64_t completions_ = 0;       // succeeded instances so far, to order compensations
  std::vector<int> handler_done_;  // handler instances that finished; their owners decide next
  // Compensations that wait for one: instance -> instances whose remaining_deps count it.
  std::unordered_map<int, std::vector<int>> waiters_;
  std::set<int> awaiting_;  // instances awaiting approval
  static constexpr int64_t kApprovalPollUs = 500'000;
  struct GroupRun {
    int rounds = 0;          // retries used
    bool failing = false;    // a member failed and the group will be retried
    bool stopping = false;   // HandleGroups() stopped the members (not replayed)
    bool waiting = false;    // reset, waiting for the backoff before starting again
    int64_t due_us = 0;
    std::string failed;      // the member whose failure started the retry
  };
  std::vector<GroupRun> groups_;
  std::unique_ptr<Breakers> own_breakers_;  // when opts_.breakers is null
  Breakers* breakers_ = nullptr;
  Approvals* approvals_ = nullptr;
  std::deque<int> ready_;                  // ready, not yet vetted
  std::deque<int> runnable_;               // vetted, waiting for a slot
  std::set<int> waiting_;                  // instances in kWaiting (a retry's backoff)
  std::vector<int> to_spawn_;              // attempts recorded started, not yet spawned
  std::unordered_map<int, AttemptRequest> requests_;  // of attempts started by this process
  std::vector<int> finalize_;              // forEach parents whose children are all done
  std::unordered_map<int, int> by_handle_;  // pid -> instance
  int running_slots_ = 0;
  double used_cpu_ = 0, used_memory_ = 0, used_gpu_ = 0;
  std::map<std::string, double> used_pools_;
  int finished_ = 0;
  bool cancelled_ = false;
  bool run_finished_ = false;
  std::string final_status_;
  std::vector<int64_t> latencies_us_;
  static constexpr int kCommitChunk = 10000;
  int uncommitted_ = 0;                // events appended since the last commit
  std::optional<Error> commit_error_;  // a chunk commit inside StartReady failed
};

}  // namespace sluice
