#include "env/fake_env.h"

#include <algorithm>
#include <set>

#include "common/sha256.h"
#include "common/strings.h"

namespace sluice {

Result<std::string> MemFileSystem::ReadFile(const std::string& path) {
  auto it = files_.find(Absolute(path));
  if (it == files_.end()) {
    if (Stat(path).is_dir) return Fail(ErrorCode::kIo, "cannot read {}: it is a directory", path);
    return Fail(ErrorCode::kNotFound, "cannot read {}: No such file or directory", path);
  }
  return it->second;
}

Status MemFileSystem::WriteFile(const std::string& path, std::string_view content) {
  files_[Absolute(path)] = std::string(content);
  return {};
}

Status MemFileSystem::WritePrivateFile(const std::string& path, std::string_view content) {
  std::string p = Absolute(path);
  if (files_.contains(p)) return Fail(ErrorCode::kIo, "cannot create {}: File exists", path);
  files_[p] = std::string(content);
  return {};
}

Status MemFileSystem::Symlink(const std::string& target, const std::string& link) {
  auto content = ReadFile(target);
  if (!content) return std::unexpected(content.error());
  return WritePrivateFile(link, *content);
}

Result<int> MemFileSystem::MaskFilesBeneath(const std::string& root, const Masker& masker) {
  const std::string prefix = Absolute(root) + "/";
  int n = 0;
  for (auto& [path, content] : files_) {
    if (!StartsWith(path, prefix) || !masker.Contains(content)) continue;
    content = masker.Mask(content);
    ++n;
  }
  return n;
}

FileInfo MemFileSystem::Stat(const std::string& path) {
  FileInfo info;
  std::string p = Absolute(path);
  auto owner = owners_.find(p);
  info.uid = owner != owners_.end() ? owner->second.first : 1000;
  if (auto it = files_.find(p); it != files_.end()) {
    info.exists = true;
    info.size = static_cast<int64_t>(it->second.size());
    info.mode = owner != owners_.end() ? owner->second.second : 0644;
    return info;
  }
  std::string prefix = p == "/" ? p : p + "/";
  auto it = files_.lower_bound(prefix);
  if (it != files_.end() && StartsWith(it->first, prefix)) {
    info.exists = true;
    info.is_dir = true;
    info.mode = owner != owners_.end() ? owner->second.second : 0755;
  }
  return info;
}

Result<std::vector<std::string>> MemFileSystem::ListDir(const std::string& path) {
  std::string p = Absolute(path);
  std::string prefix = p == "/" ? p : p + "/";
  std::set<std::string> names;
  for (auto it = files_.lower_bound(prefix); it != files_.end() && StartsWith(it->first, prefix);
       ++it) {
    std::string rest = it->first.substr(prefix.size());
    names.insert(rest.substr(0, rest.find('/')));
  }
  if (names.empty()) return Fail(ErrorCode::kNotFound, "cannot list {}: no such folder", path);
  return std::vector<std::string>(names.begin(), names.end());
}

Status MemFileSystem::RemoveAll(const std::string& path) {
  std::string p = Absolute(path);
  files_.erase(p);
  std::string prefix = p + "/";
  for (auto it = files_.lower_bound(prefix); it != files_.end() && StartsWith(it->first, prefix);) {
    it = files_.erase(it);
  }
  return {};
}

Status MemFileSystem::Rename(const std::string& from, const std::string& to) {
  auto content = ReadFile(from);
  if (!content) return Fail(content.error());
  files_.erase(Absolute(from));
  files_[Absolute(to)] = *content;
  return {};
}

namespace {

class MemAppendFile : public AppendFile {
 public:
  MemAppendFile(std::map<std::string, std::string>& files, std::string path)
      : files_(files), path_(std::move(path)) {}
  Status Append(std::string_view data) override {
    files_[path_].append(data);
    return {};
  }
  Status Truncate(int64_t size) override {
    files_[path_].resize(static_cast<size_t>(size));
    return {};
  }

