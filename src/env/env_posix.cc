// POSIX implementations of the Env seams: files, the clock, locks, and the Env of this process
// that holds them. With process_posix.cc (vfork, execve, waitpid) the only files that make
// system calls.
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <map>
#include <mutex>

#include "common/sha256.h"
#include "env/beneath_posix.h"
#include "env/env.h"
#include "env/keeper_posix.h"

extern char** environ;

namespace sluice {
namespace fs = std::filesystem;

namespace {

class SystemClock : public Clock {
 public:
  int64_t NowUs() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A test hook (docs/schedules.md, "Testing"): with SLUICE_TEST_CLOCK_FILE set, "now" is the
// Unix time in seconds (a decimal, fractions allowed) that file holds, read at every call, so a
// test moves a real server's clock by rewriting the file. Until the file holds a number, the
// system clock answers. Processes the server starts (engines) do not inherit the variable.
class FileClock : public Clock {
 public:
  explicit FileClock(std::string path) : path_(std::move(path)) {}
  int64_t NowUs() override {
    std::ifstream in(path_);
    long double seconds = 0;
    if (in >> seconds && seconds > 0) return static_cast<int64_t>(seconds * 1e6L);
    return system_.NowUs();
  }

 private:
  std::string path_;
  SystemClock system_;
};

Status ErrnoFail(const std::string& what, const std::string& path) {
  return Fail(ErrorCode::kIo, "{} {}: {}", what, path, strerror(errno));
}

class PosixAppendFile : public AppendFile {
 public:
  PosixAppendFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixAppendFile() override { close(fd_); }

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoFail("cannot write", path_);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }

  Status Truncate(int64_t size) override {
    if (ftruncate(fd_, size) != 0) return ErrnoFail("cannot truncate", path_);
    return {};
  }

 private:
  int fd_;
  std::string path_;
};

// Files and folders are created with modes 0666 and 0777: what others may do with them is the
// umask's to say (Env::RestrictNewFiles sets it to 077, or 007 for a shared state folder).
class PosixFileSystem : public FileSystem {
 public:
  Status WritePrivateFile(const std::string& path, std::string_view content) override {
    return WritePrivateFilePosix(path, content);
  }
  Status Symlink(const std::string& target, const std::string& link) override {
    return SymlinkPosix(target, link);
  }
  Result<int> MaskFilesBeneath(const std::string& root, const Masker& masker) override {
    return MaskFilesBeneathPosix(root, masker);
  }
  // Regular files only: a FIFO or a device (an import naming /dev/zero) is refused unread.
  Result<std::string> ReadFile(const std::string& path) override {
    return PosixReadFileAtMost(path, std::numeric_limits<int64_t>::max());
  }

  Result<std::string> ReadFileAtMost(const std::string& path, int64_t max_bytes) override {
    return PosixReadFileAtMost(path, max_bytes);
  }
  Result<std::string> ReadFileRange(const std::string& path, int64_t offset,
                                    int64_t max_bytes) override {
    return PosixReadFileRange(path, offset, max_bytes);
  }

  Result<std::string> ReadFileBeneath(const std::string& root, const std::string& rel,
                                      int64_t max_bytes) override {
    return PosixReadFileBeneath(root, rel, max_bytes);
  }

  Result<std::vector<CopiedEntry>> CopyBeneath(const std::string& root, const std::string& rel,
                                               const std::string& dest,
                                               const CopyLimits& limits) override {
    return PosixCopyBeneath(root, rel, dest, limits);
  }

  Status WriteFile(const std::string& path, std::string_view content) override {
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return ErrnoFail("cannot write", tmp);
    size_t off = 0;
    while (off < content.size()) {
      ssize_t n = write(fd, content.data() + off, content.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        auto s = ErrnoFail("cannot write", tmp);
        close(fd);
        unlink(tmp.c_str());
        return s;
      }
      off += static_cast<size_t>(n);
    }
    fsync(fd);
    close(fd);
    if (rename(tmp.c_str(), path.c_str()) != 0) {
      auto s = ErrnoFail("cannot rename into", path);
      unlink(tmp.c_str());
      return s;
    }
    return {};
  }

