// Reading an Experiment's faults and params (loader_experiment_faults.h), apart from the rest of
// the document (loader_experiment.cc): each fault becomes the SLUICE_FAULTS text, the proxy's
// flags or the stress-ng command the runner uses.
#include "spec/loader_experiment_faults.h"

#include <algorithm>

#include "env/faults.h"

namespace sluice {

namespace {

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

}  // namespace

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

}  // namespace sluice
