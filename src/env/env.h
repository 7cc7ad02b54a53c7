// The Env seams: every clock read, process, file and signal reaches Sluice through these
// interfaces, passed in from main. Tests use the fakes (fake_env.h); chaos and fault-injection
// tests wrap the real ones. Implementations are not thread-safe unless stated.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/masker.h"
#include "common/time_zone.h"

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in microseconds since the Unix epoch. Persisted times (retry due times,
  // deadlines) use this base so that they survive a restart.
  virtual int64_t NowUs() = 0;
};

struct SpawnRequest {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;   // the complete environment, "KEY=VALUE"
  std::string cwd;
  // Where the process's output goes: it writes into these files directly (created when missing,
  // emptied when present).
  std::string stdout_path;
  std::string stderr_path;
  // When set (an attempt that holds secrets), the output reaches the files through pipes that
  // this process reads and masks, so that a value never lands on disk: slower than the direct
  // files, and only for such attempts.
  std::shared_ptr<const Masker> mask;
  // When set (and `mask` is not), and this process has a keeper (Env::StartKeeper) that holds
  // its lock in the folder PrepareKeeper named, the process is kept: should this process die
  // before its exit was recorded (ExitsRecorded), the keeper, which becomes its parent, writes
  // its exit into `exit_file` as {"pid":P,"exit_code":C,"signal":S} (C is -1 when S ended it),
  // and lists in KEEPER_DIR/KEEPER_PID.owed ("PID EXIT_FILE" lines) the processes whose exit
  // files it still owes (keeper_posix.h).
  std::string exit_file;
};

// How a short command that Sluice runs itself (a secret manager's CLI) ended, and what it wrote
// to its standard output.
struct CommandResult {
  int exit_code = -1;  // -1 when it was killed
  int signal = 0;
  bool timed_out = false;  // killed after the timeout
  bool too_long = false;   // its output passed the limit (it was killed)
  std::string out;
};

struct ProcessExit {
  int pid = 0;
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the terminating signal, 0 when it exited
};

struct WaitResult {
  std::vector<ProcessExit> exits;
  bool interrupted = false;  // SIGINT, SIGTERM or SIGHUP arrived for this process
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Starts a process as the leader of a new process group with default signal dispositions.
  // On success returns its pid. On failure (no such program, no permission, fork failure)
  // returns an error whose message says why; nothing is left running.
  virtual Result<int> Spawn(const SpawnRequest& req) = 0;
  // Sends `sig` to the whole process group led by `pid`. Errors are ignored (it may be gone).
  virtual void SignalGroup(int pid, int sig) = 0;
  // Whether any process (a zombie included) is still in the group led by `pid`.
  virtual bool GroupAlive(int pid) = 0;
  // Blocks until at least one child exits, `timeout_us` passes (< 0: no limit) or an interrupt
  // arrives, copying output to the log files meanwhile. Returns every exit reaped; an exited
  // process's output is completely in its files by then, and what it left in its process group
  // was killed (while its zombie still held the group's id).
  virtual WaitResult Wait(int64_t timeout_us) = 0;
  // Every exit Wait returned so far is recorded where the caller keeps it: the keeper need not
  // write them should this process die.
  virtual void ExitsRecorded() {}
  // Names the folder where this process's keeper takes its lock and lists what it owes, once
  // per process (later calls are ignored), ahead of the first kept spawn so that the keeper's
  // answer overlaps the caller's work. Without a keeper, nothing happens and nothing is kept.
  virtual void PrepareKeeper(const std::string& keeper_dir) {}
  // Waits until the keeper PrepareKeeper asked for holds its lock (or refused): a resume that
  // looks at the run's keepers must see its own one as live and its own, not as a dead one whose
  // files it may remove.
  virtual void AwaitKeeper() {}
  // From now on, the process groups this launcher starts die with this process: a guardian
  // process, told of each group, kills (SIGKILL) those still alive when this process ends in any
  // way, kill -9 included (`sluice worker`, whose attempts must never outlive it; a local run
  // keeps its attempts across its own crash with a keeper instead). Call it while this process
  // has one thread. On failure (no process could be started) nothing changes and the error
  // says why.
  virtual Status DieWithThisProcess() { return {}; }
};

