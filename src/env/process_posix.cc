// The POSIX process launcher: vfork and execve (spawn_posix.cc), process groups, and log files
// the children write into directly. This process starts and reaps its attempts itself; an
// attempt with an exit file is also written into the table this process shares with its keeper
// (keeper_posix.h), which becomes the attempt's parent, and writes its exit file, only if this
// process dies.
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
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>
#include <vector>

#include "env/env.h"
#include "env/keeper_posix.h"
#include "env/spawn_posix.h"

namespace sluice {
namespace {

// The guardian of DieWithThisProcess: a child that reads "+PID"/"-PID" lines from a pipe whose
// only write end this process holds (close-on-exec, so no attempt inherits it), and kills each
// group still listed once the pipe reads end of file, which happens exactly when this process
// is gone, whatever ended it. Why a pipe and not PR_SET_PDEATHSIG on each attempt: that signal
// reaches only the attempt's first process, not the shell's children in its group. The child
// allocates nothing (the caller may have started threads in libraries): the groups live in a
// fixed array. Returns the write end.
Result<int> StartGuardian() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Fail(ErrorCode::kIo, "cannot create a pipe: {}", strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(fds[0]);
    close(fds[1]);
    return Fail(ErrorCode::kIo, "cannot start the attempts' guardian: {}", strerror(e));
  }
  if (pid > 0) {
    close(fds[0]);
    return fds[1];
  }
  setpgid(0, 0);  // a Ctrl-C for the worker's group is not for it; signals stay blocked
  const int null_fd = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3 && null_fd >= 0; ++fd) dup2(null_fd, fd);
  dup2(fds[0], 3);
  close_range(4, ~0U, 0);
  static int groups[1 << 16];
  size_t n = 0;
  char buf[4096];
  char line[32];
  size_t len = 0;
  while (true) {
    const ssize_t got = read(3, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    for (ssize_t k = 0; k < got; ++k) {
      if (buf[k] != '\n') {
        if (len < sizeof(line) - 1) line[len++] = buf[k];
        continue;
      }
      line[len] = 0;
      const int g = atoi(line + 1);
      if (line[0] == '+' && g > 0 && n < sizeof(groups) / sizeof(groups[0])) groups[n++] = g;
      if (line[0] == '-') {
        for (size_t j = 0; j < n; ++j) {
          if (groups[j] == g) groups[j] = groups[--n];
        }
      }
      len = 0;
    }
  }
  for (size_t j = 0; j < n; ++j) kill(-groups[j], SIGKILL);
  _exit(0);
}

class PosixProcessLauncher : public ProcessLauncher {
 public:
  PosixProcessLauncher(int child_umask, KeeperLink* keeper) : keeper_(keeper) {
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
    setup_ = CurrentSpawnSetup(child_umask);
  }

  ~PosixProcessLauncher() override {
    for (auto& [pid, p] : piped_) {
      for (auto& st : p.streams) Copy(st, 0, true);
    }
    if (sigfd_ >= 0) close(sigfd_);
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  Result<int> Spawn(const SpawnRequest& req) override {
    // Asked before the start: the first time, K's answer may still be on its way.
    const bool kept = keeper_ && !req.mask && !req.exit_file.empty() && keeper_->Ready();
    const int out = OpenLogFile(req.stdout_path);
    if (out < 0) return Fail(ErrorCode::kIo, "cannot create {}: {}", req.stdout_path, strerror(errno));
    const int err = OpenLogFile(req.stderr_path);
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
    int32_t* slot = kept ? keeper_->Reserve(req.exit_file) : nullptr;
    Result<int> pid = SpawnProgram(setup_, req.argv, req.env, req.cwd,
                                   req.mask ? pipes[0][1] : out, req.mask ? pipes[1][1] : err, slot);
    if (slot) keeper_->Started(pid ? *pid : 0);
    if (pid) TellGuardian('+', *pid);
    if (req.mask) {
      close(pipes[0][1]);
      close(pipes[1][1]);
      if (pid) {
        fcntl(pipes[0][0], F_SETFL, O_NONBLOCK);
        fcntl(pipes[1][0], F_SETFL, O_NONBLOCK);
        piped_.emplace(*pid, Piped{{Stream{pipes[0][0], out, MaskStream(req.mask)},
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
    return pid;
  }

  void PrepareKeeper(const std::string& keeper_dir) override {
    if (keeper_) keeper_->KeepIn(keeper_dir);
  }

  void ExitsRecorded() override {
    if (keeper_) keeper_->Recorded();
  }

  void AwaitKeeper() override {
    if (keeper_) (void)keeper_->Ready();
  }

  Status DieWithThisProcess() override {
    if (guard_fd_ >= 0) return {};
    auto fd = StartGuardian();
    if (!fd) return std::unexpected(fd.error());
    guard_fd_ = *fd;
    // A guardian that died (killed by hand, the OOM killer) must not take this process with it
    // at the next write: the write fails with EPIPE instead (attempts start with SIGPIPE at its
    // default again).
    signal(SIGPIPE, SIG_IGN);
    if (std::find(setup_.reset.begin(), setup_.reset.end(), SIGPIPE) == setup_.reset.end()) {
      setup_.reset.push_back(SIGPIPE);
    }
    return {};
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
      // The signals, then the pipes of masked attempts.
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
      if (n > 0 && fds.size() > 1) CopyPipes(fds, 1);
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

  // Copies the pipes that poll found readable (fds[first..], in piped_'s order).
  void CopyPipes(const std::vector<pollfd>& fds, size_t first) {
    for (size_t i = first; i < fds.size(); ++i) {
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

  // Every child that ended: seen first without reaping it (WNOWAIT), so that while its zombie
  // still holds the pid, and so the group id, whatever it left in its group is killed and its
  // end goes into the keeper's table; reaped only then.
  void Reap(WaitResult* r) {
    while (true) {
      siginfo_t si{};
      if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) return;
      const pid_t pid = si.si_pid;
      ProcessExit e;
      e.pid = pid;
      if (si.si_code == CLD_EXITED) {
        e.exit_code = si.si_status;
      } else {
        e.signal = si.si_status;
      }
      kill(-pid, SIGKILL);
      if (keeper_) keeper_->Ended(pid, e.exit_code, e.signal);
      int status;
      waitpid(pid, &status, 0);
      TellGuardian('-', pid);
      FinishPiped(pid);
      r->exits.push_back(e);
    }
  }

  // "+PID" when group PID starts, "-PID" once reaped; a short line to a pipe is written whole.
  void TellGuardian(char what, int pid) {
    if (guard_fd_ < 0) return;
    char line[16];
    const int n = snprintf(line, sizeof(line), "%c%d\n", what, pid);
    ssize_t w;
    while ((w = write(guard_fd_, line, static_cast<size_t>(n))) < 0 && errno == EINTR) {
    }
    if (w < 0 && errno == EPIPE) {  // the guardian is gone: nothing more to tell it
      close(guard_fd_);
      guard_fd_ = -1;
    }
  }

  sigset_t waited_;
  sigset_t old_mask_;
  int guard_fd_ = -1;  // the write end of the guardian's pipe (DieWithThisProcess), or -1
  int sigfd_ = -1;
  SpawnSetup setup_;
  KeeperLink* keeper_;          // the Env's; null when this process has no keeper
  std::map<int, Piped> piped_;  // masked attempts still running, by pid
};

}  // namespace

std::unique_ptr<ProcessLauncher> NewPosixProcessLauncher(int child_umask, KeeperLink* keeper) {
  return std::make_unique<PosixProcessLauncher>(child_umask, keeper);
}

}  // namespace sluice
