// RunCapturedCommand: a short command whose standard output Sluice needs in memory (a secret
// manager's CLI), with a timeout and a bound on what it may write. Its output goes through a
// pipe into this process only: it never reaches a file.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "env/env.h"

extern char** environ;

namespace sluice {
namespace {

int64_t MonotonicUs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// Starts `argv` in `cwd` ("" = this process's), in its own process group, with stdout on
// `out_fd`, stdin and stderr on /dev/null, and the signals a process launcher may have blocked in this
// thread unblocked and at their defaults.
Result<pid_t> Start(const std::vector<std::string>& argv, const std::string& cwd, int out_fd) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  // Its standard error is not shown: a secret manager's CLI may print the value (or its own
  // token) there, and Sluice's stderr ends up in CI logs.
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, dfl;
  sigemptyset(&none);
  sigemptyset(&dfl);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE, SIGQUIT}) sigaddset(&dfl, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail(ErrorCode::kIo, "cannot start {}: {}", argv[0], strerror(rc));
  return pid;
}

}  // namespace

Result<CommandResult> RunCapturedCommand(const std::vector<std::string>& argv,
                                         const std::string& cwd, int64_t timeout_us,
                                         size_t max_bytes) {
  if (argv.empty()) return Fail(ErrorCode::kInvalidInput, "no command to run");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Fail(ErrorCode::kIo, "cannot create a pipe: {}", strerror(errno));
  auto pid = Start(argv, cwd, fds[1]);
  close(fds[1]);
  if (!pid) {
    close(fds[0]);
    return std::unexpected(pid.error());
  }
  CommandResult r;
  const int64_t deadline = MonotonicUs() + timeout_us;
  bool open = true, killed = false;
  char buf[4096];
  int status = 0;
  while (true) {
    const int64_t left = deadline - MonotonicUs();
    if (left <= 0 || r.too_long) {
      if (!r.too_long) r.timed_out = true;
      kill(-*pid, SIGKILL);
      killed = true;
    }
    if (open && !killed) {
      pollfd p{fds[0], POLLIN, 0};
      int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left / 1000 + 1, 100)));
      if (n < 0 && errno != EINTR) break;
      if (n > 0) {
        ssize_t got = read(fds[0], buf, sizeof(buf));
        if (got > 0) {
          r.out.append(buf, static_cast<size_t>(got));
          if (r.out.size() > max_bytes) r.too_long = true;
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          open = false;
        }
      }
      continue;
    }
    // Output closed (or the command was killed): wait for its exit, up to the deadline.
    pid_t w = waitpid(*pid, &status, killed ? 0 : WNOHANG);
    if (w == *pid) break;
    if (w < 0 && errno != EINTR) break;
    struct timespec ts = {0, 5'000'000};
    nanosleep(&ts, nullptr);
  }
  close(fds[0]);
  if (WIFEXITED(status) && !killed) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  if (killed) r.out.clear();  // never hand back part of a value
  return r;
}

}  // namespace sluice
