// Reading `kind: Experiment` (experiment_spec.h, docs/chaos.md) with the loader's Reader: every
// error is one FILE:LINE:COL line, and faults are turned into the SLUICE_FAULTS text the target's
// runs get, so that a fault the engine would refuse is refused here.
#include <algorithm>

#include "env/faults.h"
#include "spec/experiment_spec.h"
#include "spec/yaml_reader.h"

namespace sluice {

namespace {

constexpr int kMaxRuns = 1000;
constexpr size_t kMaxActivities = 100;

// A tolerance or a cel probe: CEL over the names a probe's evaluation gives.
Result<std::shared_ptr<const Expression>> ProbeExpression(const Reader& r, const YNode& n,
                                                          std::string_view what) {
  SLUICE_TRY(e, r.Cel(n, what));
  static const std::vector<std::string> kRoots = {"value", "probes", "phase", "runs"};
  static const std::vector<std::string> kTypeNames = {"int", "uint", "double", "bool", "string",
                                                      "bytes", "list", "map", "null_type", "type",
                                                      "duration", "timestamp"};
  for (const auto& ref : (*e)->references()) {
    const std::string& root = ref.path[0];
    if (std::find(kRoots.begin(), kRoots.end(), root) != kRoots.end()) continue;
    if (std::find(kTypeNames.begin(), kTypeNames.end(), root) != kTypeNames.end()) continue;
    return FailAt(r.Loc(n), "unknown name {}: {} sees value, probes, phase and runs{} (in the "
                  "expression, column {})", Quote(root), what, DidYouMean(root, kRoots),
                  ref.column);
  }
  return e;
}

Status ReadProbe(const Reader& r, const YNode& n, const std::vector<std::string>& args,
                 ProbeSpec* p) {
  static const std::vector<std::pair<const char*, ProbeSpec::Kind>> kKinds = {
      {"runs", ProbeSpec::Kind::kRuns},
      {"taskDuration", ProbeSpec::Kind::kTaskDuration},
      {"retries", ProbeSpec::Kind::kRetries},
      {"compensations", ProbeSpec::Kind::kCompensations},
      {"breaker", ProbeSpec::Kind::kBreaker},
      {"metric", ProbeSpec::Kind::kMetric},
      {"cel", ProbeSpec::Kind::kCel},
      {"rollout", ProbeSpec::Kind::kRollout}};
  YNode b;
  for (const auto& [key, kind] : kKinds) {
    if (!n[key]) continue;
    if (b) return FailAt(r.Loc(n[key]), "a probe measures one thing; this one has two kinds");
    b = n[key];
    p->kind = kind;
  }
  if (!b) {
    return FailAt(r.Loc(n), "a probe needs one of runs, taskDuration, retries, compensations, "
                  "rollout, breaker, metric or cel");
  }
  switch (p->kind) {
    case ProbeSpec::Kind::kRuns:
      SLUICE_TRY_STATUS(r.ExpectMap(b, "runs"));
      SLUICE_TRY_STATUS(r.CheckKeys(b, {"status"}, "runs"));
      if (b["status"]) {
        SLUICE_TRY_STATUS(r.ExpectList(b["status"], "runs.status"));
        p->statuses.clear();
        for (const auto& s : b["status"]) {
          SLUICE_TRY(text, r.Str(s, "a status"));
          p->statuses.push_back(*text);
        }
      }
      break;
    case ProbeSpec::Kind::kTaskDuration:
    case ProbeSpec::Kind::kRetries:
    case ProbeSpec::Kind::kCompensations: {
      const bool duration = p->kind == ProbeSpec::Kind::kTaskDuration;
      SLUICE_TRY_STATUS(r.ExpectMap(b, "the probe"));
      SLUICE_TRY_STATUS(duration ? r.CheckKeys(b, {"task", "percentile"}, "taskDuration")
                                 : r.CheckKeys(b, {"task"}, "the probe"));
      if (b["task"]) SLUICE_TRY_ASSIGN(p->task, r.Str(b["task"], "task"));
      if (duration && !b["task"]) return FailAt(r.Loc(b), "taskDuration needs a task");
      if (b["percentile"]) {
        SLUICE_TRY(pc, r.Number(b["percentile"], "percentile"));
        if (*pc > 100) return FailAt(r.Loc(b["percentile"]), "percentile must be at most 100");
        p->percentile = *pc;
      }
      break;
    }
    case ProbeSpec::Kind::kRollout: {
      SLUICE_TRY_STATUS(r.ExpectMap(b, "rollout"));
      SLUICE_TRY_STATUS(r.CheckKeys(b, {"task", "phase"}, "rollout"));
      if (b["task"]) SLUICE_TRY_ASSIGN(p->task, r.Str(b["task"], "task"));
      if (b["phase"]) {
        SLUICE_TRY_ASSIGN(p->rollout_phase, r.Str(b["phase"], "phase"));
        static const std::vector<std::string> kPhases = {"Healthy", "Degraded"};
        if (std::find(kPhases.begin(), kPhases.end(), p->rollout_phase) == kPhases.end()) {
          return FailAt(r.Loc(b["phase"]), "rollout.phase is how a rollout ended: Healthy "
                        "(released) or Degraded (aborted, traffic back to stable){}",
                        DidYouMean(p->rollout_phase, kPhases));
        }
      }
      break;
    }
    case ProbeSpec::Kind::kBreaker:
      SLUICE_TRY_STATUS(r.ExpectMap(b, "breaker"));
      SLUICE_TRY_STATUS(r.CheckKeys(b, {"name"}, "breaker"));
      if (!b["name"]) return FailAt(r.Loc(b), "breaker needs a name");
      SLUICE_TRY_ASSIGN(p->breaker, r.Name(b["name"], "breaker name"));
      break;
    case ProbeSpec::Kind::kMetric:
      SLUICE_TRY_STATUS(r.ExpectMap(b, "metric"));
      SLUICE_TRY_STATUS(r.CheckKeys(b, {"provider"}, "metric"));
      if (!b["provider"]) return FailAt(r.Loc(b), "metric needs a provider");
      SLUICE_TRY_STATUS(ReadAnalysisProvider(r, b["provider"], args, &p->provider));
      if (p->provider.kind == AnalysisProvider::Kind::kJob) {
        return FailAt(r.Loc(b["provider"]), "a probe's provider is prometheus, web or command");
      }
      break;
    case ProbeSpec::Kind::kCel:  // cel: EXPRESSION
      SLUICE_TRY_ASSIGN(p->expression, ProbeExpression(r, b, "a cel probe"));
      break;
  }
  return {};
}

// NAME: scalar params, as `sluice run -p NAME=VALUE` takes them.
Status ReadParams(const Reader& r, const YNode& ps, std::string_view what,
                  std::vector<std::pair<std::string, std::string>>* out) {
  SLUICE_TRY_STATUS(r.ExpectMap(ps, what));
  for (auto it = ps.begin(); it != ps.end(); ++it) {
    SLUICE_TRY(k, r.Name(it->first, "a param"));
    if (!it->second.IsScalar()) return FailAt(r.Loc(it->second), "param {} must be a scalar", Quote(*k));
    out->emplace_back(*k, std::string(it->second.Scalar()));
  }
  return {};
}

// A resource fault: stress-ng's workers (Debian's stress-ng), for the whole `during` phase.
Status ReadResource(const Reader& r, const YNode& x, FaultSpec* f) {
  f->kind = FaultSpec::Kind::kResource;
  SLUICE_TRY_STATUS(r.ExpectMap(x, "fault.resource"));
  SLUICE_TRY_STATUS(r.CheckKeys(x, {"cpu", "memory", "io"}, "fault.resource"));
  f->stress = {"stress-ng", "--quiet"};
  if (x["cpu"]) {
    SLUICE_TRY(n, r.Int(x["cpu"], "cpu (busy workers)", 1, 256));
    f->stress.insert(f->stress.end(), {"--cpu", std::to_string(*n)});
  }
  if (x["memory"]) {
    SLUICE_TRY(m, r.Str(x["memory"], "memory"));
    const std::string& s = *m;
    const bool ok = !s.empty() && std::all_of(s.begin(), s.end() - 1, ::isdigit) &&
                    (::isdigit(s.back()) || std::string("KMG").find(s.back()) != std::string::npos);
    if (!ok) return FailAt(r.Loc(x["memory"]), "memory must be bytes such as 256M or 1G");
    f->stress.insert(f->stress.end(), {"--vm", "1", "--vm-bytes", s, "--vm-keep"});
  }
  if (x["io"]) {
    SLUICE_TRY(n, r.Int(x["io"], "io (sync workers)", 1, 64));
    f->stress.insert(f->stress.end(), {"--io", std::to_string(*n)});
  }
  if (f->stress.size() == 2) return FailAt(r.Loc(x), "fault.resource needs cpu, memory or io");
  return {};
}

// A dependency fault: the proxy's addresses, and its fault as the proxy's flags.
Status ReadDependency(const Reader& r, const YNode& d, FaultSpec* f) {
  f->kind = FaultSpec::Kind::kDependency;
  SLUICE_TRY_STATUS(r.ExpectMap(d, "fault.dependency"));
  SLUICE_TRY_STATUS(r.CheckKeys(d, {"listen", "upstream", "latency", "jitter", "bandwidth",
                                    "direction", "cut", "probability"}, "fault.dependency"));
  if (!d["listen"] || !d["upstream"]) {
    return FailAt(r.Loc(d), "fault.dependency needs listen (a loopback HOST:PORT the pipeline "
                  "calls) and upstream (the service's HOST:PORT)");
  }
  SLUICE_TRY_ASSIGN(f->listen, r.Str(d["listen"], "listen"));
  SLUICE_TRY_ASSIGN(f->upstream, r.Str(d["upstream"], "upstream"));
  // The guard: an experiment acts on this machine only.
  for (const char* key : {"listen", "upstream"}) {
    const std::string& a = key[0] == 'l' ? f->listen : f->upstream;
    const bool loopback = a.starts_with("127.") || a.starts_with("localhost:") ||
                          a.starts_with("[::1]:");
    if (!loopback || a.find(':') == std::string::npos) {
      return FailAt(r.Loc(d[key]), "{} must be a loopback HOST:PORT (127.0.0.1:PORT, "
                    "localhost:PORT or [::1]:PORT): an experiment acts on this machine only", key);
    }
  }
  std::vector<std::string> flags;
  for (const char* key : {"latency", "jitter"}) {
    if (!d[key]) continue;
    SLUICE_TRY(ms, r.Delay(d[key], key));
    flags.push_back(fmt::format("--{} {}ms", key, *ms));
  }
  if (d["bandwidth"]) {
    SLUICE_TRY(b, r.Int(d["bandwidth"], "bandwidth (bytes per second)", 1, int64_t{1} << 40));
    flags.push_back(fmt::format("--bandwidth {}", *b));
  }
  if (d["direction"]) {
    SLUICE_TRY(dir, r.Str(d["direction"], "direction"));
    if (*dir != "both" && *dir != "upstream" && *dir != "downstream") {
      return FailAt(r.Loc(d["direction"]), "direction must be both, upstream or downstream");
    }
    flags.push_back("--direction " + *dir);
  }
  if (d["cut"]) {
    SLUICE_TRY(cut, r.Str(d["cut"], "cut"));
    if (*cut != "reset" && *cut != "blackhole" && *cut != "refuse") {
      return FailAt(r.Loc(d["cut"]), "cut must be reset, blackhole or refuse");
    }
    flags.push_back("--" + *cut);
  }
  if (d["probability"]) {
    SLUICE_TRY(p, r.Number(d["probability"], "probability"));
    if (*p > 1) return FailAt(r.Loc(d["probability"]), "probability must be from 0 to 1");
    flags.push_back(fmt::format("--probability {}", *p));
  }
  if (flags.empty() || (flags.size() == 1 && d["probability"])) {
    return FailAt(r.Loc(d), "fault.dependency needs a fault: latency, jitter, bandwidth or cut");
  }
  f->proxy_fault = Join(flags, " ");
  return {};
}

// A fault, as the SLUICE_FAULTS text of the target's runs (failure-handling.md).
Status ReadFault(const Reader& r, const YNode& n, FaultSpec* f) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "fault"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"task", "store", "process", "dependency", "resource",
                                    "delivery"}, "fault"));
  if (n.size() != 1) {
    return FailAt(r.Loc(n), "a fault has exactly one of task, store, process, dependency, "
                  "resource or delivery");
  }
  if (const YNode& d = n["delivery"]) {
    f->kind = FaultSpec::Kind::kDelivery;
    SLUICE_TRY_STATUS(r.ExpectMap(d, "fault.delivery"));
    SLUICE_TRY_STATUS(r.CheckKeys(d, {"params"}, "fault.delivery"));
    if (!d["params"] || !d["params"].IsMap() || d["params"].size() == 0) {
      return FailAt(r.Loc(d), "fault.delivery needs params: what makes the candidate bad (for "
                    "example a model that errs), given to the `during` runs instead of the target's");
    }
    return ReadParams(r, d["params"], "fault.delivery.params", &f->params);
  }
  if (const YNode& d = n["dependency"]) return ReadDependency(r, d, f);
  if (const YNode& x = n["resource"]) return ReadResource(r, x, f);
  if (const YNode& t = n["task"]) {
    f->kind = FaultSpec::Kind::kTask;
    SLUICE_TRY_STATUS(r.ExpectMap(t, "fault.task"));
    SLUICE_TRY_STATUS(r.CheckKeys(t, {"exit", "signal", "hang", "delay", "spawnFail", "task",
                                      "attempt", "rate"}, "fault.task"));
    std::string what;
    int kinds = 0;
    if (t["exit"]) {
      SLUICE_TRY(c, r.Int(t["exit"], "exit", 1, 255));
      what = fmt::format("exit={}", *c), ++kinds;
    }
    if (t["signal"]) {
      SLUICE_TRY(s, r.Int(t["signal"], "signal", 1, 64));
      what = fmt::format("signal={}", *s), ++kinds;
    }
    if (t["hang"]) what = "hang", ++kinds;
    if (t["delay"]) {
      SLUICE_TRY(ms, r.Duration(t["delay"], "delay"));
      what = fmt::format("delay={}ms", *ms), ++kinds;
    }
    if (t["spawnFail"]) what = "spawn-fail", ++kinds;
    if (kinds != 1) {
      return FailAt(r.Loc(t), "fault.task needs exactly one of exit, signal, hang, delay or "
                    "spawnFail");
    }
    if (!t["task"]) return FailAt(r.Loc(t), "fault.task needs task: the instances it strikes (a glob)");
    SLUICE_TRY(task, r.Str(t["task"], "task"));
    std::string where = "task:" + *task;
    if (t["attempt"]) {
      SLUICE_TRY(a, r.Int(t["attempt"], "attempt", 1, 1000));
      where += fmt::format("#{}", *a);
    }
    if (t["rate"]) {
      SLUICE_TRY(rate, r.Number(t["rate"], "rate"));
      if (*rate <= 0 || *rate > 1) return FailAt(r.Loc(t["rate"]), "rate must be above 0 and at most 1");
      where += fmt::format("~{}", *rate);
    }
    f->faults = what + "@" + where;
  } else if (const YNode& s = n["store"]) {
    f->kind = FaultSpec::Kind::kStore;
    SLUICE_TRY_STATUS(r.ExpectMap(s, "fault.store"));
    SLUICE_TRY_STATUS(r.CheckKeys(s, {"commitFail", "fsyncFail", "diskFull"}, "fault.store"));
    if (s.size() != 1) {
      return FailAt(r.Loc(s), "fault.store needs one of commitFail, fsyncFail or diskFull");
    }
    static const std::vector<std::pair<const char*, const char*>> kStoreFaults = {
        {"commitFail", "commit-fail"}, {"fsyncFail", "fsync-fail"}, {"diskFull", "disk-full"}};
    for (const auto& [key, fault] : kStoreFaults) {
      if (!s[key]) continue;
      SLUICE_TRY(nth, r.Int(s[key], key, 1, 1000000));
      f->faults = fmt::format("{}@{}", fault, *nth);
    }
  } else {
    const YNode& p = n["process"];
    f->kind = FaultSpec::Kind::kProcess;
    SLUICE_TRY_STATUS(r.ExpectMap(p, "fault.process"));
    SLUICE_TRY_STATUS(r.CheckKeys(p, {"kill", "after", "restart"}, "fault.process"));
    if (!p["kill"]) return FailAt(r.Loc(p), "fault.process needs kill: run, engine, worker, server or leader");
    SLUICE_TRY_ASSIGN(f->kill, r.Str(p["kill"], "fault.process.kill"));
    static const std::vector<std::string> kKills = {"run", "engine", "worker", "server", "leader"};
    if (std::find(kKills.begin(), kKills.end(), f->kill) == kKills.end()) {
      return FailAt(r.Loc(p["kill"]), "fault.process.kill must be run, engine, worker, server or "
                    "leader, not {}{}", Quote(f->kill), DidYouMean(f->kill, kKills));
    }
    if (!p["after"]) return FailAt(r.Loc(p), "fault.process needs after: how long after a run starts it is killed");
    SLUICE_TRY_ASSIGN(f->kill_after_ms, r.Duration(p["after"], "after"));
    if (p["restart"]) {
      if (f->kill != "worker" && f->kill != "server" && f->kill != "leader") {
        return FailAt(r.Loc(p["restart"]), "restart is for a worker, server or leader: a killed "
                      "run or engine is resumed");
      }
      SLUICE_TRY_ASSIGN(f->restart_ms, r.Delay(p["restart"], "restart"));
    }
  }
  if (!f->faults.empty()) SLUICE_TRY_STATUS(FaultPlan::Parse(f->faults));  // what the run will read
  return {};
}

