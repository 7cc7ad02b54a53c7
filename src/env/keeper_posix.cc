// The keeper (keeper_posix.h): the process that starts and waits for a run's attempts, and
// this process's end of it.
#include "env/keeper_posix.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

namespace sluice {
namespace {

enum : uint8_t { kSpawn = 1, kRecorded = 2, kStarted = 3, kExited = 4 };

// Frames: appends fields to a frame, then fixes its length.
class FrameWriter {
 public:
  explicit FrameWriter(uint8_t type) : buf_(4, '\0') { buf_.push_back(static_cast<char>(type)); }
  template <typename T>
  void Put(T v) {
    buf_.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  void Str(std::string_view s) {
    Put(static_cast<uint32_t>(s.size()));
    buf_.append(s);
  }
  void List(const std::vector<std::string>& l) {
    Put(static_cast<uint32_t>(l.size()));
    for (const auto& s : l) Str(s);
  }
  std::string Done() {
    uint32_t n = static_cast<uint32_t>(buf_.size() - 4);
    std::memcpy(buf_.data(), &n, 4);
    return std::move(buf_);
  }

 private:
  std::string buf_;
};

// Reads the fields of one frame's payload; ok() is false once it read past the end.
class FrameReader {
 public:
  explicit FrameReader(std::string_view p) : p_(p) {}
  template <typename T>
  T Get() {
    T v{};
    if (p_.size() < sizeof(T)) {
      ok_ = false;
      return v;
    }
    std::memcpy(&v, p_.data(), sizeof(T));
    p_.remove_prefix(sizeof(T));
    return v;
  }
  std::string Str() {
    uint32_t n = Get<uint32_t>();
    if (!ok_ || p_.size() < n) {
      ok_ = false;
      return {};
    }
    std::string s(p_.substr(0, n));
    p_.remove_prefix(n);
    return s;
  }
  std::vector<std::string> List() {
    uint32_t n = Get<uint32_t>();
    std::vector<std::string> l;
    for (uint32_t i = 0; ok_ && i < n; ++i) l.push_back(Str());
    return l;
  }
  bool ok() const { return ok_; }

 private:
  std::string_view p_;
  bool ok_ = true;
};

// Splits the whole frames off the front of `in`; calls `f(type, payload)` for each.
template <typename F>
void EachFrame(std::string& in, F&& f) {
  size_t at = 0;
  while (in.size() - at >= 5) {
    uint32_t n;
    std::memcpy(&n, in.data() + at, 4);
    if (in.size() - at - 4 < n) break;
    f(static_cast<uint8_t>(in[at + 4]), std::string_view(in).substr(at + 5, n - 1));
    at += 4 + n;
  }
  in.erase(0, at);
}

// Reads what the socket holds into `in`. False at end of file or on an error.
bool ReadInto(int fd, std::string& in) {
  char buf[1 << 16];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
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

// The keeper process, from the fork to its exit.
class Keeper {
 public:
  Keeper(int sock, std::string dir, SpawnSetup setup)
      : sock_(sock), dir_(std::move(dir)), setup_(std::move(setup)) {}

  [[noreturn]] void Run(const std::string& owner);

 private:
  struct Child {
    std::string exit_file;
  };
  struct Exit {
    uint64_t seq;
    int pid, code, sig;
    std::string exit_file;
  };

  void Serve();
  void Spawn(FrameReader& r);
  void Reap();
  void Disconnect();
  void Flush();
  void Forget(uint64_t recorded) {
    std::erase_if(unacked_, [&](const Exit& e) { return e.seq <= recorded; });
  }
  static void WriteExit(const Exit& e) {
    WriteAtomically(e.exit_file, fmt::format("{{\"pid\":{},\"exit_code\":{},\"signal\":{}}}\n",
                                             e.pid, e.code, e.sig));
  }

  int sock_;
  std::string dir_;
  SpawnSetup setup_;
  int sigfd_ = -1;
  bool connected_ = true;
  std::string in_, out_;
  std::map<int, Child> children_;
  std::vector<Exit> unacked_;  // reported to sluice, not acknowledged yet
  uint64_t seq_ = 0;
};

void Keeper::Run(const std::string& owner) {
  prctl(PR_SET_NAME, "sluice-keeper");
  setpgid(0, 0);  // a Ctrl-C at sluice's terminal is not for it
  // Nothing of sluice's stays open here: not its run's lock (an flock is shared with a fork),
  // not its store, not the pipe a caller reads sluice's output from.
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3 && null >= 0; ++fd) dup2(null, fd);
  if (sock_ != 3) {
    dup2(sock_, 3);
    sock_ = 3;
  }
  close_range(4, ~0U, 0);
  fcntl(sock_, F_SETFD, FD_CLOEXEC);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int s : {SIGINT, SIGHUP, SIGPIPE, SIGQUIT}) sigaction(s, &ign, nullptr);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_SETMASK, &chld, nullptr);  // SIGTERM may end it; SIGCHLD comes by signalfd
  sigfd_ = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  mkdir(dir_.c_str(), 0777);
  // Held until this process ends: `resume` tells a live keeper by it.
  auto lock = TryLockFile(fmt::format("{}/{}.lock", dir_, getpid()), owner);
  Serve();
  const std::string base = fmt::format("{}/{}", dir_, getpid());
  unlink((base + ".owed").c_str());
  unlink((base + ".lock").c_str());
  _exit(0);
}

// Until sluice is gone and every attempt ended: starts what sluice asks, reaps what ends.
void Keeper::Serve() {
  while (connected_ || !children_.empty()) {
    pollfd fds[2] = {{sigfd_, POLLIN, 0}, {connected_ ? sock_ : -1, POLLIN, 0}};
    if (connected_ && !out_.empty()) fds[1].events |= POLLOUT;
    if (poll(fds, 2, -1) < 0 && errno != EINTR) _exit(1);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (read(sigfd_, &info, sizeof(info)) == sizeof(info)) {
      }
      Reap();
    }
    if (connected_ && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      const bool open = ReadInto(sock_, in_);
      EachFrame(in_, [&](uint8_t type, std::string_view payload) {
        FrameReader r(payload);
        if (type == kSpawn) Spawn(r);
        if (type == kRecorded) Forget(r.Get<uint64_t>());
      });
      if (!open) Disconnect();
    }
    if (connected_) Flush();
  }
}

