// The POSIX process launcher: vfork and execve, process groups, and log files the children
// write into directly. The only file that spawns processes.
//
// Why files and not pipes: output through pipes passed through this process, and each exit then
// woke it up to three times (the two pipes closing, then SIGCHLD); with files it is one wakeup,
// a task's output is in its log as it is written, and a task outlives a killed Sluice without
// SIGPIPE. (The local executor renames empty logs of ended attempts for the next one, so that
// creating files costs no inodes.)
// SIGCHLD, SIGINT, SIGTERM and SIGHUP stay blocked and arrive through a signalfd, so there are
// no signal handlers and no race between "check" and "sleep".
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "env/env.h"

namespace sluice {
namespace {

// What a child does between vfork() and execve(), all prepared by the parent: the child only
// makes system calls on these, never allocates or writes memory other than `*error` (the
// parent's, shared under vfork) — what async-signal-safety demands of a vfork child.
struct ChildPlan {
  const char* const* candidates;  // the program's possible paths, in PATH order
  size_t n_candidates;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: the parent's
  int out_fd, err_fd;
  const int* reset;  // signals to set back to SIG_DFL
  size_t n_reset;
  int file_mask;  // the file mode creation mask the program gets; < 0: this process's
  volatile int* error;
};

// Puts `fd` at `target` for the program (without FD_CLOEXEC).
bool MoveFd(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0) == 0;
  return dup2(fd, target) == target;
}

// Runs in the child. Not instrumented: under vfork the child runs on the parent's stack, and
// the sanitizers' bookkeeping there would be the parent's.
[[noreturn]] __attribute__((noinline, no_sanitize("address", "undefined"))) void RunChild(
    const ChildPlan& p) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (size_t i = 0; i < p.n_reset; ++i) sigaction(p.reset[i], &dfl, nullptr);
  if (p.file_mask >= 0) umask(static_cast<mode_t>(p.file_mask));
  sigset_t none;
  sigemptyset(&none);
  int in = -1;
  // Signals are unblocked last, once the child is in its own process group: a Ctrl-C meant
  // for Sluice never reaches a child that has not started its program yet.
  bool ok = setpgid(0, 0) == 0 && (in = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 &&
            MoveFd(in, 0) && MoveFd(p.out_fd, 1) && MoveFd(p.err_fd, 2) &&
            (!p.cwd || chdir(p.cwd) == 0) && sigprocmask(SIG_SETMASK, &none, nullptr) == 0;
  int err = ok ? ENOENT : errno;
  for (size_t i = 0; ok && i < p.n_candidates; ++i) {
    execve(p.candidates[i], p.argv, p.envp);
    // Like execvp: a later directory may hold a program by the same name that can run, and
    // "permission denied" wins over "no such file" when none could.
    if (errno == EACCES) {
      err = EACCES;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      err = errno;
      break;
    }
  }
  *p.error = err;
  _exit(127);
}

class PosixProcessLauncher : public ProcessLauncher {
 public:
  explicit PosixProcessLauncher(int child_umask) : child_umask_(child_umask) {
    sigemptyset(&waited_);
    sigaddset(&waited_, SIGCHLD);
    sigaddset(&waited_, SIGINT);
    sigaddset(&waited_, SIGTERM);
    // A closed terminal cancels the run cleanly like Ctrl-C, unless the user asked for it to
    // survive (nohup sets SIGHUP to ignored, and an ignored signal is never delivered).
    struct sigaction hup;
    if (sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler != SIG_IGN) sigaddset(&waited_, SIGHUP);
    sigprocmask(SIG_BLOCK, &waited_, &old_mask_);
    sigfd_ = signalfd(-1, &waited_, SFD_NONBLOCK | SFD_CLOEXEC);
    // What a task starts with: these signals at their default disposition, even when this
    // process ignores them (nohup, a shell's SIGPIPE); others as inherited, as with exec.
    for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGQUIT, SIGHUP}) {
      struct sigaction sa;
      if (sigaction(s, nullptr, &sa) != 0 || sa.sa_handler != SIG_DFL) reset_.push_back(s);
    }
    // Where programs named without a '/' are looked for: this process's PATH, read once.
    const char* env = std::getenv("PATH");
    std::string_view dirs = env ? env : "/bin:/usr/bin";  // glibc's default
    while (true) {
      size_t colon = dirs.find(':');
      std::string_view dir = dirs.substr(0, colon);
      path_dirs_.push_back(dir.empty() ? std::string(".") : std::string(dir));
      if (colon == std::string_view::npos) break;
      dirs.remove_prefix(colon + 1);
    }
  }

  ~PosixProcessLauncher() override {
    if (sigfd_ >= 0) close(sigfd_);
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  Result<int> Spawn(const SpawnRequest& req) override {
    const int out = OpenLog(req.stdout_path);
    if (out < 0) return Fail(ErrorCode::kIo, "cannot create {}: {}", req.stdout_path, strerror(errno));
    const int err = OpenLog(req.stderr_path);
    if (err < 0) {
      int e = errno;
      close(out);
      return Fail(ErrorCode::kIo, "cannot create {}: {}", req.stderr_path, strerror(e));
    }
    std::vector<char*> argv, envp;
    for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : req.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    // The PATH search, as execvp does it, prepared here rather than in the child.
    std::vector<std::string> paths;
    const std::string& name = req.argv[0];
    if (name.find('/') != std::string::npos) {
      paths.push_back(name);
    } else {
      for (const auto& dir : path_dirs_) paths.push_back(dir + "/" + name);
    }
    std::vector<const char*> candidates;
    for (const auto& c : paths) candidates.push_back(c.c_str());
    volatile int child_error = 0;
    ChildPlan plan{candidates.data(), candidates.size(), argv.data(), envp.data(),
                   req.cwd.empty() ? nullptr : req.cwd.c_str(), out, err,
                   reset_.data(), reset_.size(), child_umask_, &child_error};

    // vfork rather than posix_spawn: glibc's child asks for and resets the disposition of all
    // 64 signals (~130 system calls, while this process waits) and the parent maps and unmaps a
    // stack for it; this child makes the handful of calls it needs.
    pid_t pid = vfork();
    if (pid == 0) RunChild(plan);
    int spawn_error = pid < 0 ? errno : child_error;
    close(out);
    close(err);
    if (pid > 0 && spawn_error != 0) {
      int status;
      waitpid(pid, &status, 0);  // the child exited without running the program
    }
    if (spawn_error != 0) {
      return Fail(ErrorCode::kIo, "cannot start {}: {}", req.argv[0], strerror(spawn_error));
    }
    return pid;
  }

  void SignalGroup(int pid, int sig) override {
    if (pid > 0) kill(-pid, sig);
  }

  bool GroupAlive(int pid) override { return pid > 0 && (kill(-pid, 0) == 0 || errno == EPERM); }

  WaitResult Wait(int64_t timeout_us) override {
    WaitResult r;
    Reap(&r);
    if (!r.exits.empty()) return r;
    while (true) {
      pollfd fd{sigfd_, POLLIN, 0};
      int ms = timeout_us < 0 ? -1 : static_cast<int>((timeout_us + 999) / 1000);
      int n = poll(&fd, 1, ms);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return r;  // timed out
      signalfd_siginfo info;
      while (read(sigfd_, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo != SIGCHLD) r.interrupted = true;
      }
      Reap(&r);
      // A SIGCHLD of a child reaped already (one that failed to start): keep waiting.
      if (!r.exits.empty() || r.interrupted || timeout_us >= 0) return r;
    }
  }

 private:
  static int OpenLog(const std::string& path) {
    return open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);  // as the umask allows
  }

  void Reap(WaitResult* r) {
    while (true) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      ProcessExit e;
      e.pid = pid;
      if (WIFEXITED(status)) {
        e.exit_code = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        e.signal = WTERMSIG(status);
      }
      r->exits.push_back(e);
    }
  }

  sigset_t waited_;
  sigset_t old_mask_;
  int sigfd_ = -1;
  std::vector<int> reset_;
  std::vector<std::string> path_dirs_;
  int child_umask_;
};

}  // namespace

std::unique_ptr<ProcessLauncher> NewPosixProcessLauncher(int child_umask) {
  return std::make_unique<PosixProcessLauncher>(child_umask);
}

}  // namespace sluice