struct FileInfo {
  bool exists = false;
  bool is_dir = false;
  bool is_link = false;  // StatNoFollow only: a symbolic link (the rest describes the link)
  int64_t size = 0;
  int64_t uid = -1;  // the owner's user id
  int mode = 0;      // permission bits with set-user-id, set-group-id and sticky (st_mode & 07777)
  int64_t mtime_us = 0;  // last modification (0 in the fake file system)
};

// Bounds on what CopyBeneath copies: entries (files and folders), bytes of file content, and
// folder depth below the copied path.
struct CopyLimits {
  int64_t max_entries = 100'000;
  int64_t max_bytes = int64_t{256} << 30;
  int max_depth = 64;
};

// One entry CopyBeneath copied.
struct CopiedEntry {
  std::string rel;  // its path below the copied path; "" for the copied path itself
  bool is_dir = false;
  int64_t size = 0;    // a file's bytes
  std::string sha256;  // a file's content, hex; "" for a folder
};

// A file written only at its end, like a log. Append() hands the bytes to the OS at once (no
// buffer in this process): once it returns they survive the process being killed, though not a
// power loss. Used by one writer.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Appends all of `data` or returns an error; after an error the file may hold part of it.
  virtual Status Append(std::string_view data) = 0;
  // Cuts the file back to `size` bytes.
  virtual Status Truncate(int64_t size) = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Writes atomically (temporary file, fsync, rename): readers see the old or the new content.
  virtual Status WriteFile(const std::string& path, std::string_view content) = 0;
  virtual Status MakeDirs(const std::string& path) = 0;
  virtual FileInfo Stat(const std::string& path) = 0;
  // Stat of `path` itself when it is a symbolic link (lstat).
  virtual FileInfo StatNoFollow(const std::string& path) { return Stat(path); }
  // Names in `path`, sorted; "." and ".." excluded.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  // True when `path` is a folder with nothing in it (false when it is not a folder or unreadable).
  virtual bool IsEmptyDir(const std::string& path) = 0;
  virtual Status RemoveAll(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Sets `path`'s modification time to now (an artifact reused: retention keeps it a while).
  virtual Status Touch(const std::string& path) { return {}; }
  // Opens `path` for appending, creating it when missing.
  virtual Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) = 0;
  virtual Status Remove(const std::string& path) = 0;  // a file; missing is not an error
  virtual Status CopyFile(const std::string& from, const std::string& to) = 0;
  // Sets the permission bits of `path` (following a symlink) to `mode`.
  virtual Status SetMode(const std::string& path, int mode) = 0;
  virtual Result<std::string> HashFile(const std::string& path) = 0;  // hex SHA-256, streamed
  // Creates `path` with mode 0600 holding `content` (a secret given to a task as a file), and
  // its folder with mode 0700 when that is missing. Fails when something is already at `path`
  // (a symlink included): it is never followed or replaced.
  virtual Status WritePrivateFile(const std::string& path, std::string_view content) = 0;
  // Creates the symbolic link `link` pointing at `target`; fails when `link` exists.
  virtual Status Symlink(const std::string& target, const std::string& link) = 0;
  // Masks every occurrence of `masker`'s values in the regular files beneath the folder `root`
  // (the files an attempt with secrets left), rewriting those that hold one. Symlinks are never
  // followed and other kinds of files are left alone. On success returns how many files were
  // rewritten; on failure (a file that cannot be read or replaced) the error.
  virtual Result<int> MaskFilesBeneath(const std::string& root, const Masker& masker) = 0;
  // An absolute, normalized form of `path` (not resolving symlinks).
  virtual std::string Absolute(const std::string& path) = 0;

  // Reads the regular file `path` whole, when it holds at most `max_bytes`. On failure returns
  // kNotFound when it is missing; kInvalidInput when it is not a regular file (a folder, a
  // device, a FIFO: nothing is read, nothing blocks) or larger than `max_bytes` (said before
  // reading: a larger file costs no memory); kIo when it cannot be read.
  virtual Result<std::string> ReadFileAtMost(const std::string& path, int64_t max_bytes) = 0;
  // Up to `max_bytes` of the regular file `path` from byte `offset` ("" at or past its end): a
  // log read in pieces while it grows. Errors as ReadFileAtMost's (never for its size).
  virtual Result<std::string> ReadFileRange(const std::string& path, int64_t offset,
                                            int64_t max_bytes) = 0;

  // Files a task controls: `rel` is a relative path below the folder `root` (an attempt's
  // folder), and no symbolic link may lead out of `root`. Where the kernel has openat2 (Linux
  // 5.6) a link that stays below `root` is followed; elsewhere no link is followed at all.
  //
  // Reads the regular file root/rel, when it holds at most `max_bytes` (checked on the opened
  // file before reading; at most max_bytes + 1 bytes are ever read). On failure returns
  // kNotFound when it is missing, kInvalidInput when it leads out of `root`, is not a regular
  // file or is too large, with a message that names `rel` and says which.
  virtual Result<std::string> ReadFileBeneath(const std::string& root, const std::string& rel,
                                              int64_t max_bytes) = 0;
  // Copies the file or folder root/rel to `dest` (which must not exist; its parent must),
  // hashing each file as it is copied. Inside a folder no symbolic link is followed: a link, a
  // device, a FIFO or a socket is an error, as is passing any of `limits`. Copies never widen
  // their source's mode: they get its read and execute bits (as the umask allows), never write
  // bits (the copied folder itself keeps its write bits, for the caller to move it; see
  // LocalExecutor::StoreArtifact). On success returns every entry, the copied path first, then
  // depth first with the names of a folder in byte order. On failure returns kNotFound when
  // root/rel is missing, kInvalidInput for what the task put there, kIo otherwise; part of `dest`
  // may be left.
  virtual Result<std::vector<CopiedEntry>> CopyBeneath(const std::string& root,
                                                       const std::string& rel,
                                                       const std::string& dest,
                                                       const CopyLimits& limits) = 0;
};