Result<ActivitySpec> ReadActivity(const Reader& r, const YNode& n, bool hypothesis,
                                  bool rollback, const std::vector<std::string>& args) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "an activity"));
  ActivitySpec a;
  a.loc = r.Loc(n);
  if (!n["name"]) return FailAt(a.loc, "an activity needs a name");
  SLUICE_TRY_ASSIGN(a.name, r.Name(n["name"], "activity name"));
  const bool fault = static_cast<bool>(n["fault"]), command = static_cast<bool>(n["command"]);
  if (hypothesis && (fault || command)) {
    return FailAt(r.Loc(fault ? n["fault"] : n["command"]), "the steady-state hypothesis holds "
                  "probes only");
  }
  if (rollback) {
    SLUICE_TRY_STATUS(r.CheckKeys(n, {"name", "command", "pauses"}, "a rollback"));
    if (!command) return FailAt(a.loc, "a rollback is a command: faults roll back by themselves");
  } else {
    SLUICE_TRY_STATUS(r.CheckKeys(n, {"name", "fault", "command", "pauses", "tolerance", "interval", "runs",
                                      "taskDuration", "retries", "compensations", "breaker",
                                      "metric", "cel", "rollout"}, "an activity"));
  }
  if (fault && command) return FailAt(a.loc, "an activity is one fault, one command or one probe");
  if (fault) {
    a.type = ActivitySpec::Type::kFault;
    SLUICE_TRY_STATUS(ReadFault(r, n["fault"], &a.fault));
  } else if (command) {
    a.type = ActivitySpec::Type::kCommand;
    const YNode& c = n["command"];
    SLUICE_TRY_STATUS(r.ExpectMap(c, "command"));
    SLUICE_TRY_STATUS(r.CheckKeys(c, {"argv", "timeout"}, "command"));
    if (!c["argv"] || !c["argv"].IsSequence() || c["argv"].size() == 0) {
      return FailAt(r.Loc(c), "command needs argv: the program and its arguments");
    }
    for (const auto& x : c["argv"]) {
      SLUICE_TRY(s, r.Str(x, "an argument"));
      a.command.argv.push_back(*s);
    }
    if (c["timeout"]) SLUICE_TRY_ASSIGN(a.command.timeout_ms, r.Duration(c["timeout"], "timeout"));
  } else {
    a.type = ActivitySpec::Type::kProbe;
    SLUICE_TRY_STATUS(ReadProbe(r, n, args, &a.probe));
    if (n["tolerance"]) {
      SLUICE_TRY_ASSIGN(a.probe.tolerance, ProbeExpression(r, n["tolerance"], "a tolerance"));
      a.probe.tolerance_text = std::string(n["tolerance"].Scalar());
    } else if (hypothesis) {
      return FailAt(a.loc, "a probe of the hypothesis needs a tolerance: a CEL condition over "
                    "value, such as \"value >= 0.9\"");
    }
  }
  if (n["tolerance"] && a.type != ActivitySpec::Type::kProbe) {
    return FailAt(r.Loc(n["tolerance"]), "only a probe has a tolerance");
  }
  if (const YNode& iv = n["interval"]) {
    const ProbeSpec::Kind k = a.probe.kind;
    if (!hypothesis || a.type != ActivitySpec::Type::kProbe ||
        (k != ProbeSpec::Kind::kMetric && k != ProbeSpec::Kind::kBreaker)) {
      return FailAt(r.Loc(iv), "interval is for a hypothesis probe that measures the system now "
                    "(metric, breaker): the others are measured over the phase's ended runs");
    }
    SLUICE_TRY_ASSIGN(a.probe.interval_ms, r.Duration(iv, "interval"));
    if (a.probe.interval_ms < 100) return FailAt(r.Loc(iv), "interval must be at least 100ms");
  }
  if (const YNode& p = n["pauses"]) {
    SLUICE_TRY_STATUS(r.ExpectMap(p, "pauses"));
    SLUICE_TRY_STATUS(r.CheckKeys(p, {"before", "after"}, "pauses"));
    if (p["before"]) SLUICE_TRY_ASSIGN(a.pause_before_ms, r.Delay(p["before"], "pauses.before"));
    if (p["after"]) SLUICE_TRY_ASSIGN(a.pause_after_ms, r.Delay(p["after"], "pauses.after"));
  }
  // As written, with Chaos Toolkit's type: a probe, or an action (a fault, a command).
  SLUICE_TRY(written, r.ToValue(n));
  ValueMap typed{{Value("type"), Value(a.type == ActivitySpec::Type::kProbe ? "probe" : "action")}};
  for (const auto& kv : written->as_map()) typed.push_back(kv);
  a.written = Value(std::move(typed));
  return a;
}

