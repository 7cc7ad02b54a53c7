// The leader of the servers that share one store, and what only the leader does: keep every
// run the servers started going.
//
// Design. Each run is executed by its own engine process (`sluice resume RUN`, started detached
// by the server that accepted it), which outlives the server that started it. What a crash can
// still stop is the engine itself: a machine that dies takes both. So one server, the leader,
// looks every second for unfinished runs that a server started (their folder has the
// engine.log the server opened for the engine) and that no process executes (nobody holds the
// run's lock), and starts an engine for each that stays so for two looks in a row (the grace
// covers an engine that was just started and has not taken its lock yet). The new engine
// resumes the run as `sluice resume` does: it adopts the attempts a keeper still runs and
// records the ones that ended, so a task that finished is never run again. An engine that
// exits without finishing the run is started again after a pause that doubles each time (2 s
// up to 5 min), so a run that cannot be resumed costs a line in the log, not a busy loop. The
// log says what became of each engine started: it took the run, or it ended without. Only the
// first engine's start is audited (cli: a served engine whose run's newest audit record is
// already its own resume adds none).
//
// Election: on PostgreSQL a session-level advisory lock held by the leader's own connection
// (Store::HoldLeadership), so a leader killed with kill -9 loses it as soon as its kernel
// closes the connection; on SQLite a file lock beside the store (STATE/leader.lock), which
// the kernel frees the same way. Followers try again every second, so a new leader takes over
// within about two seconds, and resumes the runs the old one's machine took down within about
// two more. Every server serves the whole API; only this loop is the leader's.
//
// Runs started from the command line (`sluice run`) are never touched: a run that a user
// interrupted with Ctrl-C looks the same in the store as one whose process died, and only the
// user may decide to resume it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "server/api.h"
#include "server/scheduler.h"

namespace sluice {

class Leader {
 public:
  explicit Leader(const ApiContext& ctx) : ctx_(ctx) {}
  ~Leader() { Stop(); }
  // Starts electing and, once leading, keeping runs going, on a thread of its own.
  void Start();
  // Ends the thread (and so the leadership: its store connection or lock file is closed).
  void Stop();
  // Whether this server leads now.
  bool leading() const { return leading_.load(); }
  const std::atomic<bool>* leading_flag() const { return &leading_; }

 private:
  // One run this leader saw without an engine: how many looks in a row, and when it may start
  // one again (after an engine it started ended without finishing the run).
  struct Idle {
    int looks = 0;
    int64_t retry_at_us = 0;
    int64_t pause_us = 0;
    bool started = false;  // an engine was started and has not been seen holding the run yet
  };
  void Loop();
  bool Elect();
  void KeepRunsGoing();
  void StartEngineFor(const std::string& run_id, Idle& idle);
  // Fires the stored schedules due now (scheduler.h; defined in scheduler.cc).
  void FireSchedules();
  // With --retention: prunes as `sluice prune` does, when it becomes leader and hourly after.
  void PruneWhenDue();

  const ApiContext& ctx_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<bool> leading_{false};
  std::unique_ptr<FileLock> file_lock_;  // SQLite stores: held while leading
  std::map<std::string, Idle> idle_;     // by run id
  std::unique_ptr<Scheduler> scheduler_;  // made on the first tick as leader
  int64_t next_prune_us_ = 0;            // 0: at once
};

}  // namespace sluice
