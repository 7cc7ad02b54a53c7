// LocalExecutor: runs attempts as local processes through the Env's ProcessLauncher, and
// stores their artifacts in the content-addressed artifact store under the state directory.
// Used by the engine's loop thread only; not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "env/env.h"
#include "executor/executor.h"

namespace sluice {

// Where an attempt lives under its run's folder: RUN/tasks/NAME@ATTEMPT/ is its working
// directory, with RUN/tasks/NAME@ATTEMPT.stdout.log and .stderr.log beside it. One folder per
// attempt, because creating folders is the dearest file-system step of starting a task ('@'
// cannot appear in task names, so paths never collide). NAME@ATTEMPT.exit is written only by
// the run's keeper, for an attempt whose end sluice had not recorded when it died.
struct AttemptPaths {
  std::string work;
  std::string stdout_log;
  std::string stderr_log;
  std::string exit;
};
AttemptPaths AttemptPathsFor(const std::string& run_dir, const std::string& task, int attempt);
// The variables every data plane gives an attempt after its declared ones: SLUICE_RUN_ID,
// SLUICE_TASK, SLUICE_ATTEMPT and SLUICE_ATTEMPT_DIR (`work`, where its outputs are read from).
// Adopt finds what is left of an attempt by them.
std::vector<std::pair<std::string, std::string>> AttemptMarks(const AttemptRequest& req,
                                                              const std::string& work);

class LocalExecutor : public Executor {
 public:
  // Files and the lookup of what a dead sluice left running come from `env`; processes are
  // started by `launcher` (env's, or one that injects faults around it). `run_dir` is the run's
  // folder (attempts live in its tasks/); `artifact_root` the content-addressed store
  // (STATE/artifacts); `base_env` the inherited environment ("KEY=VALUE") that every task
  // process starts from.
  LocalExecutor(Env& env, ProcessLauncher& launcher, std::string run_dir,
                std::string artifact_root, std::vector<std::string> base_env);
  ~LocalExecutor() override;

  std::vector<Result<AttemptHandle>> Submit(std::span<const AttemptRequest> batch) override;
  void Cancel(AttemptHandle handle, StopMode mode) override;
  PollResult Poll(int64_t timeout_us) override;
  // Attempts without secrets are kept by the run's keeper (keeper_posix.h), which outlives a
  // dead sluice and becomes their parent. An open attempt whose exit file is there ended meanwhile (its real status and
  // outputs); one a live keeper still owes is adopted (Poll reads its exit file when it
  // appears); any other is lost, and whatever is left of it (found by its SLUICE_RUN_ID,
  // SLUICE_TASK and SLUICE_ATTEMPT) is killed first. Waits a while for a live keeper that has
  // not listed what it owes yet (it does so as soon as it sees its sluice gone).
  std::vector<Adoption> Adopt(std::span<const OpenAttempt> open) override;
  void Recorded() override { launcher_.ExitsRecorded(); }
  // A worker's executor runs attempts of many runs: each then lives under RUN_DIR/RUN_ID/
  // rather than RUN_DIR/ (AttemptPathsFor of that folder).
  void SetFolderPerRun(bool on) { folder_per_run_ = on; }

  // Stores the file or folder `rel` below the folder `root` (an attempt's) as the artifact
  // `name`: its read-only copy is ROOT/sha256/XX/DIGEST/NAME, where DIGEST covers the content
  // (and, for folders, the names and kinds, file or folder, of everything inside). Copies as
  // FileSystem::CopyBeneath does (no link out of `root`, none inside a folder, regular files
  // and folders only, bounded, modes never widened). On failure returns its error: kNotFound
  // when `rel` is missing; nothing is stored.
  Result<ArtifactRef> StoreArtifact(const std::string& name, const std::string& root,
                                    const std::string& rel);
  // The outputs of an attempt that exited 0 and lives at `paths` but ran elsewhere (a Slurm
  // job, exec/slurm_executor.h), read as Poll reads a local attempt's: params from its folder
  // or stdout log, typed; artifacts stored. On failure, why they cannot be collected.
  Result<AttemptOutputs> CollectOutputs(const AttemptPaths& paths,
                                        const std::vector<WantedParam>& params,
                                        const std::vector<WantedArtifact>& artifacts);

