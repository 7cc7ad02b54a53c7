// RunState: the projection of one run's events onto its compiled plan. Apply() is the only way
// events change it, and it is pure: no clock, no executor, no sink, so a live run and the
// replay after a crash build the same state with the same code. The Decider reads it and
// appends events; the loop only records what executors report.
//
// Besides the state of each task instance it keeps the work lists that events feed (instances
// that became ready, forEach parents whose items are all done, handlers that finished), which
// the Decider drains, and the resources held by open attempts.
//
// Owned by the loop for one run; not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/event.h"
#include "common/outcome.h"
#include "common/value.h"
#include "spec/plan.h"

namespace sluice {

enum class TaskState : uint8_t {
  kPending,           // waiting for dependencies
  kReady,             // its dependencies are done: to be vetted and started
  kRunning,           // an attempt runs (or a forEach parent or a handler's owner waits)
  kWaiting,           // waiting for a retry's backoff to pass; holds no slot
  kAwaitingApproval,  // waiting for people to approve it; holds no slot
  kSucceeded,
  kCached,
  kRecovered,  // failed, then recovered by its fallback (with its outputs) or a catch handler
  kFailed,
  kSkipped,
  kUpstreamFailed,
  kCancelled,
};
std::string_view TaskStateName(TaskState s);
std::optional<TaskState> ParseTaskState(std::string_view name);
bool IsTerminal(TaskState s);
// Succeeded, cached, or recovered with outputs of its fallback: downstream may read them.
bool HasOutputs(TaskState s, const Value& outputs);

// What only failed instances need, allocated at the first failure: a run of a million tasks
// that succeed carries none of it.
struct Failure {
  ErrorClass cls = ErrorClass::kNone;  // the last failure, as `error.*` sees it
  int code = 0;
  std::string message;
  int handler = -1;  // the handler instance serving this one now
  bool fallback_tried = false;
  bool catch_tried = false;
};

// One task instance: a task, one item of a forEach task, or a handler serving an instance.
// A run holds one per task (a million for the largest), so what only some need lives behind a
// pointer or beside it in RunState (the cache key), and small fields come first.
struct Instance {
  int plan = 0;     // index into Plan::tasks
  int parent = -1;  // forEach parent instance, or -1
  int owner = -1;   // handlers: the instance they serve
  // The call of a DAG template it runs in (its tasks, their items and handlers), -1: the
  // pipeline. A call's instance is a scope: its children are an instance of each of the
  // template's tasks, in the template's order (PlanTemplate), named "CALL.TASK".
  int scope = -1;
  int remaining_deps = 0;
  int attempt = 0;       // number of the last attempt started
  int attempt_base = 0;  // attempts before its group's last reset (retry limits count after)
  int children_done = 0;
  int children_running = 0;
  TaskState state = TaskState::kPending;
  bool attempt_open = false;  // started and not finished (recorded)
  bool holds_slot = false;
  bool approved = false;      // its approval was granted
  bool omitted = false;       // skipped because its depends: was false (Argo's Omitted)
  bool expanded = false;      // a forEach parent whose items exist, or a scope whose tasks do
  std::string name;
  std::shared_ptr<const Value> item;  // a forEach item's (shared with its handlers), or null
  int64_t handle = 0;         // the running attempt's executor handle, once recorded
  int64_t ready_us = 0;       // when it last became ready (for scheduling latency)
  int64_t first_start_us = 0;
  int64_t attempt_start_us = 0;
  int64_t due_us = 0;         // retry: when it may start again; approval: its deadline (0: none)
  int64_t completed = 0;      // order of success among instances, 0 = not succeeded
  std::vector<int> children;  // a forEach parent's items
  Value outputs;  // {"params": {...}, "artifacts": {name: path}, "artifact_info": ...}