void Keeper::Spawn(FrameReader& r) {
  Forget(r.Get<uint64_t>());
  std::string exit_file = r.Str(), cwd = r.Str(), out_path = r.Str(), err_path = r.Str();
  std::vector<std::string> argv = r.List(), env = r.List();
  FrameWriter reply(kStarted);
  Result<int> pid = Fail(ErrorCode::kIo, "a bad request to the keeper");
  if (r.ok() && !argv.empty()) {
    const int out = OpenLogFile(out_path);
    const int err = out < 0 ? -1 : OpenLogFile(err_path);
    if (out < 0 || err < 0) {
      pid = Fail(ErrorCode::kIo, "cannot create {}: {}", out < 0 ? out_path : err_path,
                 strerror(errno));
    } else {
      pid = SpawnProgram(setup_, argv, env, cwd, out, err);
    }
    // Sluice waits for the answer; closing the logs (slow on ext4 for a file just truncated)
    // can come after it.
    reply.Put<int32_t>(pid ? *pid : 0);
    reply.Str(pid ? "" : pid.error().message);
    out_ += reply.Done();
    Flush();
    if (out >= 0) close(out);
    if (err >= 0) close(err);
  } else {
    reply.Put<int32_t>(0);
    reply.Str(pid.error().message);
    out_ += reply.Done();
  }
  if (pid) children_[*pid] = Child{std::move(exit_file)};
}

// Every ended child: its group's leftovers are killed while its zombie still holds the pid (so
// the group id is still its own), then its end is reported, or written when sluice is gone.
void Keeper::Reap() {
  while (true) {
    siginfo_t si{};
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) return;
    const int pid = si.si_pid;
    kill(-pid, SIGKILL);
    Exit e{0, pid, -1, 0, {}};
    if (si.si_code == CLD_EXITED) {
      e.code = si.si_status;
    } else {
      e.sig = si.si_status;
    }
    auto it = children_.find(pid);
    if (it != children_.end()) e.exit_file = std::move(it->second.exit_file);
    if (!connected_ && !e.exit_file.empty()) WriteExit(e);
    int status;
    waitpid(pid, &status, 0);
    if (it == children_.end()) continue;
    children_.erase(it);
    if (!connected_) continue;
    e.seq = ++seq_;
    FrameWriter f(kExited);
    f.Put<uint64_t>(e.seq);
    f.Put<int32_t>(e.pid);
    f.Put<int32_t>(e.code);
    f.Put<int32_t>(e.sig);
    out_ += f.Done();
    unacked_.push_back(std::move(e));
  }
}

// Sluice is gone: what it may not have recorded is written, then what is still owed.
void Keeper::Disconnect() {
  if (!connected_) return;
  connected_ = false;
  close(sock_);
  out_.clear();
  for (const Exit& e : unacked_) WriteExit(e);
  unacked_.clear();
  if (children_.empty()) return;  // it owes nothing, and ends now
  std::string owed;
  for (const auto& [pid, c] : children_) owed += fmt::format("{} {}\n", pid, c.exit_file);
  WriteAtomically(fmt::format("{}/{}.owed", dir_, getpid()), owed);
}

