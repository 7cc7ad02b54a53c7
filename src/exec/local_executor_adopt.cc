// LocalExecutor after a restart: the attempts a dead sluice left open, told apart by what the
// run's keepers left (keeper_posix.h; docs/store.md, "Tasks that outlive a crash").
//
// Order matters. The keepers are looked at first (which are alive, what each still owes), the
// exit files after: a keeper writes an attempt's exit file before it forgets the attempt, and
// every exit it reported but sluice did not acknowledge before it lists the rest. So an attempt
// is never missed between the two looks: a keeper that died in between wrote its exit first.
#include <signal.h>

#include <algorithm>

#include "common/strings.h"
#include "exec/local_executor.h"

namespace sluice {

void LocalExecutor::KillMarked(const std::string& run_id, const std::string& task, int attempt) {
  for (int pgid : env_.FindMarkedProcessGroups({"SLUICE_RUN_ID=" + run_id, "SLUICE_TASK=" + task,
                                                "SLUICE_ATTEMPT=" + std::to_string(attempt)})) {
    launcher_.SignalGroup(pgid, SIGKILL);
  }
}

std::optional<ProcessExit> LocalExecutor::ReadExitFile(const std::string& path) {
  auto text = fs_.ReadFileAtMost(path, 4096);
  if (!text) return std::nullopt;
  auto doc = ParseJson(*text);
  if (!doc || !doc->is_map()) return std::nullopt;
  ProcessExit e;
  auto number = [&](const char* key, int* out) {
    const Value* v = doc->Find(key);
    if (v && v->is_int()) *out = static_cast<int>(v->as_int());
    return v && v->is_int();
  };
  if (!number("pid", &e.pid) || !number("exit_code", &e.exit_code) || !number("signal", &e.signal)) {
    return std::nullopt;
  }
  return e;
}

std::unordered_map<std::string, std::pair<int, std::string>> LocalExecutor::OwedByLiveKeepers() {
  std::unordered_map<std::string, std::pair<int, std::string>> owed;
  const std::string dir = run_dir_ + "/keepers";
  auto names = fs_.ListDir(dir);
  if (!names) return owed;
  const std::string me = std::to_string(env_.Pid());
  for (const auto& name : *names) {
    if (!name.ends_with(".lock")) continue;
    const std::string base = dir + "/" + name.substr(0, name.size() - 5);
    const std::string lock = base + ".lock";
    std::string owner;
    if (!env_.IsLocked(lock, &owner)) {
      // A keeper that ended: what it owed is in its exit files.
      for (const char* ext : {".lock", ".owed", ".owed.tmp"}) (void)fs_.Remove(base + ext);
      continue;
    }
    if (owner == me) continue;  // this process's own keeper
    // It lists what it owes as soon as it sees its sluice gone: give it a moment.
    const int64_t until = env_.clock().NowUs() + kOwedWaitUs;
    auto text = fs_.ReadFile(base + ".owed");
    while (!text && env_.IsLocked(lock, nullptr) && env_.clock().NowUs() < until) {
      env_.SleepUs(2'000);
      text = fs_.ReadFile(base + ".owed");
    }
    if (!text) continue;  // it ended meanwhile, or never told: its attempts are lost
    for (const auto& line : Split(*text, '\n')) {
      const size_t space = line.find(' ');
      if (space == std::string::npos) continue;
      const int pid = std::atoi(line.substr(0, space).c_str());
      if (pid > 0) owed[line.substr(space + 1)] = {pid, lock};
    }
  }
  return owed;
}

std::vector<Adoption> LocalExecutor::Adopt(std::span<const OpenAttempt> open) {
  launcher_.AwaitKeeper();  // this process's own keeper, locked, is not taken for a dead one
  const auto owed = OwedByLiveKeepers();
  std::vector<Adoption> out;
  for (const auto& a : open) {
    Running run;
    run.paths = AttemptPathsFor(run_dir_, a.task, a.attempt);
    run.params = a.params;
    run.artifacts = a.artifacts;
    run.run_id = a.run_id;
    run.task = a.task;
    run.attempt = a.attempt;
    Adoption adoption;
    if (auto exit = ReadExitFile(run.paths.exit)) {
      adoption.verdict = Adoption::Verdict::kEnded;
      adoption.end = Ended(0, exit->exit_code, exit->signal, false, run);
    } else if (auto it = owed.find(run.paths.exit); it != owed.end()) {
      adoption.verdict = Adoption::Verdict::kAdopted;
      adoption.handle = next_adopted_++;
      adopted_[adoption.handle] = Adopted{it->second.first, it->second.second, std::move(run)};
    } else {
      KillMarked(a.run_id, a.task, a.attempt);
      // Secret files of an attempt whose sluice died: gone before anything else runs.
      (void)fs_.RemoveAll(run.paths.work + ".secrets");
      adoption.verdict = Adoption::Verdict::kLost;
      adoption.end.how = AttemptEnd::How::kLost;
      adoption.end.message = "the attempt's outcome is unknown: sluice stopped while it ran";
    }
    out.push_back(std::move(adoption));
  }
  return out;
}

void LocalExecutor::CheckAdopted(std::vector<AttemptEnd>& ends) {
  for (auto it = adopted_.begin(); it != adopted_.end();) {
    Adopted& a = it->second;
    std::optional<ProcessExit> exit = ReadExitFile(a.run.paths.exit);
    bool keeper_gone = false;
    if (!exit && !env_.IsLocked(a.keeper_lock, nullptr)) {
      exit = ReadExitFile(a.run.paths.exit);  // it may have written it as it ended
      keeper_gone = !exit;
    }
    if (exit) {
      ends.push_back(Ended(it->first, exit->exit_code, exit->signal, a.cancelled, a.run));
    } else if (keeper_gone) {
      KillMarked(a.run.run_id, a.run.task, a.run.attempt);
      AttemptEnd end;
      end.handle = it->first;
      end.how = AttemptEnd::How::kLost;
      end.message = "the attempt's outcome is unknown: its keeper process died";
      ends.push_back(std::move(end));
    } else {
      ++it;
      continue;
    }
    it = adopted_.erase(it);
  }
}

}  // namespace sluice
