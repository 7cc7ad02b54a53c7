// The experiment runner (experiment_run.h, docs/chaos.md). One process, one thread: the target's
// runs are child `sluice run` processes on the same state folder, one after another (or, with
// target.server, runs submitted to the control plane it starts: control_plane.h); faults reach
// them through their environment (SLUICE_FAULTS) and signals, so rolling a fault back is not
// giving it to the next run, and nothing of a fault outlives the experiment's process.
#include "chaos/experiment_run.h"

#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <csignal>
#include <cstdio>
#include <thread>

#include "chaos/control_plane.h"
#include "chaos/fault_proxy.h"
#include "chaos/proxy_command.h"
#include "chaos/run_records.h"
#include "chaos/spawn.h"
#include "cli/secrets.h"
#include "common/strings.h"
#include "engine/breaker.h"
#include "expr/expr.h"
#include "rollout/analysis.h"
#include "spec/loader.h"
#include "store/store.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnChaosSignal(int) { g_interrupted = 1; }

std::string Uname(bool node) {
  struct utsname u {};
  if (uname(&u) != 0) return "";
  return node ? u.nodename : std::string(u.sysname) + " " + u.release + " " + u.machine;
}

bool ProgramOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (const auto& dir : Split(path ? path : "/usr/bin:/bin", ':')) {
    if (!dir.empty() && ::access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

void SleepMs(int64_t ms) {  // in slices, so that an interrupt ends it
  for (int64_t t = 0; t < ms && !g_interrupted; t += 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(20, ms - t)));
  }
}

// The names a tolerance or a cel probe sees.
class ProbeActivation : public Activation {
 public:
  ProbeActivation(const Value& value, const Value& probes, const std::string& phase,
                  const Value& runs)
      : value_(value), probes_(probes), phase_(phase), runs_(runs) {}
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    if (path[0] == "value") return Resolved{value_, 1};
    if (path[0] == "probes") return Resolved{probes_, 1};
    if (path[0] == "phase") return Resolved{phase_, 1};
    if (path[0] == "runs") return Resolved{runs_, 1};
    return Fail(ErrorCode::kInvalidInput, "unknown name {}", Quote(path[0]));
  }

 private:
  const Value& value_;
  const Value& probes_;
  Value phase_;
  const Value& runs_;
};

// What the `during` phase's runs get: SLUICE_FAULTS, the process faults that strike each run,
// and the params of a bad candidate (delivery faults).
struct PhaseFaults {
  std::string env;
  std::vector<const FaultSpec*> kills;
  std::vector<std::pair<std::string, std::string>> params;
};

class Experiment {
 public:
  Experiment(Env& env, const GlobalOptions& g, Store& store, ExperimentSpec spec,
             std::string sluice, std::string dir)
      : env_(env), g_(g), store_(store), spec_(std::move(spec)), sluice_(std::move(sluice)),
        dir_(std::move(dir)) {
    for (const auto& [k, v] : spec_.configuration) args_.emplace_back(k, Value(v));
  }

  // Starts the dependency faults' proxies, holding no fault yet: the pipeline calls its services
  // through them in every phase; checks that stress-ng is there for a resource fault. Fails
  // before any run.
  Status StartProxies() {
    for (const auto& a : spec_.method) {
      if (a.fault.kind == FaultSpec::Kind::kResource && !ProgramOnPath("stress-ng")) {
        return FailAt(a.loc, "fault {}: stress-ng is not installed (Debian's stress-ng; "
                      "scripts/deps.sh test installs it)", Quote(a.name));
      }
      if (a.fault.kind != FaultSpec::Kind::kDependency) continue;
      SLUICE_TRY(fault, ParseFaultLine(a.fault.proxy_fault));
      FaultProxyOptions o;
      o.listen = a.fault.listen;
      o.upstream = a.fault.upstream;
      auto proxy = FaultProxy::Start(o);
      if (!proxy) {
        return FailAt(a.loc, "fault {}: the fault proxy did not start: {}", Quote(a.name),
                      proxy.error().message);
      }
      say("fault {}: proxy {} -> {} up, no fault yet", a.name, (*proxy)->address(), a.fault.upstream);
      proxies_.push_back({&a, *fault, std::move(*proxy)});
    }
    return {};
  }

