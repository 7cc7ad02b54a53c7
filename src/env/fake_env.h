// In-memory stand-ins for the Env seams: a clock that moves only when told, a file system held
// in a map, a launcher that runs nothing, and FakeEnv, which holds them with in-memory locks and
// variables. Used by unit tests, and MemFileSystem also by `resume`, which reloads a run's
// pipeline from the snapshot of the files it was submitted with.
#pragma once

#include <map>
#include <set>

#include "env/env.h"

namespace sluice {

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_us = 1'700'000'000'000'000) : now_(start_us) {}
  int64_t NowUs() override { return now_; }
  void Advance(int64_t us) { now_ += us; }
  void Set(int64_t us) { now_ = us; }

 private:
  int64_t now_;
};

// A process launcher that runs nothing: Spawn() records the request and returns a new pid;
// tests decide when each pid exits (Exit) and what it left behind (in a MemFileSystem).
class FakeProcessLauncher : public ProcessLauncher {
 public:
  Result<int> Spawn(const SpawnRequest& req) override {
    if (fail_next_spawn) {
      fail_next_spawn = false;
      return Fail(ErrorCode::kIo, "cannot start {}: No such file or directory", req.argv[0]);
    }
    spawned.push_back(req);
    return next_pid_++;
  }
  void SignalGroup(int pid, int sig) override { signals.emplace_back(pid, sig); }
  bool GroupAlive(int pid) override { return false; }
  WaitResult Wait(int64_t timeout_us) override {
    WaitResult r;
    r.exits.swap(exits_);
    return r;
  }
  void Exit(int pid, int code) { exits_.push_back(ProcessExit{pid, code, 0}); }
  void ExitsRecorded() override { ++exits_recorded; }
  void PrepareKeeper(const std::string& dir) override { keeper_dir = dir; }

  std::vector<SpawnRequest> spawned;
  std::vector<std::pair<int, int>> signals;
  bool fail_next_spawn = false;
  int exits_recorded = 0;  // ExitsRecorded calls
  std::string keeper_dir;  // what PrepareKeeper named

 private:
  int next_pid_ = 1000;
  std::vector<ProcessExit> exits_;
};

// A file system of regular files held in memory; folders exist implicitly as path prefixes.
class MemFileSystem : public FileSystem {
 public:
  MemFileSystem() = default;
  explicit MemFileSystem(std::map<std::string, std::string> files) : files_(std::move(files)) {}

  const std::map<std::string, std::string>& files() const { return files_; }

  Result<std::string> ReadFile(const std::string& path) override;
  Status WriteFile(const std::string& path, std::string_view content) override;
  Status MakeDirs(const std::string& path) override { return {}; }
  FileInfo Stat(const std::string& path) override;
  // Owner and mode Stat reports for `path` (default: uid 1000, 0644 files, 0755 folders).
  void SetOwner(const std::string& path, int64_t uid, int mode) { owners_[Absolute(path)] = {uid, mode}; }
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  // Folders exist only through their files here, so none is ever empty.
  bool IsEmptyDir(const std::string& path) override { return false; }
  Status RemoveAll(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) override;
  Status Remove(const std::string& path) override {
    files_.erase(Absolute(path));
    return {};
  }
  Status CopyFile(const std::string& from, const std::string& to) override;
  Status SetMode(const std::string& path, int mode) override { return {}; }
  Result<std::string> HashFile(const std::string& path) override;
  std::string Absolute(const std::string& path) override;
  Status WritePrivateFile(const std::string& path, std::string_view content) override;
  // A link is a copy of its target's content here.
  Status Symlink(const std::string& target, const std::string& link) override;
  Result<int> MaskFilesBeneath(const std::string& root, const Masker& masker) override;
  Result<std::string> ReadFileAtMost(const std::string& path, int64_t max_bytes) override;
  Result<std::string> ReadFileRange(const std::string& path, int64_t offset,
                                    int64_t max_bytes) override;
  // Paths that are absolute or hold ".." lead out of `root` (there are no links here).
  Result<std::string> ReadFileBeneath(const std::string& root, const std::string& rel,
                                      int64_t max_bytes) override;
  Result<std::vector<CopiedEntry>> CopyBeneath(const std::string& root, const std::string& rel,
                                               const std::string& dest,
                                               const CopyLimits& limits) override;

