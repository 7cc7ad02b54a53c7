// The experiment runner (experiment_run.h, docs/chaos.md). One process, one thread: the target's
// runs are child `sluice run` processes on the same state folder, one after another; faults reach
// them through their environment (SLUICE_FAULTS) and signals, so rolling a fault back is not
// giving it to the next run, and nothing of a fault outlives the experiment's process.
#include "chaos/experiment_run.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "chaos/fault_proxy.h"
#include "chaos/proxy_command.h"
#include "chaos/run_records.h"
#include "common/strings.h"
#include "engine/breaker.h"
#include "expr/expr.h"
#include "rollout/analysis.h"
#include "spec/loader.h"
#include "store/store.h"

extern char** environ;

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
  bool Phase(const std::string& phase, bool check, const std::string& faults = "",
             int64_t kill_after_ms = 0) {
    const int64_t start = NowUs();
    say("phase {}: {} run{} of {}{}", phase, spec_.runs, spec_.runs == 1 ? "" : "s", spec_.pipeline,
        faults.empty() ? "" : " with SLUICE_FAULTS=" + faults);
    for (int i = 0; i < spec_.runs && !g_interrupted; ++i) RunTarget(phase, faults, kill_after_ms);
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
    std::vector<std::string> faults;
    int64_t kill_after = 0;
    const int64_t start = NowUs();
    for (const auto& a : spec_.method) {
      if (a.type != ActivitySpec::Type::kFault) continue;
      if (!a.fault.faults.empty()) faults.push_back(a.fault.faults);
      if (a.fault.kill_after_ms) kill_after = a.fault.kill_after_ms;
    }
    // The faults are in force for the `during` phase's runs; the method's probes then read them.
    for (auto& p : proxies_) (void)p.proxy->Set(p.fault);
    for (const auto& a : spec_.method) {
      if (a.fault.kind == FaultSpec::Kind::kResource) StartStress(a);
    }
    Phase("during", spec_.CheckDuring(), Join(faults, ","), kill_after);
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
      } else {
        what = Value(a.fault.kill_after_ms
                         ? fmt::format("kill -9 of each run {} after its start, then sluice resume",
                                       FormatDurationMs(a.fault.kill_after_ms))
                         : "SLUICE_FAULTS=" + a.fault.faults);
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
    std::vector<char*> argv;
    for (const auto& x : a.fault.stress) argv.push_back(const_cast<char*>(x.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, (dir_ + "/stress.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    pid_t pid = 0;
    if (posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ) == 0) {
      stress_.push_back(pid);
      say("fault {}: {} (pid {})", a.name, Join(a.fault.stress, " "), pid);
    } else {
      say("fault {}: stress-ng did not start", a.name);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
  }

  void StopStress() {
    for (pid_t pid : stress_) kill(-pid, SIGTERM);
    for (pid_t pid : stress_) {
      int status = 0;
      for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      kill(-pid, SIGKILL);  // its workers, and itself if it is still there
      waitpid(pid, &status, 0);
    }
    stress_.clear();
  }

  // One target run, resumed after a kill or a store fault stopped it; its record kept.
  void RunTarget(const std::string& phase, const std::string& faults, int64_t kill_after_ms) {
    std::vector<std::string> argv = {sluice_, "--state-dir", g_.state_dir, "run", spec_.pipeline};
    for (const auto& [k, v] : spec_.params) {
      argv.push_back("-p");
      argv.push_back(k + "=" + v);
    }
    std::string run_id;
    int exit = Child(argv, faults, kill_after_ms, &run_id);
    for (int resumes = 0; !run_id.empty() && (exit == 3 || exit == 128 + SIGKILL) &&
                          resumes < 3 && !g_interrupted; ++resumes) {
      say("  run {} stopped ({}); resuming it", run_id, exit == 3 ? "a store fault" : "killed");
      std::string again;
      exit = Child({sluice_, "--state-dir", g_.state_dir, "resume", run_id}, "", 0, &again);
    }
    if (run_id.empty()) {
      say("  a run did not start (exit {}); see {}/runs.log", exit, dir_);
      return;
    }
    auto events = store_.LoadEvents(run_id);
    TargetRun r = TargetRunOf(run_id, phase, events ? *events : std::vector<Event>{});
    if (auto changes = store_.ListBreakerTransitions("", 100000)) {
      for (const auto& t : *changes) {
        if (StartsWith(t.who, run_id + "/")) r.breakers.push_back({t.name, t.from, t.to, t.time_us});
      }
    }
    say("  run {}: {}", run_id, r.status.empty() ? "did not finish" : r.status);
    runs_.push_back(std::move(r));
  }

  // Starts argv, waits for it; returns its exit code (128 + signal when killed). The first line
  // of its output is the run id.
  int Child(const std::vector<std::string>& argv, const std::string& faults, int64_t kill_after_ms,
            std::string* run_id) {
    const std::string out = dir_ + "/out", log = dir_ + "/runs.log";
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      if (!StartsWith(*e, "SLUICE_FAULTS=")) envs.push_back(*e);
    }
    if (!faults.empty()) envs.push_back("SLUICE_FAULTS=" + faults);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cargv.push_back(nullptr);
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t dfl;
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return 127;
    const int64_t started = NowUs();
    bool killed = false, stopped = false;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      const int64_t ms = (NowUs() - started) / 1000;
      if (kill_after_ms > 0 && !killed && ms >= kill_after_ms) {
        kill(pid, SIGKILL);  // the process fault: the run's own process, as a crash would
        killed = true;
      }
      if (!stopped && (g_interrupted || ms >= spec_.run_timeout_ms)) {
        kill(pid, SIGINT);  // cancels the run cleanly
        stopped = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (auto text = env_.files().ReadFile(out); text && run_id->empty()) {
      *run_id = std::string(Trim(text->substr(0, text->find('\n'))));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
  if (auto plan = LoadPlan(env.files(), spec->pipeline); !plan) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("{}: the target does not load: {}", spec->pipeline_loc.ToString(),
                                    plan.error().message)));
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
  if (auto s = x.StartProxies(); !s) return Report(s.error());
  const int code = x.Run();
  const std::string journal = x.Journal().ToJson() + "\n";
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