// An exclusive advisory lock on a file, released when destroyed or when the process dies
// (even by kill -9).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// The real seams the posix Env is made of (env_posix.cc, process_posix.cc), for the tests of
// those seams. Everything else reaches them through the Env.
//
// Takes the lock on `path` (created if missing) without waiting and writes `owner` into the
// file. Returns nullptr when another process holds it, an error when the file cannot be opened.
Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& path, const std::string& owner);
// True when some process holds the lock on `path`; `owner` receives the file's content.
bool IsFileLocked(const std::string& path, std::string* owner);
// The process launcher blocks SIGCHLD, SIGINT, SIGTERM and (unless ignored) SIGHUP in the
// calling thread so that Wait() can receive them; construct at most one.
// Runs `argv` in the folder `cwd` (stdin and stderr on /dev/null) and collects its standard
// output in memory, never on disk. It is killed after `timeout_us` or when it writes more than
// `max_bytes`. Fails only when it cannot be started.
Result<CommandResult> RunCapturedCommand(const std::vector<std::string>& argv,
                                         const std::string& cwd, int64_t timeout_us,
                                         size_t max_bytes);
// `child_umask`, when >= 0, is the file mode creation mask every started program gets (the one
// this process started with, when it changed its own; see Env::RestrictNewFiles). `keeper`, when
// given, is this process's keeper (keeper_posix.h), which the launcher tells what it keeps.
class KeeperLink;
std::unique_ptr<ProcessLauncher> NewPosixProcessLauncher(int child_umask = -1,
                                                         KeeperLink* keeper = nullptr);