Status ReadActivities(const Reader& r, const YNode& n, std::string_view what, bool hypothesis,
                      bool rollback, const std::vector<std::string>& args,
                      std::vector<ActivitySpec>* out) {
  SLUICE_TRY_STATUS(r.ExpectList(n, what));
  if (n.size() > kMaxActivities) {
    return FailAt(r.Loc(n), "{} holds more than {} activities", what, kMaxActivities);
  }
  for (const auto& x : n) {
    SLUICE_TRY(a, ReadActivity(r, x, hypothesis, rollback, args));
    for (const auto& other : *out) {
      if (other.name == a->name) {
        return FailAt(a->loc, "activity {} is declared twice in {} (also at {})", Quote(a->name),
                      what, other.loc.ToString());
      }
    }
    out->push_back(std::move(*a));
  }
  return {};
}

Status ReadTarget(const Reader& r, const YNode& t, const std::string& path, ExperimentSpec* e) {
  SLUICE_TRY_STATUS(r.ExpectMap(t, "target"));
  SLUICE_TRY_STATUS(r.CheckKeys(t, {"pipeline", "schedule", "params", "runs", "timeout", "server"}, "target"));
  if (!t["pipeline"] == !t["schedule"]) {
    return FailAt(r.Loc(t), "target needs one of pipeline (the pipeline file it runs) or schedule "
                  "({{file, name}}: the schedule whose runs it triggers)");
  }
  const size_t slash = path.rfind('/');
  auto beside = [&](const std::string& file) {
    return file.starts_with("/") || slash == std::string::npos ? file : path.substr(0, slash + 1) + file;
  };
  if (const YNode& sc = t["schedule"]) {
    SLUICE_TRY_STATUS(r.ExpectMap(sc, "target.schedule"));
    SLUICE_TRY_STATUS(r.CheckKeys(sc, {"file", "name"}, "target.schedule"));
    if (!sc["file"] || !sc["name"]) {
      return FailAt(r.Loc(sc), "target.schedule needs file (the schedule file, applied once) and "
                    "name (the schedule it triggers)");
    }
    SLUICE_TRY(file, r.Str(sc["file"], "target.schedule.file"));
    e->schedule_file = beside(*file);
    e->pipeline_loc = r.Loc(sc["file"]);
    SLUICE_TRY_ASSIGN(e->schedule, r.Name(sc["name"], "target.schedule.name"));
    if (t["params"]) {
      return FailAt(r.Loc(t["params"]), "a schedule's runs take its own params; target.params is "
                    "for a pipeline");
    }
  } else {
    SLUICE_TRY(file, r.Str(t["pipeline"], "target.pipeline"));
    e->pipeline_loc = r.Loc(t["pipeline"]);
    e->pipeline = beside(*file);
  }
  if (const YNode& ps = t["params"]) SLUICE_TRY_STATUS(ReadParams(r, ps, "target.params", &e->params));
  if (t["runs"]) SLUICE_TRY_ASSIGN(e->runs, r.Int(t["runs"], "target.runs", 1, kMaxRuns));
  if (t["timeout"]) SLUICE_TRY_ASSIGN(e->run_timeout_ms, r.Duration(t["timeout"], "target.timeout"));
  if (const YNode& sv = t["server"]) {
    ControlPlaneSpec& c = e->server;
    c.loc = r.Loc(sv);
    SLUICE_TRY_STATUS(r.ExpectMap(sv, "target.server"));
    SLUICE_TRY_STATUS(r.CheckKeys(sv, {"servers", "workers", "slots", "leaseTime"}, "target.server"));
    c.servers = 1;
    if (sv["servers"]) SLUICE_TRY_ASSIGN(c.servers, r.Int(sv["servers"], "servers", 1, 3));
    if (sv["workers"]) SLUICE_TRY_ASSIGN(c.workers, r.Int(sv["workers"], "workers", 0, 8));
    if (sv["slots"]) SLUICE_TRY_ASSIGN(c.slots, r.Int(sv["slots"], "slots", 1, 64));
    if (sv["leaseTime"]) {
      SLUICE_TRY_ASSIGN(c.lease_ms, r.Duration(sv["leaseTime"], "leaseTime"));
      if (c.lease_ms % 1000 != 0) return FailAt(r.Loc(sv["leaseTime"]), "leaseTime is whole seconds");
    }
  }
  return {};
}

