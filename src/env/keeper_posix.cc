// The keeper (keeper_posix.h): the split of a process into T, K and E, the lives of T and K,
// and E's side of the table of kept attempts.
#include "env/keeper_posix.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include "env/env.h"

namespace sluice {

enum : int32_t { kFree = 0, kRunning = 1, kEnded = 2, kStarting = 3 };
constexpr uint32_t kSlots = 16384;  // kept attempts running at once; more run unkept
constexpr size_t kPathBytes = 4096 - 4 * sizeof(int32_t);

// One kept attempt. `state` is written last (release) and read first (acquire). While the
// slot is kStarting, `pid` is 0 until the kernel writes the child's pid into it as it creates
// the child (CLONE_PARENT_SETTID, spawn_posix.cc).
struct KeptSlot {
  int32_t state;
  int32_t pid, exit_code, signal;
  char exit_file[kPathBytes];  // NUL-terminated
};
static_assert(sizeof(KeptSlot) == 4096);

// The table E writes and K reads once E is gone: 64 MiB of address space (MAP_NORESERVE), of
// which only the pages of slots ever used are touched (freed slots are reused first).
struct KeptTable {
  uint32_t used;  // slots [0, used) were ever used
  char pad[4096 - sizeof(uint32_t)];
  KeptSlot slots[kSlots];
};

namespace {

template <typename T>
T Load(T& v) {
  return std::atomic_ref<T>(v).load(std::memory_order_acquire);
}
template <typename T>
void Store(T& v, T x) {
  std::atomic_ref<T>(v).store(x, std::memory_order_release);
}

// Moves `fd` above stdio: a process started with stdin closed would get 0 for a pipe.
int AboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return moved;
}

bool SendAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == ENOTSOCK) w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads exactly `n` bytes; false at end of file (or an error) before them.
bool ReadAll(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Writes `data` whole; a temp file renamed over `path`, so readers see all of it or nothing.
void WriteAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return;
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) unlink(tmp.c_str());
}

void WriteExit(const std::string& path, int pid, int code, int sig) {
  WriteAtomically(path, fmt::format("{{\"pid\":{},\"exit_code\":{},\"signal\":{}}}\n", pid, code, sig));
}

// Ends this process as the wait `status` says another ended: with its exit code, or by its
// signal (without a core file: E's, if it left one, is the one to keep).
[[noreturn]] void ExitAs(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    struct rlimit none {};
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, nullptr);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 3);
}

// T's signal forwarding: E's pid once K told it, and a signal that came before.
volatile sig_atomic_t g_engine = 0;
volatile sig_atomic_t g_pending = 0;

void Forward(int sig) {
  if (g_engine > 0) {
    kill(g_engine, sig);
  } else {
    g_pending = sig;
  }
}

// T, the process the shell started, from the split to its exit: K reports E's pid, then E's
// wait status. If K dies first, E (alive) is T's child by then, T being a subreaper too.
[[noreturn]] void RunTop(int keeper, int report) {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct sigaction fwd {};
  fwd.sa_handler = Forward;  // no SA_RESTART: a read it interrupts is simply read again
  sigemptyset(&fwd.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    // An ignored signal (nohup's SIGHUP) stays ignored, as it is in E.
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(sig, &fwd, nullptr);
  }
  int32_t engine = 0, status = 0;
  if (ReadAll(report, &engine, sizeof(engine)) && engine > 0) {
    g_engine = engine;
    if (g_pending) kill(engine, g_pending);
  }
  if (ReadAll(report, &status, sizeof(status))) {
    int st;
    waitpid(keeper, &st, WNOHANG);  // K ends at once unless it keeps attempts
    ExitAs(status);
  }
  while (engine > 0) {
    int st;
    const pid_t p = waitpid(-1, &st, 0);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) break;
    if (p == engine) ExitAs(st);
  }
  std::fprintf(stderr, "sluice: the keeper process died; how the run's process ended is unknown\n");
  _exit(3);
}

