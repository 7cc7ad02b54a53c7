// LocalExecutor: runs attempts as local processes through the Env's ProcessLauncher, and
// stores their artifacts in the content-addressed artifact store under the state directory.
// Used by the engine thread only; not thread-safe.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/interfaces.h"

namespace sluice {

class LocalExecutor : public Executor {
 public:
  // `artifact_root` is the content-addressed store (STATE/artifacts); `base_env` the inherited
  // environment ("KEY=VALUE") that every task process starts from.
  LocalExecutor(ProcessLauncher& launcher, FileSystem& fs, std::string artifact_root,
                std::vector<std::string> base_env);
  ~LocalExecutor() override;

  Result<int> Start(const AttemptRequest& req) override;
  void Signal(int handle, int sig) override;
  WaitResult Wait(int64_t timeout_us) override;
  Result<Value> Collect(const AttemptRequest& req, const OutputsDecl& outputs) override;
  // Kills every process group holding a process started with the attempt's SLUICE_RUN_ID,
  // SLUICE_TASK and SLUICE_ATTEMPT.
  void Reclaim(const std::string& run_id, const std::string& task, int attempt) override;

  // Stores the file or folder at `path` and returns its read-only location in the store:
  // ROOT/sha256/XX/DIGEST/NAME, where DIGEST covers the content (and, for folders, the names
  // and kinds, file or folder, of everything inside).
  Result<std::string> StoreArtifact(const std::string& path);

 private:
  void FindSpares();
  bool TakeSpare(std::vector<std::string>& spares, const std::string& path);
  Result<std::string> Digest(const std::string& path, int depth);
  Status CopyTree(const std::string& from, const std::string& to, int depth);

  ProcessLauncher& launcher_;
  FileSystem& fs_;
  std::string artifact_root_;
  std::vector<std::string> base_env_;
  // Attempt files: the folder and the two logs. Those an attempt left empty are renamed into
  // the next attempt's place rather than new ones made: a rename allocates no inode, and where
  // many were just deleted (a state folder cleared) ext4's mkdir and create must step over each
  // of them (~70-280 us measured, against ~3 us for the rename). So a run keeps only the
  // folders and logs that hold something (and the last attempts' folders). Ended attempts'
  // files are checked (group gone, empty) right after a spawn, while that program runs, so the
  // next Start usually only renames.
  std::unordered_map<int, AttemptPaths> running_;     // pid → its files
  std::vector<std::pair<int, AttemptPaths>> ended_;  // exited since the last look
  std::vector<std::string> spare_dirs_;              // empty, free for the next attempt
  std::vector<std::string> spare_logs_;
};

}  // namespace sluice
