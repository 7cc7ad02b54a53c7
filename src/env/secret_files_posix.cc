// POSIX file operations for secrets: the 0600 file a task receives a secret as, and masking the
// files an attempt with secrets left behind. Kept apart from env_posix.cc's general file system.
//
// The walk never follows a symlink: folders are opened with O_NOFOLLOW beneath an open folder
// (openat), entries are looked at with AT_SYMLINK_NOFOLLOW, and a file is replaced by renaming a
// masked copy over its name, never written through, so a link a task left (to /etc/passwd, or a
// hard link to a file elsewhere) never makes Sluice write outside the attempt's folder.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "env/env.h"

namespace sluice {
namespace {

constexpr int kMaxDepth = 64;

Status Errno(const std::string& what, const std::string& path) {
  return Fail(ErrorCode::kIo, "{} {}: {}", what, path, strerror(errno));
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Streams `fd` from its start through a MaskStream, writing to `out_fd` (-1: only looks).
// Returns whether anything was masked, or -1 on a read or write error.
int StreamMasked(int fd, int out_fd, const std::shared_ptr<const Masker>& masker) {
  if (lseek(fd, 0, SEEK_SET) != 0) return -1;
  MaskStream stream(masker);
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    out.clear();
    if (n == 0) {
      stream.Finish(&out);
    } else {
      stream.Feed(std::string_view(buf, static_cast<size_t>(n)), &out);
    }
    if (out_fd < 0 && stream.masked()) return 1;  // found one: that is all a look needs
    if (out_fd >= 0 && !WriteAll(out_fd, out)) return -1;
    if (n == 0) break;
  }
  return stream.masked() ? 1 : 0;
}

// Masks the regular file `name` in the open folder `dir`: looks first, and only when a value is
// there writes a masked copy beside it and renames it over the name.
Result<bool> MaskOne(int dir, const std::string& name, const std::string& shown,
                     const std::shared_ptr<const Masker>& masker) {
  int fd = openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::unexpected(Errno("cannot read", shown).error());
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return false;  // replaced by something else meanwhile: not a file to mask
  }
  int found = StreamMasked(fd, -1, masker);
  if (found <= 0) {
    close(fd);
    if (found < 0) return std::unexpected(Errno("cannot read", shown).error());
    return false;
  }
  std::string tmp = ".sluice-masked." + name.substr(0, 200);
  unlinkat(dir, tmp.c_str(), 0);
  int out = openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   st.st_mode & 0777);
  if (out < 0) {
    close(fd);
    return std::unexpected(Errno("cannot write a masked copy of", shown).error());
  }
  bool ok = StreamMasked(fd, out, masker) >= 0 && fchmod(out, st.st_mode & 07777) == 0;
  close(fd);
  ok = close(out) == 0 && ok;
  if (!ok || renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
    Status s = Errno("cannot replace", shown);
    unlinkat(dir, tmp.c_str(), 0);
    return std::unexpected(s.error());
  }
  return true;
}

Result<int> MaskDir(int dir, const std::string& shown, const std::shared_ptr<const Masker>& masker,
                    int depth) {
  if (depth > kMaxDepth) return Fail(ErrorCode::kInvalidInput, "{} is nested too deeply", shown);
  int list_fd = dup(dir);
  DIR* d = list_fd >= 0 ? fdopendir(list_fd) : nullptr;
  if (!d) {
    if (list_fd >= 0) close(list_fd);
    return std::unexpected(Errno("cannot list", shown).error());
  }
  std::vector<std::string> names;
  while (const dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.emplace_back(e->d_name);
    }
  }
  closedir(d);
  int rewritten = 0;
  for (const auto& name : names) {
    struct stat st;
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    const std::string path = shown + "/" + name;
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) return std::unexpected(Errno("cannot open", path).error());
      auto n = MaskDir(sub, path, masker, depth + 1);
      close(sub);
      if (!n) return n;
      rewritten += *n;
    } else if (S_ISREG(st.st_mode)) {
      auto r = MaskOne(dir, name, path, masker);
      if (!r) return std::unexpected(r.error());
      rewritten += *r;
    }
  }
  return rewritten;
}

}  // namespace

Status WritePrivateFilePosix(const std::string& path, std::string_view content) {
  const std::string dir = Dirname(path);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Errno("cannot create", dir);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", path);
  bool ok = fchmod(fd, 0600) == 0 && WriteAll(fd, content);
  int e = errno;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    errno = e;
    Status s = Errno("cannot write", path);
    unlink(path.c_str());
    return s;
  }
  return {};
}

Status SymlinkPosix(const std::string& target, const std::string& link) {
  if (symlink(target.c_str(), link.c_str()) != 0) return Errno("cannot create", link);
  return {};
}

Result<int> MaskFilesBeneathPosix(const std::string& root, const Masker& masker) {
  if (masker.empty()) return 0;
  auto shared = std::make_shared<const Masker>(masker);
  int dir = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) {
    if (errno == ENOENT) return 0;
    return std::unexpected(Errno("cannot open", root).error());
  }
  auto n = MaskDir(dir, root, shared, 0);
  close(dir);
  return n;
}

}  // namespace sluice