// K's: E's pid, and whether it was reaped (so that the pid is no longer E's).
volatile sig_atomic_t g_kept_engine = 0;
volatile sig_atomic_t g_engine_gone = 0;

// K, when T dies (PR_SET_PDEATHSIG): the process the shell started was killed, so the run's
// process is killed too, and its attempts kept as after any crash. E is K's unreaped child
// until g_engine_gone is set, so the pid still names it.
void KillEngine(int) {
  if (!g_engine_gone) kill(g_kept_engine, SIGKILL);
}

// K, from the fork of E to its exit (keeper_posix.h). Owns its descriptors and the table.
class Keeper {
 public:
  Keeper(int engine, int report, int chan, KeptTable* table)
      : engine_(engine), report_(report), chan_(chan), table_(table) {}
  [[noreturn]] void Run(int top);

 private:
  void Detach(int top);
  void TakeFolder();
  int AwaitEngine();
  bool RunningIn(int pid) const;
  void Settle();
  void Serve();
  std::string Path(const char* ext) const { return fmt::format("{}/{}{}", dir_, getpid(), ext); }

  int engine_, report_, chan_;
  KeptTable* table_;
  std::string dir_;                   // the keeper folder E named; "" until then
  std::unique_ptr<FileLock> lock_;    // held until K exits
  std::map<int, std::string> owed_;   // attempts still running -> their exit files
};

void Keeper::Run(int top) {
  Detach(top);
  TakeFolder();
  const int32_t status = AwaitEngine();
  SendAll(report_, &status, sizeof(status));
  close(report_);
  Settle();
  Serve();
  if (!dir_.empty()) {
    unlink(Path(".owed").c_str());
    unlink(Path(".lock").c_str());
  }
  _exit(0);
}

// Out of the terminal's way: its own process group, stdio on /dev/null (nothing of sluice's
// stays open here, such as a pipe a caller reads sluice's output from), terminal signals ignored.
void Keeper::Detach(int top) {
  prctl(PR_SET_NAME, "sluice-keeper");
  setpgid(0, 0);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3 && null >= 0; ++fd) dup2(null, fd);
  if (null > 2) close(null);
  const int lo = std::min(report_, chan_), hi = std::max(report_, chan_);
  close_range(3, lo - 1, 0);
  close_range(lo + 1, hi - 1, 0);
  close_range(hi + 1, ~0U, 0);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int s : {SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) sigaction(s, &ign, nullptr);
  g_kept_engine = engine_;
  struct sigaction die {};
  die.sa_handler = KillEngine;
  sigemptyset(&die.sa_mask);
  sigaction(SIGUSR1, &die, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (getppid() != top) KillEngine(0);  // T died before that
}

