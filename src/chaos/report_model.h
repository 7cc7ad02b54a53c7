// The resilience report's model: a chaos journal (docs/chaos.md, "The journal") read into typed
// structs, and the figures computed from them (docs/chaos-report.md): success rates per phase,
// time to recover after each fault, probe success and the Litmus score, findings and their
// mitigation notes.
//
// Design: the journal is untrusted input (a file anyone can edit), so reading it checks every
// field the report uses and fails with one line naming the journal and the field; optional parts
// (a phase, faults, runs, governance) may be missing or null and read as empty, never as zero.
// The figures are pure functions of this model, so tests recompute them from a fixture's data.
// The types sit in namespace `resilience` because the experiment runner of the same module has
// its own journal types in `sluice`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/value.h"

namespace sluice::resilience {

// Microseconds since the Unix epoch, UTC.
using Micros = int64_t;

struct Attempt {
  int64_t number = 0;
  std::optional<Micros> start, end;
  std::string status;       // "succeeded", "failed", ...
  std::string error_class;  // "" when none
  std::optional<int64_t> exit_code;
  bool Succeeded() const { return status == "succeeded"; }
};

struct TaskRecord {
  std::string name, state;
  std::vector<Attempt> attempts;
};

struct BreakerChange {
  std::string breaker, from, to;
  Micros time = 0;
};

struct RunRecord {
  std::string id, phase, status;
  std::optional<Micros> start, end;
  std::vector<TaskRecord> tasks;
  int64_t retries = 0, compensations = 0, resumed = 0;
  std::vector<BreakerChange> breakers;
  bool Succeeded() const { return status == "succeeded"; }
};

struct PhaseSpan {
  std::string name;
  std::optional<Micros> start, end;
};

struct FaultRecord {
  std::string name, kind, faults_text;
  std::optional<Micros> start, end;
  bool rolled_back = false;
};

// One probe run (hypothesis or method): the journal's RUN of a probe.
struct ProbeRun {
  std::string name, provider_kind, task_glob, tolerance, status;
  std::string phase;  // "before", "during", "after"; method probes are "during"
  bool hypothesis = false;
  std::optional<bool> tolerance_met;
  std::string output_json;  // the output as compact JSON, "" when absent
  std::vector<std::string> exceptions;
  bool Succeeded() const { return status == "succeeded" && tolerance_met.value_or(true); }
};

// The verdict of one hypothesis check.
struct Check {
  std::string phase;
  bool met = false;
};

struct Decision {
  std::string run, stage, task, policy, rule, result, message, waiver;
};
struct Approval {
  std::string run, task, user, comment, time;
  bool approve = false;
};
struct AuditState {
  bool present = false, verified = false;
  int64_t records = 0;
  std::string head, message;
};

struct Experiment {
  std::string source;  // the journal's name, for messages
  std::string id, name, title, description, hypothesis_title, status;
  bool deviated = false;
  double weight = 10;
  std::optional<Micros> start, end;
  std::vector<Check> checks;  // in phase order
  std::vector<ProbeRun> probes;
  std::vector<PhaseSpan> phases;
  std::vector<FaultRecord> faults;
  std::vector<RunRecord> runs;
  std::vector<Decision> decisions;
  std::vector<Approval> approvals;
  AuditState audit;
};

// Reads one journal. On success the typed experiment; on failure one line "SOURCE: PATH: what is
// wrong" (PATH as in `sluice.runs[2].start`), never a partial result.
Result<Experiment> ReadJournal(const Value& journal, std::string_view source);

// --- Figures (docs/chaos-report.md gives each formula) ---

struct Rate {
  int succeeded = 0, total = 0;
  bool HasData() const { return total > 0; }
  double Value() const { return total ? static_cast<double>(succeeded) / total : 0; }
};
// The share of the target's runs of `phase` whose status is "succeeded".
Rate PhaseSuccessRate(const Experiment& e, std::string_view phase);

struct Recovery {
  const FaultRecord* fault = nullptr;
  const RunRecord* run = nullptr;  // the first successful run started at or after the fault's end
  std::optional<Micros> mttr;      // run->end - fault->end; nullopt = not recovered (or no end)
};
std::vector<Recovery> Recoveries(const Experiment& e);

// Probe success percentage (0..100) of one experiment, nullopt when it has no probe runs.
std::optional<double> ProbeSuccessPercent(const Experiment& e);
// Σ weight × probe success / Σ weight over experiments of weight > 0 that have probe runs.
std::optional<double> ResilienceScore(const std::vector<Experiment>& es);

// One piece of evidence: a run, and its tasks' attempts as a short text.
struct Evidence {
  std::string run, text;
};
struct Finding {
  std::string title;  // what was checked, e.g. `hypothesis probe "success-rate" in during`
  bool held = false;
  std::string detail;  // value and tolerance, or the probe's exception
  std::vector<Evidence> evidence;
  std::string mitigation;  // "" when held
};
std::vector<Finding> Findings(const Experiment& e);

// The mitigation note for the failed runs of `runs` (docs/chaos-report.md, "Mitigation rule"),
// or "" when none of them failed.
std::string MitigationNote(const std::vector<const RunRecord*>& runs);

// How an attempt failed, as a retry policy's `on:` names it (docs/failure-handling.md):
// "exit(75)", "signal(9)", "timeout", "spawn-error"...; "" when it succeeded or the journal
// says nothing.
std::string FailureLabel(const Attempt& a);

// "2026-12-07T08:00:00.123456Z" (or with a +HH:MM offset) to microseconds.
std::optional<Micros> ParseTime(std::string_view s);
// Microseconds to "08:00:01.250" style (UTC time of day) and durations to "1.25 s" / "2 min 5 s".
std::string FormatClock(Micros t);
std::string FormatSpan(Micros d);

}  // namespace sluice::resilience