  // target.server: the control plane, up for the whole experiment; probes see its URL as
  // args.server.
  Status StartControlPlane() {
    if (spec_.server.servers == 0) return {};
    say("target: starting {} server{} and {} worker{}", spec_.server.servers,
        spec_.server.servers == 1 ? "" : "s", spec_.server.workers, spec_.server.workers == 1 ? "" : "s");
    SLUICE_TRY(cp, ControlPlane::Start({sluice_, env_.files().Absolute(g_.state_dir), g_.store, dir_, spec_.server}));
    cp_ = std::move(*cp);
    args_.emplace_back("server", Value(cp_->url()));
    say("target: server {} up", cp_->url());
    return {};
  }
  // The experiment's secrets, fetched once, given to the probes as args; each value is masked
  // in the journal (MaskSecrets).
  Status FetchSecrets() {
    for (const auto& d : spec_.secrets) {
      SLUICE_TRY(v, FetchSecret(env_, d));
      args_.emplace_back(d.name, Value(*v));
      secret_values_.push_back(*v);
    }
    return {};
  }
  // `text` with every secret value (as it is, and as JSON writes it) replaced by ***.
  std::string MaskSecrets(std::string text) const {
    for (const auto& v : secret_values_) {
      const std::string quoted = Value(v).ToJson();
      for (const std::string& form : {v, quoted.substr(1, quoted.size() - 2)}) {
        if (form.empty()) continue;
        for (size_t at = 0; (at = text.find(form, at)) != std::string::npos; at += 3) {
          text.replace(at, form.size(), "***");
        }
      }
    }
    return text;
  }

