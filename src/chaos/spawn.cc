#include "chaos/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/strings.h"

extern char** environ;

namespace sluice {

Result<pid_t> Spawn(const SpawnOptions& o) {
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    if (!StartsWith(*e, "SLUICE_FAULTS=") && !StartsWith(*e, "SLUICE_TOKEN=")) envs.push_back(*e);
  }
  envs.insert(envs.end(), o.env.begin(), o.env.end());
  std::vector<char*> cargv, cenv;
  for (const auto& a : o.argv) cargv.push_back(const_cast<char*>(a.c_str()));
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cargv.push_back(nullptr);
  cenv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, o.out.empty() ? "/dev/null" : o.out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, o.err.empty() ? "/dev/null" : o.err.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t dfl;
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  short flags = POSIX_SPAWN_SETSIGDEF;
  if (o.own_group) {
    posix_spawnattr_setpgroup(&attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr, flags);
  pid_t pid = 0;
  const int rc = o.path_search
                     ? posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data())
                     : posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail(ErrorCode::kIo, "cannot start {}: {}", o.argv[0], std::strerror(rc));
  return pid;
}

int StopProcess(pid_t pid, bool group, int64_t grace_ms) {
  kill(group ? -pid : pid, SIGTERM);
  int status = 0;
  for (int64_t t = 0; t < grace_ms; t += 20) {
    if (waitpid(pid, &status, WNOHANG) != 0) {
      if (group) kill(-pid, SIGKILL);  // workers it left behind
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(group ? -pid : pid, SIGKILL);
  waitpid(pid, &status, 0);
  return status;
}

int ExitCodeOf(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace sluice
