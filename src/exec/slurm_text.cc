// Slurm's command lines and output as text (slurm_text.h).
#include "exec/slurm_text.h"

#include <signal.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "common/strings.h"

namespace sluice {

namespace {

std::optional<int64_t> Number(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::vector<std::string_view> Fields(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (true) {
    size_t next = line.find(sep, at);
    out.push_back(line.substr(at, next == std::string_view::npos ? next : next - at));
    if (next == std::string_view::npos) return out;
    at = next + 1;
  }
}

// The value of " KEY=" in a jobcomp line (values hold no spaces but WorkDir's and Name's may:
// they are never read).
std::string_view Field(std::string_view line, std::string_view key) {
  for (size_t at = 0; (at = line.find(key, at)) != std::string_view::npos; at += key.size()) {
    if (at > 0 && line[at - 1] != ' ') continue;
    if (at + key.size() >= line.size() || line[at + key.size()] != '=') continue;
    std::string_view rest = line.substr(at + key.size() + 1);
    return rest.substr(0, rest.find(' '));
  }
  return {};
}

}  // namespace

std::string SlurmJobKey::Text() const {
  return task < 0 ? std::to_string(job) : fmt::format("{}_{}", job, task);
}

std::vector<SlurmJobRow> ParseSqueue(std::string_view text) {
  std::vector<SlurmJobRow> out;
  for (std::string_view line : Fields(text, '\n')) {
    auto f = Fields(line, '|');
    if (f.size() < 6) continue;
    auto id = Number(Trim(f[0]));
    auto array = Number(Trim(f[1]));
    auto raw = Number(Trim(f[4]));
    if (!raw) continue;
    SlurmJobRow r;
    if (auto task = Number(Trim(f[2])); task && array) {
      r.key = {*array, static_cast<int>(*task)};
    } else if (Trim(f[2]) == "N/A" && id) {
      r.key = {*id, -1};
    } else {
      continue;  // a range of pending array tasks ("24_[4-9]")
    }
    r.state = std::string(Trim(f[3]));
    const int status = static_cast<int>(*raw);
    r.signal = status & 0x7f;
    r.exit_code = r.signal ? 0 : (status >> 8) & 0xff;
    r.reason = std::string(Trim(f[5]));
    if (f.size() >= 8) r.command = std::string(Trim(f[6]));
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<SlurmJobRow> FindInJobcomp(std::string_view text, const SlurmJobKey& key) {
  std::optional<SlurmJobRow> found;
  for (std::string_view line : Fields(text, '\n')) {
    if (!line.starts_with("JobId=")) continue;
    SlurmJobKey k;
    auto array = Number(Field(line, "ArrayJobId"));
    auto task = Number(Field(line, "ArrayTaskId"));
    if (array && task) {
      k = {*array, static_cast<int>(*task)};
    } else if (auto id = Number(Field(line, "JobId"))) {
      k = {*id, -1};
    } else {
      continue;
    }
    if (k != key) continue;
    SlurmJobRow r;
    r.key = k;
    r.state = std::string(Field(line, "JobState"));
    std::string_view code = Field(line, "ExitCode");
    size_t colon = code.find(':');
    if (colon == std::string_view::npos) continue;
    r.exit_code = static_cast<int>(Number(code.substr(0, colon)).value_or(0));
    r.signal = static_cast<int>(Number(code.substr(colon + 1)).value_or(0));
    found = std::move(r);
  }
  return found;
}

std::string JobcompFileOf(std::string_view show_config) {
  std::string type, loc;
  for (std::string_view line : Fields(show_config, '\n')) {
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = Trim(line.substr(eq + 1));
    if (key == "JobCompType") type = value;
    if (key == "JobCompLoc") loc = value;
  }
  return type == "jobcomp/filetxt" && loc.starts_with('/') ? loc : "";
}

bool SlurmJobActive(std::string_view state) {
  static constexpr std::string_view kActive[] = {
      "PENDING",   "CONFIGURING", "RUNNING",      "COMPLETING", "SUSPENDED",
      "STOPPED",   "REQUEUED",    "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
      "SIGNALING", "STAGE_OUT",   "RESV_DEL_HOLD", "SPECIAL_EXIT"};
  return std::find(std::begin(kActive), std::end(kActive), state) != std::end(kActive);
}

bool SlurmPendingForever(std::string_view reason) {
  static constexpr std::string_view kStuck[] = {"PartitionConfig", "JobHeldUser", "JobHeldAdmin",
                                                "DependencyNeverSatisfied", "BadConstraints",
                                                "InvalidAccount", "InvalidQOS"};
  return std::find(std::begin(kStuck), std::end(kStuck), reason) != std::end(kStuck);
}

AttemptEnd SlurmEnd(const SlurmJobRow& row) {
  AttemptEnd end;
  auto by_status = [&] {
    end.how = row.signal ? AttemptEnd::How::kSignaled : AttemptEnd::How::kExited;
    end.exit_code = row.signal ? -1 : row.exit_code;
    end.signal = row.signal;
  };
  const std::string& s = row.state;
  if (s == "COMPLETED" || s == "FAILED") {
    by_status();
  } else if (s == "CANCELLED" || s == "PREEMPTED" || s == "DEADLINE") {
    by_status();
    if (end.how == AttemptEnd::How::kExited && end.exit_code == 0) {  // jobcomp loses it
      end.how = AttemptEnd::How::kSignaled;
      end.exit_code = -1;
      end.signal = SIGTERM;
    }
    if (s != "CANCELLED") {
      end.error_class = s == "DEADLINE" ? ErrorClass::kTimeout : ErrorClass::kLost;
      end.message = fmt::format("Slurm ended the job: {}", s);
    }
  } else if (s == "TIMEOUT") {
    by_status();
    end.error_class = ErrorClass::kTimeout;
    end.message = "Slurm ended the job at its time limit (TIMEOUT)";
  } else if (s == "OUT_OF_MEMORY") {
    by_status();
    end.error_class = ErrorClass::kOom;
    end.message = "Slurm ended the job: it used more memory than it asked for (OUT_OF_MEMORY)";
  } else {  // NODE_FAIL, BOOT_FAIL, REVOKED, or a state this version does not know
    end.how = AttemptEnd::How::kLost;
    end.message = fmt::format("Slurm ended the job: {}", s.empty() ? "unknown state" : s);
  }
  return end;
}

std::string SlurmTimeLimit(int64_t timeout_ms) {
  if (timeout_ms <= 0) return "";
  return std::to_string((timeout_ms + 59'999) / 60'000);
}

std::vector<std::string> SbatchOptions(const AttemptRequest& req, const std::string& workdir,
                                       const std::string& stdout_log,
                                       const std::string& stderr_log, int count, int parallelism) {
  std::vector<std::string> o = {"--parsable", "--no-requeue",
                                "--job-name=sluice:" + (count > 0 ? req.array_key : req.task),
                                "--comment=sluice run " + req.run_id, "--chdir=" + workdir};
  if (count > 0) {
    o.push_back(parallelism > 0 ? fmt::format("--array=0-{}%{}", count - 1, parallelism)
                                : fmt::format("--array=0-{}", count - 1));
  }
  o.push_back("--output=" + stdout_log);
  o.push_back("--error=" + stderr_log);
  if (req.cpu > 0) o.push_back(fmt::format("--cpus-per-task={}", static_cast<int>(std::ceil(req.cpu))));
  if (req.memory > 0) {
    o.push_back(fmt::format("--mem={}M", static_cast<int64_t>(std::ceil(req.memory / (1 << 20)))));
  }
  if (req.gpu > 0) o.push_back(fmt::format("--gres=gpu:{}", static_cast<int>(std::ceil(req.gpu))));
  if (std::string t = SlurmTimeLimit(req.timeout_ms); !t.empty()) o.push_back("--time=" + t);
  const auto& s = req.slurm;
  if (!s.partition.empty()) o.push_back("--partition=" + s.partition);
  if (!s.account.empty()) o.push_back("--account=" + s.account);
  if (!s.qos.empty()) o.push_back("--qos=" + s.qos);
  if (!s.constraint.empty()) o.push_back("--constraint=" + s.constraint);
  for (const auto& e : s.extra) o.push_back(e);
  return o;
}

int ArrayIndexOf(std::string_view array, const std::string& script) {
  const std::string tail = ") . " + ShellQuote(script) + " ;;";
  int line_no = 0;
  for (std::string_view line : Fields(array, '\n')) {
    if (line == script) return line_no;
    ++line_no;
    line = Trim(line);
    if (!line.ends_with(tail)) continue;
    auto k = Number(line.substr(0, line.size() - tail.size()));
    if (k) return static_cast<int>(*k);
  }
  return -1;
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string AttemptScript(const std::vector<std::pair<std::string, std::string>>& env,
                          const std::string& cwd,
                          const std::vector<std::string>& argv, const std::string& stdout_log,
                          const std::string& stderr_log, bool redirect) {
  std::string s = "#!/bin/bash\n# A Sluice attempt (docs/slurm.md).\n";
  if (redirect) {
    s += fmt::format("exec >>{} 2>>{}\n", ShellQuote(stdout_log), ShellQuote(stderr_log));
  }
  for (const auto& [k, v] : env) s += fmt::format("export {}={}\n", k, ShellQuote(v));
  s += fmt::format("cd {} || exit 126\nexec", ShellQuote(cwd));
  for (const auto& a : argv) s += " " + ShellQuote(a);
  return s + "\n";
}

std::optional<std::string> ArrayList(const std::vector<std::string>& scripts) {
  std::string s;
  for (const auto& path : scripts) {
    if (path.find('\n') != std::string::npos) return std::nullopt;
    s += path;
    s += '\n';
  }
  return s;
}

std::string ArrayScript(const std::string& list) {
  // mapfile is bash's own: no process, and it reads only up to the task's line.
  return fmt::format(
      "#!/bin/bash\n# A Sluice fan-out: one job array (docs/slurm.md). Task k runs the attempt "
      "script on line k+1 of its list.\n"
      "mapfile -t -s \"$SLURM_ARRAY_TASK_ID\" -n 1 sluice_attempt < {}\n"
      "[ -n \"${{sluice_attempt[0]}}\" ] && . \"${{sluice_attempt[0]}}\"\n"
      "echo \"no attempt for array task $SLURM_ARRAY_TASK_ID\" >&2\nexit 127\n",
      ShellQuote(list));
}

}  // namespace sluice