  // target.schedule: its file applied once (to the server, or to the state folder), so that each
  // run is `schedule trigger NAME`.
  Status ApplySchedule() {
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
      return FailAt(spec_.pipeline_loc, "target.schedule: `sluice schedule apply {}` failed (exit "
                    "{}; see {}/runs.log)", spec_.schedule_file, exit, dir_);
    }
    say("target: schedule {} applied from {}", spec_.schedule, spec_.schedule_file);
    return {};
  }

  std::string TargetName() const {
    return spec_.schedule.empty() ? spec_.pipeline : "schedule " + spec_.schedule;
  }

  void StopControlPlane() {
    if (cp_) cp_->Stop();
  }

  // Runs the phases; the journal is complete whatever happens.
  int Run() {
    start_us_ = NowUs();
    int code = 0;
    if (Phase("before", spec_.CheckBefore()) && !before_met_) {
      status_ = "failed";  // as Chaos Toolkit: no method on a system not in its steady state
      code = 1;
    } else if (!g_interrupted) {
      Method();
      RollBack();
      if (!g_interrupted && !(spec_.fail_fast && deviated_)) Phase("after", spec_.CheckAfter());
      code = deviated_ ? 1 : 0;
    }
    if (!rolled_back_) RollBack();
    if (g_interrupted) {
      status_ = "interrupted";
      code = 130;
    }
    end_us_ = NowUs();
    return code;
  }

  Value Journal() const;
  const std::string& name() const { return spec_.name; }
  const std::string& status() const { return status_; }
  bool deviated() const { return deviated_; }

 private:
  // Runs the target `runs` times with `faults`, then checks the hypothesis when `check`. False
  // when it was not checked.
  bool Phase(const std::string& phase, bool check, const PhaseFaults& faults = {}) {
    const int64_t start = NowUs();
    say("phase {}: {} run{} of {}{}", phase, spec_.runs, spec_.runs == 1 ? "" : "s", TargetName(),
        faults.env.empty() ? "" : " with SLUICE_FAULTS=" + faults.env);
    phase_ = phase;
    for (int i = 0; i < spec_.runs && !g_interrupted && !stop_phase_; ++i) RunTarget(phase, faults);
    phase_.clear();
    phases_.push_back(Value(ValueMap{{"name", Value(phase)}, {"start", Value(JournalTime(start))},
                                     {"end", Value(JournalTime(NowUs()))}}));
    if (!check || spec_.hypothesis.empty() || g_interrupted) return false;
    ValueMap probes;
    ValueList runs;
    bool met = true;
    for (const auto& a : spec_.hypothesis) {
      Value run = Probe(a, phase, probes);
      met = met && run.Find("status")->as_string() == "succeeded";
      runs.push_back(std::move(run));
    }
    Value state(ValueMap{{"steady_state_met", Value(met)}, {"probes", Value(std::move(runs))}});
    say("phase {}: the steady state was {}", phase, met ? "met" : "NOT met");
    if (phase == "before") {
      before_ = state;
      before_met_ = met;
    } else if (phase == "after") {
      after_ = state;
      deviated_ = deviated_ || !met;
    } else {
      during_.push_back(state);
      deviated_ = deviated_ || !met;
    }
    return true;
  }

  void Method() {
    std::vector<std::string> env;
    PhaseFaults faults;
    const int64_t start = NowUs();
    for (const auto& a : spec_.method) {
      if (a.type != ActivitySpec::Type::kFault) continue;
      if (!a.fault.faults.empty()) env.push_back(a.fault.faults);
      if (a.fault.kind == FaultSpec::Kind::kProcess) faults.kills.push_back(&a.fault);
      for (const auto& kv : a.fault.params) faults.params.push_back(kv);
    }
    faults.env = Join(env, ",");
    // The faults are in force for the `during` phase's runs; the method's probes then read them.
    for (auto& p : proxies_) (void)p.proxy->Set(p.fault);
    for (const auto& a : spec_.method) {
      if (a.fault.kind == FaultSpec::Kind::kResource) StartStress(a);
    }
    Phase("during", spec_.CheckDuring(), faults);
    if (cp_) cp_->Restart(true);  // what a kill took down is up again before the next phase
    StopStress();                                                  // rolled back
    for (auto& p : proxies_) (void)p.proxy->Set(ProxyFault{});
    const int64_t end = NowUs();
    // The faults were in force from the phase's start to its end, interrupted or not.
    for (const auto& a : spec_.method) {
      if (a.type != ActivitySpec::Type::kFault) continue;
      fault_runs_.push_back(Value(ValueMap{
          {"name", Value(a.name)},
          {"kind", Value(a.fault.kind == FaultSpec::Kind::kTask         ? "task"
                         : a.fault.kind == FaultSpec::Kind::kStore      ? "store"
                         : a.fault.kind == FaultSpec::Kind::kDependency ? "dependency"
                         : a.fault.kind == FaultSpec::Kind::kResource   ? "resource"
                         : a.fault.kind == FaultSpec::Kind::kDelivery   ? "delivery"
                                                                        : "process")},
          {"spec", a.written}, {"faults", Value(a.fault.faults)},
          {"start", Value(JournalTime(start))}, {"end", Value(JournalTime(end))},
          {"rolledBack", Value(true)}}));
      Value what;
      if (a.fault.kind == FaultSpec::Kind::kDependency) {
        for (const auto& p : proxies_) {
          if (p.activity != &a) continue;
          auto counters = ParseJson(CountersJson(p.proxy->counters()));
          what = Value(ValueMap{
              {"proxy", Value(p.proxy->address() + " -> " + a.fault.upstream)},
              {"fault", Value(DescribeFault(p.fault))},
              {"counters", counters ? *counters : Value()}});
        }
      } else if (a.fault.kind == FaultSpec::Kind::kResource) {
        what = Value(Join(a.fault.stress, " "));
      } else if (a.fault.kind == FaultSpec::Kind::kProcess) {
        ValueList kills;
        for (const auto& k : kills_) {
          if (k.first == &a.fault) kills.push_back(Value(k.second));
        }
        what = Value(ValueMap{{"kill", Value(a.fault.kill)},
                              {"after", Value(FormatDurationMs(a.fault.kill_after_ms))},
                              {"kills", Value(std::move(kills))},
                              {"events", cp_ ? cp_->Events() : Value(ValueList{})}});
      } else if (a.fault.kind == FaultSpec::Kind::kDelivery) {
        std::vector<std::string> ps;
        for (const auto& [k, v] : a.fault.params) ps.push_back(k + "=" + v);
        what = Value("the runs release a bad candidate: -p " + Join(ps, " -p "));
      } else {
        what = Value("SLUICE_FAULTS=" + a.fault.faults);
      }
      method_runs_.push_back(ActivityRun(a, start, end, "succeeded", std::move(what), {}));
    }
    ValueMap probes;
    for (const auto& a : spec_.method) {
      if (g_interrupted) break;
      if (a.type == ActivitySpec::Type::kFault) continue;
      SleepMs(a.pause_before_ms);
      method_runs_.push_back(a.type == ActivitySpec::Type::kCommand ? Command(a)
                                                                    : Probe(a, "during", probes));
      SleepMs(a.pause_after_ms);
    }
  }

  // Faults end with the `during` phase (no later run gets them, the proxies hold none); then the
  // rollbacks' commands.
  void RollBack() {
    rolled_back_ = true;
    StopStress();
    for (auto& p : proxies_) (void)p.proxy->Set(ProxyFault{});
    for (const auto& a : spec_.rollbacks) rollback_runs_.push_back(Command(a));
  }

  // A resource fault's stress-ng, in a process group of its own so that stopping it stops its
  // workers too.
  void StartStress(const ActivitySpec& a) {
    auto pid = Spawn({.argv = a.fault.stress, .env = {}, .out = "", .err = dir_ + "/stress.log",
                      .own_group = true, .path_search = true});
    if (!pid) return say("fault {}: stress-ng did not start: {}", a.name, pid.error().message);
    stress_.push_back(*pid);
    say("fault {}: {} (pid {})", a.name, Join(a.fault.stress, " "), *pid);
  }

  void StopStress() {
    for (pid_t pid : stress_) StopProcess(pid, true, 2000);
    stress_.clear();
  }

  // One target run, its record kept. Without a server: a `sluice run` resumed after a kill or
  // a store fault stopped it. With one: submitted with `sluice --server URL run`, then followed
  // in the store until it ends (the client's server may be killed; the leader keeps it going).
  void RunTarget(const std::string& phase, const PhaseFaults& faults) {
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
                          resumes < 3 && !g_interrupted; ++resumes) {
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
        r.rollouts.push_back({t.name, (*rollout)->environment, (*rollout)->phase, (*rollout)->message});
      }
    }
    say("  run {}: {}", run_id, r.status.empty() ? "did not finish" : r.status);
    runs_.push_back(std::move(r));
  }

  // A served run, followed in the store until it ends; cancelled through the server on an
  // interrupt or after the target's timeout (then given a minute to end).
  void AwaitServedRun(const std::string& run_id, int64_t started) {
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

  // Starts argv, waits for it; returns its exit code (128 + signal when killed). The first line
  // of its output is the run id. Each process fault of `kills` strikes once, its time after the
  // start. An interrupt (when `interruptible`) or the target's timeout sends it SIGINT.
  int Child(const std::vector<std::string>& argv, const std::string& faults,
            const std::vector<const FaultSpec*>& kills, std::string* run_id,
            bool interruptible = true) {
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
                                                    "start, then sluice resume", *pid, FormatDurationMs(ms)));
        } else if (cp_) {
          const std::string id = RunIdIn(out);
          kills_.emplace_back(kills[i], cp_->Kill(kills[i]->kill, id, LeaseHolders(id),
                                                  kills[i]->restart_ms));
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

  // The names of the workers holding a lease of the run's latest attempts.
  std::vector<std::string> LeaseHolders(const std::string& run_id) {
    std::vector<std::string> names;
    auto tasks = store_.ListTasks(run_id);
    for (const auto& t : tasks ? *tasks : std::vector<TaskRecord>{}) {
      auto row = store_.FindWork(run_id, t.name, t.attempts);
      if (!row || !*row || (*row)->state != "leased") continue;
      if (auto w = store_.FindWorker((*row)->worker); w && *w) names.push_back((*w)->name);
    }
    return names;
  }

  std::string RunIdIn(const std::string& out) const {
    auto text = env_.files().ReadFile(out);
    return text ? std::string(Trim(text->substr(0, text->find('\n')))) : "";
  }

  // While the `during` phase's runs go: the hypothesis probes with an interval that are due, as
  // one steady state of the journal's `during` list. A deviation with failFast stops the phase
  // (the run in progress is cancelled, no other starts).
  void CheckContinuously() {
    if (phase_ != "during" || !spec_.CheckDuring()) return;
    const int64_t now = NowUs();
    ValueMap probes;
    ValueList runs;
    bool met = true;
    for (const auto& a : spec_.hypothesis) {
      if (a.probe.interval_ms == 0) continue;
      int64_t& due = due_us_[a.name];
      if (now < due) continue;
      due = now + a.probe.interval_ms * 1000;
      Value run = Probe(a, "during", probes);
      met = met && run.Find("status")->as_string() == "succeeded";
      runs.push_back(std::move(run));
    }
    if (runs.empty()) return;
    during_.push_back(Value(ValueMap{{"steady_state_met", Value(met)}, {"probes", Value(std::move(runs))},
                                     {"continuous", Value(true)}}));
    if (met) return;
    deviated_ = true;
    say("  the steady state was NOT met while the faults were on{}",
        spec_.fail_fast ? "; failFast: the phase stops" : "");
    if (spec_.fail_fast) stop_phase_ = true;
  }

  Value Probe(const ActivitySpec& a, const std::string& phase, ValueMap& probes) {
    const int64_t start = NowUs();
    std::vector<const TargetRun*> runs;
    ValueList run_values;
    for (const auto& r : runs_) {
      if (r.phase != phase) continue;
      runs.push_back(&r);
      run_values.push_back(TargetRunToValue(r));
    }
    const Value runs_value(std::move(run_values));
    Result<Value> value = Measure(a.probe, phase, runs, Value(probes), runs_value);
    if (!value) {
      return ActivityRun(a, start, NowUs(), "failed", Value(), {value.error().message}, false);
    }
    probes.emplace_back(a.name, *value);
    if (!a.probe.tolerance) return ActivityRun(a, start, NowUs(), "succeeded", *value, {});
    const Value seen(probes);
    ProbeActivation act(*value, seen, phase, runs_value);
    auto ok = a.probe.tolerance->Evaluate(act);
    if (!ok || !ok->is_bool()) {
      return ActivityRun(a, start, NowUs(), "failed", *value,
                         {ok ? "the tolerance is not a bool" : ok.error().message}, false);
    }
    const bool met = ok->as_bool();
    return ActivityRun(a, start, NowUs(), met ? "succeeded" : "failed", *value,
                       met ? std::vector<std::string>{}
                           : std::vector<std::string>{fmt::format("{} is outside the tolerance {}",
                                                                  value->ToJson(), a.probe.tolerance_text)},
                       met);
  }

  Result<Value> Measure(const ProbeSpec& p, const std::string& phase,
                        const std::vector<const TargetRun*>& runs, const Value& probes,
                        const Value& runs_value) {
    switch (p.kind) {
      case ProbeSpec::Kind::kBreaker: {
        SLUICE_TRY(rows, store_.ListBreakers());
        for (const auto& b : *rows) {
          if (b.name != p.breaker) continue;
          auto data = ParseJson(b.data);
          const Value* st = data && data->is_map() ? data->Find("state") : nullptr;
          if (st && st->is_string()) return *st;
        }
        return Fail(ErrorCode::kNotFound, "no data: breaker {} was never used", Quote(p.breaker));
      }
      case ProbeSpec::Kind::kMetric: {
        SLUICE_TRY(resolved, ResolveProvider(p.provider, Value(args_)));
        return NewMetricProvider(env_)->Measure(*resolved);
      }
      case ProbeSpec::Kind::kCel: {
        const Value none;
        ProbeActivation act(none, probes, phase, runs_value);
        return p.expression->Evaluate(act);
      }
      default: return ProbeOverRuns(p, runs);
    }
  }

  Value Command(const ActivitySpec& a) {
    const int64_t start = NowUs();
    auto r = RunCapturedCommand(a.command.argv, spec_.file.substr(0, spec_.file.rfind('/') + 1), a.command.timeout_ms * 1000, 64 * 1024);
    if (!r) return ActivityRun(a, start, NowUs(), "failed", Value(), {r.error().message});
    const bool ok = r->exit_code == 0;
    return ActivityRun(a, start, NowUs(), ok ? "succeeded" : "failed",
                       Value(ValueMap{{"status", Value(int64_t{r->exit_code})}, {"stdout", Value(r->out)}}),
                       ok ? std::vector<std::string>{}
                          : std::vector<std::string>{fmt::format("exited with {}", r->exit_code)});
  }

  static Value ActivityRun(const ActivitySpec& a, int64_t start, int64_t end,
                           const std::string& status, Value output,
                           const std::vector<std::string>& exception,
                           std::optional<bool> tolerance_met = std::nullopt) {
    ValueMap m{{"activity", a.written}, {"status", Value(status)}, {"output", std::move(output)},
               {"start", Value(JournalTime(start))}, {"end", Value(JournalTime(end))},
               {"duration", Value((end - start) / 1e6)}};
    if (a.probe.tolerance) m.emplace_back("tolerance_met", Value(tolerance_met.value_or(false)));
    if (!exception.empty()) {
      ValueList e;
      for (const auto& x : exception) e.push_back(Value(x));
      m.emplace_back("exception", Value(std::move(e)));
    }
    return Value(std::move(m));
  }

  template <typename... Args>
  void say(fmt::format_string<Args...> f, Args&&... args) const {
    std::fprintf(stderr, "chaos %s: %s\n", spec_.name.c_str(),
                 fmt::format(f, std::forward<Args>(args)...).c_str());
  }

  Env& env_;
  const GlobalOptions& g_;
  Store& store_;
  ExperimentSpec spec_;
  std::string sluice_, dir_, status_ = "completed";
  ValueMap args_;
  int64_t start_us_ = 0, end_us_ = 0;
  bool before_met_ = true, deviated_ = false, rolled_back_ = false;
  Value before_, after_;
  ValueList during_, method_runs_, rollback_runs_, phases_, fault_runs_;
  std::vector<TargetRun> runs_;
  struct Proxy {
    const ActivitySpec* activity;
    ProxyFault fault;  // in force during the `during` phase
    std::unique_ptr<FaultProxy> proxy;
  };
  std::vector<Proxy> proxies_;  // stopped when the experiment ends, however it ends
  std::vector<pid_t> stress_;   // resource faults' stress-ng, each its own process group
  std::unique_ptr<ControlPlane> cp_;  // target.server
  std::vector<std::pair<const FaultSpec*, std::string>> kills_;  // each process fault's strikes
  std::vector<std::string> secret_values_;  // masked in the journal
  std::string phase_;                       // the phase whose runs go now
  std::map<std::string, int64_t> due_us_;   // continuous probes: when each is due again
  bool stop_phase_ = false;                 // a continuous check deviated under failFast
};

