// What the Slurm executor writes for Slurm's programs and reads back from them, as pure
// functions over text: the sbatch command line and batch scripts of attempts, and squeue's and
// the jobcomp file's rows, with the mapping of Slurm's job states to attempt ends.
//
// Design. Sluice talks to Slurm through its command-line clients with fixed output formats,
// not libslurm, whose API and ABI change with every release (docs/slurm.md). squeue is asked
// for every tracked job at once with `-O` fields separated by '|' (untruncated). A job's exit
// is squeue's raw wait status (rc << 8 | signal); the jobcomp file, read only for jobs squeue
// has already forgotten (MinJobAge), has `ExitCode=rc:signal` and loses the signal of a
// cancelled or timed-out job, so its JobState decides those.
// Rejected: `squeue --json` (about 10x the cost of -O in Slurm 22.05), and `scontrol show
// job` per job (one call per job per poll).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "executor/executor.h"

namespace sluice {

// A Slurm job as Sluice names it: a plain job (task < 0) or one task of a job array.
struct SlurmJobKey {
  int64_t job = 0;  // the job's id; an array's: the array's id (ArrayJobID)
  int task = -1;    // the array task's index (ArrayTaskID), -1 for a plain job
  std::string Text() const;  // "24" or "24_7", as squeue -j and scancel take it
  bool operator==(const SlurmJobKey&) const = default;
  auto operator<=>(const SlurmJobKey&) const = default;
};

// What squeue says of one job (kSqueueFields), or the jobcomp file of an ended one.
struct SlurmJobRow {
  SlurmJobKey key;
  std::string state;   // PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, OUT_OF_MEMORY, ...
  int exit_code = 0;   // the program's status when it exited
  int signal = 0;      // the signal that ended it, 0 when it exited
  std::string reason;  // squeue's Reason (PENDING: why it waits)
  std::string command;  // its batch script, when asked for (kSqueueMineFields)
};

// squeue's -O fields, in the order ParseSqueue reads them.
inline constexpr std::string_view kSqueueFields =
    "JobID:|,ArrayJobID:|,ArrayTaskID:|,State:|,exit_code:|,Reason:|";

// The same and the batch script's path: the jobs of this user, for attempts whose job id never
// reached the event log (found by their script, which names the attempt).
inline constexpr std::string_view kSqueueMineFields =
    "JobID:|,ArrayJobID:|,ArrayTaskID:|,State:|,exit_code:|,Reason:|,Command:|";

// Rows of `squeue -h -O kSqueueFields` (or kSqueueMineFields); lines that are not such a row are skipped. An array
// task still pending as a range ("24_[4-9]", without -r) is skipped too: -r expands them.
std::vector<SlurmJobRow> ParseSqueue(std::string_view text);
// The last row of job `key` in a jobcomp/filetxt file (JobId=, JobState=, ExitCode=,
// ArrayJobId=, ArrayTaskId=), or nullopt when the file has none.
std::optional<SlurmJobRow> FindInJobcomp(std::string_view text, const SlurmJobKey& key);
// JobCompLoc of `scontrol show config`, when its JobCompType is jobcomp/filetxt; "" otherwise.
std::string JobcompFileOf(std::string_view show_config);

// True for the states of a job that has not ended (PENDING, RUNNING, COMPLETING, ...).
bool SlurmJobActive(std::string_view state);
// PENDING reasons that never resolve by waiting (a request the partition cannot hold, a
// held job, a dependency that can never be met).
bool SlurmPendingForever(std::string_view reason);
// How an ended job's row reads as an attempt's end: COMPLETED and FAILED by their exit code or
// signal, TIMEOUT as the class timeout, OUT_OF_MEMORY as oom, CANCELLED as signaled (SIGTERM
// when Slurm does not say), NODE_FAIL, BOOT_FAIL and the like as lost. Outputs are not set.
AttemptEnd SlurmEnd(const SlurmJobRow& row);

// The options sbatch gets for an attempt (or, with `array`, for a job array of `count` tasks,
// `parallelism` at a time; 0: no limit), before the script's path: --parsable, the job's name,
// its folder, its logs (a job array's tasks write their own), resources, time and slurm:.
std::vector<std::string> SbatchOptions(const AttemptRequest& req, const std::string& workdir,
                                       const std::string& stdout_log,
                                       const std::string& stderr_log, int count, int parallelism);
// --time of a timeout: whole minutes, rounded up (Slurm keeps limits in minutes), so Sluice's
// own timer ends the attempt first; "" for none.
std::string SlurmTimeLimit(int64_t timeout_ms);

// The batch script of one attempt: bash that sends its output to its logs when `redirect` (a
// job array's task), sets its variables (`env`), enters `cwd` and execs `argv`. Every value is
// single-quoted: nothing in it is interpreted by the shell.
std::string AttemptScript(const std::vector<std::pair<std::string, std::string>>& env,
                          const std::string& cwd,
                          const std::vector<std::string>& argv, const std::string& stdout_log,
                          const std::string& stderr_log, bool redirect);
// The list of a job array's attempt scripts, `scripts[k]` on line k+1; nullopt when a path
// holds a newline (a line could not name it).
std::optional<std::string> ArrayList(const std::vector<std::string>& scripts);
// The batch script of a job array: task k runs (sources) the attempt script on line k+1 of the
// ArrayList file `list`. It is the same few lines whatever the array's size: Slurm sends the
// batch script to the node and writes it to the node's spool for EVERY task, and bash parses
// it whole, so a script listing N attempts cost N² over the array (docs/slurm.md).
std::string ArrayScript(const std::string& list);
// The task index that `array` gives `script`, -1 when none: its line in an ArrayList text, or
// its branch in the `case` array script of earlier versions (a run they left, resumed).
int ArrayIndexOf(std::string_view array, const std::string& script);
// `s` in single quotes for bash.
std::string ShellQuote(std::string_view s);

}  // namespace sluice
