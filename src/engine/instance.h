// Engine internals shared by the engine*.cc files: the runtime state of one task
// instance (a task, or one child of a forEach task).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "expr/expr.h"

namespace sluice {

// What only failed instances need, allocated at the first failure: a run of a million tasks
// that succeed carries none of it.
struct Engine::Failure {
  std::string cls;      // the last failure, as `error.*` sees it
  int code = 0;
  std::string message;
  int handler = -1;     // the handler instance serving this one now
  bool fallback_tried = false;
  bool catch_tried = false;
};

struct Engine::Instance {
  int plan = 0;     // index into Plan::tasks
  int parent = -1;  // forEach parent instance, or -1
  int owner = -1;   // handlers: the instance they serve
  std::string name;
  std::optional<Value> item;
  TaskState state = TaskState::kPending;
  int remaining_deps = 0;

  int attempt = 0;            // number of the last attempt started
  int attempt_base = 0;       // attempts before its group's last reset (retry limits count after)
  bool attempt_open = false;  // started and not finished (recorded)
  bool holds_slot = false;
  int handle = 0;             // pid of the running attempt
  int64_t ready_us = 0;
  int64_t first_start_us = 0;
  int64_t attempt_start_us = 0;
  int64_t timeout_at_us = 0;  // 0 = none
  int64_t kill_at_us = 0;     // SIGKILL after the grace period, 0 = not terminating
  bool timed_out = false;
  bool deadline_passed = false;
  int64_t retry_due_us = 0;
  std::string cache_key;

  std::vector<int> children;
  bool expanded = false;
  int children_done = 0;
  int children_running = 0;

  Value outputs;  // {"params": {...}, "artifacts": {name: path}}

  bool approved = false;      // its approval was granted
  bool cancelling = false;    // TERM sent because the run is failing (onFailure: cancel)
  bool run_deadline = false;  // TERM sent because the run's deadline passed
  int64_t completed = 0;      // order of success among instances, 0 = not succeeded

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

// Resolves placeholders for one instance: the pipeline scope (params, tasks, item, run, task)
// or, with `component_params`, a component's scope (params, component, run, task).
class Engine::Scope : public Activation {
 public:
  Scope(const Engine& e, const Instance& in, int attempt, const Value* component_params)
      : e_(e), in_(in), attempt_(attempt), component_params_(component_params) {}

  Result<Resolved> Resolve(std::span<const std::string> path) const override;
  const TimeZones* time_zones() const override { return e_.opts_.time_zones; }

 private:
  const Engine& e_;
  const Instance& in_;
  int attempt_;
  const Value* component_params_;
};

}  // namespace sluice
