// Internal to env: starting one program (vfork and execve), for the process launcher
// (process_posix.cc). Only env's posix files include it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace sluice {

// What every program started gets, fixed when the launcher is made.
struct SpawnSetup {
  std::vector<int> reset;               // signals set back to SIG_DFL in the program
  std::vector<std::string> path_dirs;   // where a program named without '/' is looked for
  int child_umask = -1;                 // the program's file mode creation mask; < 0: ours
};

// The setup of this process: its PATH, and the signals it does not leave at their default.
SpawnSetup CurrentSpawnSetup(int child_umask);

// Creates or empties a log file (O_CLOEXEC); -1 with errno on failure.
int OpenLogFile(const std::string& path);

// Starts `argv` as the leader of a new process group in `cwd` ("" = ours) with `envp`, stdin on
// /dev/null and stdout/stderr on `out_fd`/`err_fd` (which stay open here). On success returns
// its pid; on failure (no such program, no permission, fork failure) an error whose message
// says why, and nothing is left running. `pid_word`, when given, receives the pid from the
// kernel before the child runs its first instruction (memory shared with the keeper).
Result<int> SpawnProgram(const SpawnSetup& setup, const std::vector<std::string>& argv,
                         const std::vector<std::string>& env, const std::string& cwd, int out_fd,
                         int err_fd, int32_t* pid_word = nullptr);

}  // namespace sluice
