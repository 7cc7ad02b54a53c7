// The services the engine asks besides its executor (executor/executor.h): where it looks up the
// cache, where circuit breakers and approval votes are kept, and who watches. The CLI wires the
// real ones (the store, the progress printer); tests use fakes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/event.h"
#include "env/env.h"
#include "common/value.h"
#include "spec/model.h"
#include "store/rollout_rows.h"

namespace sluice {

class CacheLookup {
 public:
  virtual ~CacheLookup() = default;
  // The outputs of an earlier successful attempt with this key, if any is younger than
  // `ttl_ms` (0 = any age).
  virtual std::optional<Value> Find(const std::string& key, int64_t ttl_ms, int64_t now_us) = 0;
};

// Where circuit breakers keep their state: the store, shared by every run of a state directory
// (each call a transaction), or memory. `who` ("RUN/TASK#ATTEMPT") is recorded with transitions.
class Breakers {
 public:
  virtual ~Breakers() = default;
  // Whether a call may start now (false: the breaker is open).
  virtual Result<bool> Acquire(const BreakerSpec& b, int64_t now_us, const std::string& who) = 0;
  // The outcome of a call Acquire let through; `failed` = nullopt: cancelled, no outcome.
  virtual Status Record(const BreakerSpec& b, int64_t now_us, std::optional<bool> failed,
                        int64_t duration_us, const std::string& who) = 0;
};

// The pools shared by every run (spec/pools_spec.h, docs/pools.md), kept where every engine of
// the state folder or server sees them: the store. A run's engine takes an attempt's units of
// every central pool it asks for before the attempt starts, and gives them back once it ended.
// Units are granted first come, first served across runs: an ask that waits keeps its place
// (`since_us`) as long as its engine asks again.
class CentralPools {
 public:
  virtual ~CentralPools() = default;
  using Units = std::vector<std::pair<std::string, double>>;  // pool name (as the task says) -> units
  // The holder name of what a run holds as a whole (spec.resources): no task name has
  // parentheses (spec.md, 2.1).
  static constexpr const char* kRunHolder = "(run)";
  // Takes every unit `units` asks for, or none: true when taken, false while they are not free.
  // Fails with kInvalidInput when a pool is not declared for the run (the pools file changed
  // since the run was admitted), with kStore when the store failed.
  virtual Result<bool> Acquire(const std::string& task, int attempt, int64_t since_us,
                               const Units& units, int64_t now_us) = 0;
  // Gives back what `task` holds and forgets its wait.
  virtual Status Release(const std::string& task) = 0;
  // Makes the run hold exactly `held` ({task, attempt, units}): on start, what the replayed
  // run's open attempts hold; at the end, nothing.
  struct Held {
    std::string task;
    int attempt = 0;
    Units units;
  };
  virtual Status Reset(const std::vector<Held>& held, int64_t now_us) = 0;
};

// Votes on approvals, as people cast them (`sluice approve|reject`), in the order cast: only
// those of the request's current round that count (store: their audit record chains).
struct ApprovalVote {
  std::string user;     // the name voted as
  std::string account;  // the real principal: a quorum counts accounts, not names
  bool approve = false;
  std::string comment;
  int64_t time_us = 0;
};
class Approvals {
 public:
  virtual ~Approvals() = default;
  virtual Result<std::vector<ApprovalVote>> Votes(const std::string& run_id,
                                                  const std::string& task) = 0;
};

// Where models have been released (docs/rollouts.md): every environment's releases of one
// model, which promotion policies read as object.releases. The CLI wires the store.
class ReleaseHistory {
 public:
  virtual ~ReleaseHistory() = default;
  // The releases of the model with SHA-256 `digest` in any environment, newest first.
  virtual Result<std::vector<ReleaseRow>> OfModel(const std::string& digest) = 0;
};

// Watches a run; called on the engine thread after each event is applied.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  struct Progress {
    int total = 0;     // task instances known so far
    int finished = 0;  // in a terminal state
    std::vector<std::string> running;
  };
  // An event as it is recorded, before it is committed: an observer that shows events keeps
  // them until Committed() says they are durable (a commit that fails must show nothing of it).
  virtual void OnEvent(const Event& e, const Progress& p) = 0;
  // Whether OnEvent reads Progress::running. Listing it walks every open instance and sorts
  // their names: per event, that made a run with 10,000 attempts waiting on workers quadratic
  // (85% of its engine's time), so the recorder fills it only for an observer that shows it.
  virtual bool ShowsRunning() const { return true; }
  // The events given so far are committed: they may be shown.
  virtual void Committed() {}
  // Called before the engine waits: what OnEvent buffered and is committed must be shown now.
  virtual void Flush() {}
};

}  // namespace sluice
