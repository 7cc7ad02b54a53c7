// `sluice chaos run|ls` (docs/chaos.md): runs an experiment against its target pipeline with the
// target's own `sluice run` processes on the state folder, injects the method's faults at the
// seams of those processes, checks the hypothesis per the runtime strategy, rolls everything
// back (also on SIGINT/SIGTERM) and writes the journal to STATE/chaos/ID/journal.json.
#pragma once

#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "spec/experiment_spec.h"

namespace sluice {

struct ChaosRunOptions {
  std::string file;
  bool dry_run = false;
  std::string journal;  // also write the journal here
};

// 0: the hypothesis held wherever it was checked; 1: it deviated (or the steady state before
// was not met); 2: the experiment could not run; 130: interrupted (rolled back, journal
// written).
int ChaosRun(Env& env, const GlobalOptions& g, const ChaosRunOptions& o);
// What `chaos run --dry-run` prints: the phases, the faults (the exact SLUICE_FAULTS, the
// proxies, the stress-ng commands) and the probes (chaos_commands.cc).
void PrintDryRun(const ExperimentSpec& e);

// The experiments run on the state folder, newest first.
int ChaosLs(Env& env, const GlobalOptions& g);

struct ChaosReportOptions {
  std::vector<std::string> journals;  // journal files, or ids of `chaos ls`
  std::string html = "resilience-report.html", markdown = "resilience-report.md";
  std::string title = "Resilience report";
};
// `sluice chaos report`: the resilience report (report.h) of the journals, as one HTML file and
// a Markdown summary.
int ChaosReport(Env& env, const GlobalOptions& g, const ChaosReportOptions& o);

}  // namespace sluice
