#include "cli/run_report.h"

#include <cstdio>
#include <map>

#include "common/masker.h"
#include "common/outcome.h"
#include "common/strings.h"
#include "exec/local_executor.h"

namespace sluice {

std::vector<std::string> LastLines(std::string_view text, int n, const Masker* masker) {
  std::vector<std::string> lines;
  size_t end = text.size();
  while (end > 0 && static_cast<int>(lines.size()) < n) {
    size_t start = text.rfind('\n', end - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    std::string_view line = text.substr(start, end - start);
    end = start == 0 ? 0 : start - 1;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    if (line.empty()) continue;
    // Masked before it is cut: a secret across the cut would leave its start shown.
    std::string shown = masker && !masker->empty() ? masker->Mask(line) : std::string(line);
    if (shown.size() > 200) shown = shown.substr(0, 197) + "...";
    lines.push_back(EscapeControl(shown));
  }
  return {lines.rbegin(), lines.rend()};
}

std::string ShellWord(const std::string& name) {
  bool plain = !name.empty();
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') plain = false;
  }
  if (plain) return name;
  std::string out = "'";
  for (char c : name) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

namespace {

constexpr int kShownFailures = 20;
constexpr int kStderrLines = 3;
constexpr int64_t kStderrMaxBytes = 4 << 20;  // a larger log is left to `sluice logs`

// The instances that failed after running an attempt, forEach items included (they name the
// attempt to look at), handlers excluded (their owner's line says it): at most `limit`.
std::vector<int> FailedInstances(const RunState& state, int limit) {
  std::vector<int> out;
  for (int i = 0; i < state.size() && static_cast<int>(out.size()) < limit; ++i) {
    const Instance& in = state.at(i);
    if (in.state == TaskState::kFailed && in.attempt > 0 && in.owner < 0) out.push_back(i);
  }
  return out;
}

void PrintFailure(FileSystem& fs, const Instance& in, const std::string& run_id,
                  const std::string& run_dir, const Masker* masker) {
  std::string line = fmt::format("  {} failed: {}", in.name, in.last_failure().message);
  AttemptPaths paths = AttemptPathsFor(run_dir, in.name, in.attempt);
  FileInfo info = fs.Stat(paths.stderr_log);
  if (info.exists && info.size <= kStderrMaxBytes) {
    if (auto text = fs.ReadFile(paths.stderr_log)) {
      std::vector<std::string> tail = LastLines(*text, kStderrLines, masker);
      for (const auto& l : tail) line += "\n    | " + l;
    }
  }
  std::fprintf(stderr, "%s\n    logs: sluice logs %s %s\n", line.c_str(), run_id.c_str(),
               ShellWord(in.name).c_str());
}

// "3 succeeded, 1 failed" over the user's tasks (top-level: a forEach parent stands for its
// items), then "; handlers: 1 succeeded" for catch, fallback and compensate instances.
std::string Counts(const RunState& state) {
  std::map<std::string, int> tasks, handlers;
  for (int i = 0; i < state.size(); ++i) {
    const Instance& in = state.at(i);
    if (in.parent >= 0) continue;
    ++(in.owner >= 0 ? handlers : tasks)[std::string(TaskStateName(in.state))];
  }
  auto text = [](const std::map<std::string, int>& m) {
    std::vector<std::string> parts;
    for (const auto& [s, n] : m) parts.push_back(fmt::format("{} {}", n, s));
    return Join(parts, ", ");
  };
  std::string out = text(tasks);
  if (!handlers.empty()) out += "; handlers: " + text(handlers);
  return out;
}

}  // namespace

void ReportRun(FileSystem& fs, const Engine& engine, Store& store, const std::string& run_id,
               const std::string& run_dir, const RunSummary& summary, int64_t run_us,
               const ExecOptions& x, const Masker* masker) {
  const RunState& state = engine.state();
  if (!x.cancel_only) {
    for (int i : FailedInstances(state, kShownFailures)) {
      PrintFailure(fs, state.at(i), run_id, run_dir, masker);
    }
  }
  const std::string status(RunStatusName(summary.status));
  std::fprintf(stderr, "run %s %s (%s)\n", run_id.c_str(), status.c_str(), Counts(state).c_str());
  auto artifacts = store.ListArtifacts(run_id);
  for (const auto& [task, name, path] : artifacts ? *artifacts : std::vector<std::array<std::string, 3>>{}) {
    std::fprintf(stderr, "  artifact %s.%s: %s\n", task.c_str(), name.c_str(), path.c_str());
  }
  std::fprintf(stderr, "  run folder: %s\n", run_dir.c_str());
  if (!x.stats) return;
  std::fprintf(stderr, "  scheduling latency (ready -> process start): p50 %s, p99 %s over %d attempts\n",
               FormatDurationMs(summary.latency_p50_us / 1000).c_str(),
               FormatDurationMs(summary.latency_p99_us / 1000).c_str(), summary.attempts_spawned);
  std::fprintf(stderr, "  (microseconds: p50 %lld, p99 %lld)\n",
               static_cast<long long>(summary.latency_p50_us),
               static_cast<long long>(summary.latency_p99_us));
  std::fprintf(stderr, "  phases: load and compile %s, submit %s, execute %s\n",
               FormatDurationMs(x.load_us / 1000).c_str(),
               FormatDurationMs(x.submit_us / 1000).c_str(), FormatDurationMs(run_us / 1000).c_str());
}

}  // namespace sluice
