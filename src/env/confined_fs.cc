// The read-only FileSystem confined to a folder (confined_fs.h).
#include "env/confined_fs.h"

#include "common/strings.h"

namespace sluice {

namespace {

class ConfinedReader : public FileSystem {
 public:
  ConfinedReader(FileSystem& base, std::string root) : base_(base), root_(std::move(root)) {
    if (!root_.ends_with('/')) root_ += '/';
  }

  Result<std::string> ReadFile(const std::string& path) override {
    SLUICE_TRY_STATUS(Check(path));
    return base_.ReadFile(path);
  }
  FileInfo Stat(const std::string& path) override { return Inside(path) ? base_.Stat(path) : Outside(); }
  FileInfo StatNoFollow(const std::string& path) override {
    return Inside(path) ? base_.StatNoFollow(path) : Outside();
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    SLUICE_TRY_STATUS(Check(path));
    return base_.ListDir(path);
  }
  bool IsEmptyDir(const std::string& path) override { return Inside(path) && base_.IsEmptyDir(path); }
  Result<std::string> HashFile(const std::string& path) override {
    SLUICE_TRY_STATUS(Check(path));
    return base_.HashFile(path);
  }
  std::string Absolute(const std::string& path) override { return base_.Absolute(path); }
  Result<std::string> ReadFileAtMost(const std::string& path, int64_t max_bytes) override {
    SLUICE_TRY_STATUS(Check(path));
    return base_.ReadFileAtMost(path, max_bytes);
  }
  Result<std::string> ReadFileRange(const std::string& path, int64_t offset,
                                    int64_t max_bytes) override {
    SLUICE_TRY_STATUS(Check(path));
    return base_.ReadFileRange(path, offset, max_bytes);
  }
  Result<std::string> ReadFileBeneath(const std::string& root, const std::string& rel,
                                      int64_t max_bytes) override {
    SLUICE_TRY_STATUS(Check(PathJoin(root, rel)));
    return base_.ReadFileBeneath(root, rel, max_bytes);
  }

  // Writes: none.
  Status WriteFile(const std::string& path, std::string_view) override { return ReadOnly(path); }
  Status MakeDirs(const std::string& path) override { return ReadOnly(path); }
  Status RemoveAll(const std::string& path) override { return ReadOnly(path); }
  Status Rename(const std::string& from, const std::string&) override { return ReadOnly(from); }
  Status Touch(const std::string& path) override { return ReadOnly(path); }
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) override {
    return std::unexpected(ReadOnly(path).error());
  }
  Status Remove(const std::string& path) override { return ReadOnly(path); }
  Status CopyFile(const std::string&, const std::string& to) override { return ReadOnly(to); }
  Status SetMode(const std::string& path, int) override { return ReadOnly(path); }
  Status WritePrivateFile(const std::string& path, std::string_view) override { return ReadOnly(path); }
  Status Symlink(const std::string&, const std::string& link) override { return ReadOnly(link); }
  Result<int> MaskFilesBeneath(const std::string& root, const Masker&) override {
    return std::unexpected(ReadOnly(root).error());
  }
  Result<std::vector<CopiedEntry>> CopyBeneath(const std::string&, const std::string&,
                                               const std::string& dest, const CopyLimits&) override {
    return std::unexpected(ReadOnly(dest).error());
  }

 private:
  bool Inside(const std::string& path) { return base_.Absolute(path).starts_with(root_); }
  // What Stat says of a path outside: a file, whatever is there, so that the caller goes on to
  // read it and learns why it may not (rather than "does not exist", or anything true of it).
  static FileInfo Outside() {
    FileInfo f;
    f.exists = true;
    return f;
  }
  Status Check(const std::string& path) {
    if (Inside(path)) return {};
    return Fail(ErrorCode::kInvalidInput, "{} is outside the files uploaded with it", Quote(path));
  }
  Status ReadOnly(const std::string& path) {
    return Fail(ErrorCode::kInvalidInput, "{}: the uploaded files are read-only here", Quote(path));
  }

  FileSystem& base_;
  std::string root_;  // absolute, ending in '/'
};

}  // namespace

std::unique_ptr<FileSystem> NewConfinedReader(FileSystem& base, std::string root) {
  return std::make_unique<ConfinedReader>(base, std::move(root));
}

}  // namespace sluice