  std::unique_ptr<Failure> failure;
  Failure& failed() {
    if (!failure) failure = std::make_unique<Failure>();
    return *failure;
  }
  const Failure& last_failure() const {
    static const Failure kNone;
    return failure ? *failure : kNone;
  }
};

// What a scope (an instance of a call of a DAG template) holds besides its Instance, from
// the event that expanded it.
struct ScopeState {
  std::shared_ptr<const Value> params;  // the template's params, as the call bound them
  int depth = 1;                        // 1 for a call in the pipeline, +1 per nesting
  int main_left = 0;                    // its main tasks not yet settled
  int64_t started_us = 0;
};

enum class Phase { kMain, kCompensating, kFinally };

// A group of tasks retried as a unit (spec.groups), as its events left it.
struct GroupState {
  int rounds = 0;        // retries used
  bool failing = false;  // a member failed and the group will be retried
  bool waiting = false;  // reset, waiting for the backoff before starting again
  int64_t due_us = 0;
  std::string failed;    // the member whose failure started the retry
};

// Resources held by open attempts.
struct Usage {
  int slots = 0;
  double cpu = 0, memory = 0, gpu = 0;
  std::unordered_map<std::string, double> pools;
};

class RunState {
 public:
  explicit RunState(std::shared_ptr<const Plan> plan);

  // Applies one event. `instance`, when the caller knows it, saves looking the event's task up
  // by name; `data`, when the caller has it, is e.data already parsed (a task's outputs). On
  // failure (an event that does not fit the plan or this state) nothing is changed and the
  // error says why: a live run stops with it, a replay refuses the log.
  Status Apply(const Event& e, int instance = -1, const Value* data = nullptr);
  Status Replay(const std::vector<Event>& events);

  const Plan& plan() const { return *plan_; }
  const std::shared_ptr<const Plan>& plan_ptr() const { return plan_; }
  int size() const { return static_cast<int>(instances_.size()); }
  const Instance& at(int i) const { return instances_[i]; }
  const PlanTask& task_of(int i) const { return plan_->tasks[instances_[i].plan]; }
  int Find(std::string_view name) const;  // -1 when there is none
  int top(int plan_task) const { return top_[plan_task]; }  // its top-level instance, or -1
  // The instance of main or finally task `plan_task` in `scope` (an instance of a call, or -1
  // for the pipeline's), -1 when it has none yet.
  int InScope(int scope, int plan_task) const {
    if (scope < 0) return top_[plan_task];
    const Instance& s = instances_[scope];
    const int k = plan_task - plan_->templates[plan_->tasks[s.plan].tmpl()].first;
    return k >= 0 && k < static_cast<int>(s.children.size()) ? s.children[k] : -1;
  }
  // The scope of instance i's template call, or null for the pipeline's tasks.
  const ScopeState* scope_state(int scope) const {
    auto it = scopes_.find(scope);
    return it == scopes_.end() ? nullptr : &it->second;
  }
  // A forEach task's instance that stands for its items (not an item, not a scope).
  bool IsForEachParent(int i) const {
    const Instance& in = instances_[i];
    return in.expanded && in.parent < 0 && plan_->tasks[in.plan].spec->for_each;
  }
  // The cache key its open (or last) attempt was started with; "" when it has none.
  const std::string& cache_key(int i) const;

  Phase phase() const { return phase_; }
  // The run's status when the current phase began (kRunning in the main phase).
  RunStatus phase_status() const { return phase_status_; }
  bool rollback() const { return rollback_; }
  bool run_finished() const { return run_finished_; }
  // Whether the run decided anything (a task event, a handler, a group reset) since it was
  // created, last finished or last retried: it then holds its run-level central pools
  // (spec.resources), which it takes before deciding anything (docs/pools.md).
  bool began() const { return began_; }
  RunStatus final_status() const { return final_status_; }
  int64_t run_started_us() const { return run_started_us_; }
  const std::string& first_failure() const { return first_failure_; }
  int finished_count() const { return finished_; }
  bool AllSettled() const { return finished_ == size(); }
  const std::vector<int>& compensations() const { return compensations_; }
  const std::vector<int>& finally_instances() const { return finally_; }
  const GroupState& group(int g) const { return groups_[g]; }
  int num_groups() const { return static_cast<int>(groups_.size()); }
  bool AnyGroupWaiting() const;
  const Usage& usage() const { return usage_; }
  const std::set<int>& waiting() const { return waiting_; }    // in kWaiting
  const std::set<int>& awaiting() const { return awaiting_; }  // in kAwaitingApproval
  const std::set<int>& open() const { return open_; }          // attempts started, not finished
  // An instance of an earlier round of a retried run (`sluice retry`): a forEach item of a
  // parent that expands again, a handler of a task that runs again, a finally task that runs
  // again. It keeps its history but no name: events and counts no longer reach it.
  bool retired(int i) const { return !retired_.empty() && retired_.count(i) > 0; }