// The faults a target can take: SLUICE_FAULTS reaches the target's own `sluice run`, not the
// engines a server starts; kill: run is that process; the control plane's processes need one.
Status CheckFaultsFitTarget(const ExperimentSpec& e) {
  const bool served = e.server.servers > 0;
  for (const auto& a : e.method) {
    if (a.type != ActivitySpec::Type::kFault) continue;
    const FaultSpec& f = a.fault;
    if (served && (f.kind == FaultSpec::Kind::kTask || f.kind == FaultSpec::Kind::kStore)) {
      return FailAt(a.loc, "fault {}: task and store faults reach the runs `sluice run` starts "
                    "here; with target.server use process, dependency or resource faults", Quote(a.name));
    }
    if (f.kind == FaultSpec::Kind::kDelivery && !e.schedule.empty()) {
      return FailAt(a.loc, "fault {}: a delivery fault gives the runs params; a schedule's runs "
                    "take its own (target a pipeline)", Quote(a.name));
    }
    if (f.kind != FaultSpec::Kind::kProcess) continue;
    if (served && f.kill == "run") {
      return FailAt(a.loc, "fault {}: with target.server the run's process is its engine (kill: "
                    "engine)", Quote(a.name));
    }
    if (!served && f.kill != "run") {
      return FailAt(a.loc, "fault {}: kill: {} needs target.server (the control plane the "
                    "experiment starts)", Quote(a.name), f.kill);
    }
    if (f.kill == "worker" && e.server.workers == 0) {
      return FailAt(a.loc, "fault {}: kill: worker needs target.server.workers", Quote(a.name));
    }
  }
  return {};
}