  // mkdir first and walk up only on ENOENT: one syscall when the parent exists, which is the
  // common case on the hot path (an attempt's folder).
  Status MakeDirs(const std::string& path) override {
    if (path.empty() || mkdir(path.c_str(), 0777) == 0) return {};
    if (errno == EEXIST) {
      if (Stat(path).is_dir) return {};
      return Fail(ErrorCode::kIo, "cannot create {}: a file is in the way", path);
    }
    if (errno != ENOENT) return ErrnoFail("cannot create", path);
    size_t slash = path.find_last_of('/', path.size() - 2);
    if (slash == std::string::npos || slash == 0) return ErrnoFail("cannot create", path);
    if (auto s = MakeDirs(path.substr(0, slash)); !s) return s;
    if (mkdir(path.c_str(), 0777) == 0 || errno == EEXIST) return {};
    return ErrnoFail("cannot create", path);
  }

  FileInfo Stat(const std::string& path) override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return FileInfo();
    return InfoOf(st);
  }

  FileInfo StatNoFollow(const std::string& path) override {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return FileInfo();
    return InfoOf(st);
  }

  static FileInfo InfoOf(const struct stat& st) {
    FileInfo info;
    info.exists = true;
    info.is_dir = S_ISDIR(st.st_mode);
    info.is_link = S_ISLNK(st.st_mode);
    info.size = st.st_size;
    info.uid = st.st_uid;
    info.mode = static_cast<int>(st.st_mode & 07777);
    info.mtime_us = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000 + st.st_mtim.tv_nsec / 1000;
    return info;
  }

  // Stops at the first name other than "." and "..": no allocation and, for an empty folder,
  // four system calls (std::filesystem's iterator took ten times as long on the hot path).
  bool IsEmptyDir(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    alignas(dirent64) char buf[1024];
    bool empty = true;
    while (empty) {
      ssize_t n = getdents64(fd, buf, sizeof(buf));
      if (n <= 0) {
        empty = n == 0;
        break;
      }
      for (ssize_t off = 0; empty && off < n;) {
        const auto* d = reinterpret_cast<const dirent64*>(buf + off);
        if (std::strcmp(d->d_name, ".") != 0 && std::strcmp(d->d_name, "..") != 0) empty = false;
        off += d->d_reclen;
      }
    }
    close(fd);
    return empty;
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return Fail(ErrorCode::kIo, "cannot list {}: {}", path, ec.message());
    std::sort(names.begin(), names.end());
    return names;
  }

  Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    // Read-only trees (artifacts) must become writable before they can be removed.
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory()) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    ec.clear();
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    ec.clear();
    fs::remove_all(path, ec);
    if (ec) return Fail(ErrorCode::kIo, "cannot remove {}: {}", path, ec.message());
    return {};
  }

  Status Touch(const std::string& path) override {
    if (utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) return ErrnoFail("cannot touch", path);
    return {};
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) return ErrnoFail("cannot rename", from + " to " + to);
    return {};
  }

  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) override {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) return std::unexpected(ErrnoFail("cannot open", path).error());
    return std::unique_ptr<AppendFile>(new PosixAppendFile(fd, path));
  }

  Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoFail("cannot remove", path);
    return {};
  }

  Status CopyFile(const std::string& from, const std::string& to) override {
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return Fail(ErrorCode::kIo, "cannot copy {} to {}: {}", from, to, ec.message());
    return {};
  }

  Status SetMode(const std::string& path, int mode) override {
    if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) return ErrnoFail("cannot change the mode of", path);
    return {};
  }

  // Regular files only: hashing a device (an argument naming /dev/zero) would never end.
  Result<std::string> HashFile(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return Fail(ErrorCode::kIo, "cannot read {}: {}", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return Fail(ErrorCode::kInvalidInput, "cannot read {}: not a regular file", path);
    }
    Sha256 h;
    char buf[1 << 16];
    while (true) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      h.Update(std::string_view(buf, static_cast<size_t>(n)));
    }
    close(fd);
    return h.HexDigest();
  }

  std::string Absolute(const std::string& path) override {
    std::error_code ec;
    auto p = fs::absolute(path, ec);
    if (ec) return path;
    return p.lexically_normal().string();
  }
};

}  // namespace

std::unique_ptr<FileSystem> NewPosixFileSystem() { return std::make_unique<PosixFileSystem>(); }

namespace {

// Zones from the system's tz database, each file read once. A zone name is a path below the
// database's folder, so names that could leave it ("..", absolute paths) are refused.
class SystemTimeZones : public TimeZones {
 public:
  explicit SystemTimeZones(std::string root) : root_(std::move(root)) {}

