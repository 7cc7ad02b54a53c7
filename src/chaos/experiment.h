// The experiment runner's one class (experiment_run.h, docs/chaos.md), defined over four files
// by concern: experiment_run.cc (the phases, the method, the rollback, ChaosRun),
// experiment_target.cc (the target's runs, the control plane, the process faults),
// experiment_probes.cc (probes, continuous checks, commands) and experiment_journal.cc (the
// journal, secrets). Private to src/chaos.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chaos/control_plane.h"
#include "chaos/fault_proxy.h"
#include "chaos/run_records.h"
#include "cli/cli_support.h"
#include "common/error.h"
#include "common/value.h"
#include "spec/experiment_spec.h"
#include "store/store.h"

namespace sluice::chaos {

// Set by SIGINT and SIGTERM while an experiment runs: everything winds down and rolls back.
extern volatile std::sig_atomic_t g_interrupted;
int64_t NowUs();
void SleepMs(int64_t ms);  // in slices, so that an interrupt ends it

// What the `during` phase's runs get: SLUICE_FAULTS, the process faults that strike each run,
// and the params of a bad candidate (delivery faults).
struct PhaseFaults {
  std::string env;
  std::vector<const FaultSpec*> kills;
  std::vector<std::pair<std::string, std::string>> params;
};

class Experiment {
 public:
  Experiment(Env& env, const GlobalOptions& g, Store& store, ExperimentSpec spec,
             std::string sluice, std::string dir)
      : env_(env),
        g_(g),
        store_(store),
        spec_(std::move(spec)),
        sluice_(std::move(sluice)),
        dir_(std::move(dir)) {
    for (const auto& [k, v] : spec_.configuration) args_.emplace_back(k, Value(v));
  }

  // Starts the dependency faults' proxies, holding no fault yet: the pipeline calls its services
  // through them in every phase; checks that stress-ng is there for a resource fault. Fails
  // before any run.
  Status StartProxies();

  // target.server: the control plane, up for the whole experiment; probes see its URL as
  // args.server.
  Status StartControlPlane();
  // The experiment's secrets, fetched once, given to the probes as args; each value is masked
  // in the journal (MaskSecrets).
  Status FetchSecrets();
  // `text` with every secret value (as it is, and as JSON writes it) replaced by ***.
  std::string MaskSecrets(std::string text) const;

  // target.schedule: its file applied once (to the server, or to the state folder), so that each
  // run is `schedule trigger NAME`.
  Status ApplySchedule();

  std::string TargetName() const;

  void StopControlPlane();

  // Runs the phases; the journal is complete whatever happens.
  int Run();

  Value Journal() const;
  const std::string& name() const { return spec_.name; }
  const std::string& status() const { return status_; }
  bool deviated() const { return deviated_; }

 private:
  // Runs the target `runs` times with `faults`, then checks the hypothesis when `check`. False
  // when it was not checked.
  bool Phase(const std::string& phase, bool check, const PhaseFaults& faults = {});

  void Method();

  // Faults end with the `during` phase (no later run gets them, the proxies hold none); then the
  // rollbacks' commands.
  void RollBack();

  // A resource fault's stress-ng, in a process group of its own so that stopping it stops its
  // workers too.
  void StartStress(const ActivitySpec& a);

  void StopStress();

  // One target run, its record kept. Without a server: a `sluice run` resumed after a kill or
  // a store fault stopped it. With one: submitted with `sluice --server URL run`, then followed
  // in the store until it ends (the client's server may be killed; the leader keeps it going).
  void RunTarget(const std::string& phase, const PhaseFaults& faults);

  // A served run, followed in the store until it ends; cancelled through the server on an
  // interrupt or after the target's timeout (then given a minute to end).
  void AwaitServedRun(const std::string& run_id, int64_t started);

  // Starts argv, waits for it; returns its exit code (128 + signal when killed). The first line
  // of its output is the run id. Each process fault of `kills` strikes once, its time after the
  // start. An interrupt (when `interruptible`) or the target's timeout sends it SIGINT.
  int Child(const std::vector<std::string>& argv, const std::string& faults,
            const std::vector<const FaultSpec*>& kills, std::string* run_id,
            bool interruptible = true);

  // The names of the workers holding a lease of the run's latest attempts.
  std::vector<std::string> LeaseHolders(const std::string& run_id);

  std::string RunIdIn(const std::string& out) const;

  // While the `during` phase's runs go: the hypothesis probes with an interval that are due, as
  // one steady state of the journal's `during` list. A deviation with failFast stops the phase
  // (the run in progress is cancelled, no other starts).
  void CheckContinuously();

  Value Probe(const ActivitySpec& a, const std::string& phase, ValueMap& probes);

  Result<Value> Measure(const ProbeSpec& p, const std::string& phase,
                        const std::vector<const TargetRun*>& runs, const Value& probes,
                        const Value& runs_value);

  Value Command(const ActivitySpec& a);

  static Value ActivityRun(const ActivitySpec& a, int64_t start, int64_t end,
                           const std::string& status, Value output,
                           const std::vector<std::string>& exception,
                           std::optional<bool> tolerance_met = std::nullopt);

  template <typename... Args>
  void say(fmt::format_string<Args...> f, Args&&... args) const {
    std::fprintf(stderr, "chaos %s: %s\n", spec_.name.c_str(),
                 fmt::format(f, std::forward<Args>(args)...).c_str());
  }

  Env& env_;
  const GlobalOptions& g_;
  Store& store_;
  ExperimentSpec spec_;
  std::string sluice_, dir_, status_ = "completed";
  ValueMap args_;
  int64_t start_us_ = 0, end_us_ = 0;
  bool before_met_ = true, deviated_ = false, rolled_back_ = false;
  Value before_, after_;
  ValueList during_, method_runs_, rollback_runs_, phases_, fault_runs_;
  std::vector<TargetRun> runs_;
  struct Proxy {
    const ActivitySpec* activity;
    ProxyFault fault;  // in force during the `during` phase
    std::unique_ptr<FaultProxy> proxy;
  };
  std::vector<Proxy> proxies_;        // stopped when the experiment ends, however it ends
  std::vector<pid_t> stress_;         // resource faults' stress-ng, each its own process group
  std::unique_ptr<ControlPlane> cp_;  // target.server
  std::vector<std::pair<const FaultSpec*, std::string>> kills_;  // each process fault's strikes
  std::vector<std::string> secret_values_;                       // masked in the journal
  std::string phase_;                                            // the phase whose runs go now
  std::map<std::string, int64_t> due_us_;  // continuous probes: when each is due again
  bool stop_phase_ = false;                // a continuous check deviated under failFast
};

}  // namespace sluice::chaos
