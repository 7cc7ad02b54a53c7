// Internal to env: the keeper, the process that makes a run's attempts, and the news of how they
// ended, outlive a crash of the sluice process that runs the run. Only env_posix.cc (which
// splits the process) and process_posix.cc (the launcher, which fills the table) include this.
//
// Design. A task's exit status goes to its parent, and a parent killed with kill -9 takes the
// status of the children it never waited for with it. So something that outlives the engine
// must become the parent of its attempts when it dies: a subreaper (PR_SET_CHILD_SUBREAPER)
// that is an ANCESTOR of the engine. Orphans are handed to the nearest living subreaper above
// them, so the engine's attempts become the keeper's children the moment the engine dies, and
// only then. A process cannot be the child of its own child, so `sluice run` (and resume,
// rollback, retry, rerun) splits into three at its very start, before the pipeline is loaded
// (two small forks):
//
//   T  the pid the shell started: waits, and exits as E did; forwards SIGINT, SIGTERM and SIGHUP
//   └─ K  the keeper (sluice-keeper): subreaper, its own process group, stdio on /dev/null
//      └─ E  the engine: everything sluice does; its pid is the run's pid in the store
//         └─ attempts (each its own process group), vforked and reaped by E itself
//
// While E lives, nothing passes between E and K per attempt: E writes each kept attempt into a
// table in memory shared with K (MAP_SHARED, made by K before it forks E) — its pid and exit
// file when it starts, its status when E sees it end, its slot freed once the loop committed
// that end (ProcessLauncher::ExitsRecorded). K sleeps in waitid() and reads the table only
// after E died. Per run, E sends K one message, the run's keeper folder, and waits for K's
// answer before the first kept spawn: by then K holds the flock of KEEPER_DIR/K_PID.lock (the
// owner recorded there is E's pid), which is how `resume` tells a live keeper.
//
// When E is gone (any way: a crash, kill -9, or a normal exit that left ends unrecorded), K
// reports E's wait status to T, then: writes the exit file (exit_file: {"pid":P,"exit_code":C,
// "signal":S}, temp + rename) of every attempt the table says ended unrecorded; then, if any
// attempt the table says runs is now K's child, lists those in KEEPER_DIR/K_PID.owed ("PID
// EXIT_FILE" lines), writes each one's exit file as it ends (after killing what it left in its
// process group, while its zombie still holds the pid), and exits when none is left. A normal
// exit leaves the table empty: K exits at once. Other orphans (a task's leftovers, a daemon a
// task setsid()s) are reaped and never waited for: only what the table names keeps K alive.
//
// Why the table tells attempts apart safely: a slot says "running" until E has seen that
// attempt end (waitid with WNOWAIT: it is still a zombie, not reaped), so the pid it names
// cannot have been reused meanwhile; and if that pid is K's child, E has died. E takes a slot
// (exit file, state "starting") before it creates the child, and the kernel writes the child's
// pid into the slot before the child runs (CLONE_PARENT_SETTID), so every attempt that may
// have run a single instruction is kept, however early E dies. (With vfork() and the pid
// recorded after it returned, a death in between — the whole of the child's set-up and
// execve, not a few instructions — left an attempt that had begun unkept: resume found it
// lost and ran it again.)
// If T is killed, K (PR_SET_PDEATHSIG) kills E with SIGKILL: a crash, handled as above. If K is
// killed, E keeps its attempts (they are its children) and T, a subreaper too, inherits E.
//
// Not kept: an attempt with secrets (its output passes through E to be masked; it is lost on a
// crash). A run of builtins only still has a K (the split comes before the pipeline is read):
// two small forks and a sleeping process, whose table stays empty.
//
// Rejected: the engine starting attempts through the keeper over a socket (one round trip per
// start and a hop per end: +20 % on the chain benchmark, bench/RESULTS.md); the keeper reading
// the attempts from the store at E's death (a spawn is committed a turn after it happens, and
// the keeper would need the event log); the SLUICE_* marks in /proc/PID/environ (a daemon a
// task starts carries them too, and a task may exec with another environment).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"

namespace sluice {

struct KeptTable;  // keeper_posix.cc

// E's end of its keeper: the shared table and the folder message. Owned by the posix Env, used
// by its process launcher; not thread-safe.
class KeeperLink {
 public:
  // Splits this process into T, K and E (above). Returns in E; T and K never return. On failure
  // (no pipe, no memory, no fork) returns why, and this process goes on alone.
  static Result<std::unique_ptr<KeeperLink>> Split();
  ~KeeperLink();

  // Tells K the run's keeper folder (created if missing), once; later calls are ignored.
  void KeepIn(const std::string& dir);
  // True once K holds its lock in that folder (waits for its answer the first time); false when
  // KeepIn was never called or K could not take the lock: attempts are then not kept.
  bool Ready();
  // Takes a slot for an attempt about to start, to be kept with `exit_file`. Returns the word
  // the kernel is to write the child's pid into as it creates it (SpawnProgram's `pid_word`),
  // so that K knows the attempt however early E dies; nullptr when it cannot be kept (a path
  // longer than a slot, every slot taken).
  int32_t* Reserve(const std::string& exit_file);
  // The attempt last reserved started as `pid`; or did not (pid <= 0), and its slot is freed.
  void Started(int pid);
  // The kept attempt `pid` ended so (exit_code -1 when `signal` ended it); K writes it should E
  // die before Recorded. Ignored for a pid not kept.
  void Ended(int pid, int exit_code, int signal);
  // Every end given to Ended so far is recorded: their slots are freed.
  void Recorded();

 private:
  KeeperLink(KeptTable* table, int chan) : table_(table), chan_(chan) {}
  enum class State { kUnasked, kAsked, kReady, kRefused };

  KeptTable* table_;
  int chan_;  // a socket to K: the keeper folder goes, '1' comes back once K holds the lock
  State state_ = State::kUnasked;
  std::unordered_map<int, uint32_t> slots_;  // kept pid, still running -> its slot
  std::vector<uint32_t> free_;               // freed slots, reused first
  std::vector<uint32_t> ended_;              // slots whose ends await Recorded
  uint32_t reserved_ = 0;                    // the slot Reserve took last
};

}  // namespace sluice
