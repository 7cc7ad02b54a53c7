// `sluice chaos ls` and `sluice chaos report` (experiment_run.h, docs/chaos.md): the journals
// of the state folder's experiments, listed or turned into the resilience report (report.h).
#include <algorithm>
#include <cstdio>

#include "chaos/experiment_run.h"
#include "chaos/experiments.h"
#include "chaos/report.h"
#include "spec/experiment_spec.h"
#include "common/strings.h"

namespace sluice {

void PrintDryRun(const ExperimentSpec& e) {
  const std::string target = e.schedule.empty() ? e.pipeline : "schedule " + e.schedule + " of " +
                                                                  e.schedule_file + " (applied first)";
  std::printf("experiment %s: %s\ntarget: %s, %d run%s in each phase\n", e.name.c_str(),
              e.title.c_str(), target.c_str(), e.runs, e.runs == 1 ? "" : "s");
  if (e.server.servers > 0) {
    std::printf("target server: %d sluice server%s on loopback and %d worker%s on the state folder, "
                "for the whole experiment; the runs are submitted with sluice --server URL run\n",
                e.server.servers, e.server.servers == 1 ? "" : "s", e.server.workers,
                e.server.workers == 1 ? "" : "s");
  }
  std::vector<std::string> faults;
  for (const auto& a : e.method) {
    if (a.type == ActivitySpec::Type::kFault && !a.fault.faults.empty()) faults.push_back(a.fault.faults);
    if (a.type == ActivitySpec::Type::kFault && a.fault.kind == FaultSpec::Kind::kDependency) {
      std::printf("fault %s: a fault proxy on %s -> %s for the whole experiment, with %s during\n",
                  a.name.c_str(), a.fault.listen.c_str(), a.fault.upstream.c_str(),
                  a.fault.proxy_fault.c_str());
    }
    if (a.type == ActivitySpec::Type::kFault && a.fault.kind == FaultSpec::Kind::kDelivery) {
      std::vector<std::string> ps;
      for (const auto& [k, v] : a.fault.params) ps.push_back("-p " + k + "=" + v);
      std::printf("fault %s: the during runs release a bad candidate: %s\n", a.name.c_str(),
                  Join(ps, " ").c_str());
    }
    if (a.type == ActivitySpec::Type::kFault && a.fault.kind == FaultSpec::Kind::kProcess) {
      const std::string& k = a.fault.kill;
      const std::string then =
          k == "run"      ? "then sluice resume"
          : k == "engine" ? "the leader starts a new engine"
                          : "started again " + FormatDurationMs(a.fault.restart_ms) + " later";
      std::printf("fault %s: kill -9 of %s %s after each run starts; %s\n", a.name.c_str(),
                  k == "run" ? "the sluice run" : ("the " + k).c_str(),
                  FormatDurationMs(a.fault.kill_after_ms).c_str(), then.c_str());
    }
  }
  std::printf("phase before: the runs without faults%s\n", e.CheckBefore() ? ", then the hypothesis" : "");
  std::printf("phase during: the runs with %s%s, then the method's probes\n",
              faults.empty() ? "the faults above" : ("SLUICE_FAULTS=" + Join(faults, ",")).c_str(),
              e.CheckDuring() ? " and the hypothesis" : "");
  std::printf("rollback: later runs get no fault%s\n", e.rollbacks.empty() ? "" : "; then the rollbacks' commands");
  std::printf("phase after: the runs without faults%s\n", e.CheckAfter() ? ", then the hypothesis" : "");
  for (const auto& a : e.hypothesis) {
    std::printf("hypothesis probe %s: tolerance %s\n", a.name.c_str(), a.probe.tolerance_text.c_str());
  }
}

int ChaosReport(Env& env, const GlobalOptions& g, const ChaosReportOptions& o) {
  std::vector<Value> journals;
  ReportOptions ro;
  ro.title = o.title;
  for (const auto& name : o.journals) {
    // A file, else an experiment id of the state folder (`sluice chaos ls`).
    std::string path = name;
    if (!env.files().Stat(path).exists) {
      auto listed = ExperimentJournalPath(env, g.state_dir, name);
      path = listed ? *listed : "";
    }
    auto text = path.empty() ? Result<std::string>(Fail(ErrorCode::kNotFound, "none"))
                             : env.files().ReadFileAtMost(path, 256 << 20);
    if (!text) {
      return Report(Error(ErrorCode::kNotFound, fmt::format(
          "{}: no such journal file or experiment id (sluice chaos ls)", name)));
    }
    auto j = ParseResilienceJournal(*text, path);
    if (!j) return Report(j.error());
    journals.push_back(std::move(*j));
    ro.sources.push_back(path);
  }
  auto html = ResilienceHtml(journals, ro);
  if (!html) return Report(html.error());
  auto md = ResilienceMarkdown(journals, ro);
  if (!md) return Report(md.error());
  if (auto s = env.files().WriteFile(o.html, *html); !s) return Report(s.error());
  if (auto s = env.files().WriteFile(o.markdown, *md); !s) return Report(s.error());
  std::printf("%s\n%s\n", o.html.c_str(), o.markdown.c_str());
  return 0;
}

int ChaosLs(Env& env, const GlobalOptions& g) {
  ValueList items = ListExperiments(env, g.state_dir);
  if (g.json) {
    std::printf("%s\n", Value(std::move(items)).ToJson().c_str());
    return 0;
  }
  std::printf("%-40s %-24s %-12s %s\n", "ID", "START", "STATUS", "DEVIATED");
  for (const auto& i : items) {
    std::printf("%-40s %-24s %-12s %s\n", i.Find("id")->as_string().c_str(),
                i.Find("start")->ToText().c_str(), i.Find("status")->ToText().c_str(),
                i.Find("deviated")->ToText().c_str());
  }
  return 0;
}

}  // namespace sluice