// The keeper folder E names once it knows its run (or nothing: E ended first, or runs no
// attempt). K takes its lock there and answers, so that E keeps no attempt before it is held.
void Keeper::TakeFolder() {
  std::string msg;
  char buf[PIPE_BUF];
  while (msg.empty() || msg.back() != '\n') {
    ssize_t n = read(chan_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  // "UMASK DIR\n": E's file mode creation mask, which the folder and lock are made under.
  const size_t space = msg.find(' ');
  char ok = '0';
  if (!msg.empty() && msg.back() == '\n' && space != std::string::npos) {
    umask(static_cast<mode_t>(std::strtol(msg.c_str(), nullptr, 8)));
    dir_ = msg.substr(space + 1, msg.size() - space - 2);
    mkdir(dir_.c_str(), 0777);
    auto lock = TryLockFile(Path(".lock"), std::to_string(engine_));
    if (lock && *lock) {
      lock_ = std::move(*lock);
      ok = '1';
    } else {
      dir_.clear();
    }
    SendAll(chan_, &ok, 1);
  }
  close(chan_);
}

// Reaps what ends until E does; returns E's wait status. Anything else that ends meanwhile is
// an orphan of a task (E kills what an ended attempt leaves in its group): reaped, never kept.
int Keeper::AwaitEngine() {
  siginfo_t si{};
  while (true) {
    si = {};
    if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      return 3 << 8;  // no child at all: cannot be while E is one
    }
    if (si.si_pid == engine_) break;
    // A running attempt of E's is K's child only once E is dying: wait for E itself.
    if (RunningIn(si.si_pid)) {
      while (waitid(P_PID, engine_, &si, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
      }
      break;
    }
    int st;
    waitpid(si.si_pid, &st, 0);
  }
  g_engine_gone = 1;
  int status = 0;
  while (waitpid(engine_, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Whether the slot names an attempt that may be running: started, or being started with its
// pid already written by the kernel.
bool MayRun(KeptSlot& s) {
  const int32_t state = Load(s.state);
  return (state == kRunning || state == kStarting) && Load(s.pid) > 0;
}

bool Keeper::RunningIn(int pid) const {
  const uint32_t used = std::min(Load(table_->used), kSlots);
  for (uint32_t i = 0; i < used; ++i) {
    if (MayRun(table_->slots[i]) && Load(table_->slots[i].pid) == pid) return true;
  }
  return false;
}

// E is gone: the ends it saw and did not record are written; the attempts still running that
// are K's children now are owed, and listed.
void Keeper::Settle() {
  const uint32_t used = std::min(Load(table_->used), kSlots);
  for (uint32_t i = 0; i < used && !dir_.empty(); ++i) {
    KeptSlot& s = table_->slots[i];
    const int32_t state = Load(s.state);
    const std::string path(s.exit_file, strnlen(s.exit_file, kPathBytes));
    if (state == kFree || path.empty()) continue;
    if (state == kEnded) {
      WriteExit(path, s.pid, s.exit_code, s.signal);
      continue;
    }
    // Only K's own child is waited for, whatever the table says.
    siginfo_t si{};
    if (MayRun(s) && waitid(P_PID, s.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
      owed_[s.pid] = path;
    }
  }
  munmap(table_, sizeof(KeptTable));
  if (owed_.empty()) return;
  std::string owed;
  for (const auto& [pid, path] : owed_) owed += fmt::format("{} {}\n", pid, path);
  WriteAtomically(Path(".owed"), owed);
}

// Until the last owed attempt ended: each one's leftovers in its group are killed while its
// zombie still holds the pid (so the group id is still its own), then its exit is written.
void Keeper::Serve() {
  while (!owed_.empty()) {
    siginfo_t si{};
    if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      return;
    }
    const int pid = si.si_pid;
    if (auto it = owed_.find(pid); it != owed_.end()) {
      kill(-pid, SIGKILL);
      const bool exited = si.si_code == CLD_EXITED;
      WriteExit(it->second, pid, exited ? si.si_status : -1, exited ? 0 : si.si_status);
      owed_.erase(it);
    }
    int st;
    waitpid(pid, &st, 0);
  }
}

}  // namespace

Result<std::unique_ptr<KeeperLink>> KeeperLink::Split() {
  int report[2] = {-1, -1}, chan[2] = {-1, -1};
  void* mem = MAP_FAILED;
  auto undo = [&](const char* what) {
    const int e = errno;
    for (int fd : {report[0], report[1], chan[0], chan[1]}) {
      if (fd >= 0) close(fd);
    }
    if (mem != MAP_FAILED) munmap(mem, sizeof(KeptTable));
    return Fail(ErrorCode::kIo, "cannot start the keeper: {}: {}", what, strerror(e));
  };
  if (pipe2(report, O_CLOEXEC) != 0) return undo("pipe");
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) != 0) return undo("socketpair");
  for (int* fd : {&report[0], &report[1], &chan[0], &chan[1]}) *fd = AboveStdio(*fd);
  mem = mmap(nullptr, sizeof(KeptTable), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return undo("mmap");
  auto* table = static_cast<KeptTable*>(mem);
  // Children are waited for here (an ignored SIGCHLD, inherited through exec, would have the
  // kernel reap them unseen); E inherits the default too.
  signal(SIGCHLD, SIG_DFL);
  const pid_t top = getpid();
  const pid_t keeper = fork();
  if (keeper < 0) return undo("fork");
  if (keeper > 0) {
    for (int fd : {report[1], chan[0], chan[1]}) close(fd);
    munmap(mem, sizeof(KeptTable));
    RunTop(keeper, report[0]);
  }
  close(report[0]);
  prctl(PR_SET_CHILD_SUBREAPER, 1);  // E's orphans, its attempts above all, come to K
  const pid_t engine = fork();
  if (engine == 0) {
    close(report[1]);
    close(chan[0]);
    return std::unique_ptr<KeeperLink>(new KeeperLink(table, chan[1]));
  }
  close(chan[1]);
  const int32_t told = engine > 0 ? engine : 0;
  SendAll(report[1], &told, sizeof(told));
  if (engine < 0) {
    std::fprintf(stderr, "sluice: cannot start: fork: %s\n", strerror(errno));
    const int32_t failed = 3 << 8;
    SendAll(report[1], &failed, sizeof(failed));
    _exit(0);
  }
  Keeper(engine, report[1], chan[0], table).Run(top);
}

KeeperLink::~KeeperLink() {
  if (chan_ >= 0) close(chan_);
  munmap(table_, sizeof(KeptTable));
}

void KeeperLink::KeepIn(const std::string& dir) {
  if (state_ != State::kUnasked) return;
  const mode_t mask = umask(0);
  umask(mask);
  const std::string msg = fmt::format("{:o} {}\n", mask, dir);
  state_ = msg.size() <= PIPE_BUF && SendAll(chan_, msg.data(), msg.size()) ? State::kAsked
                                                                                : State::kRefused;
}

bool KeeperLink::Ready() {
  if (state_ == State::kAsked) {
    char ok = 0;
    state_ = ReadAll(chan_, &ok, 1) && ok == '1' ? State::kReady : State::kRefused;
    close(chan_);
    chan_ = -1;
  }
  return state_ == State::kReady;
}

int32_t* KeeperLink::Reserve(const std::string& exit_file) {
  if (exit_file.size() >= kPathBytes) return nullptr;
  uint32_t i;
  if (!free_.empty()) {
    i = free_.back();
    free_.pop_back();
  } else {
    if (table_->used >= kSlots) return nullptr;
    i = table_->used;
    Store(table_->used, i + 1);
  }
  KeptSlot& s = table_->slots[i];
  Store(s.pid, 0);
  s.exit_code = -1;
  s.signal = 0;
  std::memcpy(s.exit_file, exit_file.c_str(), exit_file.size() + 1);
  Store(s.state, int32_t{kStarting});
  reserved_ = i;
  return &s.pid;
}

void KeeperLink::Started(int pid) {
  const uint32_t i = reserved_;
  KeptSlot& s = table_->slots[i];
  if (pid <= 0) {
    Store(s.state, int32_t{kFree});
    free_.push_back(i);
    return;
  }
  Store(s.pid, pid);  // what the kernel wrote already
  Store(s.state, int32_t{kRunning});
  slots_[pid] = i;
}

void KeeperLink::Ended(int pid, int exit_code, int signal) {
  auto it = slots_.find(pid);
  if (it == slots_.end()) return;
  KeptSlot& s = table_->slots[it->second];
  s.exit_code = exit_code;
  s.signal = signal;
  Store(s.state, int32_t{kEnded});
  ended_.push_back(it->second);
  slots_.erase(it);
}

void KeeperLink::Recorded() {
  for (uint32_t i : ended_) {
    Store(table_->slots[i].state, int32_t{kFree});
    free_.push_back(i);
  }
  ended_.clear();
}

}  // namespace sluice
