// The target's runs (experiment.h): `sluice run`, `schedule trigger` or a server's run, each
// followed to its end; the control plane an experiment starts; the process faults that strike
// a run.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "chaos/experiment.h"
#include "chaos/spawn.h"
#include "common/strings.h"

namespace sluice::chaos {

Status Experiment::StartControlPlane() {
  if (spec_.server.servers == 0) return {};
  say("target: starting {} server{} and {} worker{}", spec_.server.servers,
      spec_.server.servers == 1 ? "" : "s", spec_.server.workers,
      spec_.server.workers == 1 ? "" : "s");
  SLUICE_TRY(cp, ControlPlane::Start(
                     {sluice_, env_.files().Absolute(g_.state_dir), g_.store, dir_, spec_.server}));
  cp_ = std::move(*cp);
  args_.emplace_back("server", Value(cp_->url()));
  say("target: server {} up", cp_->url());
  return {};
}

Status Experiment::ApplySchedule() {
  if (spec_.schedule.empty()) return {};
  std::vector<std::string> argv = {sluice_};
  if (cp_) {
    argv.insert(argv.end(), {"--server", cp_->url()});
  } else {
    argv.insert(argv.end(), {"--state-dir", g_.state_dir});
  }
  argv.insert(argv.end(), {"schedule", "apply", spec_.schedule_file});
  std::string none;
  if (int exit = Child(argv, "", {}, &none, false); exit != 0) {
    return FailAt(spec_.pipeline_loc,
                  "target.schedule: `sluice schedule apply {}` failed (exit "
                  "{}; see {}/runs.log)",
                  spec_.schedule_file, exit, dir_);
  }
  say("target: schedule {} applied from {}", spec_.schedule, spec_.schedule_file);
  return {};
}

std::string Experiment::TargetName() const {
  return spec_.schedule.empty() ? spec_.pipeline : "schedule " + spec_.schedule;
}

void Experiment::StopControlPlane() {
  if (cp_) cp_->Stop();
}

void Experiment::RunTarget(const std::string& phase, const PhaseFaults& faults) {
  if (cp_) cp_->Restart(true);
  std::vector<std::string> argv = {sluice_};
  if (cp_) {
    argv.insert(argv.end(), {"--server", cp_->url()});
  } else {
    argv.insert(argv.end(), {"--state-dir", g_.state_dir});
  }
  if (spec_.schedule.empty()) {
    argv.insert(argv.end(), {"run", spec_.pipeline});
  } else {
    argv.insert(argv.end(), {"schedule", "trigger", spec_.schedule});
  }
  for (const auto& [k, v] : spec_.params) {
    const bool replaced = std::any_of(faults.params.begin(), faults.params.end(),
                                      [&](const auto& kv) { return kv.first == k; });
    if (!replaced) argv.insert(argv.end(), {"-p", k + "=" + v});
  }
  for (const auto& [k, v] : faults.params) argv.insert(argv.end(), {"-p", k + "=" + v});
  std::string run_id;
  const int64_t started = NowUs();
  int exit = Child(argv, faults.env, faults.kills, &run_id);
  for (int resumes = 0; !cp_ && !run_id.empty() && (exit == 3 || exit == 128 + SIGKILL) &&
                        resumes < 3 && !g_interrupted;
       ++resumes) {
    say("  run {} stopped ({}); resuming it", run_id, exit == 3 ? "a store fault" : "killed");
    std::string again;
    exit = Child({sluice_, "--state-dir", g_.state_dir, "resume", run_id}, "", {}, &again);
  }
  if (run_id.empty()) {
    say("  a run did not start (exit {}); see {}/runs.log", exit, dir_);
    return;
  }
  if (cp_) AwaitServedRun(run_id, started);
  auto events = store_.LoadEvents(run_id);
  TargetRun r = TargetRunOf(run_id, phase, events ? *events : std::vector<Event>{});
  if (auto changes = store_.ListBreakerTransitions("", 100000)) {
    for (const auto& t : *changes) {
      if (StartsWith(t.who, run_id + "/")) r.breakers.push_back({t.name, t.from, t.to, t.time_us});
    }
  }
  for (const auto& t : r.tasks) {
    auto rollout = store_.GetRollout(run_id, t.name);
    if (rollout && *rollout) {
      r.rollouts.push_back(
          {t.name, (*rollout)->environment, (*rollout)->phase, (*rollout)->message});
    }
  }
  say("  run {}: {}", run_id, r.status.empty() ? "did not finish" : r.status);
  runs_.push_back(std::move(r));
}

void Experiment::AwaitServedRun(const std::string& run_id, int64_t started) {
  bool cancelled = false;
  for (;;) {
    auto run = store_.GetRun(run_id);
    if (run && run->finished_us > 0) return;
    cp_->Restart(false);
    const int64_t ms = (NowUs() - started) / 1000;
    CheckContinuously();
    if (!cancelled && (g_interrupted || stop_phase_ || ms >= spec_.run_timeout_ms)) {
      std::string none;
      Child({sluice_, "--server", cp_->url(), "cancel", run_id}, "", {}, &none, false);
      cancelled = true;
    }
    if (cancelled && ms >= spec_.run_timeout_ms + 60'000) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int Experiment::Child(const std::vector<std::string>& argv, const std::string& faults,
                      const std::vector<const FaultSpec*>& kills, std::string* run_id,
                      bool interruptible) {
  const std::string out = dir_ + "/out";
  std::vector<std::string> env;
  if (!faults.empty()) env.push_back("SLUICE_FAULTS=" + faults);
  if (cp_) env.push_back("SLUICE_TOKEN=" + cp_->token());
  auto pid = Spawn({argv, env, out, dir_ + "/runs.log"});
  if (!pid) return 127;
  const int64_t started = NowUs();
  std::vector<bool> struck(kills.size(), false);
  bool stopped = false;
  int status = 0;
  while (waitpid(*pid, &status, WNOHANG) == 0) {
    const int64_t ms = (NowUs() - started) / 1000;
    for (size_t i = 0; i < kills.size(); ++i) {
      if (struck[i] || ms < kills[i]->kill_after_ms) continue;
      struck[i] = true;
      if (kills[i]->kill == "run") {
        kill(*pid, SIGKILL);  // the run's own process, as a crash would
        kills_.emplace_back(kills[i], fmt::format("kill -9 of sluice run (pid {}) {} after its "
                                                  "start, then sluice resume",
                                                  *pid, FormatDurationMs(ms)));
      } else if (cp_) {
        const std::string id = RunIdIn(out);
        kills_.emplace_back(kills[i],
                            cp_->Kill(kills[i]->kill, id, LeaseHolders(id), kills[i]->restart_ms));
      }
      say("  {}", kills_.back().second);
    }
    if (cp_) cp_->Restart(false);
    // SIGINT cancels a `sluice run` cleanly; a server's client detaches, and AwaitServedRun
    // cancels the run.
    if (interruptible) CheckContinuously();
    if (!stopped && interruptible && (g_interrupted || stop_phase_ || ms >= spec_.run_timeout_ms)) {
      kill(*pid, SIGINT);
      stopped = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (run_id->empty()) *run_id = RunIdIn(out);
  return ExitCodeOf(status);
}

std::vector<std::string> Experiment::LeaseHolders(const std::string& run_id) {
  std::vector<std::string> names;
  auto tasks = store_.ListTasks(run_id);
  for (const auto& t : tasks ? *tasks : std::vector<TaskRecord>{}) {
    auto row = store_.FindWork(run_id, t.name, t.attempts);
    if (!row || !*row || (*row)->state != "leased") continue;
    if (auto w = store_.FindWorker((*row)->worker); w && *w) names.push_back((*w)->name);
  }
  return names;
}

std::string Experiment::RunIdIn(const std::string& out) const {
  auto text = env_.files().ReadFile(out);
  return text ? std::string(Trim(text->substr(0, text->find('\n')))) : "";
}

}  // namespace sluice::chaos
