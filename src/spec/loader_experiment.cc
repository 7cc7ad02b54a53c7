// Reading `kind: Experiment` (experiment_spec.h, docs/chaos.md) with the loader's Reader: every
// error is one FILE:LINE:COL line, and faults are turned into the SLUICE_FAULTS text the target's
// runs get, so that a fault the engine would refuse is refused here.
#include <algorithm>

#include "spec/experiment_spec.h"
#include "spec/loader_experiment_faults.h"
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