  // Thread-safe: `sluice server` evaluates policies on many threads. Zones are loaded once and
  // never removed, so a found entry stays valid once the lock is released. A name that is no
  // zone is not remembered (a client could otherwise grow the table without end).
  std::optional<int> OffsetAt(std::string_view name, int64_t unix_seconds) const override {
    std::unique_lock lock(mu_);
    auto it = zones_.find(std::string(name));
    if (it == zones_.end()) {
      auto rules = Load(name);
      if (!rules) return std::nullopt;
      it = zones_.emplace(std::string(name), std::move(rules)).first;
    }
    lock.unlock();
    return it->second->OffsetAt(unix_seconds);
  }

 private:
  std::optional<ZoneRules> Load(std::string_view name) const {
    if (name.empty() || name.size() > 64 || name[0] == '/' || name.find("..") != std::string_view::npos) {
      return std::nullopt;
    }
    for (char c : name) {
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '+' || c == '/';
      if (!ok) return std::nullopt;
    }
    std::ifstream in(root_ + "/" + std::string(name), std::ios::binary);
    if (!in) return std::nullopt;
    std::string bytes(1 << 20, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<size_t>(in.gcount()));
    auto rules = ZoneRules::Parse(bytes);
    if (!rules) return std::nullopt;
    return *rules;
  }

  std::string root_;
  mutable std::map<std::string, std::optional<ZoneRules>> zones_;
  mutable std::mutex mu_;
};

}  // namespace

std::unique_ptr<TimeZones> NewSystemTimeZones(const std::string& root) {
  return std::make_unique<SystemTimeZones>(root);
}

namespace {
class PosixFileLock : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { close(fd_); }

 private:
  int fd_;
};
}  // namespace

Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& path, const std::string& owner) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return Fail(ErrorCode::kIo, "cannot open {}: {}", path, strerror(errno));
  // A probe (IsFileLocked: `status`, the server's leader) holds a shared lock for a few system
  // calls; a refusal is believed only when it lasts (three tries 1 ms apart), or a run's engine
  // could be turned away by a look that came at that instant.
  for (int tries = 1; flock(fd, LOCK_EX | LOCK_NB) != 0; ++tries) {
    if (errno != EWOULDBLOCK || tries == 3) {
      close(fd);
      return std::unique_ptr<FileLock>();
    }
    usleep(1000);
  }
  // Write, then cut what a longer earlier owner left. (Not truncate to zero first: ext4 writes a
  // file truncated to zero out when it is closed.)
  if (pwrite(fd, owner.data(), owner.size(), 0) == static_cast<ssize_t>(owner.size())) {
    (void)ftruncate(fd, static_cast<off_t>(owner.size()));
  }
  return std::unique_ptr<FileLock>(new PosixFileLock(fd));
}

bool IsFileLocked(const std::string& path, std::string* owner) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool locked = flock(fd, LOCK_SH | LOCK_NB) != 0;
  if (owner) {
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    owner->assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
  }
  close(fd);
  return locked;
}

// The process groups of every process whose initial environment holds each "KEY=VALUE" of
// `marks` (read from /proc), for Env::FindMarkedProcessGroups.
static std::vector<int> FindMarkedProcessGroups(const std::vector<std::string>& marks) {
  std::vector<int> out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream stat_file(it->path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so parse after the last ')'.
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    if (state == 'Z' || pgrp <= 1) continue;
    std::ifstream env_file(it->path() / "environ");
    std::string env((std::istreambuf_iterator<char>(env_file)), {});
    std::vector<std::string_view> vars;
    for (size_t start = 0; start < env.size();) {
      size_t end = env.find('\0', start);
      if (end == std::string::npos) end = env.size();
      vars.emplace_back(std::string_view(env).substr(start, end - start));
      start = end + 1;
    }
    bool all = std::all_of(marks.begin(), marks.end(), [&](const std::string& m) {
      return std::find(vars.begin(), vars.end(), m) != vars.end();
    });
    if (all && std::find(out.begin(), out.end(), pgrp) == out.end()) out.push_back(pgrp);
  }
  return out;
}

