// A chaos experiment (kind: Experiment, docs/chaos.md), in Chaos Toolkit's model: a target the
// experiment runs, a steady-state hypothesis of probes with tolerances, a method of faults and
// probes, rollbacks, and when the hypothesis is checked. Read by loader_experiment.cc; run by
// src/chaos.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "spec/analysis_spec.h"
#include "spec/model.h"

namespace sluice {

class Expression;

// A probe: what it measures, and (in the hypothesis) the tolerance its value must meet.
struct ProbeSpec {
  enum class Kind { kRuns, kTaskDuration, kRetries, kCompensations, kBreaker, kMetric, kCel, kRollout };
  Kind kind = Kind::kRuns;
  std::vector<std::string> statuses = {"succeeded"};  // runs: what counts as a success
  std::string task;        // taskDuration, retries, compensations, rollout: a glob ("" = every task)
  std::string rollout_phase = "Healthy";  // rollout: the rollouts that ended so are counted
  double percentile = 50;  // taskDuration
  std::string breaker;     // breaker: its name
  AnalysisProvider provider;  // metric: prometheus, web or command, as AnalysisTemplates have
  std::shared_ptr<const Expression> expression;  // cel: over probes, phase, runs
  std::shared_ptr<const Expression> tolerance;   // over value (and probes); null: none
  std::string tolerance_text;
  // A hypothesis probe (metric or breaker) also checked every `interval_ms` while the `during`
  // phase's runs go; 0: only when they have ended.
  int64_t interval_ms = 0;
};

// A fault of the method: what it breaks, during the `during` phase only.
struct FaultSpec {
  enum class Kind { kTask, kStore, kProcess, kDependency, kResource, kDelivery };
  Kind kind = Kind::kTask;
  std::string faults;  // task and store faults: the SLUICE_FAULTS text of the target's runs
  // process: kill -9 of `kill` (run, engine, worker, server or leader) this long after each
  // `during` run starts; a worker or server killed is started again `restart_ms` later.
  std::string kill;
  int64_t kill_after_ms = 0, restart_ms = 0;
  // dependency: the fault proxy between the pipeline and a service, up for the whole experiment
  // (no fault before and after), with this fault during (its flags: docs/chaos-proxy.md).
  std::string listen, upstream, proxy_fault;
  // resource: the stress-ng command that puts the pressure on, during the `during` phase.
  std::vector<std::string> stress;
  // delivery: a bad candidate. The `during` runs get these params instead of the target's (for
  // example a model that errs), so their deploys release it through the real rollout.
  std::vector<std::pair<std::string, std::string>> params;
};

// An action of `rollbacks`: a command (faults roll back by themselves).
struct CommandAction {
  std::vector<std::string> argv;
  int64_t timeout_ms = 30'000;
};

struct ActivitySpec {
  enum class Type { kProbe, kFault, kCommand };
  Type type = Type::kProbe;
  std::string name;
  Location loc;
  ProbeSpec probe;
  FaultSpec fault;
  CommandAction command;
  int64_t pause_before_ms = 0, pause_after_ms = 0;
  Value written;  // the activity as written, for the journal
};

// target.server: a control plane the experiment starts on its state folder and stops at the
// end: `servers` sluice servers (they share the store; one leads), `workers` sluice workers. The
// target's runs are then submitted to it (`sluice --server URL run`) rather than run here.
struct ControlPlaneSpec {
  int servers = 0;  // 0: no control plane, the runs are `sluice run` processes
  int workers = 0, slots = 1;
  int64_t lease_ms = 0;  // --lease-time; 0: the server's default
  Location loc;
};

struct ExperimentSpec {
  std::string name;
  std::string file;
  Location loc;
  std::string title, description;
  std::vector<std::string> tags;
  int weight = 10;  // in the resilience score, 0..10
  // The target: a pipeline, or a stored schedule's runs (`schedule trigger`), `runs` times in
  // each phase.
  std::string pipeline;  // absolute; "" for a schedule
  Location pipeline_loc;
  std::string schedule_file, schedule;  // target.schedule: the file applied once, the name fired
  std::vector<std::pair<std::string, std::string>> params;
  int runs = 3;
  int64_t run_timeout_ms = 600'000;
  ControlPlaneSpec server;
  std::map<std::string, std::string> configuration;  // probes' args
  // Chaos Toolkit's secrets: values the probes read as ${{ args.NAME }}, fetched when the
  // experiment starts (spec.secrets' sources: env, file, command) and never written anywhere.
  std::vector<SecretDecl> secrets;
  std::string hypothesis_title;
  std::vector<ActivitySpec> hypothesis;
  std::vector<ActivitySpec> method;
  std::vector<ActivitySpec> rollbacks;
  // Chaos Toolkit's hypothesis strategies: default (before and after), before-method-only,
  // after-method-only, during-method-only, continuously (before, during and after).
  std::string strategy = "default";
  bool fail_fast = false;
  Value written;  // the spec as written, for the journal

  bool CheckBefore() const { return strategy == "default" || strategy == "before-method-only" || strategy == "continuously"; }
  bool CheckDuring() const { return strategy == "during-method-only" || strategy == "continuously"; }
  bool CheckAfter() const { return strategy == "default" || strategy == "after-method-only" || strategy == "continuously"; }
};

// Reads one Experiment document. Unknown keys, wrong types, a probe or fault of no known kind
// or of two, a tolerance that does not parse: FILE:LINE:COL. The target pipeline's path is made
// absolute against the experiment's folder; it is not loaded here.
Result<ExperimentSpec> ParseExperimentFile(const std::string& path, std::string_view content);

}  // namespace sluice
