// The rows of progressive delivery (issue 14; store_rollouts.cc, docs/rollouts.md): a rollout's
// state as its process last wrote it, the commands people give it, every analysis measurement,
// and the releases: which model is in which environment's slot, since when, promoted by whom.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

// One rollout: the deploy task `task` of run `run_id`, into `environment`. The state is the
// rollout process's (rollout_exec.cc) to write; the command is people's (sluice rollout
// promote|pause|resume|abort), each numbered so that the process acts on each exactly once.
struct RolloutRow {
  std::string run_id;
  std::string task;
  std::string environment;
  std::string phase;    // Waiting (its turn), Progressing, Paused, Healthy (done), Degraded (aborted)
  std::string message;  // why it is where it is, one line
  int step = 0;         // the canary step or blue/green stage it is at
  std::string data;     // JSON: the whole state (weights, slots, timers), for a resume
  int64_t started_us = 0;
  int64_t updated_us = 0;
  std::string command;  // the last command given: promote, pause, resume, abort
  int64_t command_seq = 0;
  std::string command_by;
  bool active() const { return phase != "Healthy" && phase != "Degraded"; }
};

// One measurement of one metric of an analysis (AnalysisTemplate): what it returned and what
// it counted as.
struct MeasurementRow {
  std::string run_id;
  std::string task;
  int64_t seq = 0;        // 1, 2, ... per rollout
  int epoch = 0;          // the attempt that began this run of the rollout: a retry measures anew
  std::string analysis;   // which analysis of the rollout: "step 2", "background", "prePromotion"
  std::string template_name;
  std::string metric;
  std::string phase;      // Successful, Failed, Inconclusive, Error
  std::string value;      // the result as JSON
  std::string message;
  int64_t started_us = 0;
  int64_t finished_us = 0;
  bool dry_run = false;
};

// One model put into one slot of an environment and made the stable one: the environment's
// history. `until_us` is 0 while it is the current release.
struct ReleaseRow {
  int64_t seq = 0;
  std::string environment;
  std::string slot;
  std::string digest;   // the model artifact's SHA-256
  std::string version;  // its label
  std::string run_id;
  std::string task;
  std::string actor;    // who promoted it: the run's submitter, or whoever gave the promote
  int64_t since_us = 0;
  int64_t until_us = 0;
};

}  // namespace sluice