  // Whether a group's member failing with `cls` now starts the group over.
  bool GroupWillRetry(int g, ErrorClass cls, int code) const;

  // The work lists events feed, for the Decider to drain: instances that became ready,
  // forEach parents whose items are all done, handler instances that finished.
  bool HasWork() const { return !ready_.empty() || !finalize_.empty() || !handlers_done_.empty(); }
  std::vector<int> TakeReady() { return std::exchange(ready_, {}); }
  std::vector<int> TakeFinalize() { return std::exchange(finalize_, {}); }
  std::vector<int> TakeHandlersDone() { return std::exchange(handlers_done_, {}); }
  // forEach parents left with every item done (after a replay).
  void QueueDoneParents();

  // The changes that no event makes, because time makes them: the Decider decides them from
  // the due times the events recorded, and decides them again after a replay.
  void MarkDue(int i, int64_t now_us);      // a retry's backoff passed: ready again
  void EndGroupWait(int g, int64_t now_us);  // a group's backoff passed: its members may start
  void Defer(int i);  // a ready task waits for the next round of a group it needs

 private:
  int AddInstance(int plan_index, int parent, std::string name, std::shared_ptr<const Value> item);
  void MarkReady(int i, int64_t now_us);
  void Take(const Instance& in, int sign);
  void OnTaskDone(int i, int64_t now_us);
  Status CheckTaskEvent(const Event& e, int i) const;
  Status ApplyTaskEvent(const Event& e, int i, const Value* data);
  Status ApplyAttemptStarted(const Event& e, int i);
  void ApplyAttemptFinished(const Event& e, int i);
  Status ApplyExpanded(const Event& e, int i);
  Status ApplyScope(const Event& e, int i, const Value& data);
  void RetireDescendants(int i);
  void OnScopeChildDone(int scope, int child, int64_t now_us);
  Status ApplyTaskFinished(const Event& e, int i, const Value* data);
  Status ApplyHandler(const Event& e);
  Status ApplyPhase(const Event& e);
  Status ApplyFinalizing(int64_t now_us);
  Status ApplyCompensating(const Event& e, const Value& d);
  Status ApplyGroupRetry(const Event& e);
  void ResetGroupMember(int g, int m);
  // `sluice retry` (run_state_retry.cc).
  Status ApplyRetried(const Event& e);
  void Retire(int i);
  void ResetForRetry(int i);
  void ContinueAttempts(Instance& in);

  std::shared_ptr<const Plan> plan_;
  std::vector<Instance> instances_;
  // Instances by name: main and finally tasks' own through the plan's index and top_, the
  // others (forEach items, handlers) here; a million-task run keeps one index, not two.
  std::unordered_map<std::string, int> by_name_;
  std::vector<int> top_;  // plan task -> its top-level instance, -1 while it has none
  Phase phase_ = Phase::kMain;
  RunStatus phase_status_ = RunStatus::kRunning;
  bool rollback_ = false;     // compensating on `sluice rollback`
  bool run_finished_ = false;
  bool began_ = false;
  RunStatus final_status_ = RunStatus::kPending;
  int64_t run_started_us_ = 0;
  std::string first_failure_;  // the first main task that failed (failFast)
  int finished_ = 0;           // instances in a terminal state
  int64_t completions_ = 0;    // succeeded instances so far, to order compensations
  std::vector<int> compensations_;  // instances of compensate handlers
  std::vector<int> finally_;        // instances of finally tasks
  // Compensations that wait for one: instance -> instances whose remaining_deps count it.
  std::unordered_map<int, std::vector<int>> waiters_;
  std::vector<GroupState> groups_;
  Usage usage_;
  std::set<int> waiting_, awaiting_, open_;
  std::unordered_map<int, std::string> cache_keys_;  // instances whose attempt has a cache key
  std::unordered_map<int, ScopeState> scopes_;       // by the call's instance
  std::vector<int> ready_;
  std::vector<int> finalize_;
  std::vector<int> handlers_done_;
  // Retried runs and retried calls of DAG templates: instances of earlier rounds, and the last
  // attempt number of each retired name, which the instance that takes the name next continues
  // from (an attempt's folder and rows are named by instance and attempt number).
  std::unordered_set<int> retired_;
  std::unordered_map<std::string, int> retired_attempts_;
};

}  // namespace sluice