Value Experiment::Journal() const {
  ValueList runs;
  for (const auto& r : runs_) runs.push_back(TargetRunToValue(r));
  ValueList decisions, approvals;
  for (const auto& r : runs_) {
    if (auto ds = store_.ListDecisions(r.run_id)) {
      for (const auto& d : *ds) {
        decisions.push_back(Value(ValueMap{
            {"run", Value(d.run_id)}, {"stage", Value(d.stage)}, {"task", Value(d.task)},
            {"policy", Value(d.policy)}, {"rule", Value(d.rule)}, {"result", Value(d.result)},
            {"message", Value(d.message)}, {"waiver", Value(d.waiver)}}));
      }
    }
    for (const auto& t : r.tasks) {
      auto votes = store_.ListVotes(r.run_id, t.name);
      for (const auto& v : votes ? *votes : std::vector<VoteRow>{}) {
        approvals.push_back(Value(ValueMap{
            {"run", Value(r.run_id)}, {"task", Value(t.name)}, {"user", Value(v.user)},
            {"approve", Value(v.approve)}, {"comment", Value(v.comment)},
            {"time", Value(JournalTime(v.time_us))}}));
      }
    }
  }
  Value audit(ValueMap{});
  if (auto check = store_.VerifyAudit()) {
    audit = Value(ValueMap{{"verified", Value(check->broken_at == 0)},
                           {"records", Value(check->records)}, {"head", Value(check->head)},
                           {"message", Value(check->why)}});
  }
  ValueList tags;
  for (const auto& t : spec_.tags) tags.push_back(Value(t));
  const Value* written_hyp = spec_.written.Find("steadyStateHypothesis");
  const Value* written_rb = spec_.written.Find("rollbacks");
  const Value* written_rt = spec_.written.Find("runtime");
  Value experiment(ValueMap{
      {"title", Value(spec_.title)}, {"description", Value(spec_.description)},
      {"tags", Value(std::move(tags))},
      {"configuration", spec_.written.Find("configuration") ? *spec_.written.Find("configuration") : Value(ValueMap{})},
      {"secrets", spec_.written.Find("secrets") ? *spec_.written.Find("secrets") : Value(ValueList{})},
      {"steady-state-hypothesis", written_hyp ? *written_hyp : Value()},
      {"method", *spec_.written.Find("method")},
      {"rollbacks", written_rb ? *written_rb : Value(ValueList{})},
      {"runtime", written_rt ? *written_rt : Value(ValueMap{})}});
  return Value(ValueMap{
      {"sluice-version", Value(SLUICE_VERSION)}, {"platform", Value(Uname(false))},
      {"node", Value(Uname(true))}, {"experiment", std::move(experiment)},
      {"start", Value(JournalTime(start_us_))}, {"end", Value(JournalTime(end_us_))},
      {"duration", Value((end_us_ - start_us_) / 1e6)}, {"status", Value(status_)},
      {"deviated", Value(deviated_)},
      {"steady_states", Value(ValueMap{{"before", before_}, {"during", Value(during_)},
                                       {"after", after_}})},
      {"run", Value(method_runs_)}, {"rollbacks", Value(rollback_runs_)},
      {"sluice", Value(ValueMap{
          {"id", Value(dir_.substr(dir_.rfind('/') + 1))}, {"name", Value(spec_.name)},
          {"file", Value(spec_.file)}, {"weight", Value(int64_t{spec_.weight})},
          {"phases", Value(phases_)}, {"faults", Value(fault_runs_)},
          {"runs", Value(std::move(runs))},
          {"governance", Value(ValueMap{{"decisions", Value(std::move(decisions))},
                                        {"approvals", Value(std::move(approvals))},
                                        {"audit", std::move(audit)}})}})}});
}

}  // namespace

