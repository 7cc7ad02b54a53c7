// Attempts as Slurm jobs (slurm_executor.h).
#include "exec/slurm_executor.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "common/strings.h"

namespace sluice {

namespace {

constexpr int64_t kArrayBit = int64_t{1} << 18;
constexpr int kTaskBits = 18;
constexpr int kJobShift = 19;
constexpr size_t kMaxOutput = size_t{64} << 20;

}  // namespace

AttemptHandle SlurmHandle(const SlurmJobKey& key) {
  AttemptHandle h = kSlurmHandleBit | (key.job << kJobShift);
  return key.task < 0 ? h : h | kArrayBit | key.task;
}

SlurmJobKey SlurmKeyOf(AttemptHandle h) {
  SlurmJobKey k;
  k.job = (h & ~kSlurmHandleBit) >> kJobShift;
  k.task = (h & kArrayBit) ? static_cast<int>(h & ((int64_t{1} << kTaskBits) - 1)) : -1;
  return k;
}

SlurmExecutor::SlurmExecutor(Env& env, LocalExecutor& outputs, std::string run_dir,
                             std::vector<std::string> base_env)
    : env_(env), outputs_(outputs), run_dir_(env.files().Absolute(run_dir)) {
  // Absolute: sbatch resolves relative paths against the submit folder, and a job's folder
  // and logs must exist where the node looks.
  std::set<std::string> kept;
  for (const auto& kv : base_env) kept.insert(kv.substr(0, kv.find('=')));
  for (const auto& kv : env_.Environment()) {
    std::string name = kv.substr(0, kv.find('='));
    if (!kept.contains(name)) hidden_.push_back(std::move(name));
  }
}

Result<CommandResult> SlurmExecutor::Run(std::vector<std::string> argv, bool hide, bool errors) {
  // A shell only joins stderr to stdout (where squeue says a job id is unknown, sbatch why it
  // refused a job); every argument reaches the program as it is, never through the shell's
  // parsing. It costs a process (~1.5 ms here), so sbatch, called once per job, goes without.
  std::vector<std::string> full;
  if (errors) full = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
  if (hide && !hidden_.empty()) {
    full.push_back("env");
    for (const auto& name : hidden_) {
      full.push_back("-u");
      full.push_back(name);
    }
  }
  const std::string program = argv.empty() ? "" : argv[0];
  for (auto& a : argv) full.push_back(std::move(a));
  auto r = env_.RunCommand(full, "", kCommandTimeoutUs, kMaxOutput);
  if (r && r->timed_out) {
    return Fail(ErrorCode::kIo, "{} did not answer within {} s", program,
                kCommandTimeoutUs / 1'000'000);
  }
  return r;
}

// sbatch copies a script when it submits it, so a script needs no fsync (WriteFile's, which
// cost more than the sbatch call on a busy disk): written plainly, once, and never replaced.
Status SlurmExecutor::WriteScript(const std::string& path, std::string_view text) {
  FileSystem& fs = env_.files();
  SLUICE_TRY_STATUS(fs.Remove(path));
  SLUICE_TRY(file, fs.OpenAppend(path));
  return (*file)->Append(text);
}

Result<std::string> SlurmExecutor::Prepare(const AttemptRequest& req, bool in_array) {
  if (!req.secret_env.empty() || !req.secret_files.empty() || !req.masked.empty()) {
    return Fail(ErrorCode::kInvalidInput, "task {} has secrets, which executor: slurm does not "
                "hand over yet (docs/slurm.md, Limits)", Quote(req.task));
  }
  if (!req.private_paths.empty()) {
    return Fail(ErrorCode::kInvalidInput, "task {} has private paths, which executor: slurm "
                "does not provide (docs/slurm.md, Limits)", Quote(req.task));
  }
  if (req.argv.empty()) return Fail(ErrorCode::kInvalidInput, "task {} has no command", Quote(req.task));
  FileSystem& fs = env_.files();
  const AttemptPaths paths = AttemptPathsFor(run_dir_, req.task, req.attempt);
  if (fs.Stat(paths.work).exists) SLUICE_TRY_STATUS(fs.RemoveAll(paths.work));
  SLUICE_TRY_STATUS(fs.MakeDirs(paths.work));
  std::vector<std::pair<std::string, std::string>> vars = req.env;
  for (auto& mark : AttemptMarks(req, paths.work)) vars.push_back(std::move(mark));
  const std::string script = paths.work + ".slurm.sh";
  SLUICE_TRY_STATUS(WriteScript(
      script, AttemptScript(vars, req.working_dir.empty() ? paths.work : req.working_dir,
                            req.argv, paths.stdout_log, paths.stderr_log, in_array)));
  return script;
}

Result<int64_t> SlurmExecutor::Sbatch(std::vector<std::string> options, const std::string& script) {
  options.insert(options.begin(), "sbatch");
  options.push_back(script);
  SLUICE_TRY(r, Run(options, true, false));
  std::string_view out = Trim(r->out);
  if (r->exit_code != 0) {
    // Why, from the same request with --test-only, which never submits: sbatch says why only
    // on stderr, which the submit does not read.
    options.insert(options.begin() + 1, "--test-only");
    auto why = Run(options, true, true);
    std::string said = why ? std::string(Trim(why->out)) : "";
    return Fail(ErrorCode::kIo, "sbatch refused the job: {}",
                said.empty() ? fmt::format("exit {}", r->exit_code) : said);
  }
  // --parsable: "ID" or "ID;CLUSTER", after any warnings on lines of their own.
  std::string_view last = out.substr(out.rfind('\n') == std::string_view::npos ? 0 : out.rfind('\n') + 1);
  last = last.substr(0, last.find(';'));
  int64_t id = 0;
  if (last.empty() || !AllDigits(last) || last.size() > 12) {
    return Fail(ErrorCode::kIo, "sbatch printed no job id: {}", std::string(out));
  }
  for (char c : last) id = id * 10 + (c - '0');
  return id;
}

void SlurmExecutor::Track(AttemptHandle h, const AttemptRequest& req) {
  Job& j = jobs_[h];
  j.paths = AttemptPathsFor(run_dir_, req.task, req.attempt);
  j.params = req.params;
  j.artifacts = req.artifacts;
}

std::vector<Result<AttemptHandle>> SlurmExecutor::Submit(std::span<const AttemptRequest> batch) {
  std::vector<Result<AttemptHandle>> out(batch.size(), AttemptHandle{0});
  // Attempts of one fan-out submitted together become one job array.
  std::unordered_map<std::string, std::vector<size_t>> arrays;
  for (size_t k = 0; k < batch.size(); ++k) {
    if (!batch[k].array_key.empty()) arrays[batch[k].array_key].push_back(k);
  }
  std::vector<bool> done(batch.size(), false);
  for (auto& [key, members] : arrays) {
    if (members.size() < 2) continue;
    std::vector<size_t> ok;
    std::vector<std::string> scripts;
    for (size_t k : members) {
      done[k] = true;
      auto script = Prepare(batch[k], true);
      if (!script) {
        out[k] = std::unexpected(script.error());
        continue;
      }
      ok.push_back(k);
      scripts.push_back(std::move(*script));
    }
    // Slurm's default MaxArraySize is 1001: a larger fan-out is several arrays, which share
    // its parallelism.
    const size_t chunks = (ok.size() + kMaxArrayTasks - 1) / kMaxArrayTasks;
    for (size_t c = 0; c < chunks; ++c) {
      const size_t from = c * kMaxArrayTasks, to = std::min(ok.size(), from + kMaxArrayTasks);
      const AttemptRequest& first = batch[ok[from]];
      int parallelism = first.array_parallelism;
      if (parallelism > 0) parallelism = std::max(1, parallelism / static_cast<int>(chunks));
      const std::string base = AttemptPathsFor(run_dir_, first.task, first.attempt).work;
      const std::string path = base + ".array.sh", list_path = base + ".array.list";
      auto list = ArrayList({scripts.begin() + from, scripts.begin() + to});
      Result<int64_t> id = Fail(ErrorCode::kIo, "cannot write {}", path);
      if (!list) {
        id = Fail(ErrorCode::kInvalidInput, "a job array cannot list a path with a newline: {}",
                  Quote(run_dir_));
      } else if (WriteScript(list_path, *list) && WriteScript(path, ArrayScript(list_path))) {
        id = Sbatch(SbatchOptions(first, run_dir_ + "/tasks", "/dev/null", "/dev/null",
                                  static_cast<int>(to - from), parallelism), path);
      }
      for (size_t t = from; t < to; ++t) {
        if (!id) {
          out[ok[t]] = std::unexpected(id.error());
          continue;
        }
        AttemptHandle h = SlurmHandle({*id, static_cast<int>(t - from)});
        Track(h, batch[ok[t]]);
        out[ok[t]] = h;
      }
    }
  }
  for (size_t k = 0; k < batch.size(); ++k) {
    if (done[k]) continue;
    const AttemptRequest& req = batch[k];
    auto script = Prepare(req, false);
    if (!script) {
      out[k] = std::unexpected(script.error());
      continue;
    }
    const AttemptPaths paths = AttemptPathsFor(run_dir_, req.task, req.attempt);
    auto id = Sbatch(SbatchOptions(req, req.working_dir.empty() ? paths.work : req.working_dir,
                                   paths.stdout_log, paths.stderr_log, 0, 0),
                     *script);
    if (!id) {
      out[k] = std::unexpected(id.error());
      continue;
    }
    AttemptHandle h = SlurmHandle({*id, -1});
    Track(h, req);
    out[k] = h;
  }
  // The scheduler starts jobs on its next tick: look again soon.
  interval_us_ = kMinIntervalUs;
  next_poll_us_ = env_.clock().NowUs() + interval_us_;
  return out;
}

void SlurmExecutor::Cancel(AttemptHandle handle, StopMode mode) {
  auto it = jobs_.find(handle);
  if (it == jobs_.end()) return;
  it->second.cancelled = true;
  // scancel's status proves nothing (it is 0 for ended jobs too): the end comes by Poll.
  // kKill: SIGKILL now rather than SIGTERM and KillWait.
  std::vector<std::string> argv = {"scancel"};
  if (mode == StopMode::kKill) argv.insert(argv.end(), {"--full", "--signal=KILL"});
  argv.push_back(SlurmKeyOf(handle).Text());
  (void)Run(std::move(argv), false, false);
  if (mode == StopMode::kKill) (void)Run({"scancel", SlurmKeyOf(handle).Text()}, false, false);
  next_poll_us_ = std::min(next_poll_us_, env_.clock().NowUs() + kMinIntervalUs);
}

Result<std::vector<SlurmJobRow>> SlurmExecutor::Query(const std::vector<int64_t>& jobs) {
  std::string ids;
  for (int64_t id : jobs) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  ++squeue_calls_;
  SLUICE_TRY(r, Run({"squeue", "-h", "-r", "-t", "all", "-j", ids, "-O",
                     std::string(kSqueueFields)}, false, true));
  // None of the ids known: squeue fails with "Invalid job id specified". No rows, not an error.
  if (r->exit_code != 0 && r->out.find("Invalid job id") == std::string::npos) {
    return Fail(ErrorCode::kIo, "squeue failed: {}", std::string(Trim(r->out)));
  }
  return ParseSqueue(r->out);
}

std::optional<SlurmJobRow> SlurmExecutor::FromJobcomp(const SlurmJobKey& key) {
  if (!jobcomp_) {
    auto r = Run({"scontrol", "show", "config"}, false, false);
    jobcomp_ = r && r->exit_code == 0 ? JobcompFileOf(r->out) : "";
  }
  if (jobcomp_->empty()) return std::nullopt;
  // Read once per poll, and only its tail: a cluster's file grows for ever, and a job squeue
  // forgot ended minutes ago, not months.
  if (!jobcomp_tail_) {
    const int64_t size = env_.files().Stat(*jobcomp_).size;
    auto text = env_.files().ReadFileRange(*jobcomp_, std::max<int64_t>(0, size - kJobcompTail),
                                           kJobcompTail);
    jobcomp_tail_ = text ? std::move(*text) : "";
  }
  return FindInJobcomp(*jobcomp_tail_, key);
}

AttemptEnd SlurmExecutor::Ended(AttemptHandle h, const Job& job, const SlurmJobRow& row) {
  AttemptEnd end = SlurmEnd(row);
  end.handle = h;
  if (!job.stuck.empty() && !job.cancelled) {
    end.error_class = ErrorClass::kUnschedulable;
    end.message = fmt::format("Slurm cannot run it: it waited with reason {}, which waiting "
                              "never ends (docs/slurm.md)", job.stuck);
    return end;
  }
  if (end.how == AttemptEnd::How::kExited && end.exit_code == 0 && !job.cancelled &&
      end.error_class == ErrorClass::kNone) {
    end.outputs = outputs_.CollectOutputs(job.paths, job.params, job.artifacts);
  }
  return end;
}

int64_t SlurmExecutor::NextPollInUs() {
  if (jobs_.empty()) return -1;
  return std::max<int64_t>(0, next_poll_us_ - env_.clock().NowUs());
}

PollResult SlurmExecutor::Poll(int64_t /*timeout_us*/) {
  PollResult out;
  if (jobs_.empty() || NextPollInUs() > 0) return out;
  jobcomp_tail_.reset();
  std::set<int64_t> ids;
  for (const auto& [h, j] : jobs_) ids.insert(SlurmKeyOf(h).job);
  auto rows = Query({ids.begin(), ids.end()});
  const int64_t now = env_.clock().NowUs();
  if (!rows) {  // the controller is away: not an end; ask again later
    interval_us_ = std::min(interval_us_ * 2, kMaxIntervalUs);
    next_poll_us_ = now + interval_us_;
    return out;
  }
  std::map<SlurmJobKey, const SlurmJobRow*> by_key;
  for (const auto& r : *rows) by_key[r.key] = &r;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const SlurmJobKey key = SlurmKeyOf(it->first);
    auto row = by_key.find(key);
    std::optional<SlurmJobRow> gone;
    if (row == by_key.end()) {
      gone = FromJobcomp(key);
      if (!gone) {
        AttemptEnd end;
        end.handle = it->first;
        end.how = AttemptEnd::How::kLost;
        end.message = fmt::format("Slurm no longer knows job {}", key.Text());
        out.ends.push_back(std::move(end));
        it = jobs_.erase(it);
        continue;
      }
    } else if (SlurmJobActive(row->second->state)) {
      if (row->second->state == "PENDING" && SlurmPendingForever(row->second->reason) &&
          it->second.stuck.empty()) {
        // It would wait forever: cancel it, and say why when it ends.
        it->second.stuck = row->second->reason;
        (void)Run({"scancel", key.Text()}, false, false);
      }
      ++it;
      continue;
    }
    out.ends.push_back(Ended(it->first, it->second, gone ? *gone : *row->second));
    it = jobs_.erase(it);
  }
  interval_us_ = out.ends.empty() ? std::min(interval_us_ * 3 / 2, kMaxIntervalUs) : kMinIntervalUs;
  next_poll_us_ = now + interval_us_;
  return out;
}