 private:
  std::map<std::string, std::string>& files_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<AppendFile>> MemFileSystem::OpenAppend(const std::string& path) {
  std::string p = Absolute(path);
  files_[p];  // created when missing
  return std::unique_ptr<AppendFile>(new MemAppendFile(files_, p));
}

Status MemFileSystem::CopyFile(const std::string& from, const std::string& to) {
  auto content = ReadFile(from);
  if (!content) return Fail(content.error());
  files_[Absolute(to)] = *content;
  return {};
}

Result<std::string> MemFileSystem::HashFile(const std::string& path) {
  auto content = ReadFile(path);
  if (!content) return Fail(content.error());
  return Sha256Hex(*content);
}

Result<std::string> MemFileSystem::ReadFileRange(const std::string& path, int64_t offset,
                                                 int64_t max_bytes) {
  SLUICE_TRY(content, ReadFile(path));
  if (offset >= static_cast<int64_t>(content->size())) return std::string();
  return content->substr(static_cast<size_t>(offset), static_cast<size_t>(max_bytes));
}

Result<std::string> MemFileSystem::ReadFileAtMost(const std::string& path, int64_t max_bytes) {
  SLUICE_TRY(content, ReadFile(path));
  if (static_cast<int64_t>(content->size()) > max_bytes) {
    return Fail(ErrorCode::kInvalidInput, "cannot read {}: it is {} bytes, more than the {} allowed",
                path, content->size(), max_bytes);
  }
  return content;
}

namespace {

// Whether `rel` stays below the folder it is relative to (no links exist in memory).
bool StaysBelow(const std::string& rel) {
  if (rel.empty() || rel[0] == '/') return false;
  for (const auto& part : Split(rel, '/')) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

Result<std::string> MemFileSystem::ReadFileBeneath(const std::string& root, const std::string& rel,
                                                   int64_t max_bytes) {
  if (!StaysBelow(rel)) {
    return Fail(ErrorCode::kInvalidInput, "{} leads out of the task's folder", Quote(rel));
  }
  std::string path = PathJoin(root, rel);
  if (Stat(path).is_dir) {
    return Fail(ErrorCode::kInvalidInput, "{}: it is a directory, not a regular file", Quote(rel));
  }
  auto it = files_.find(Absolute(path));
  if (it == files_.end()) return Fail(ErrorCode::kNotFound, "{} does not exist", Quote(rel));
  if (static_cast<int64_t>(it->second.size()) > max_bytes) {
    return Fail(ErrorCode::kInvalidInput, "{}: it is {} bytes, more than the {} allowed",
                Quote(rel), it->second.size(), max_bytes);
  }
  return it->second;
}

Result<std::vector<CopiedEntry>> MemFileSystem::CopyBeneath(const std::string& root,
                                                            const std::string& rel,
                                                            const std::string& dest,
                                                            const CopyLimits& limits) {
  if (!StaysBelow(rel)) {
    return Fail(ErrorCode::kInvalidInput, "{} leads out of the task's folder", Quote(rel));
  }
  const std::string top = PathJoin(root, rel);
  if (!Stat(top).exists) return Fail(ErrorCode::kNotFound, "{} does not exist", Quote(rel));
  std::vector<CopiedEntry> out;
  int64_t bytes = 0;
  // Depth first, names in byte order, as the posix file system lists them.
  auto copy = [&](auto& self, const std::string& sub) -> Status {
    const std::string from = sub.empty() ? top : PathJoin(top, sub);
    const std::string to = sub.empty() ? dest : PathJoin(dest, sub);
    if (static_cast<int64_t>(out.size()) >= limits.max_entries) {
      return Fail(ErrorCode::kInvalidInput, "{} holds more than {} files and folders", rel,
                  limits.max_entries);
    }
    if (!Stat(from).is_dir) {
      const std::string& content = files_[Absolute(from)];
      bytes += static_cast<int64_t>(content.size());
      if (bytes > limits.max_bytes) {
        return Fail(ErrorCode::kInvalidInput, "{} holds more than {} bytes", rel, limits.max_bytes);
      }
      out.push_back(CopiedEntry{sub, false, static_cast<int64_t>(content.size()), Sha256Hex(content)});
      files_[Absolute(to)] = content;
      return {};
    }
    out.push_back(CopiedEntry{sub, true, 0, ""});
    SLUICE_TRY(names, ListDir(from));
    for (const auto& n : *names) SLUICE_TRY_STATUS(self(self, sub.empty() ? n : sub + "/" + n));
    return {};
  };
  SLUICE_TRY_STATUS(copy(copy, ""));
  return out;
}

std::string FakeEnv::RandomBytes(size_t n) {
  std::string out;
  while (out.size() < n) {
    uint64_t z = (random_state += 0x9e3779b97f4a7c15ULL);  // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (int i = 0; i < 8 && out.size() < n; ++i, z >>= 8) out.push_back(static_cast<char>(z));
  }
  return out;
}

std::string MemFileSystem::Absolute(const std::string& path) {
  // Relative paths are taken from "/"; "." and ".." segments are folded.
  std::vector<std::string> out;
  for (const auto& part : Split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(part);
  }
  return "/" + Join(out, "/");
}

namespace {

// Held in FakeEnv's set of locked paths until destroyed.
class FakeLock : public FileLock {
 public:
  FakeLock(std::set<std::string>& held, std::string path) : held_(held), path_(std::move(path)) {}
  ~FakeLock() override { held_.erase(path_); }

 private:
  std::set<std::string>& held_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<FileLock>> FakeEnv::TryLock(const std::string& path,
                                                   const std::string& owner) {
  if (held_.contains(path)) return std::unique_ptr<FileLock>();
  held_.insert(path);
  owners_[path] = owner;
  return std::unique_ptr<FileLock>(new FakeLock(held_, path));
}

bool FakeEnv::IsLocked(const std::string& path, std::string* owner) {
  if (owner) {
    auto it = owners_.find(path);
    *owner = it == owners_.end() ? "" : it->second;
  }
  return held_.contains(path);
}

std::vector<int> FakeEnv::FindMarkedProcessGroups(const std::vector<std::string>& marks) {
  std::vector<int> out;
  for (const auto& [group, environment] : process_groups) {
    bool all = std::all_of(marks.begin(), marks.end(), [&](const std::string& m) {
      return std::find(environment.begin(), environment.end(), m) != environment.end();
    });
    if (all) out.push_back(group);
  }
  return out;
}

std::vector<std::string> FakeEnv::Environment() {
  std::vector<std::string> out;
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

Result<CommandResult> FakeEnv::RunCommand(const std::vector<std::string>& argv,
                                          const std::string&, int64_t, size_t max_bytes) {
  ran.push_back(Join(argv, " "));
  auto it = commands.find(ran.back());
  if (it == commands.end()) {
    return Fail(ErrorCode::kIo, "cannot start {}: No such file or directory", argv[0]);
  }
  CommandResult r = it->second;
  if (r.out.size() > max_bytes) {
    r.too_long = true;
    r.exit_code = -1;
    r.signal = 9;
    r.out.clear();
  }
  return r;
}

std::optional<std::string> FakeEnv::GetVar(const std::string& name) {
  auto it = vars.find(name);
  if (it == vars.end()) return std::nullopt;
  return it->second;
}

}  // namespace sluice
