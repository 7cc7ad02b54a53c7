// Fault injection at the Env seams, for failure-handling tests and chaos experiments: a process
// launcher that fails, kills, hangs or delays chosen attempts, and an event sink that fails a
// chosen commit. The store adds a failing fsync (store.h). Faults are written as a list:
//
//   spawn-fail@3          the 3rd spawn fails (the attempt ends spawn-error)
//   exit=2@task:train     every attempt of instance "train" exits 2 without running
//   exit=2@task:train#1   only its first attempt
//   exit=75@task:reg*~0.3 each attempt of an instance matching the glob, with probability 0.3
//                         (drawn from the run, instance and attempt: the same run strikes the
//                         same attempts again)
//   signal=9@2            the 2nd spawn dies by signal 9
//   hang@task:fetch       attempts of "fetch" never end by themselves (a timeout must)
//   delay=500ms@1         the 1st spawn starts half a second late
//   commit-fail@4         the 4th store commit fails (the run stops; resume continues it)
//   fsync-fail@2          the 2nd fsync of the store's files fails
//   disk-full@3           the store's disk is full from the 3rd store commit on (SQLITE_FULL)
//
// separated by commas. `sluice run|resume` read them from $SLUICE_FAULTS.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/event.h"
#include "env/env.h"

namespace sluice {

struct FaultRule {
  enum class Kind { kSpawnFail, kExit, kSignal, kHang, kDelay, kCommitFail, kFsyncFail, kDiskFull };
  Kind kind = Kind::kSpawnFail;
  int value = 0;     // exit code, signal number, or delay in ms
  int nth = 0;       // the Nth spawn / commit / fsync (1-based); 0 = selected by task
  std::string task;  // instance name, or a glob of them ("*", "?")
  int attempt = 0;   // 0 = every attempt
  double rate = 1;   // the share of the matching attempts it strikes
  std::string text;  // as written
};

struct FaultPlan {
  std::vector<FaultRule> rules;
  // Parses the list above. Errors name the bad entry.
  static Result<FaultPlan> Parse(std::string_view text);
  // The nth value of the first rule of `kind` selected by count, or 0.
  int CountFor(FaultRule::Kind kind) const;
};

// Wraps a real launcher: a selected spawn fails, or runs a stand-in process (`sh -c 'exit 2'`,
// `kill -9 $$`, a long sleep) or its own command after a delay. Attempts are recognised by the
// SLUICE_TASK and SLUICE_ATTEMPT variables the executor sets.
class FaultyLauncher : public ProcessLauncher {
 public:
  FaultyLauncher(ProcessLauncher& real, FaultPlan plan) : real_(real), plan_(std::move(plan)) {}
  Result<int> Spawn(const SpawnRequest& req) override;
  void SignalGroup(int pid, int sig) override { real_.SignalGroup(pid, sig); }
  bool GroupAlive(int pid) override { return real_.GroupAlive(pid); }
  WaitResult Wait(int64_t timeout_us) override { return real_.Wait(timeout_us); }
  void ExitsRecorded() override { real_.ExitsRecorded(); }
  void PrepareKeeper(const std::string& dir) override { real_.PrepareKeeper(dir); }
  void AwaitKeeper() override { real_.AwaitKeeper(); }
  Status DieWithThisProcess() override { return real_.DieWithThisProcess(); }

 private:
  ProcessLauncher& real_;
  FaultPlan plan_;
  int spawns_ = 0;
};

// Wraps an event sink: the selected commit fails, and nothing of it is written.
class FaultySink : public EventSink {
 public:
  FaultySink(EventSink& real, int fail_commit) : real_(real), fail_commit_(fail_commit) {}
  void Append(const Event& e) override { real_.Append(e); }
  Status Commit() override;
  int64_t PublishDueUs() const override { return real_.PublishDueUs(); }
  Status Publish() override { return real_.Publish(); }
  void ObserveReadyToStart(int64_t latency_us) override { real_.ObserveReadyToStart(latency_us); }

 private:
  EventSink& real_;
  int fail_commit_;
  int commits_ = 0;
};

}  // namespace sluice
