// Reads and copies of files a task controls (outputs, artifacts) and of input files. What they
// guard against, each seen in a review: an output `leak -> /etc/shadow` read into the store, a
// link to /dev/zero read until memory ran out (or a FIFO that blocks forever), a link to / that
// made an artifact copy walk the whole file system.
//
// So: a path below an attempt's folder is opened with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS), which the kernel resolves without ever leaving the folder; where
// openat2 is missing (Linux before 5.6, or a seccomp filter that refuses it) every component is
// opened with O_NOFOLLOW instead, so no link is followed at all. Everything is opened
// O_NONBLOCK (a FIFO does not block the open) and checked with fstat on the opened descriptor
// (no race between the check and the read): only regular files are read, and only when their
// size is within the bound, and no more than bound + 1 bytes are ever read (a file growing
// meanwhile is caught too). Inside an artifact folder each entry is opened relative to its
// folder's descriptor with O_NOFOLLOW: a link there is an error, never followed.
#include "env/beneath_posix.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/sha256.h"
#include "common/strings.h"

namespace sluice {
namespace {

// An owned file descriptor, closed when destroyed.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

constexpr int kReadFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

// Whether openat2 works on this machine; false after its first ENOSYS (or EPERM, which some
// container seccomp profiles give for system calls they do not know). A property of the kernel,
// shared by every file system object of the process.
std::atomic<bool> have_openat2{true};

// Opens `rel` below the folder `dirfd` for reading, with no link leading out of it: openat2,
// or, without it, every component with O_NOFOLLOW. Returns -1 with errno set on failure (EXDEV:
// it leads out; ELOOP: a link that may not be followed).
int OpenBeneath(int dirfd, const std::string& rel) {
  if (have_openat2.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = kReadFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
      fd = syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof(how));
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
    have_openat2.store(false, std::memory_order_relaxed);
  }
  if (rel.empty() || rel[0] == '/') {
    errno = EXDEV;
    return -1;
  }
  Fd dir;
  int cur = dirfd;
  for (size_t start = 0;;) {
    const size_t slash = rel.find('/', start);
    const bool last = slash == std::string::npos;
    const std::string part = rel.substr(start, last ? std::string::npos : slash - start);
    if (part == "..") {
      errno = EXDEV;
      return -1;
    }
    if (last) return openat(cur, part.empty() ? "." : part.c_str(), kReadFlags | O_NOFOLLOW);
    if (!part.empty() && part != ".") {
      int fd = openat(cur, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return -1;
      dir = Fd(fd);
      cur = fd;
    }
    start = slash + 1;
  }
}

// Why `what` could not be opened, from the errno of OpenBeneath or open.
std::unexpected<Error> OpenError(const std::string& what, int err) {
  switch (err) {
    case ENOENT: return Fail(ErrorCode::kNotFound, "{} does not exist", what);
    case EXDEV:
      return Fail(ErrorCode::kInvalidInput, "{} leads out of the task's folder (a symbolic link "
                  "to a place outside it?)", what);
    case ELOOP:
      return Fail(ErrorCode::kInvalidInput, "{} is a symbolic link that is not followed", what);
    case ENOTDIR:
      return Fail(ErrorCode::kInvalidInput, "{}: a part of the path is not a folder", what);
    default: return Fail(ErrorCode::kIo, "cannot open {}: {}", what, strerror(err));
  }
}

// What a file that is not regular is, for messages.
const char* KindName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

// Reads the opened `fd` whole: a regular file of at most `max_bytes`. Messages start with
// `what` ("cannot read PATH", or a quoted name).
Result<std::string> ReadOpened(int fd, const std::string& what, int64_t max_bytes) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Fail(ErrorCode::kIo, "{}: {}", what, strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return Fail(ErrorCode::kInvalidInput, "{}: it is {}, not a regular file", what,
                KindName(st.st_mode));
  }
  if (st.st_size > max_bytes) {
    return Fail(ErrorCode::kInvalidInput, "{}: it is {} bytes, more than the {} allowed", what,
                static_cast<int64_t>(st.st_size), max_bytes);
  }
  // At most one byte more than allowed is read: a file that grew since fstat is caught by it.
  const size_t cap = static_cast<size_t>(max_bytes) + 1;
  std::string out;
  out.resize(std::min(cap, static_cast<size_t>(st.st_size) + 1));
  size_t have = 0;
  while (true) {
    if (have == out.size()) {
      if (out.size() >= cap) break;
      out.resize(std::min(cap, out.size() * 2 + 4096));
    }
    ssize_t n = read(fd, out.data() + have, out.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrorCode::kIo, "{}: {}", what, strerror(errno));
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (have > static_cast<size_t>(max_bytes)) {
    return Fail(ErrorCode::kInvalidInput, "{}: it grew past the {} bytes allowed while it was "
                "read", what, max_bytes);
  }
  out.resize(have);
  return out;
}

// Copies one tree for PosixCopyBeneath: the bounds it keeps and the entries it made.
class TreeCopier {
 public:
  TreeCopier(const CopyLimits& limits, std::string top) : limits_(limits), top_(std::move(top)) {}

