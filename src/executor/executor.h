// The executor interface: what the engine's loop asks of any data plane (local processes now;
// remote workers and Slurm later). It sits below both `engine` and `exec`: the engine talks to
// an Executor, an executor never links the engine.
//
// Design. The loop hands attempts over in batches and asks for their ends in batches, because
// every data plane but the local one pays a round trip per call: a worker lease, an sbatch, an
// squeue. So:
//   - Submit takes a batch (a forEach fan-out may become one Slurm job array: attempts that
//     share an `array_key` may be grouped);
//   - Poll returns every end known by then (one batched status query per poll, not one per
//     attempt), with the outputs of those that exited 0 already collected where they ran;
//   - Cancel asks an attempt to stop (terminate, then kill); its end still arrives by Poll;
//   - Adopt, after the control process restarted, tells for each attempt it had started and
//     never saw end whether it is still running (adopted: its end will come by Poll), ended
//     meanwhile (its end, with the real exit code), or lost (nothing of it runs any more);
//   - Recorded says that the ends returned so far are committed, so an executor that keeps
//     ends for a control process that may die can forget them.
// Ends are reported by handle. An end whose handle the loop no longer expects (a worker whose
// lease expired reports after its attempt was recorded lost) is a late result: the loop drops
// it. Leases, heartbeats and retransmission belong to the executor: the loop sees only ends.
//
// Rejected: one virtual call per attempt start and per exit (the first version). It fit local
// processes only, and let the engine parse the artifact store's paths to find digests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/outcome.h"
#include "common/value.h"