std::vector<Adoption> SlurmExecutor::Adopt(std::span<const OpenAttempt> open) {
  std::vector<Adoption> out(open.size());
  jobcomp_tail_.reset();
  std::set<int64_t> ids;
  for (const auto& a : open) ids.insert(SlurmKeyOf(a.handle).job);
  auto rows = ids.empty() ? Result<std::vector<SlurmJobRow>>(std::vector<SlurmJobRow>{})
                          : Query({ids.begin(), ids.end()});
  std::map<SlurmJobKey, SlurmJobRow> by_key;
  if (rows) {
    for (auto& r : *rows) by_key[r.key] = std::move(r);
  }
  for (size_t k = 0; k < open.size(); ++k) {
    const OpenAttempt& a = open[k];
    const SlurmJobKey key = SlurmKeyOf(a.handle);
    Job job;
    job.paths = AttemptPathsFor(run_dir_, a.task, a.attempt);
    job.params = a.params;
    job.artifacts = a.artifacts;
    std::optional<SlurmJobRow> row;
    if (auto r = by_key.find(key); r != by_key.end()) row = r->second;
    if (!row && rows) row = FromJobcomp(key);
    if (!rows || (row && SlurmJobActive(row->state))) {
      out[k].verdict = Adoption::Verdict::kAdopted;
      out[k].handle = a.handle;
      jobs_[a.handle] = std::move(job);
      continue;
    }
    if (!row) {
      out[k].verdict = Adoption::Verdict::kLost;
      out[k].end.handle = a.handle;
      out[k].end.how = AttemptEnd::How::kLost;
      out[k].end.message = fmt::format("Slurm no longer knows job {}", key.Text());
      continue;
    }
    out[k].verdict = Adoption::Verdict::kEnded;
    out[k].end = Ended(a.handle, job, *row);
  }
  interval_us_ = kMinIntervalUs;
  next_poll_us_ = env_.clock().NowUs();
  return out;
}

