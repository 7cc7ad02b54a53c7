// In-memory stand-ins for the Env seams: a clock that moves only when told, and a file system
// held in a map. Used by unit tests, and MemFileSystem also by `resume`, which reloads a run's
// pipeline from the snapshot of the files it was submitted with.
#pragma once

#include <map>

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

  std::vector<SpawnRequest> spawned;
  std::vector<std::pair<int, int>> signals;
  bool fail_next_spawn = false;

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
  Status MakeReadOnly(const std::string& path) override { return {}; }
  Result<std::string> HashFile(const std::string& path) override;
  std::string Absolute(const std::string& path) override;

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace sluice