  // Copies the opened `src` (the entry `rel`, "" for the top) as `name` in the folder
  // `dest_dir`. `depth` counts folders below the top.
  Status Copy(Fd src, const std::string& rel, int dest_dir, const std::string& name, int depth) {
    struct stat st;
    if (fstat(src.get(), &st) != 0) return Fail(ErrorCode::kIo, "cannot read {}: {}", Name(rel), strerror(errno));
    if (++entries_ > limits_.max_entries) {
      return Fail(ErrorCode::kInvalidInput, "{} holds more than {} files and folders", top_,
                  limits_.max_entries);
    }
    if (S_ISREG(st.st_mode)) return CopyFile(src.get(), st, rel, dest_dir, name);
    if (!S_ISDIR(st.st_mode)) {
      return Fail(ErrorCode::kInvalidInput, "{} is {}; artifacts hold regular files and folders "
                  "only", Name(rel), KindName(st.st_mode));
    }
    if (depth > limits_.max_depth) {
      return Fail(ErrorCode::kInvalidInput, "{} is nested too deeply (more than {} levels)", top_,
                  limits_.max_depth);
    }
    return CopyDir(std::move(src), st, rel, dest_dir, name, depth);
  }

  std::vector<CopiedEntry>& entries() { return out_; }

 private:
  std::string Name(const std::string& rel) const { return rel.empty() ? top_ : top_ + "/" + rel; }