int ChaosRun(Env& env, const GlobalOptions& g, const ChaosRunOptions& o) {
  auto text = env.files().ReadFileAtMost(o.file, 1 << 20);
  if (!text) return Report(text.error());
  auto spec = ParseExperimentFile(env.files().Absolute(o.file), *text);
  if (!spec) return Report(spec.error());
  if (!spec->pipeline.empty()) {  // a schedule's file is checked when it is applied
    if (auto plan = LoadPlan(env.files(), spec->pipeline); !plan) {
      return Report(Error(ErrorCode::kInvalidInput,
                          fmt::format("{}: the target does not load: {}",
                                      spec->pipeline_loc.ToString(), plan.error().message)));
    }
  }
  if (o.dry_run) {
    PrintDryRun(*spec);
    return 0;
  }
  auto sluice = ProgramBeside("sluice");
  if (!sluice) return Report(sluice.error());
  auto store = OpenStore(env, g, true);
  if (!store) return Report(store.error());
  const std::string id = FormatTimestampMs(NowUs() / 1000).substr(0, 19) + "-" + spec->name;
  std::string dir = env.files().Absolute(PathJoin(PathJoin(g.state_dir, "chaos"), id));
  for (char& c : dir) c = c == ':' ? '-' : c;
  if (auto s = env.files().MakeDirs(dir); !s) return Report(s.error());
  struct sigaction sa {};
  sa.sa_handler = OnChaosSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);
  Experiment x(env, g, **store, std::move(*spec), *sluice, dir);
  if (auto s = x.FetchSecrets(); !s) return Report(s.error());
  if (auto s = x.StartProxies(); !s) return Report(s.error());
  if (auto s = x.StartControlPlane(); !s) return Report(s.error());
  if (auto s = x.ApplySchedule(); !s) {
    x.StopControlPlane();
    return Report(s.error());
  }
  const int code = x.Run();
  x.StopControlPlane();
  const std::string journal = x.MaskSecrets(x.Journal().ToJson()) + "\n";
  if (auto s = env.files().WriteFile(dir + "/journal.json", journal); !s) return Report(s.error());
  if (!o.journal.empty()) {
    if (auto s = env.files().WriteFile(o.journal, journal); !s) return Report(s.error());
  }
  std::printf("%s\n", (dir + "/journal.json").c_str());
  std::fprintf(stderr, "chaos %s: %s%s\n", x.name().c_str(), x.status().c_str(),
               x.deviated() ? ", deviated" : "");
  return code;
}

}  // namespace sluice