std::unique_ptr<FileSystem> NewPosixFileSystem();
// The posix FileSystem's WritePrivateFile, Symlink and MaskFilesBeneath (secret_files_posix.cc).
Status WritePrivateFilePosix(const std::string& path, std::string_view content);
Status SymlinkPosix(const std::string& target, const std::string& link);
Result<int> MaskFilesBeneathPosix(const std::string& root, const Masker& masker);
// Named time zones from the tz database in `root` (Debian's tzdata).
std::unique_ptr<TimeZones> NewSystemTimeZones(const std::string& root = "/usr/share/zoneinfo");

// A doorbell between processes on this machine (Env::ListenBell, Env::RingBell): the
// listener waits for a ring rather than polling a store (docs/workers.md, "Leases, heartbeats
// and timing"). A ring may be lost (nobody listens, a full queue): listeners look on their own
// after a timeout as well. Owned by the caller; Wait from one thread at a time.
class Doorbell {
 public:
  virtual ~Doorbell() = default;
  // Waits until a ring arrives or `timeout_us` passes (< 0: no limit); true when rung. The rings
  // that arrived meanwhile are all taken by one return.
  virtual bool Wait(int64_t timeout_us) = 0;
};
// The posix doorbell (bell_posix.cc): a UNIX datagram socket bound at `path` (replacing what
// is there); kInvalidInput when the path is too long for a socket (108 bytes), kIo otherwise.
Result<std::unique_ptr<Doorbell>> ListenBellPosix(const std::string& path);
// Rings the bell at `path`, without waiting; nothing happens when nobody listens there.
void RingBellPosix(const std::string& path);

// Everything a command reaches outside its own memory: the clock, files, processes, locks,
// signals, this process's identity and environment, the machine's size. `main` builds the one
// real Env (NewPosixEnv) and passes it to every command, so that every command can run against
// a FakeEnv (fake_env.h). The Env owns the seams it hands out: they live as long as it does.
// Used from one thread.
class Env {
 public:
  virtual ~Env() = default;

  virtual Clock& clock() = 0;
  virtual FileSystem& files() = 0;
  // The process launcher. The posix Env creates it on the first call, which blocks SIGINT,
  // SIGTERM, SIGHUP and SIGCHLD for the rest of the process (they arrive through Wait()): only
  // commands that execute runs call it, so that every other command still dies on Ctrl-C.
  virtual ProcessLauncher& processes() = 0;
  // Splits this process in three so that the attempts it starts outlive a crash of it
  // (keeper_posix.h, docs/store.md "Tasks that outlive a crash"): the process the caller started
  // waits and exits as this one will, a keeper process waits for this one's death, and this
  // call returns in the third, which goes on as the engine. Call it first thing, before
  // anything is loaded or opened and before processes(). On failure (no fork) returns why, and
  // nothing was split. A fake does nothing.
  virtual Status StartKeeper() = 0;
  // Named time zones for expressions, loaded on first use; nullptr when there are none (then
  // only UTC and fixed offsets resolve).
  virtual const TimeZones* time_zones() = 0;

  // Takes the exclusive lock on `path` without waiting and records `owner` in it. On success
  // returns the lock, held until it is destroyed or this process dies (even by kill -9), or
  // nullptr when another holder has it. On failure (the file cannot be created) returns an error.
  virtual Result<std::unique_ptr<FileLock>> TryLock(const std::string& path,
                                                    const std::string& owner) = 0;
  // True when some process holds the lock on `path`. `owner`, when given, receives what the
  // last holder recorded ("" when none did).
  virtual bool IsLocked(const std::string& path, std::string* owner) = 0;

