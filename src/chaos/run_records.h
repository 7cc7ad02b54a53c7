// What a chaos experiment keeps of each target run (docs/chaos.md, the journal's sluice.runs):
// its status and times, each task's attempts, the retries, compensations and resumes, read back
// from the run's events; and the probes computed over a phase's runs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/event.h"
#include "common/value.h"
#include "spec/experiment_spec.h"

namespace sluice {

struct TargetAttempt {
  int attempt = 0;
  int64_t start_us = 0, end_us = 0;  // end 0: it never ended
  std::string status;                // succeeded | failed | "" (never ended)
  std::string error_class;
  int exit_code = 0;
};

struct TargetTask {
  std::string name;
  std::string state;  // as the run's last task.finished says; "" when it never finished
  std::vector<TargetAttempt> attempts;
};

struct BreakerChange {
  std::string breaker, from, to;
  int64_t time_us = 0;
};

// A deploy task's rollout, as it ended (or where it stood when the run ended).
struct TargetRollout {
  std::string task, environment, phase, message;
};

struct TargetRun {
  std::string run_id;
  std::string phase;  // before | during | after
  int64_t start_us = 0, end_us = 0;
  std::string status;  // the run's final status; "" when it never finished
  std::vector<TargetTask> tasks;
  int retries = 0;        // attempts beyond each instance's first
  int compensations = 0;  // compensations started (instances TASK.compensate)
  int resumed = 0;        // times the run was resumed (a killed or stopped run)
  std::vector<BreakerChange> breakers;
  std::vector<TargetRollout> rollouts;
};

// A run's record from its events (in the order the store gives them).
TargetRun TargetRunOf(const std::string& run_id, const std::string& phase,
                      const std::vector<Event>& events);
Value TargetRunToValue(const TargetRun& r);

// A probe's value over one phase's runs, for the kinds computed from them (runs, taskDuration,
// retries, compensations, rollout). Fails when there is no data: no runs, or no attempt (no
// rollout) of the task.
Result<Value> ProbeOverRuns(const ProbeSpec& p, const std::vector<const TargetRun*>& runs);

// "2026-12-07T08:00:00.123456Z"
std::string JournalTime(int64_t us);

}  // namespace sluice
