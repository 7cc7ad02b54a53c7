// Doorbells between local processes (env.h, Doorbell): a UNIX datagram socket bound at a path.
// A ring is one byte sent without waiting; a bell that nobody listens to (no socket at the
// path, or its queue full) swallows the ring, which is all a doorbell promises: the listener
// also looks on its own after a timeout.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "env/env.h"

namespace sluice {

namespace {

// The socket address of `path`; false when the path is too long for one.
bool AddressOf(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// The listening end: owns its socket and removes its path when destroyed, unless another
// listener took the path over meanwhile (a second server on the same state folder binds it
// anew: removing its socket would leave it deaf to every ring).
class PosixDoorbell : public Doorbell {
 public:
  PosixDoorbell(int fd, std::string path, const struct stat& bound)
      : fd_(fd), path_(std::move(path)), dev_(bound.st_dev), ino_(bound.st_ino) {}
  ~PosixDoorbell() override {
    close(fd_);
    struct stat now;
    if (stat(path_.c_str(), &now) == 0 && now.st_dev == dev_ && now.st_ino == ino_) {
      unlink(path_.c_str());
    }
  }
  bool Wait(int64_t timeout_us) override {
    pollfd p{fd_, POLLIN, 0};
    const int ms = timeout_us < 0 ? -1 : static_cast<int>((timeout_us + 999) / 1000);
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR) {
    }
    if (n <= 0) return false;
    char buf[64];
    while (recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) > 0) {  // one wakeup for all rings so far
    }
    return true;
  }

 private:
  int fd_;
  std::string path_;
  dev_t dev_;  // the socket file it bound, to tell it from a later listener's
  ino_t ino_;
};

}  // namespace

Result<std::unique_ptr<Doorbell>> ListenBellPosix(const std::string& path) {
  sockaddr_un addr;
  if (!AddressOf(path, &addr)) {
    return Fail(ErrorCode::kInvalidInput, "{} is too long for a socket's path", path);
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Fail(ErrorCode::kIo, "cannot create a socket: {}", strerror(errno));
  unlink(path.c_str());  // a bell left by a process that died
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    close(fd);
    return Fail(ErrorCode::kIo, "cannot bind {}: {}", path, strerror(e));
  }
  struct stat bound;
  if (stat(path.c_str(), &bound) != 0) {
    const int e = errno;
    close(fd);
    return Fail(ErrorCode::kIo, "cannot stat {}: {}", path, strerror(e));
  }
  return std::unique_ptr<Doorbell>(std::make_unique<PosixDoorbell>(fd, path, bound));
}

void RingBellPosix(const std::string& path) {
  // One sending socket for the process, made on the first ring (and again on a later one should
  // making it fail, out of descriptors say); sendto on it is thread-safe.
  static std::atomic<int> shared{-1};
  int fd = shared.load();
  if (fd < 0) {
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return;
    int none = -1;
    if (!shared.compare_exchange_strong(none, fd)) {  // another thread made one first
      close(fd);
      fd = none;
    }
  }
  sockaddr_un addr;
  if (!AddressOf(path, &addr)) return;
  const char ring = 1;
  while (sendto(fd, &ring, 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 &&
         errno == EINTR) {
  }
}

}  // namespace sluice