namespace {

// The Env of this process. The launcher and the zones are made on first use: constructing the
// launcher blocks the signals it waits for, which only the commands that execute runs may do.
class PosixEnv : public Env {
 public:
  PosixEnv() {
    caller_umask_ = umask(077);  // read it (umask has no way to read without writing)
    umask(static_cast<mode_t>(caller_umask_));
    // The test hook (docs/schedules.md): honored only for a file of this account that no one
    // else may write, and said on stderr, so that a variable alone never moves a server's time
    // (tokens and waivers expire by it; schedules fire by it).
    const char* clock_file = std::getenv("SLUICE_TEST_CLOCK_FILE");
    struct stat st;
    if (clock_file && *clock_file && stat(clock_file, &st) == 0 && st.st_uid == getuid() &&
        (st.st_mode & 022) == 0) {
      test_clock_ = std::make_unique<FileClock>(clock_file);
      std::fprintf(stderr, "sluice: warning: the clock is read from %s (SLUICE_TEST_CLOCK_FILE, "
                   "a test hook)\n", clock_file);
    }
  }
  Clock& clock() override { return test_clock_ ? *test_clock_ : static_cast<Clock&>(clock_); }
  FileSystem& files() override { return files_; }
  ProcessLauncher& processes() override {
    if (!launcher_) launcher_ = NewPosixProcessLauncher(caller_umask_, keeper_.get());
    return *launcher_;
  }
  Status StartKeeper() override {
    if (keeper_ || launcher_) return {};  // split once, before any process started
    auto link = KeeperLink::Split();
    if (!link) return std::unexpected(link.error());
    keeper_ = std::move(*link);
    return {};
  }
  const TimeZones* time_zones() override {
    if (!zones_) zones_ = NewSystemTimeZones();
    return zones_.get();
  }
  Result<std::unique_ptr<FileLock>> TryLock(const std::string& path,
                                            const std::string& owner) override {
    return TryLockFile(path, owner);
  }
  bool IsLocked(const std::string& path, std::string* owner) override {
    return IsFileLocked(path, owner);
  }
  std::vector<int> FindMarkedProcessGroups(const std::vector<std::string>& marks) override {
    return sluice::FindMarkedProcessGroups(marks);
  }
  bool SignalProcess(int pid, int sig) override { return pid > 0 && kill(pid, sig) == 0; }
  int Pid() override { return getpid(); }
  std::vector<std::string> Environment() override {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
    return out;
  }
  std::optional<std::string> GetVar(const std::string& name) override {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return value;
  }
  std::string UserName() override {
    const struct passwd* pw = getpwuid(getuid());
    return pw && pw->pw_name ? pw->pw_name : "";
  }
  int64_t Uid() override { return getuid(); }
  bool IsTty(int fd) override { return isatty(fd) == 1; }
  int CpuCount() override {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
  }
  double MemoryBytes() override {
    return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  }
  std::string RandomBytes(size_t n) override {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = getrandom(out.data() + got, n - got, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    return out;
  }
  Result<CommandResult> RunCommand(const std::vector<std::string>& argv, const std::string& cwd,
                                   int64_t timeout_us, size_t max_bytes) override {
    return RunCapturedCommand(argv, cwd, timeout_us, max_bytes);
  }
  void SleepUs(int64_t us) override {
    struct timespec ts = {static_cast<time_t>(us / 1000000),
                          static_cast<long>((us % 1000000) * 1000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
  void RestrictNewFiles(bool group) override { umask(group ? 007 : 077); }
  Result<std::unique_ptr<Doorbell>> ListenBell(const std::string& path) override {
    return ListenBellPosix(path);
  }
  void RingBell(const std::string& path) override { RingBellPosix(path); }

 private:
  SystemClock clock_;
  std::unique_ptr<FileClock> test_clock_;  // SLUICE_TEST_CLOCK_FILE
  PosixFileSystem files_;
  std::unique_ptr<KeeperLink> keeper_;  // declared before the launcher, which uses it
  std::unique_ptr<ProcessLauncher> launcher_;
  std::unique_ptr<TimeZones> zones_;
  int caller_umask_ = 022;  // what this process started with, and what its children get
};

}  // namespace

std::unique_ptr<Env> NewPosixEnv() { return std::make_unique<PosixEnv>(); }

std::string PathJoin(std::string_view a, std::string_view b) {
  if (a.empty() || (!b.empty() && b[0] == '/')) return std::string(b);
  std::string out(a);
  if (out.back() != '/') out += '/';
  out += b;
  return out;
}

std::string Dirname(std::string_view path) {
  size_t pos = path.rfind('/');
  if (pos == std::string_view::npos) return ".";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

}  // namespace sluice
