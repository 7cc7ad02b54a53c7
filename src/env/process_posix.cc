// The POSIX process launcher: vfork and execve, process groups, and output pumped from pipes into
// log files that are created only when output arrives. The only file that spawns processes.
//
// Why pipes and not files opened for the child: on the machines measured here creating a file
// costs ~220 us, and a task that prints nothing (most join points, most `touch`-like steps) then
// creates no log at all. The price is that output now passes through this process.
// SIGCHLD, SIGINT, SIGTERM and SIGHUP stay blocked and arrive through a signalfd polled with
// the pipes, so there are no signal handlers and no race between "check" and "sleep".
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
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
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (size_t i = 0; i < p.n_reset; ++i) sigaction(p.reset[i], &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  int in = -1;
  bool ok = sigprocmask(SIG_SETMASK, &none, nullptr) == 0 && setpgid(0, 0) == 0 &&
            (in = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && MoveFd(in, 0) &&
            MoveFd(p.out_fd, 1) && MoveFd(p.err_fd, 2) && (!p.cwd || chdir(p.cwd) == 0);
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

// One output stream of a running child: the pipe's read end and the log it fills.
struct Stream {
  int pid = 0;
  std::string path;
  int file = -1;  // opened on the first bytes
};

class PosixProcessLauncher : public ProcessLauncher {
 public:
  PosixProcessLauncher() {
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
  }

  ~PosixProcessLauncher() override {
    for (auto& [fd, s] : streams_) Close(fd, &s);
    if (sigfd_ >= 0) close(sigfd_);
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  Result<int> Spawn(const SpawnRequest& req) override {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0) return Fail(ErrorCode::kIo, "pipe: {}", strerror(errno));
    if (pipe2(err, O_CLOEXEC) != 0) {
      int e = errno;
      close(out[0]);
      close(out[1]);
      return Fail(ErrorCode::kIo, "pipe: {}", strerror(e));
    }
    std::vector<char*> argv, envp;
    for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : req.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    // The PATH search, as execvp does it (this process's PATH), done here rather than in the
    // child.
    std::vector<std::string> paths;
    const std::string& name = req.argv[0];
    if (name.find('/') != std::string::npos) {
      paths.push_back(name);
    } else {
      const char* env = std::getenv("PATH");
      std::string_view dirs = env ? env : "/bin:/usr/bin";  // glibc's default
      while (true) {
        size_t colon = dirs.find(':');
        std::string_view dir = dirs.substr(0, colon);
        paths.push_back((dir.empty() ? std::string(".") : std::string(dir)) + "/" + name);
        if (colon == std::string_view::npos) break;
        dirs.remove_prefix(colon + 1);
      }
    }
    std::vector<const char*> candidates;
    for (const auto& c : paths) candidates.push_back(c.c_str());
    volatile int child_error = 0;
    ChildPlan plan{candidates.data(), candidates.size(), argv.data(), envp.data(),
                   req.cwd.empty() ? nullptr : req.cwd.c_str(), out[1], err[1],
                   reset_.data(), reset_.size(), &child_error};

    // vfork rather than posix_spawn: glibc's child asks for and resets the disposition of all
    // 64 signals (~130 system calls, while this process waits) and the parent maps and unmaps a
    // stack for it; this child makes the handful of calls it needs.
    pid_t pid = vfork();
    if (pid == 0) RunChild(plan);
    int spawn_error = pid < 0 ? errno : child_error;
    close(out[1]);
    close(err[1]);
    if (pid > 0 && spawn_error != 0) {
      int status;
      waitpid(pid, &status, 0);  // the child exited without running the program
    }
    if (spawn_error != 0) {
      close(out[0]);
      close(err[0]);
      return Fail(ErrorCode::kIo, "cannot start {}: {}", req.argv[0], strerror(spawn_error));
    }
    for (auto [fd, path] : {std::pair{out[0], req.stdout_path}, std::pair{err[0], req.stderr_path}}) {
      fcntl(fd, F_SETFL, O_NONBLOCK);
      streams_[fd] = Stream{pid, path, -1};
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
      std::vector<pollfd> fds;
      fds.push_back({sigfd_, POLLIN, 0});
      for (const auto& [fd, s] : streams_) fds.push_back({fd, POLLIN, 0});
      int ms = timeout_us < 0 ? -1 : static_cast<int>((timeout_us + 999) / 1000);
      int n = poll(fds.data(), fds.size(), ms);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return r;  // timed out
      for (size_t k = 1; k < fds.size(); ++k) {
        if (fds[k].revents) Pump(fds[k].fd);
      }
      if (fds[0].revents & POLLIN) {
        signalfd_siginfo info;
        while (read(sigfd_, &info, sizeof(info)) == sizeof(info)) {
          if (info.ssi_signo != SIGCHLD) r.interrupted = true;
        }
        Reap(&r);
      }
      if (!r.exits.empty() || r.interrupted) return r;
      // Only output arrived: keep waiting, for what is left of the timeout.
      if (timeout_us >= 0) return r;
    }
  }

 private:
  // Copies what the pipe holds into its log (created on the first bytes); closes it at EOF.
  void Pump(int fd) {
    auto it = streams_.find(fd);
    if (it == streams_.end()) return;
    Stream& s = it->second;
    char buf[65536];
    while (true) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n > 0) {
        if (s.file < 0) s.file = open(s.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        for (ssize_t off = 0; s.file >= 0 && off < n;) {
          ssize_t w = write(s.file, buf + off, static_cast<size_t>(n - off));
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) break;  // a full disk loses output, not the run
          off += w;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;  // drained for now
      Close(fd, &s);  // EOF or error
      streams_.erase(it);
      return;
    }
  }

  void Close(int fd, Stream* s) {
    close(fd);
    if (s->file >= 0) close(s->file);
    s->file = -1;
  }

  // Reaps every exited child, first copying the rest of its output into its logs.
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
      // What a background child of it writes later is dropped: the attempt is over.
      for (auto it = streams_.begin(); it != streams_.end();) {
        if (it->second.pid != pid) {
          ++it;
          continue;
        }
        int fd = it->first;
        Pump(fd);
        auto again = streams_.find(fd);
        if (again != streams_.end()) {
          Close(fd, &again->second);
          streams_.erase(again);
        }
        it = streams_.lower_bound(fd);
      }
      r->exits.push_back(e);
    }
  }

  sigset_t waited_;
  sigset_t old_mask_;
  int sigfd_ = -1;
  std::map<int, Stream> streams_;
  std::vector<int> reset_;  // by pipe read end
};

}  // namespace

std::unique_ptr<ProcessLauncher> NewPosixProcessLauncher() {
  return std::make_unique<PosixProcessLauncher>();
}

}  // namespace sluice
