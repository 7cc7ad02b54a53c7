// Starting and stopping the experiment's child processes (the target's runs, stress-ng, the
// control plane's servers and workers): posix_spawn with the output in files, SIGINT and SIGTERM
// at their defaults, optionally in a process group of its own.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace sluice {

struct SpawnOptions {
  std::vector<std::string> argv;
  // Added to this process's environment, which children get without SLUICE_FAULTS and
  // SLUICE_TOKEN (a fault or a credential reaches only the child it is given to).
  std::vector<std::string> env;
  std::string out, err;     // files: stdout (truncated), stderr (appended); "" = /dev/null
  bool own_group = false;   // a process group of its own (its id is the pid)
  bool path_search = false; // argv[0] is looked up on PATH
};
Result<pid_t> Spawn(const SpawnOptions& o);

// SIGTERM to pid (to its group when `group`), up to `grace_ms` for it to exit, then SIGKILL;
// reaps it. Returns its wait status.
int StopProcess(pid_t pid, bool group, int64_t grace_ms);

// The exit code of a wait status: the code, or 128 + the signal that ended it.
int ExitCodeOf(int status);

}  // namespace sluice