Result<ExperimentSpec> ReadExperiment(const Reader& r, const YNode& doc, const std::string& path) {
  SLUICE_TRY_STATUS(r.CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"}, "an Experiment"));
  if (!doc["apiVersion"] || !doc["apiVersion"].IsScalar() || doc["apiVersion"].Scalar() != "sluice/v1") {
    return FailAt(r.Loc(doc), "an Experiment needs apiVersion: sluice/v1");
  }
  const YNode& md = doc["metadata"];
  if (!md || !md["name"]) return FailAt(r.Loc(doc), "an Experiment needs metadata.name");
  SLUICE_TRY_STATUS(r.CheckKeys(md, {"name", "labels", "description"}, "metadata"));
  ExperimentSpec e;
  e.file = path;
  SLUICE_TRY_ASSIGN(e.name, r.Name(md["name"], "experiment name"));
  e.loc = r.Loc(md["name"]);
  const YNode& s = doc["spec"];
  if (!s) return FailAt(r.Loc(doc), "an Experiment needs a spec");
  SLUICE_TRY_STATUS(r.ExpectMap(s, "spec"));
  SLUICE_TRY_STATUS(r.CheckKeys(s, {"title", "description", "tags", "weight", "target",
                                    "configuration", "secrets", "steadyStateHypothesis", "method",
                                    "rollbacks", "runtime"}, "an Experiment spec"));
  if (s["title"]) SLUICE_TRY_ASSIGN(e.title, r.Str(s["title"], "title"));
  if (s["description"]) SLUICE_TRY_ASSIGN(e.description, r.Str(s["description"], "description"));
  if (const YNode& tags = s["tags"]) {
    SLUICE_TRY_STATUS(r.ExpectList(tags, "tags"));
    for (const auto& t : tags) {
      SLUICE_TRY(tag, r.Str(t, "a tag"));
      e.tags.push_back(*tag);
    }
  }
  if (s["weight"]) SLUICE_TRY_ASSIGN(e.weight, r.Int(s["weight"], "weight", 0, 10));
  if (!s["target"]) return FailAt(r.Loc(s), "an Experiment needs a target");
  SLUICE_TRY_STATUS(ReadTarget(r, s["target"], path, &e));
  std::vector<std::string> args;
  if (e.server.servers > 0) args.push_back("server");  // the first server's URL
  if (const YNode& c = s["configuration"]) {
    SLUICE_TRY_STATUS(r.ExpectMap(c, "configuration"));
    for (auto it = c.begin(); it != c.end(); ++it) {
      SLUICE_TRY(k, r.Name(it->first, "a configuration name"));
      if (*k == "server" && e.server.servers > 0) {
        return FailAt(r.Loc(it->first), "configuration server is the URL of the experiment's server");
      }
      if (!it->second.IsScalar()) return FailAt(r.Loc(it->second), "configuration {} must be a scalar", Quote(*k));
      e.configuration[*k] = std::string(it->second.Scalar());
      args.push_back(*k);
    }
  }
  if (const YNode& sec = s["secrets"]) {
    SLUICE_TRY_STATUS(r.Secrets(sec, &e.secrets));
    for (const auto& d : e.secrets) {
      if (std::find(args.begin(), args.end(), d.name) != args.end()) {
        return FailAt(d.loc, "secret {} is also a configuration name: probes read both as "
                      "${{{{ args.NAME }}}}", Quote(d.name));
      }
      args.push_back(d.name);
    }
  }
  if (const YNode& h = s["steadyStateHypothesis"]) {
    SLUICE_TRY_STATUS(r.ExpectMap(h, "steadyStateHypothesis"));
    SLUICE_TRY_STATUS(r.CheckKeys(h, {"title", "probes"}, "steadyStateHypothesis"));
    if (h["title"]) SLUICE_TRY_ASSIGN(e.hypothesis_title, r.Str(h["title"], "title"));
    if (!h["probes"]) return FailAt(r.Loc(h), "steadyStateHypothesis needs probes");
    SLUICE_TRY_STATUS(ReadActivities(r, h["probes"], "steadyStateHypothesis.probes", true, false,
                                     args, &e.hypothesis));
  }
  if (!s["method"]) return FailAt(r.Loc(s), "an Experiment needs a method: the faults and probes");
  SLUICE_TRY_STATUS(ReadActivities(r, s["method"], "method", false, false, args, &e.method));
  SLUICE_TRY_STATUS(CheckFaultsFitTarget(e));
  if (s["rollbacks"]) {
    SLUICE_TRY_STATUS(ReadActivities(r, s["rollbacks"], "rollbacks", false, true, args, &e.rollbacks));
  }
  if (const YNode& rt = s["runtime"]) {
    SLUICE_TRY_STATUS(r.ExpectMap(rt, "runtime"));
    SLUICE_TRY_STATUS(r.CheckKeys(rt, {"hypothesis"}, "runtime"));
    if (const YNode& hy = rt["hypothesis"]) {
      SLUICE_TRY_STATUS(r.ExpectMap(hy, "runtime.hypothesis"));
      SLUICE_TRY_STATUS(r.CheckKeys(hy, {"strategy", "failFast"}, "runtime.hypothesis"));
      if (hy["strategy"]) {
        SLUICE_TRY_ASSIGN(e.strategy, r.Str(hy["strategy"], "strategy"));
        static const std::vector<std::string> kStrategies = {
            "default", "before-method-only", "after-method-only", "during-method-only",
            "continuously"};
        if (std::find(kStrategies.begin(), kStrategies.end(), e.strategy) == kStrategies.end()) {
          return FailAt(r.Loc(hy["strategy"]), "strategy must be one of {}, not {}{}",
                        Join(kStrategies, ", "), Quote(e.strategy), DidYouMean(e.strategy, kStrategies));
        }
      }
      if (hy["failFast"]) SLUICE_TRY_ASSIGN(e.fail_fast, r.Bool(hy["failFast"], "failFast"));
    }
  }
  for (const auto& a : e.hypothesis) {
    if (a.probe.interval_ms > 0 && !e.CheckDuring()) {
      return FailAt(a.loc, "probe {} has an interval, which checks it during the method: give "
                    "runtime.hypothesis.strategy continuously or during-method-only", Quote(a.name));
    }
  }
  SLUICE_TRY_ASSIGN(e.written, r.ToValue(s));
  return e;
}

}  // namespace

Result<ExperimentSpec> ParseExperimentFile(const std::string& path, std::string_view content) {
  std::optional<ExperimentSpec> found;
  SLUICE_TRY_STATUS(ForEachDocument(path, content, [&](const Reader& r, const YNode& doc) -> Status {
    if (!doc.IsMap() || !doc["kind"] || !doc["kind"].IsScalar() || doc["kind"].Scalar() != "Experiment") {
      return FailAt(r.Loc(doc.IsMap() && doc["kind"] ? doc["kind"] : doc),
                    "an experiment file holds one document of kind: Experiment");
    }
    if (found) return FailAt(r.Loc(doc), "an experiment file holds one Experiment");
    SLUICE_TRY(e, ReadExperiment(r, doc, path));
    found = std::move(*e);
    return {};
  }));
  if (!found) return Fail(ErrorCode::kInvalidInput, "{}: no Experiment document", path);
  return std::move(*found);
}

}  // namespace sluice