std::vector<std::optional<Adoption>> SlurmExecutor::AdoptUnrecorded(
    std::span<const OpenAttempt> open) {
  std::vector<std::optional<Adoption>> out(open.size());
  if (open.empty()) return out;
  ++squeue_calls_;
  auto listed = Run({"squeue", "-h", "-r", "-t", "all", "--me", "-O",
                     std::string(kSqueueMineFields)}, false, true);
  if (!listed || listed->exit_code != 0) return out;
  const std::vector<SlurmJobRow> rows = ParseSqueue(listed->out);
  std::map<std::string, std::string> arrays;  // a job array's script -> its text
  const std::string tasks = run_dir_ + "/tasks/";
  for (size_t k = 0; k < open.size(); ++k) {
    const OpenAttempt& a = open[k];
    Job job;
    job.paths = AttemptPathsFor(run_dir_, a.task, a.attempt);
    job.params = a.params;
    job.artifacts = a.artifacts;
    const std::string script = job.paths.work + ".slurm.sh";
    for (const SlurmJobRow& row : rows) {
      bool mine = row.key.task < 0 && row.command == script;
      if (!mine && row.key.task >= 0 && row.command.starts_with(tasks) &&
          row.command.ends_with(".array.sh")) {
        auto [it, fresh] = arrays.try_emplace(row.command);
        if (fresh) {  // its list; an array of an earlier version names its scripts itself
          const std::string list = row.command.substr(0, row.command.size() - 2) + "list";
          auto text = env_.files().ReadFile(list);
          it->second = text ? std::move(*text) : env_.files().ReadFile(row.command).value_or("");
        }
        mine = ArrayIndexOf(it->second, script) == row.key.task;
      }
      if (!mine) continue;
      const AttemptHandle h = SlurmHandle(row.key);
      Adoption found;
      if (SlurmJobActive(row.state)) {
        found.verdict = Adoption::Verdict::kAdopted;
        found.handle = h;
        jobs_[h] = std::move(job);
      } else {
        found.verdict = Adoption::Verdict::kEnded;
        found.end = Ended(h, job, row);
      }
      out[k] = std::move(found);
      break;
    }
  }
  interval_us_ = kMinIntervalUs;
  next_poll_us_ = env_.clock().NowUs();
  return out;
}

}  // namespace sluice