  // The process groups of the processes started with every "KEY=VALUE" of `marks` in their
  // environment: what is left of an attempt after sluice itself was killed, found by the
  // SLUICE_* variables it was started with rather than by a pid that may have been reused.
  virtual std::vector<int> FindMarkedProcessGroups(const std::vector<std::string>& marks) = 0;
  // Sends `sig` to process `pid` (not a group). Returns true when it was sent, false when there
  // is no such process (or it may not be signalled).
  virtual bool SignalProcess(int pid, int sig) = 0;
  // This process's id: the owner recorded in a run's lock, and a run id's salt.
  virtual int Pid() = 0;
  // This process's environment as "KEY=VALUE" entries: what tasks inherit.
  virtual std::vector<std::string> Environment() = 0;
  // The value of the environment variable `name`; nullopt when it is not set. (Set but empty
  // gives "": callers that treat empty as unset say so.)
  virtual std::optional<std::string> GetVar(const std::string& name) = 0;
  // This process's user's name in the password database (of its real user id); "" when it has
  // none.
  virtual std::string UserName() = 0;
  // This process's real user id.
  virtual int64_t Uid() = 0;
  // Whether file descriptor `fd` is a terminal.
  virtual bool IsTty(int fd) = 0;
  // The machine's capacity: online CPU cores (at least 1) and physical memory in bytes.
  virtual int CpuCount() = 0;
  virtual double MemoryBytes() = 0;
  // Waits `us` microseconds (a fake advances its clock instead).
  virtual void SleepUs(int64_t us) = 0;
  // A doorbell listening at `path`, and a ring of one (Doorbell). Without one (the default,
  // and fakes) callers poll: ListenBell fails and RingBell does nothing. Both thread-safe.
  virtual Result<std::unique_ptr<Doorbell>> ListenBell(const std::string& path) {
    return Fail(ErrorCode::kInvalidInput, "no doorbell at {}: this Env has none", path);
  }
  virtual void RingBell(const std::string& path) {}
  // `n` bytes from the system's random source (a secret param's salt).
  virtual std::string RandomBytes(size_t n) = 0;
  // RunCapturedCommand: a short command whose output Sluice needs (a secret manager's CLI).
  virtual Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                           const std::string& cwd, int64_t timeout_us,
                                           size_t max_bytes) = 0;
  // 64 bits of RandomBytes: run ids.
  uint64_t Random64() {
    uint64_t v = 0;
    for (unsigned char c : RandomBytes(8)) v = v << 8 | c;
    return v;
  }
  // From now on files and folders this process creates give others no access: mode 0600/0700,
  // or 0660/0770 when `group` is set (a state folder shared through a Unix group). Programs it
  // starts afterwards get the file mode creation mask this process started with.
  virtual void RestrictNewFiles(bool group) = 0;
};

// The real Env of this process. Cheap to build: the process launcher and the time zones are
// created when first asked for.
std::unique_ptr<Env> NewPosixEnv();

// Replaces this process with the program `name` found beside this one's executable (the same
// folder), with the same arguments: how `sluice server` runs `sluice-net`, which links what a
// local run never needs (docs/server.md). Returns only on failure, saying why.
Error ExecBeside(const char* name, char** argv);
// The path of program `name` in this executable's folder (sluice-net beside sluice).
Result<std::string> ProgramBeside(const char* name);
// Starts the program `name` beside this one's executable with `args` (after argv[0]) as a
// process of its own: in a new session, not this process's child (so nothing here must reap it,
// and it outlives this process), stdin on /dev/null, stdout and stderr appended to `log_path`
// (0600), no signal blocked, with the environment `env` ("KEY=VALUE"; null: this process's).
// How `sluice server` starts the engine of a submitted run. Fails when it cannot fork; a program
// that cannot be run says so in its log.
Status SpawnBesideDetached(const char* name, const std::vector<std::string>& args,
                           const std::string& log_path,
                           const std::vector<std::string>* env = nullptr);

// Joins path parts with '/'.
std::string PathJoin(std::string_view a, std::string_view b);
std::string Dirname(std::string_view path);

}  // namespace sluice
