// What the engine talks to: where it writes events, how it runs attempts, where it looks up the
// cache, and who watches. The CLI wires the real ones (store, local executor); tests use fakes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/event.h"
#include "env/env.h"
#include "common/value.h"
#include "spec/model.h"

namespace sluice {

class CacheLookup {
 public:
  virtual ~CacheLookup() = default;
  // The outputs of an earlier successful attempt with this key, if any is younger than
  // `ttl_ms` (0 = any age).
  virtual std::optional<Value> Find(const std::string& key, int64_t ttl_ms, int64_t now_us) = 0;
};

// Where an attempt lives under its run's folder: RUN/tasks/NAME@ATTEMPT/ is its working
// directory, with RUN/tasks/NAME@ATTEMPT.stdout.log and .stderr.log beside it. One folder per
// attempt, because creating folders is the dearest file-system step of starting a task ('@'
// cannot appear in task names, so paths never collide).
struct AttemptPaths {
  std::string work;
  std::string stdout_log;
  std::string stderr_log;
};
AttemptPaths AttemptPathsFor(const std::string& run_dir, const std::string& task, int attempt);

struct AttemptRequest {
  std::string task;  // instance name
  int attempt = 0;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // declared + SLUICE_* variables
  AttemptPaths paths;
};

// Runs attempts as processes (locally, or later on workers). Handles are process ids.
class Executor {
 public:
  virtual ~Executor() = default;
  // Creates the attempt's folder and starts it. On failure returns a spawn error; nothing runs.
  virtual Result<int> Start(const AttemptRequest& req) = 0;
  virtual void Signal(int handle, int sig) = 0;
  // Waits for exits, a timeout (< 0: forever) or an interrupt.
  virtual WaitResult Wait(int64_t timeout_us) = 0;
  // After an attempt exited 0: reads its output params and stores its artifacts. Returns
  // {"params": {...}, "artifacts": {name: "/read-only/path/in/the/artifact/store"}}. On
  // failure (a missing output file, bad JSON) returns an error that fails the attempt.
  virtual Result<Value> Collect(const AttemptRequest& req, const OutputsDecl& outputs) = 0;
  // An attempt started by a sluice process that died: kills whatever is left of it, so a retry
  // never overlaps it. Its pid may never have been recorded (the spawn record is committed
  // with the next batch), and implementations must not hit an unrelated process.
  virtual void Reclaim(const std::string& run_id, const std::string& task, int attempt) = 0;
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

// Votes on approvals, as people cast them (`sluice approve|reject`), in the order cast.
struct ApprovalVote {
  std::string user;
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

// Watches a run; called on the engine thread after each event is applied.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  struct Progress {
    int total = 0;     // task instances known so far
    int finished = 0;  // in a terminal state
    std::vector<std::string> running;
  };
  virtual void OnEvent(const Event& e, const Progress& p) = 0;
  // Called before the engine waits: what OnEvent buffered must be shown now.
  virtual void Flush() {}
};

}  // namespace sluice