 private:
  std::map<std::string, std::string> files_;
  std::map<std::string, std::pair<int64_t, int>> owners_;
};

// An Env of fakes for running commands in tests: a FakeClock, a MemFileSystem (or a file system
// the test gives), a FakeProcessLauncher, locks held in a map, and the variables, pid and
// machine size the test sets. Signals are recorded, not sent. Owned by the test; not
// thread-safe.
class FakeEnv : public Env {
 public:
  FakeEnv() : files_(&mem_files) {}
  // Uses `files` instead of the MemFileSystem. For commands that open the store, which SQLite
  // reads at a real path: a real file system over a temporary folder. `files` must outlive this.
  explicit FakeEnv(FileSystem& files) : files_(&files) {}

  Clock& clock() override { return fake_clock; }
  FileSystem& files() override { return *files_; }
  ProcessLauncher& processes() override { return fake_processes; }
  Status StartKeeper() override { return {}; }
  const TimeZones* time_zones() override { return zones; }
  // A lock another process holds is set up with HoldLock; TryLock fails on it like flock would.
  Result<std::unique_ptr<FileLock>> TryLock(const std::string& path,
                                            const std::string& owner) override;
  bool IsLocked(const std::string& path, std::string* owner) override;
  // The groups in `process_groups` whose environment holds every mark.
  std::vector<int> FindMarkedProcessGroups(const std::vector<std::string>& marks) override;
  // Records the signal; true when `pid` is in `live_pids`.
  bool SignalProcess(int pid, int sig) override {
    signals.emplace_back(pid, sig);
    return live_pids.contains(pid);
  }
  int Pid() override { return pid; }
  // `vars` as "KEY=VALUE".
  std::vector<std::string> Environment() override;
  std::optional<std::string> GetVar(const std::string& name) override;
  std::string UserName() override { return user_name; }
  int64_t Uid() override { return uid; }
  bool IsTty(int fd) override { return tty; }
  int CpuCount() override { return cpu_count; }
  double MemoryBytes() override { return memory_bytes; }
  void SleepUs(int64_t us) override { fake_clock.Advance(us); }
  // splitmix64 over `random_state`: bytes that differ from call to call, the same sequence in
  // every test run (set random_state back to draw the same again).
  std::string RandomBytes(size_t n) override;
  // What `commands` holds for the argv joined by spaces; an error when it holds nothing.
  Result<CommandResult> RunCommand(const std::vector<std::string>& argv, const std::string& cwd,
                                   int64_t timeout_us, size_t max_bytes) override;
  void RestrictNewFiles(bool group) override { restricted = group ? 007 : 077; }

  // Marks `path` as locked by another process that recorded `owner`.
  void HoldLock(const std::string& path, const std::string& owner) {
    owners_[path] = owner;
    held_.insert(path);
  }
  // The process that held `path` ended.
  void ReleaseLock(const std::string& path) { held_.erase(path); }

  FakeClock fake_clock;
  MemFileSystem mem_files;
  FakeProcessLauncher fake_processes;
  const TimeZones* zones = nullptr;
  std::map<std::string, std::string> vars;
  std::string user_name = "tester";
  int64_t uid = 1000;
  int pid = 4242;
  bool tty = false;
  int cpu_count = 4;
  double memory_bytes = 8.0 * (1 << 30);
  std::map<int, std::vector<std::string>> process_groups;  // group id -> its environment
  std::set<int> live_pids;
  std::map<std::string, CommandResult> commands;
  std::vector<std::string> ran;  // every RunCommand's argv joined by spaces, in order
  std::vector<std::pair<int, int>> signals;  // (pid, signal) in the order sent
  uint64_t random_state = 0;
  int restricted = -1;  // the umask RestrictNewFiles asked for; -1 before it was called

 private:
  FileSystem* files_;
  std::map<std::string, std::string> owners_;  // path -> what its last holder recorded
  std::set<std::string> held_;                  // the paths locked now
};

}  // namespace sluice
