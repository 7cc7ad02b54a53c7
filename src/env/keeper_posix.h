// Internal to env: the keeper, a small process that starts and waits for a run's attempts so
// that they, and the news of how they ended, outlive a crash of the sluice that runs the run.
// Only process_posix.cc (the launcher, its one client) includes this.
//
// Design. A task's exit status goes to its parent, and a process killed with kill -9 takes
// the status of the children it never waited for with it: so the parent of a task must be
// something that outlives sluice. conmon (Podman) and containerd's shims do the same for
// containers: one small process per container is the parent of its process and writes its exit
// code to a file. Here one keeper per run (not per attempt: one more exec per task costs more
// than the budget of the chain benchmark) is forked from sluice when the run starts its first
// attempt, and from then on starts that run's attempts on sluice's behalf:
//
//   sluice ── socketpair ── keeper ─┬─ task (its own process group)
//                                   └─ task ...
//
// Protocol, over a stream socketpair, frames of [u32 length][u8 type][payload], little endian
// as this machine writes them (both ends are the same binary):
//   sluice → keeper  kSpawn   u64 recorded, exit_file, cwd, stdout, stderr, argv[], env[]
//                    kRecorded u64 recorded
//   keeper → sluice  kStarted i32 pid (0: failed), error message
//                    kExited  u64 seq, i32 pid, i32 exit code (-1: signalled), i32 signal
// Strings are u32 length + bytes; lists u32 count + strings. Every exit the keeper reports has
// a sequence number; `recorded` acknowledges every exit up to it (sluice's loop committed their
// ends). While sluice is there nothing is written to disk: an attempt's exit goes through the
// socket only, so the normal path costs one hop more per start and per end, no file.
//
// When the socket closes (sluice died, or exited after acknowledging everything), the keeper
// writes the exit file (exit_file: {"pid":P,"exit_code":C,"signal":S}, temp + rename) of every
// exit not acknowledged, then KEEPER_DIR/PID.owed: one "PID EXIT_FILE" line per attempt still
// running, whose exit files it still owes. It writes each of those as the attempt ends, and
// exits when none is left. While it lives it holds the flock of KEEPER_DIR/PID.lock (the owner
// recorded there is sluice's pid): `resume` reads a keeper's liveness from its lock, never from
// a pid that may have been reused. Before an exit is reported or written, whatever the attempt
// left in its process group is killed, while the attempt's zombie still holds its pid (waitid
// with WNOWAIT): the group id cannot have been reused. So an attempt whose exit file is not
// there yet, listed in the .owed of a keeper whose lock is held, is still that keeper's child
// (alive or a zombie) and its pid still names it.
//
// Rejected: a waiter exec'd per attempt (a second exec per task); a subreaper (sluice is the
// process being killed, and an ancestor of it cannot be its child); writing every exit to a
// file (a file per task, and inodes are the dearest part of starting one, local_executor.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "env/env.h"
#include "env/spawn_posix.h"

namespace sluice {

// This process's end of one keeper. Owned by the launcher; not thread-safe.
class KeeperClient {
 public:
  // Forks a keeper whose lock and .owed file live in `dir` (created if missing), recording
  // `owner` in its lock. On failure (no socket, no fork) returns why; nothing runs.
  static Result<std::unique_ptr<KeeperClient>> Start(const std::string& dir,
                                                     const SpawnSetup& setup,
                                                     const std::string& owner);
  // Acknowledges what was recorded and closes the socket: the keeper writes the exits not
  // acknowledged and exits once its attempts end. Waits for it only when it kept nothing.
  ~KeeperClient();

  const std::string& dir() const { return dir_; }
  int pid() const { return pid_; }
  int fd() const { return gone_ ? -1 : fd_; }  // -1 once the keeper closed its end
  // Has the keeper start `req` (its exit_file set). Returns the pid, or why it did not start.
  Result<int> Spawn(const SpawnRequest& req);
  // Moves the exits reported so far (read now when `read`, else only those read meanwhile)
  // into `out`. When the keeper is gone, every attempt it still kept is reported lost.
  void TakeExits(bool read, std::vector<ProcessExit>* out);
  // Every exit taken so far is recorded: the keeper may forget them (sent with the next
  // message, or when this closes).
  void Recorded() { to_ack_ = taken_; }
  // The keeper (pid()) was reaped: every attempt it still kept is lost.
  void Died();

 private:
  KeeperClient(std::string dir, int pid, int fd) : dir_(std::move(dir)), pid_(pid), fd_(fd) {}
  bool Send(const std::string& frame);
  bool ReadAvailable(bool block);
  void ParseFrames();
  void LoseAll();

  std::string dir_;
  int pid_;
  int fd_;
  bool gone_ = false;    // the socket is closed
  bool reaped_ = false;  // the keeper was waited for (by the launcher)
  std::string in_;                     // bytes read, not yet a whole frame
  std::vector<ProcessExit> exits_;     // reported, not taken
  std::vector<int> kept_;              // pids started and not reported ended
  bool started_seen_ = false;          // a kStarted frame arrived (Spawn waits for it)
  int started_pid_ = 0;
  std::string started_error_;
  uint64_t seen_ = 0;    // the last exit's sequence number
  uint64_t taken_ = 0;   // ... of the last exit taken
  uint64_t to_ack_ = 0;  // ... recorded
  uint64_t acked_ = 0;   // ... last sent to the keeper
};

}  // namespace sluice