 private:
  struct Running {
    AttemptPaths paths;
    std::vector<WantedParam> params;
    std::vector<WantedArtifact> artifacts;
    // An attempt with secrets (local_executor_secrets.cc): what masks its logs, files, outputs
    // and messages, and the links to its secret files (in the private PATHS.work + ".secrets").
    std::shared_ptr<const Masker> masker;
    std::vector<std::string> secret_links;
    std::string run_id, task;  // its marks (KillMarked)
    int attempt = 0;
  };
  // An attempt a dead sluice's keeper still runs: its end comes from its exit file.
  struct Adopted {
    int pid = 0;
    std::string keeper_lock;  // held while its keeper lives
    Running run;
    bool cancelled = false;
  };
  // How an attempt ended, with its outputs when it exited 0 and was not cancelled.
  AttemptEnd Ended(AttemptHandle handle, int exit_code, int signal, bool cancelled, Running& r);
  // The exits a live keeper of an earlier process still owes: exit file -> (pid, its lock).
  std::unordered_map<std::string, std::pair<int, std::string>> OwedByLiveKeepers();
  // The end an exit file records; nullopt when there is none (or it cannot be read).
  std::optional<ProcessExit> ReadExitFile(const std::string& path);
  // Adopted attempts that ended (or whose keeper died) since the last look.
  void CheckAdopted(std::vector<AttemptEnd>& ends);
  // Kills what is left of an attempt of this run, found by its marks.
  void KillMarked(const std::string& run_id, const std::string& task, int attempt);
  static constexpr int64_t kAdoptedPollUs = 20'000;
  // How long Adopt waits for a live keeper to list what it owes.
  static constexpr int64_t kOwedWaitUs = 5'000'000;
  Result<std::vector<std::string>> SandboxedArgv(const AttemptRequest& req,
                                                 const std::string& work);
  Result<AttemptHandle> Start(const AttemptRequest& req);
  // Hands an attempt its secrets: files in a private folder beside its own (linked from it),
  // variables, and the masking of its output. On failure nothing of them is left.
  Status GiveSecrets(const AttemptRequest& req, const AttemptPaths& paths, SpawnRequest& sp,
                     Running& r);
  // After an attempt with secrets ended: removes its secret files and masks what it left in its
  // folder, before outputs and artifacts are collected from it. On failure (a file that could
  // not be masked) its outputs must not be collected.
  Status TakeBackSecrets(const Running& r);
  // Masks an ended attempt's message and collected outputs (or the error collecting them).
  static void MaskEnd(const Masker& m, AttemptEnd& end);
  Result<AttemptOutputs> Collect(const Running& r);
  void FindSpares();
  bool TakeSpare(std::vector<std::string>& spares, const std::string& path);

  Env& env_;
  ProcessLauncher& launcher_;
  FileSystem& fs_;
  std::string run_dir_;
  std::string artifact_root_;
  std::vector<std::string> base_env_;
  std::unordered_map<int, Running> running_;  // pid → its attempt
  std::unordered_set<int> cancelled_;         // asked to stop: no outputs are collected
  std::unordered_map<AttemptHandle, Adopted> adopted_;
  // Adopted attempts get handles of their own: their pids may be reused by this process's.
  AttemptHandle next_adopted_ = AttemptHandle{1} << 40;
  // Attempt files: the folder and the two logs. Those an attempt left empty are renamed into
  // the next attempt's place rather than new ones made: a rename allocates no inode, and where
  // many were just deleted (a state folder cleared) ext4's mkdir and create must step over each
  // of them (~70-280 us measured, against ~3 us for the rename). So a run keeps only the
  // folders and logs that hold something (and the last attempts' folders). Ended attempts'
  // files are checked (group gone, empty) right after a spawn, while that program runs, so the
  // next start usually only renames.
  std::vector<std::pair<int, AttemptPaths>> ended_;  // ended since the last look
  std::vector<std::string> spare_dirs_;              // empty, free for the next attempt
  std::vector<std::string> spare_logs_;
  int tmp_serial_ = 0;  // names this process's temporary artifact folders
  bool folder_per_run_ = false;
};

}  // namespace sluice