// Sends what is queued, as far as the socket takes it now (never blocks: sluice may be busy).
void Keeper::Flush() {
  while (connected_ && !out_.empty()) {
    ssize_t n = send(sock_, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      out_.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) Disconnect();
      return;
    }
  }
}

}  // namespace

Result<std::unique_ptr<KeeperClient>> KeeperClient::Start(const std::string& dir,
                                                          const SpawnSetup& setup,
                                                          const std::string& owner) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Fail(ErrorCode::kIo, "cannot start the keeper: {}", strerror(errno));
  }
  // A fork, not an exec: the keeper is this binary's code, and an exec of it costs
  // milliseconds at the start of every run. Sluice runs a single thread, so the child may
  // allocate.
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    Keeper(sv[1], dir, setup).Run(owner);
  }
  const int e = errno;
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return Fail(ErrorCode::kIo, "cannot start the keeper: {}", strerror(e));
  }
  return std::unique_ptr<KeeperClient>(new KeeperClient(dir, pid, sv[0]));
}

KeeperClient::~KeeperClient() {
  if (!gone_) {
    if (to_ack_ > acked_) {
      FrameWriter f(kRecorded);
      f.Put<uint64_t>(to_ack_);
      Send(f.Done());
    }
    close(fd_);
  }
  // It ends by itself, at once when it keeps nothing: not waited for here, which would cost
  // every run its exit. (Once reaped, its pid may name another child: never waited for again.)
  int status;
  if (!reaped_) waitpid(pid_, &status, WNOHANG);
}

bool KeeperClient::Send(const std::string& frame) {
  std::string_view rest = frame;
  while (!rest.empty()) {
    ssize_t n = send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Result<int> KeeperClient::Spawn(const SpawnRequest& req) {
  if (gone_) return Fail(ErrorCode::kIo, "cannot start {}: the keeper is gone", req.argv[0]);
  FrameWriter f(kSpawn);
  f.Put<uint64_t>(to_ack_);
  acked_ = to_ack_;
  f.Str(req.exit_file);
  f.Str(req.cwd);
  f.Str(req.stdout_path);
  f.Str(req.stderr_path);
  f.List(req.argv);
  f.List(req.env);
  started_seen_ = false;
  // The keeper never blocks on its writes (it queues them), so it reads this whole request
  // even while its reports wait for us.
  if (!Send(f.Done())) {
    LoseAll();
    return Fail(ErrorCode::kIo, "cannot start {}: the keeper is gone", req.argv[0]);
  }
  while (!started_seen_) {
    if (!ReadAvailable(true)) {
      LoseAll();
      return Fail(ErrorCode::kIo, "cannot start {}: the keeper is gone", req.argv[0]);
    }
  }
  if (started_pid_ <= 0) return Fail(ErrorCode::kIo, "{}", started_error_);
  kept_.push_back(started_pid_);
  return started_pid_;
}

// Reads what arrived (waiting for something when `block`) and handles whole frames. False when
// the keeper is gone.
bool KeeperClient::ReadAvailable(bool block) {
  if (gone_) return false;
  if (block) {
    pollfd p{fd_, POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
  }
  const bool open = ReadInto(fd_, in_);
  ParseFrames();
  return open;
}

void KeeperClient::ParseFrames() {
  EachFrame(in_, [&](uint8_t type, std::string_view payload) {
    FrameReader r(payload);
    if (type == kStarted) {
      started_pid_ = r.Get<int32_t>();
      started_error_ = r.Str();
      started_seen_ = true;
    } else if (type == kExited) {
      seen_ = r.Get<uint64_t>();
      ProcessExit e;
      e.pid = r.Get<int32_t>();
      e.exit_code = r.Get<int32_t>();
      e.signal = r.Get<int32_t>();
      std::erase(kept_, e.pid);
      exits_.push_back(e);
    }
  });
}

void KeeperClient::TakeExits(bool read, std::vector<ProcessExit>* out) {
  if (read && !gone_ && !ReadAvailable(false)) LoseAll();
  if (exits_.empty()) return;
  out->insert(out->end(), exits_.begin(), exits_.end());
  exits_.clear();
  taken_ = seen_;
}

void KeeperClient::Died() {
  reaped_ = true;
  if (!gone_) {
    ReadAvailable(false);  // what it reported before it died
    LoseAll();
  }
}

// The keeper is gone: the exits of what it kept will never be known here.
void KeeperClient::LoseAll() {
  if (!gone_) close(fd_);
  gone_ = true;
  for (int pid : kept_) {
    ProcessExit e;
    e.pid = pid;
    e.lost = true;
    exits_.push_back(e);
  }
  kept_.clear();
}

}  // namespace sluice
