// SlurmExecutor: runs attempts of `executor: slurm` as Slurm batch jobs (docs/slurm.md), through
// Slurm's command-line clients (sbatch, squeue, scancel, scontrol), which it runs with the
// Env's RunCommand; they find the cluster by SLURM_CONF in this process's environment.
// Used by the engine's loop thread only (through RoutingExecutor); not thread-safe.
//
// Each attempt lives where a local one does (AttemptPathsFor: its folder and logs, which `sluice
// logs` reads), with its batch script beside them (NAME@ATTEMPT.slurm.sh). Attempts of one
// forEach fan-out submitted together (the same array_key) are one job array, whose script
// runs the attempt script of its task index. Outputs are collected from the attempt's folder
// by the run's LocalExecutor once the job ends, so the folder must be on a file system the
// cluster's nodes and this machine share.
//
// Polling: Poll never waits (RoutingExecutor waits, on the local executor, for signals). When a
// poll is due it runs ONE squeue for every tracked job; the interval starts at kMinIntervalUs
// after a submit or an end and grows by half each quiet poll, up to kMaxIntervalUs. A job that
// squeue no longer lists (it ended more than MinJobAge ago) is read from the jobcomp file, when
// the cluster writes one this machine can read; otherwise it is lost.
//
// Handles carry kSlurmHandleBit and the job's id (and array task), so the handle recorded in
// the event log is all `resume` needs to find the job again (Adopt).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "env/env.h"
#include "exec/local_executor.h"
#include "exec/slurm_text.h"

namespace sluice {

// Bit 51, the job's id (below 2^31) from bit 19, an array task's index (below 2^18) in bits
// 0-17 with bit 18 set: below 2^52, so a handle survives any JSON reader as a double, and never
// has kQueueHandleBit (bit 52) set.
inline constexpr AttemptHandle kSlurmHandleBit = AttemptHandle{1} << 51;
inline bool IsSlurmHandle(AttemptHandle h) { return (h & kSlurmHandleBit) != 0; }
AttemptHandle SlurmHandle(const SlurmJobKey& key);
SlurmJobKey SlurmKeyOf(AttemptHandle h);

class SlurmExecutor : public Executor {
 public:
  // `outputs` is the run's local executor (it collects outputs and stores artifacts); `run_dir`
  // the run's folder; `base_env` what a local attempt's environment starts from: the variables
  // of this process that it lacks (Sluice's own credentials) are kept from sbatch, which hands
  // its environment to the job. All outlive this.
  SlurmExecutor(Env& env, LocalExecutor& outputs, std::string run_dir,
                std::vector<std::string> base_env);

  // One sbatch per attempt, or per job array for attempts sharing an array_key. An attempt
  // with secrets or private paths is refused (not supported on Slurm yet).
  std::vector<Result<AttemptHandle>> Submit(std::span<const AttemptRequest> batch) override;
  // scancel of the job (or array task); its end, CANCELLED, comes by Poll without outputs.
  void Cancel(AttemptHandle handle, StopMode mode) override;
  // Never waits: when a poll is due (NextPollInUs() == 0), one squeue for every tracked job,
  // and the ends it shows. An unreachable controller is not an end: the next poll asks again.
  PollResult Poll(int64_t timeout_us) override;
  // One squeue for every open attempt: a job still queued or running is adopted under its
  // handle, one that ended is returned with its real state and exit code (and outputs), one
  // Slurm knows nothing of is lost. When the controller cannot be reached, all are adopted and
  // polled until it answers.
  std::vector<Adoption> Adopt(std::span<const OpenAttempt> open) override;

  // Attempts whose handle never reached the event log (sluice died between sbatch and its
  // commit): found among this user's jobs by their batch script, one squeue for all. Each found
  // one is adopted (under its handle) or ended; nullopt: no job of it is known.
  std::vector<std::optional<Adoption>> AdoptUnrecorded(std::span<const OpenAttempt> open);

  // Microseconds until the next squeue is due (0: due now), -1 when no job is tracked.
  int64_t NextPollInUs();
  int squeue_calls() const { return squeue_calls_; }

  static constexpr int64_t kMinIntervalUs = 250'000;
  static constexpr int64_t kMaxIntervalUs = 5'000'000;
  static constexpr int64_t kCommandTimeoutUs = 30'000'000;
  static constexpr size_t kMaxArrayTasks = 1000;
  static constexpr int64_t kJobcompTail = int64_t{16} << 20;

 private:
  struct Job {
    AttemptPaths paths;
    std::vector<WantedParam> params;
    std::vector<WantedArtifact> artifacts;
    bool cancelled = false;
    std::string stuck;  // cancelled by Sluice: the PENDING reason that can never resolve
  };
  // Runs a Slurm client (with `errors`, its stderr merged into its output). `hide`: without
  // the hidden variables in its environment.
  Result<CommandResult> Run(std::vector<std::string> argv, bool hide, bool errors);
  Status WriteScript(const std::string& path, std::string_view text);
  // Writes an attempt's folder and script; returns the script's path.
  Result<std::string> Prepare(const AttemptRequest& req, bool in_array);
  // sbatch with `options` and `script`: the job's id.
  Result<int64_t> Sbatch(std::vector<std::string> options, const std::string& script);
  // One squeue for `jobs` (ids: a job array's is the array's): their rows, or an error when
  // the controller could not be asked.
  Result<std::vector<SlurmJobRow>> Query(const std::vector<int64_t>& jobs);
  // The jobcomp file's row for `key`, when there is a readable one.
  std::optional<SlurmJobRow> FromJobcomp(const SlurmJobKey& key);
  // The end of tracked job `h` as `row` says, with outputs when it exited 0.
  AttemptEnd Ended(AttemptHandle h, const Job& job, const SlurmJobRow& row);
  void Track(AttemptHandle h, const AttemptRequest& req);

  Env& env_;
  LocalExecutor& outputs_;
  std::string run_dir_;
  std::vector<std::string> hidden_;  // names of variables a task must not see
  std::map<AttemptHandle, Job> jobs_;  // submitted or adopted, end not yet returned
  int64_t interval_us_ = kMinIntervalUs;
  int64_t next_poll_us_ = 0;
  int squeue_calls_ = 0;
  int arrays_ = 0;  // names this process's array scripts
  std::optional<std::string> jobcomp_;  // JobCompLoc, once asked ("" : none readable)
  std::optional<std::string> jobcomp_tail_;  // its last kJobcompTail bytes, read in this poll
};

}  // namespace sluice