  Status CopyFile(int src, const struct stat& st, const std::string& rel, int dest_dir,
                  const std::string& name) {
    const size_t index = out_.size();
    out_.push_back(CopiedEntry{rel, false, 0, ""});
    // Created with the source's bits (the umask applies) and writable only while it is written.
    Fd dest(openat(dest_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   (st.st_mode & 0777) | S_IWUSR));
    if (!dest.ok()) return Fail(ErrorCode::kIo, "cannot create a copy of {}: {}", Name(rel), strerror(errno));
    Sha256 h;
    int64_t size = 0;
    buf_.resize(1 << 18);
    while (true) {
      ssize_t n = read(src, buf_.data(), buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(ErrorCode::kIo, "cannot read {}: {}", Name(rel), strerror(errno));
      if (n == 0) break;
      size += n;
      bytes_ += n;
      if (bytes_ > limits_.max_bytes) {
        return Fail(ErrorCode::kInvalidInput, "{} holds more than {} bytes", top_, limits_.max_bytes);
      }
      h.Update(std::string_view(buf_.data(), static_cast<size_t>(n)));
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(dest.get(), buf_.data() + off, static_cast<size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return Fail(ErrorCode::kIo, "cannot write a copy of {}: {}", Name(rel), strerror(errno));
        off += w;
      }
    }
    SLUICE_TRY_STATUS(ReadOnly(dest.get(), rel));
    out_[index].size = size;
    out_[index].sha256 = h.HexDigest();
    return {};
  }

  Status CopyDir(Fd src, const struct stat& st, const std::string& rel, int dest_dir,
                 const std::string& name, int depth) {
    out_.push_back(CopiedEntry{rel, true, 0, ""});
    if (mkdirat(dest_dir, name.c_str(), (st.st_mode & 0777) | S_IRWXU) != 0) {
      return Fail(ErrorCode::kIo, "cannot create a copy of {}: {}", Name(rel), strerror(errno));
    }
    Fd dest(openat(dest_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dest.ok()) return Fail(ErrorCode::kIo, "cannot open the copy of {}: {}", Name(rel), strerror(errno));
    SLUICE_TRY(names, List(src.get(), rel));
    for (const auto& n : *names) {
      const std::string child = rel.empty() ? n : rel + "/" + n;
      Fd fd(openat(src.get(), n.c_str(), kReadFlags | O_NOFOLLOW));
      if (!fd.ok()) {
        if (errno == ELOOP) {
          return Fail(ErrorCode::kInvalidInput, "{} is a symbolic link; artifacts hold regular "
                      "files and folders only", Name(child));
        }
        return OpenError(Name(child), errno);
      }
      SLUICE_TRY_STATUS(Copy(std::move(fd), child, dest.get(), n, depth + 1));
    }
    // Last: the folder was writable while it was filled. The copied folder itself stays
    // writable: moving it to another parent needs that (its ".." changes) unless one is root;
    // the caller drops its write bits after the move.
    if (rel.empty()) return {};
    return ReadOnly(dest.get(), rel);
  }

  // The names in the folder `fd`, in byte order, without "." and "..".
  Result<std::vector<std::string>> List(int fd, const std::string& rel) {
    std::vector<std::string> names;
    alignas(dirent64) char buf[8192];
    while (true) {
      long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(ErrorCode::kIo, "cannot list {}: {}", Name(rel), strerror(errno));
      if (n == 0) break;
      for (long off = 0; off < n;) {
        const auto* d = reinterpret_cast<const dirent64*>(buf + off);
        if (std::strcmp(d->d_name, ".") != 0 && std::strcmp(d->d_name, "..") != 0) {
          names.emplace_back(d->d_name);
          if (entries_ + static_cast<int64_t>(names.size()) > limits_.max_entries) {
            return Fail(ErrorCode::kInvalidInput, "{} holds more than {} files and folders", top_,
                        limits_.max_entries);
          }
        }
        off += d->d_reclen;
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // Drops the write bits of the copy `fd`: it keeps the read and execute bits it was created
  // with, the source's as the umask allowed.
  Status ReadOnly(int fd, const std::string& rel) {
    struct stat st;
    if (fstat(fd, &st) != 0 || fchmod(fd, st.st_mode & 07555 & ~S_ISUID & ~S_ISGID) != 0) {
      return Fail(ErrorCode::kIo, "cannot make the copy of {} read-only: {}", Name(rel), strerror(errno));
    }
    return {};
  }

  const CopyLimits& limits_;
  std::string top_;  // the copied path, for messages
  int64_t entries_ = 0;
  int64_t bytes_ = 0;
  std::string buf_;
  std::vector<CopiedEntry> out_;
};

}  // namespace

Result<std::string> PosixReadFileAtMost(const std::string& path, int64_t max_bytes) {
  Fd fd(open(path.c_str(), kReadFlags));
  if (!fd.ok()) {
    return Fail(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, "cannot read {}: {}", path,
                strerror(errno));
  }
  return ReadOpened(fd.get(), "cannot read " + path, max_bytes);
}

Result<std::string> PosixReadFileRange(const std::string& path, int64_t offset, int64_t max_bytes) {
  Fd fd(open(path.c_str(), kReadFlags));
  if (!fd.ok()) {
    return Fail(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, "cannot read {}: {}", path,
                strerror(errno));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Fail(ErrorCode::kInvalidInput, "cannot read {}: not a regular file", path);
  }
  std::string out;
  if (offset >= st.st_size || max_bytes <= 0) return out;
  out.resize(static_cast<size_t>(std::min<int64_t>(max_bytes, st.st_size - offset)));
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = pread(fd.get(), out.data() + got, out.size() - got,
                            static_cast<off_t>(offset + static_cast<int64_t>(got)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrorCode::kIo, "cannot read {}: {}", path, strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

Result<std::string> PosixReadFileBeneath(const std::string& root, const std::string& rel,
                                         int64_t max_bytes) {
  Fd dir(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.ok()) return Fail(ErrorCode::kIo, "cannot open {}: {}", root, strerror(errno));
  const std::string what = Quote(rel);
  Fd fd(OpenBeneath(dir.get(), rel));
  if (!fd.ok()) return OpenError(what, errno);
  return ReadOpened(fd.get(), what, max_bytes);
}

Result<std::vector<CopiedEntry>> PosixCopyBeneath(const std::string& root, const std::string& rel,
                                                  const std::string& dest,
                                                  const CopyLimits& limits) {
  Fd dir(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.ok()) return Fail(ErrorCode::kIo, "cannot open {}: {}", root, strerror(errno));
  const std::string what = Quote(rel);
  Fd src(OpenBeneath(dir.get(), rel));
  if (!src.ok()) return OpenError(what, errno);
  const size_t slash = dest.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : dest.substr(0, slash);
  Fd dest_dir(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dest_dir.ok()) return Fail(ErrorCode::kIo, "cannot open {}: {}", parent, strerror(errno));
  TreeCopier copier(limits, rel);
  SLUICE_TRY_STATUS(copier.Copy(std::move(src), "", dest_dir.get(), dest.substr(slash + 1), 0));
  return std::move(copier.entries());
}

}  // namespace sluice
