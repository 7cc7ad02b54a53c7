// The POSIX process launcher: vfork and execve, process groups, and log files the children
// write into directly. The only file that spawns processes.
//
// Why files and not pipes: output through pipes passed through this process, and each exit then
// woke it up to three times (the two pipes closing, then SIGCHLD); with files it is one wakeup,
// a task's output is in its log as it is written, and a task outlives a killed Sluice without
// SIGPIPE. (The local executor renames empty logs of ended attempts for the next one, so that
// creating files costs no inodes.)
// The one exception is an attempt that holds secrets (SpawnRequest::mask): its output comes
// through two pipes that Wait() reads, masks and appends to its log files, so that a value it
// prints never lands on disk. Those attempts pay the wakeups; all others keep the direct files.
// SIGCHLD, SIGINT, SIGTERM and SIGHUP stay blocked and arrive through a signalfd, so there are
// no signal handlers and no race between "check" and "sleep".
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
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
    for (auto& [pid, p] : piped_) {
      for (auto& st : p.streams) Copy(st, 0, true);
    }
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
    // Masked output: the child writes into pipes, and the logs stay open here.
    int pipes[2][2] = {{-1, -1}, {-1, -1}};
    if (req.mask && (pipe2(pipes[0], O_CLOEXEC) != 0 || pipe2(pipes[1], O_CLOEXEC) != 0)) {
      int e = errno;
      for (auto& p : pipes) {
        for (int fd : p) {
          if (fd >= 0) close(fd);
        }
      }
      close(out);
      close(err);
      return Fail(ErrorCode::kIo, "cannot create a pipe: {}", strerror(e));
    }
    const int child_out = req.mask ? pipes[0][1] : out;
    const int child_err = req.mask ? pipes[1][1] : err;
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
                   req.cwd.empty() ? nullptr : req.cwd.c_str(), child_out, child_err,
                   reset_.data(), reset_.size(), child_umask_, &child_error};

    // vfork rather than posix_spawn: glibc's child asks for and resets the disposition of all
    // 64 signals (~130 system calls, while this process waits) and the parent maps and unmaps a
    // stack for it; this child makes the handful of calls it needs.
    pid_t pid = vfork();
    if (pid == 0) RunChild(plan);
    int spawn_error = pid < 0 ? errno : child_error;
    if (req.mask) {
      close(pipes[0][1]);
      close(pipes[1][1]);
      if (pid > 0 && spawn_error == 0) {
        fcntl(pipes[0][0], F_SETFL, O_NONBLOCK);
        fcntl(pipes[1][0], F_SETFL, O_NONBLOCK);
        piped_.emplace(pid, Piped{{Stream{pipes[0][0], out, MaskStream(req.mask)},
                                   Stream{pipes[1][0], err, MaskStream(req.mask)}}});
      } else {
        close(pipes[0][0]);
        close(pipes[1][0]);
        close(out);
        close(err);
      }
    } else {
      close(out);
      close(err);
    }
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
    const int64_t deadline = timeout_us < 0 ? -1 : MonotonicUs() + timeout_us;
    std::vector<pollfd> fds;
    while (true) {
      fds.assign(1, pollfd{sigfd_, POLLIN, 0});
      for (const auto& [pid, p] : piped_) {
        for (const auto& st : p.streams) {
          if (st.pipe >= 0) fds.push_back(pollfd{st.pipe, POLLIN, 0});
        }
      }
      int ms = -1;
      if (deadline >= 0) ms = static_cast<int>(std::max<int64_t>(0, (deadline - MonotonicUs() + 999) / 1000));
      int n = poll(fds.data(), fds.size(), ms);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return r;
      if (n > 0 && fds.size() > 1) CopyPipes(fds);
      if (fds[0].revents & POLLIN) {
        signalfd_siginfo info;
        while (read(sigfd_, &info, sizeof(info)) == sizeof(info)) {
          if (info.ssi_signo != SIGCHLD) r.interrupted = true;
        }
        Reap(&r);
      }
      // A SIGCHLD of a child reaped already (one that failed to start), or output of a masked
      // attempt: keep waiting until an exit, an interrupt or the timeout.
      if (!r.exits.empty() || r.interrupted) return r;
      if (deadline >= 0 && (n == 0 || MonotonicUs() >= deadline)) return r;
    }
  }

 private:
  static int OpenLog(const std::string& path) {
    return open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);  // as the umask allows
  }

  // One output of a masked attempt: its pipe (-1 once closed), its log, and the masking state.
  struct Stream {
    int pipe;
    int log;
    MaskStream mask;
  };
  struct Piped {
    Stream streams[2];  // stdout, stderr
  };

  static int64_t MonotonicUs() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
  }

  // Reads what is waiting in `st`'s pipe (up to `max_reads` reads) into its log, masked. At end
  // of file, or with `finish`, the stream is over: the rest is written and both ends closed.
  static void Copy(Stream& st, int max_reads, bool finish) {
    char buf[1 << 16];
    std::string out;
    bool eof = false;
    for (int i = 0; i < max_reads && st.pipe >= 0; ++i) {
      ssize_t n = read(st.pipe, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
      out.clear();
      st.mask.Feed(std::string_view(buf, static_cast<size_t>(n)), &out);
      WriteAll(st.log, out);
    }
    if ((eof || finish) && st.pipe >= 0) {
      out.clear();
      st.mask.Finish(&out);
      WriteAll(st.log, out);
      close(st.pipe);
      close(st.log);
      st.pipe = st.log = -1;
    }
  }

  static void WriteAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = write(fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk: the log is cut short, never left unmasked
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Copies the pipes that poll found readable (fds[1..], in piped_'s order).
  void CopyPipes(const std::vector<pollfd>& fds) {
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      for (auto& [pid, p] : piped_) {
        for (auto& st : p.streams) {
          if (st.pipe == fds[i].fd) Copy(st, 4, false);
        }
      }
    }
  }

  // The attempt `pid` exited: everything it wrote is in its pipes, so they are drained and
  // closed (what its leftover processes write later is dropped with them).
  void FinishPiped(pid_t pid) {
    auto it = piped_.find(pid);
    if (it == piped_.end()) return;
    for (auto& st : it->second.streams) Copy(st, 64, true);
    piped_.erase(it);
  }

  void Reap(WaitResult* r) {
    while (true) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      FinishPiped(pid);
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
  std::map<int, Piped> piped_;  // masked attempts still running, by pid
  int child_umask_;
};

}  // namespace

std::unique_ptr<ProcessLauncher> NewPosixProcessLauncher(int child_umask) {
  return std::make_unique<PosixProcessLauncher>(child_umask);
}

}  // namespace sluice
