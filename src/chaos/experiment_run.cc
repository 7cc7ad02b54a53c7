// The experiment runner (experiment_run.h, docs/chaos.md). One process, one thread: the target's
// runs are child `sluice run` processes on the same state folder, one after another (or, with
// target.server, runs submitted to the control plane it starts: control_plane.h); faults reach
// them through their environment (SLUICE_FAULTS) and signals, so rolling a fault back is not
// giving it to the next run, and nothing of a fault outlives the experiment's process.
#include "chaos/experiment_run.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "chaos/experiment.h"
#include "chaos/proxy_command.h"
#include "chaos/spawn.h"
#include "common/strings.h"
#include "spec/loader.h"

namespace sluice {
namespace chaos {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnChaosSignal(int) { g_interrupted = 1; }

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SleepMs(int64_t ms) {  // in slices, so that an interrupt ends it
  for (int64_t t = 0; t < ms && !g_interrupted; t += 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(20, ms - t)));
  }
}

namespace {

bool ProgramOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (const auto& dir : Split(path ? path : "/usr/bin:/bin", ':')) {
    if (!dir.empty() && ::access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

Status Experiment::StartProxies() {
  for (const auto& a : spec_.method) {
    if (a.fault.kind == FaultSpec::Kind::kResource && !ProgramOnPath("stress-ng")) {
      return FailAt(a.loc,
                    "fault {}: stress-ng is not installed (Debian's stress-ng; "
                    "scripts/deps.sh test installs it)",
                    Quote(a.name));
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

int Experiment::Run() {
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

bool Experiment::Phase(const std::string& phase, bool check, const PhaseFaults& faults) {
  const int64_t start = NowUs();
  say("phase {}: {} run{} of {}{}", phase, spec_.runs, spec_.runs == 1 ? "" : "s", TargetName(),
      faults.env.empty() ? "" : " with SLUICE_FAULTS=" + faults.env);
  phase_ = phase;
  for (int i = 0; i < spec_.runs && !g_interrupted && !stop_phase_; ++i) RunTarget(phase, faults);
  phase_.clear();
  phases_.push_back(Value(ValueMap{{"name", Value(phase)},
                                   {"start", Value(JournalTime(start))},
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

void Experiment::Method() {
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
  StopStress();                 // rolled back
  for (auto& p : proxies_) (void)p.proxy->Set(ProxyFault{});
  const int64_t end = NowUs();
  // The faults were in force from the phase's start to its end, interrupted or not.
  for (const auto& a : spec_.method) {
    if (a.type != ActivitySpec::Type::kFault) continue;
    fault_runs_.push_back(
        Value(ValueMap{{"name", Value(a.name)},
                       {"kind", Value(a.fault.kind == FaultSpec::Kind::kTask         ? "task"
                                      : a.fault.kind == FaultSpec::Kind::kStore      ? "store"
                                      : a.fault.kind == FaultSpec::Kind::kDependency ? "dependency"
                                      : a.fault.kind == FaultSpec::Kind::kResource   ? "resource"
                                      : a.fault.kind == FaultSpec::Kind::kDelivery   ? "delivery"
                                                                                     : "process")},
                       {"spec", a.written},
                       {"faults", Value(a.fault.faults)},
                       {"start", Value(JournalTime(start))},
                       {"end", Value(JournalTime(end))},
                       {"rolledBack", Value(true)}}));
    Value what;
    if (a.fault.kind == FaultSpec::Kind::kDependency) {
      for (const auto& p : proxies_) {
        if (p.activity != &a) continue;
        auto counters = ParseJson(CountersJson(p.proxy->counters()));
        what = Value(ValueMap{{"proxy", Value(p.proxy->address() + " -> " + a.fault.upstream)},
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

void Experiment::RollBack() {
  rolled_back_ = true;
  StopStress();
  for (auto& p : proxies_) (void)p.proxy->Set(ProxyFault{});
  for (const auto& a : spec_.rollbacks) rollback_runs_.push_back(Command(a));
}

void Experiment::StartStress(const ActivitySpec& a) {
  auto pid = Spawn({.argv = a.fault.stress,
                    .env = {},
                    .out = "",
                    .err = dir_ + "/stress.log",
                    .own_group = true,
                    .path_search = true});
  if (!pid) return say("fault {}: stress-ng did not start: {}", a.name, pid.error().message);
  stress_.push_back(*pid);
  say("fault {}: {} (pid {})", a.name, Join(a.fault.stress, " "), *pid);
}

void Experiment::StopStress() {
  for (pid_t pid : stress_) StopProcess(pid, true, 2000);
  stress_.clear();
}

}  // namespace chaos

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
  const std::string id = FormatTimestampMs(chaos::NowUs() / 1000).substr(0, 19) + "-" + spec->name;
  std::string dir = env.files().Absolute(PathJoin(PathJoin(g.state_dir, "chaos"), id));
  for (char& c : dir) c = c == ':' ? '-' : c;
  chaos::Experiment x(env, g, **store, std::move(*spec), *sluice, dir);
  if (auto s = x.FetchSecrets(); !s) return Report(s.error());  // before anything is written
  if (auto s = env.files().MakeDirs(dir); !s) return Report(s.error());
  struct sigaction sa {};
  sa.sa_handler = chaos::OnChaosSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);
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