namespace sluice {

// A running attempt, as the executor that runs it names it (a pid, a job id, a lease number).
using AttemptHandle = int64_t;

// An output param an attempt must hand back after exiting 0.
struct WantedParam {
  enum class Source { kFile, kFileJson, kStdoutText, kStdoutJson };
  std::string name;
  Source source = Source::kFile;
  std::string path;       // kFile, kFileJson: relative to the attempt's working folder
  std::string json_path;  // kFileJson, kStdoutJson: dotted path, "" = the whole document
  // The type it is declared to have: text is read as it (a number written to a file becomes a
  // number), a JSON value must already be it; anything else fails the attempt's outputs.
  enum class Type { kAny, kString, kInt, kNumber, kBool, kList, kMap };
  Type type = Type::kAny;
  // kFile: the value when the file is missing (an output's `default`).
  std::optional<std::string> default_value;
};

// A file or folder an attempt must leave in its working folder, stored as an artifact.
struct WantedArtifact {
  std::string name;
  std::string path;  // relative to the attempt's working folder
};

// Everything needed to run one attempt, resolved: no placeholders are left, and an executor
// needs neither the plan nor the engine to run it (it crosses the network as it is).
struct AttemptRequest {
  std::string run_id;
  std::string task;  // instance name, e.g. "train[2]"
  int attempt = 0;   // 1-based
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // declared variables; the executor adds
                                                         // SLUICE_RUN_ID, SLUICE_TASK, SLUICE_ATTEMPT
  std::vector<WantedParam> params;
  std::vector<WantedArtifact> artifacts;
  // Where the process starts (workingDir: pipeline); "" = its attempt's own folder. Outputs are
  // read from the attempt's folder either way, which the process finds as $SLUICE_ATTEMPT_DIR.
  std::string working_dir;
  // Absolute folders that are the attempt's own: it runs in a private mount namespace where
  // each is ATTEMPT/root/PATH, its folder is /attempt, and the rest of the host is read-only
  // (exec/sandbox.h). Empty: no sandbox.
  std::vector<std::string> private_paths;
  std::string array_key;  // attempts with the same non-empty key may be submitted as one array
  // Which data plane runs it: "local" (a process beside the engine), "worker" (a `sluice
  // worker` whose labels include every one of `labels`, sorted by key, and whose free capacity
  // holds cpu, memory (bytes) and gpu; docs/workers.md) or "slurm" (a Slurm job asking for
  // cpu, memory and gpu; docs/slurm.md).
  std::string executor = "local";
  std::vector<std::pair<std::string, std::string>> labels;
  double cpu = 0, memory = 0, gpu = 0;
  // executor "slurm": sbatch's options (the task's slurm:), the attempt's timeout (--time; 0:
  // none) and, for a forEach child, its fan-out's parallelism (the array's %P; 0: no limit).
  struct SlurmOptions {
    std::string partition, account, qos, constraint;
    std::vector<std::string> extra;  // more sbatch options, as they are
  };
  SlurmOptions slurm;
  int64_t timeout_ms = 0;
  int array_parallelism = 0;
  // When its task became ready (the engine's clock; 0: not known). A data plane that starts
  // the attempt later than it is submitted (a queue) measures ready -> start from it.
  int64_t ready_us = 0;
  // Secrets (spec.secrets, and env values that read secret params): the executor hands them to
  // the attempt and must keep every value in `masked` out of what it stores or shows (logs,
  // files left in the attempt's folder, outputs, messages). Never recorded anywhere.
  std::vector<std::pair<std::string, std::string>> secret_env;    // variable -> value
  std::vector<std::pair<std::string, std::string>> secret_files;  // name in its folder -> value
  std::vector<std::string> masked;
};

// A stored artifact: where the executor's artifact store keeps it, and what it is.
struct ArtifactRef {
  std::string name;
  std::string digest;  // hex SHA-256 of the content (of a folder: of its sorted entries)
  int64_t size = 0;    // bytes (of a folder: of every file in it)
  std::string path;    // read-only, in the artifact store
};

struct AttemptOutputs {
  Value params;  // a map: name -> value
  std::vector<ArtifactRef> artifacts;
};

// How an attempt ended, as its executor saw it.
struct AttemptEnd {
  enum class How {
    kExited,       // exit_code holds its status
    kSignaled,     // signal holds the signal that ended it
    kLost,         // unknown: it cannot be found (its machine, worker or job is gone)
  };
  AttemptHandle handle = 0;
  How how = How::kLost;
  int exit_code = -1;
  int signal = 0;
  std::string message;  // kLost: why; with error_class: what the data plane said
  // Set when the data plane knows better than the exit status why it ended: Slurm's TIMEOUT
  // (kTimeout) and OUT_OF_MEMORY (kOom). kNone: classified by how, exit_code and signal.
  ErrorClass error_class = ErrorClass::kNone;
  // Exit 0 of an attempt that was not cancelled: its outputs, or why they could not be
  // collected (a missing file, bad JSON). Empty otherwise.
  std::optional<Result<AttemptOutputs>> outputs;
};

struct PollResult {
  std::vector<AttemptEnd> ends;
  bool interrupted = false;  // the control process was asked to stop (SIGINT, SIGTERM, SIGHUP)
};

// An attempt that a control process started and never saw end (its run's log has it open).
struct OpenAttempt {
  std::string run_id;
  std::string task;
  int attempt = 0;
  AttemptHandle handle = 0;  // as recorded when it was spawned; 0 when that never got recorded
  // What it must hand back if it exited 0 meanwhile or is adopted (as its request had them).
  std::vector<WantedParam> params;
  std::vector<WantedArtifact> artifacts;
};

struct Adoption {
  enum class Verdict { kAdopted, kEnded, kLost };
  Verdict verdict = Verdict::kLost;
  AttemptHandle handle = 0;  // kAdopted: its end will come by Poll under this handle
  AttemptEnd end;            // kEnded: how it ended; kLost: end.message says why
};

enum class StopMode {
  kTerminate,  // ask it to stop and clean up (SIGTERM to its process group)
  kKill,       // end it now (SIGKILL)
};

// Runs attempts. Used by one loop thread; implementations need not be thread-safe.
class Executor {
 public:
  virtual ~Executor() = default;
  // Starts each request, in order. Returns one result per request: its handle, or why it could
  // not start (then nothing of it runs).
  virtual std::vector<Result<AttemptHandle>> Submit(std::span<const AttemptRequest> batch) = 0;
  // Asks a running attempt to stop. Its end arrives by Poll, without outputs. Unknown or ended
  // handles are ignored.
  virtual void Cancel(AttemptHandle handle, StopMode mode) = 0;
  // Waits until an attempt ends, `timeout_us` passes (< 0: no limit) or the control process is
  // interrupted. Returns every end known by then; whatever an ended attempt left running is
  // stopped before its end is returned.
  virtual PollResult Poll(int64_t timeout_us) = 0;
  // After a restart: one Adoption per attempt in `open`, in order. An attempt that is lost is
  // stopped first wherever it may still run, so a retry never overlaps it.
  virtual std::vector<Adoption> Adopt(std::span<const OpenAttempt> open) = 0;
  // Every end Poll and Adopt returned so far is durably recorded (the loop committed it): an
  // executor that keeps ends for a control process that dies (the local one's keeper) may
  // forget them.
  virtual void Recorded() {}
};

}  // namespace sluice
