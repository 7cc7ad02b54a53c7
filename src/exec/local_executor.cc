#include "exec/local_executor.h"
#include "exec/sandbox.h"

#include <signal.h>

#include <algorithm>

#include "common/sha256.h"
#include "common/strings.h"
#include "exec/typed_output.h"

namespace sluice {

AttemptPaths AttemptPathsFor(const std::string& run_dir, const std::string& task, int attempt) {
  std::string base = fmt::format("{}/tasks/{}@{}", run_dir, task, attempt);
  return {base, base + ".stdout.log", base + ".stderr.log", base + ".exit"};
}

LocalExecutor::LocalExecutor(Env& env, ProcessLauncher& launcher, std::string run_dir,
                             std::string artifact_root, std::vector<std::string> base_env)
    : env_(env),
      launcher_(launcher),
      fs_(env.files()),
      run_dir_(std::move(run_dir)),
      artifact_root_(std::move(artifact_root)),
      base_env_(std::move(base_env)) {
  // Ready by the first attempt: its start overlaps the engine's.
  launcher_.PrepareKeeper(run_dir_ + "/keepers");
}

LocalExecutor::~LocalExecutor() {
  // Empty logs of the last attempts: a task that printed nothing leaves no log.
  FindSpares();
  for (const auto& log : spare_logs_) (void)fs_.Remove(log);
}

// The files of attempts that have ended are looked at here, when the next attempt starts: by
// then what was left of their process groups was killed and their outputs collected. Those
// left empty, with nothing of the group alive, become spares.
void LocalExecutor::FindSpares() {
  for (auto& [pid, paths] : ended_) {
    if (launcher_.GroupAlive(pid)) continue;
    if (fs_.IsEmptyDir(paths.work)) spare_dirs_.push_back(std::move(paths.work));
    for (std::string* log : {&paths.stdout_log, &paths.stderr_log}) {
      FileInfo f = fs_.Stat(*log);
      if (f.exists && !f.is_dir && f.size == 0) spare_logs_.push_back(std::move(*log));
    }
  }
  ended_.clear();
}

// Renames a spare into `path`; false when there is none (or none could be renamed).
bool LocalExecutor::TakeSpare(std::vector<std::string>& spares, const std::string& path) {
  while (!spares.empty()) {
    std::string from = std::move(spares.back());
    spares.pop_back();
    if (fs_.Rename(from, path)) return true;  // replaces an empty folder left at `path`
  }
  return false;
}

std::vector<std::pair<std::string, std::string>> AttemptMarks(const AttemptRequest& req,
                                                              const std::string& work) {
  return {{"SLUICE_RUN_ID", req.run_id},
          {"SLUICE_TASK", req.task},
          {"SLUICE_ATTEMPT", std::to_string(req.attempt)},
          {"SLUICE_ATTEMPT_DIR", work}};
}

// The attempt's argv inside its sandbox (exec/sandbox.h), its private folders made.
Result<std::vector<std::string>> LocalExecutor::SandboxedArgv(const AttemptRequest& req,
                                                             const std::string& work) {
  std::string bwrap;
  for (const char* p : {"/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"}) {
    if (bwrap.empty() && fs_.Stat(p).exists) bwrap = p;
  }
  if (bwrap.empty()) {
    return Fail(ErrorCode::kInvalidInput, "task {} has private paths ({}), which need bubblewrap: "
                "apt-get install bubblewrap", req.task, Join(req.private_paths, ", "));
  }
  auto entries = fs_.ListDir("/");
  if (!entries) return std::unexpected(entries.error());
  for (const std::string& top : PrivateTops(req.private_paths)) {
    SLUICE_TRY_STATUS(fs_.MakeDirs(PrivateFolder(work, top)));
  }
  for (const std::string& p : req.private_paths) SLUICE_TRY_STATUS(fs_.MakeDirs(PrivateFolder(work, p)));
  SLUICE_TRY_STATUS(fs_.MakeDirs(artifact_root_));  // bound into the sandbox, so it must exist
  // Input artifacts are read from the store, which may lie under a private top (a state
  // folder in /tmp).
  return SandboxArgv(bwrap, *entries, req.private_paths, work, {artifact_root_}, req.argv);
}

std::vector<Result<AttemptHandle>> LocalExecutor::Submit(std::span<const AttemptRequest> batch) {
  std::vector<Result<AttemptHandle>> out;
  out.reserve(batch.size());
  for (const auto& req : batch) out.push_back(Start(req));
  return out;
}

Result<AttemptHandle> LocalExecutor::Start(const AttemptRequest& req) {
  const AttemptPaths paths = AttemptPathsFor(
      folder_per_run_ ? run_dir_ + "/" + req.run_id : run_dir_, req.task, req.attempt);
  if (spare_dirs_.empty() || spare_logs_.size() < 2) FindSpares();
  if (!TakeSpare(spare_dirs_, paths.work)) {
    // Attempt numbers are never reused, but start clean if a folder was left anyway.
    if (fs_.Stat(paths.work).exists) {
      if (auto s = fs_.RemoveAll(paths.work); !s) return std::unexpected(s.error());
    }
    if (auto s = fs_.MakeDirs(paths.work); !s) return std::unexpected(s.error());
  }
  // The launcher creates a log that is not there.
  TakeSpare(spare_logs_, paths.stdout_log);
  TakeSpare(spare_logs_, paths.stderr_log);
  SpawnRequest sp;
  sp.argv = req.argv;
  sp.cwd = req.working_dir.empty() ? paths.work : req.working_dir;
  if (!req.private_paths.empty()) {
    auto argv = SandboxedArgv(req, paths.work);
    if (!argv) return std::unexpected(argv.error());
    sp.argv = std::move(*argv);
  }
  sp.stdout_path = paths.stdout_log;
  sp.stderr_path = paths.stderr_log;
  // Declared variables override inherited ones of the same name; the SLUICE_* marks come last
  // (Adopt finds what is left of an attempt by them).
  sp.env.reserve(base_env_.size() + req.env.size() + 4);
  for (const auto& kv : base_env_) {
    std::string_view name = std::string_view(kv).substr(0, kv.find('='));
    bool overridden = std::any_of(req.env.begin(), req.env.end(),
                                  [&](const auto& p) { return p.first == name; });
    if (!overridden) sp.env.push_back(kv);
  }
  for (const auto& [k, v] : req.env) sp.env.push_back(k + "=" + v);
  for (const auto& [k, v] : AttemptMarks(req, paths.work)) sp.env.push_back(k + "=" + v);
  Running run;
  run.paths = paths;
  run.params = req.params;
  run.artifacts = req.artifacts;
  run.run_id = req.run_id;
  run.task = req.task;
  run.attempt = req.attempt;
  if (!req.masked.empty() || !req.secret_env.empty() || !req.secret_files.empty()) {
    if (auto s = GiveSecrets(req, paths, sp, run); !s) return std::unexpected(s.error());
  } else {
    // Kept by the run's keeper should this process die. (An attempt with secrets is not: its
    // output passes through this process to be masked.)
    sp.exit_file = paths.exit;
  }
  auto pid = launcher_.Spawn(sp);
  if (pid) {
    running_[*pid] = std::move(run);
  } else {
    if (run.masker) (void)TakeBackSecrets(run);
    ended_.emplace_back(0, paths);  // nothing ran: its files are spares if they are empty
  }
  // The checks for the next attempt's spares, while this one's program runs rather than
  // between one task's end and the next one's start.
  FindSpares();
  if (!pid) return std::unexpected(pid.error());
  return *pid;
}

void LocalExecutor::Cancel(AttemptHandle handle, StopMode mode) {
  if (auto a = adopted_.find(handle); a != adopted_.end()) {
    a->second.cancelled = true;
    // Its pid names it while its exit file is missing: its keeper reaps it only after writing.
    if (!fs_.Stat(a->second.run.paths.exit).exists) {
      launcher_.SignalGroup(a->second.pid, mode == StopMode::kKill ? SIGKILL : SIGTERM);
    }
    return;
  }
  auto it = running_.find(static_cast<int>(handle));
  if (it == running_.end()) return;
  cancelled_.insert(it->first);
  launcher_.SignalGroup(it->first, mode == StopMode::kKill ? SIGKILL : SIGTERM);
}

PollResult LocalExecutor::Poll(int64_t timeout_us) {
  // Adopted attempts end by a file their keeper writes: look again every few milliseconds.
  if (!adopted_.empty()) timeout_us = timeout_us < 0 ? kAdoptedPollUs : std::min(timeout_us, kAdoptedPollUs);
  WaitResult r = launcher_.Wait(timeout_us);
  PollResult out;
  out.interrupted = r.interrupted;
  for (const auto& exit : r.exits) {
    auto it = running_.find(exit.pid);
    if (it == running_.end()) continue;
    // The attempt is over when its main process is: whatever it left running in its process
    // group (`sleep 30 &`) was killed with it (ProcessLauncher::Wait), so nothing outlives the
    // attempt that started it.
    const bool cancelled = cancelled_.erase(exit.pid) > 0;
    AttemptEnd end = Ended(exit.pid, exit.exit_code, exit.signal, cancelled, it->second);
    ended_.emplace_back(exit.pid, std::move(it->second.paths));
    running_.erase(it);
    out.ends.push_back(std::move(end));
  }
  if (!adopted_.empty()) CheckAdopted(out.ends);
  return out;
}

AttemptEnd LocalExecutor::Ended(AttemptHandle handle, int exit_code, int signal, bool cancelled,
                                Running& r) {
  AttemptEnd end;
  end.handle = handle;
  end.how = signal ? AttemptEnd::How::kSignaled : AttemptEnd::How::kExited;
  end.exit_code = exit_code;
  end.signal = signal;
  const Status masked = r.masker ? TakeBackSecrets(r) : Status{};
  if (!signal && exit_code == 0 && !cancelled) {
    end.outputs = masked ? Collect(r) : Result<AttemptOutputs>(std::unexpected(masked.error()));
  }
  if (r.masker) MaskEnd(*r.masker, end);
  return end;
}

namespace {

// Follows a dotted path ("metrics.accuracy", "items.0.name") into a JSON value.
Result<Value> JsonPath(const Value& root, const std::string& path) {
  Value cur = root;
  if (path.empty()) return cur;
  for (const auto& part : Split(path, '.')) {
    if (cur.is_map()) {
      const Value* next = cur.Find(part);
      if (!next) return Fail(ErrorCode::kInvalidInput, "no key {} (in {})", Quote(part), path);
      cur = *next;
    } else if (cur.is_list()) {
      char* end = nullptr;
      long idx = std::strtol(part.c_str(), &end, 10);
      if (part.empty() || *end || idx < 0 || static_cast<size_t>(idx) >= cur.as_list().size()) {
        return Fail(ErrorCode::kInvalidInput, "no index {} (in {})", Quote(part), path);
      }
      cur = cur.as_list()[static_cast<size_t>(idx)];
    } else {
      return Fail(ErrorCode::kInvalidInput, "{} is not an object (in {})", Quote(part), path);
    }
  }
  return cur;
}

constexpr int64_t kMaxParamBytes = 1 << 20;
// What one artifact may hold (spec.md, Limits).
constexpr CopyLimits kArtifactLimits{100'000, int64_t{256} << 30, 64};

std::string TrimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

Result<AttemptOutputs> LocalExecutor::CollectOutputs(const AttemptPaths& paths,
                                                    const std::vector<WantedParam>& params,
                                                    const std::vector<WantedArtifact>& artifacts) {
  Running r;
  r.paths = paths;
  r.params = params;
  r.artifacts = artifacts;
  return Collect(r);
}

// Everything is read beneath the attempt's folder (its logs beneath the run's tasks/ folder),
// through no symbolic link that leads out of it, and bounded before it is read: what a task
// leaves there is the task's to choose (env.h, FileSystem::ReadFileBeneath).
Result<AttemptOutputs> LocalExecutor::Collect(const Running& r) {
  using Source = WantedParam::Source;
  const std::string& work = r.paths.work;
  ValueMap params;
  AttemptOutputs out;
  for (const auto& o : r.params) {
    bool from_stdout = o.source == Source::kStdoutText || o.source == Source::kStdoutJson;
    const std::string& log = r.paths.stdout_log;
    auto content = from_stdout
                       ? fs_.ReadFileBeneath(Dirname(log), log.substr(log.rfind('/') + 1), kMaxParamBytes)
                       : fs_.ReadFileBeneath(work, o.path, kMaxParamBytes);
    if (!content && from_stdout && content.error().code == ErrorCode::kNotFound) {
      content = std::string();  // the log exists only once something was printed
    }
    if (!content && o.default_value && content.error().code == ErrorCode::kNotFound) {
      content = *o.default_value;  // its declared default
    }
    if (!content) {
      if (content.error().code == ErrorCode::kNotFound) {
        return Fail(ErrorCode::kInvalidInput, "output {}: the task did not write {}", Quote(o.name),
                    Quote(o.path));
      }
      // Named as the task knows it: "stdout", not the log's file name.
      std::string why = content.error().message;
      const std::string log_name = Quote(log.substr(log.rfind('/') + 1)) + ": ";
      if (from_stdout && why.starts_with(log_name)) why = "stdout: " + why.substr(log_name.size());
      const bool too_large = why.find(" bytes, more than ") != std::string::npos;
      return Fail(ErrorCode::kInvalidInput, "output {}: {}{}", Quote(o.name), why,
                  too_large ? " (output params are limited to 1 MiB; use an artifact)" : "");
    }
    Value v;
    if (o.source == Source::kFile || o.source == Source::kStdoutText) {
      v = Value(TrimNewline(std::move(*content)));
    } else {
      auto doc = ParseJson(*content);
      if (!doc) return Fail(ErrorCode::kInvalidInput, "output {}: {}", Quote(o.name), doc.error().message);
      auto sel = JsonPath(*doc, o.json_path);
      if (!sel) return Fail(ErrorCode::kInvalidInput, "output {}: {}", Quote(o.name), sel.error().message);
      v = *sel;
    }
    SLUICE_TRY(typed, TypedOutput(o, std::move(v)));
    params.emplace_back(o.name, std::move(*typed));
  }
  for (const auto& a : r.artifacts) {
    auto stored = StoreArtifact(a.name, work, a.path);
    if (!stored && stored.error().code == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kInvalidInput, "artifact {}: the task did not create {}", Quote(a.name),
                  Quote(a.path));
    }
    if (!stored) {
      return Fail(ErrorCode::kInvalidInput, "artifact {}: {}", Quote(a.name), stored.error().message);
    }
    out.artifacts.push_back(std::move(*stored));
  }
  out.params = Value(std::move(params));
  return out;
}

namespace {

// The digest of entries[*i] (a file's content hash; for a folder, the hash of its sorted
// entries' kinds, digests and names, so equal trees share one stored copy), moving *i past it
// and everything inside it. `entries` is depth first, as CopyBeneath returns them.
std::string TreeDigest(const std::vector<CopiedEntry>& entries, size_t* i) {
  const CopiedEntry& e = entries[(*i)++];
  if (!e.is_dir) return e.sha256;
  const std::string prefix = e.rel.empty() ? "" : e.rel + "/";
  Sha256 h;
  h.Update("tree\n");
  while (*i < entries.size() && entries[*i].rel.starts_with(prefix)) {
    const CopiedEntry& child = entries[*i];
    const std::string name = child.rel.substr(prefix.size());
    const bool dir = child.is_dir;
    std::string d = TreeDigest(entries, i);
    h.Update(fmt::format("{} {} {}\n", dir ? "d" : "f", d, name));
  }
  return h.HexDigest();
}

}  // namespace

Result<ArtifactRef> LocalExecutor::StoreArtifact(const std::string& name, const std::string& root,
                                                 const std::string& rel) {
  std::string_view trimmed = rel;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.remove_suffix(1);
  const std::string base(trimmed.substr(trimmed.rfind('/') + 1));
  // Copied first, into a temporary folder of this process, and hashed as it is copied: the
  // digest is that of the stored copy, whatever the task's files do meanwhile, and a crash never
  // leaves a half-stored artifact under its final name.
  const std::string tmp = fmt::format("{}/tmp/{}-{}", artifact_root_, env_.Pid(), ++tmp_serial_);
  (void)fs_.RemoveAll(tmp);
  if (auto s = fs_.MakeDirs(tmp); !s) return std::unexpected(s.error());
  auto entries = fs_.CopyBeneath(root, rel, tmp + "/" + base, kArtifactLimits);
  if (!entries) {
    (void)fs_.RemoveAll(tmp);
    return std::unexpected(entries.error());
  }
  ArtifactRef ref;
  ref.name = name;
  size_t i = 0;
  ref.digest = TreeDigest(*entries, &i);
  for (const auto& e : *entries) ref.size += e.size;
  const std::string dir = fmt::format("{}/sha256/{}/{}", artifact_root_, ref.digest.substr(0, 2), ref.digest);
  ref.path = dir + "/" + base;
  // Equal content is stored once (equal content under another name shares the digest folder).
  Status moved;
  if (!fs_.Stat(ref.path).exists) {
    moved = fs_.MakeDirs(dir);
    if (moved) moved = fs_.Rename(tmp + "/" + base, ref.path);
  } else {
    (void)fs_.Touch(dir);  // reused: young again, so retention leaves it until this run records it
  }
  (void)fs_.RemoveAll(tmp);
  if (!moved && !fs_.Stat(ref.path).exists) return std::unexpected(moved.error());
  if (FileInfo f = fs_.Stat(ref.path); f.is_dir && (f.mode & 0222) != 0) {
    // CopyBeneath leaves a copied folder writable for the move above.
    if (auto s = fs_.SetMode(ref.path, f.mode & 07555); !s) return std::unexpected(s.error());
  }
  return ref;
}

}  // namespace sluice
