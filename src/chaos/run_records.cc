// Target runs read back from their events, and the probes computed over them (run_records.h).
#include "chaos/run_records.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"

namespace sluice {

namespace {

// Instance "train[2]" and a handler "train.compensate" belong to task glob "train*"; a glob of
// "" is every task.
bool TaskMatches(const std::string& glob, const std::string& name) {
  return glob.empty() || GlobMatch(glob, name);
}

}  // namespace

std::string JournalTime(int64_t us) {
  Timestamp t{us / 1'000'000, static_cast<int32_t>(us % 1'000'000) * 1000};
  return FormatTimestamp(t);
}

TargetRun TargetRunOf(const std::string& run_id, const std::string& phase,
                      const std::vector<Event>& events) {
  TargetRun r;
  r.run_id = run_id;
  r.phase = phase;
  std::map<std::string, size_t> index;
  int starts = 0;
  auto task = [&](const std::string& name) -> TargetTask& {
    auto [it, added] = index.emplace(name, r.tasks.size());
    if (added) r.tasks.push_back(TargetTask{name, "", {}});
    return r.tasks[it->second];
  };
  if (!events.empty()) r.start_us = events.front().time_us;
  for (const Event& e : events) {
    switch (e.kind) {
      case EventKind::kRunStarted: ++starts; break;
      case EventKind::kAttemptStarted: {
        TargetTask& t = task(e.task);
        t.attempts.push_back(TargetAttempt{e.attempt, e.time_us, 0, "", "", 0});
        if (e.attempt > 1) ++r.retries;
        if (e.attempt == 1 && e.task.ends_with(".compensate")) ++r.compensations;
        break;
      }
      case EventKind::kAttemptFinished: {
        TargetTask& t = task(e.task);
        for (auto it = t.attempts.rbegin(); it != t.attempts.rend(); ++it) {
          if (it->attempt != e.attempt) continue;
          it->end_us = e.time_us;
          it->status = e.status;
          it->error_class = e.error_class;
          it->exit_code = e.exit_code;
          break;
        }
        break;
      }
      case EventKind::kTaskFinished: task(e.task).state = e.status; break;
      case EventKind::kRunFinished:
        r.status = e.status;
        r.end_us = e.time_us;
        break;
      default: break;
    }
  }
  r.resumed = std::max(0, starts - 1);
  return r;
}

Value TargetRunToValue(const TargetRun& r) {
  ValueList tasks;
  for (const auto& t : r.tasks) {
    ValueList attempts;
    for (const auto& a : t.attempts) {
      attempts.push_back(Value(ValueMap{
          {"attempt", Value(int64_t{a.attempt})}, {"start", Value(JournalTime(a.start_us))},
          {"end", a.end_us ? Value(JournalTime(a.end_us)) : Value()},
          {"status", Value(a.status)}, {"errorClass", Value(a.error_class)},
          {"exitCode", Value(int64_t{a.exit_code})}}));
    }
    tasks.push_back(Value(ValueMap{{"name", Value(t.name)}, {"state", Value(t.state)},
                                   {"attempts", Value(std::move(attempts))}}));
  }
  ValueList breakers;
  for (const auto& b : r.breakers) {
    breakers.push_back(Value(ValueMap{{"breaker", Value(b.breaker)}, {"from", Value(b.from)},
                                      {"to", Value(b.to)}, {"time", Value(JournalTime(b.time_us))}}));
  }
  ValueList rollouts;
  for (const auto& x : r.rollouts) {
    rollouts.push_back(Value(ValueMap{{"task", Value(x.task)}, {"environment", Value(x.environment)},
                                      {"phase", Value(x.phase)}, {"message", Value(x.message)}}));
  }
  return Value(ValueMap{{"run", Value(r.run_id)}, {"phase", Value(r.phase)},
                        {"start", Value(JournalTime(r.start_us))},
                        {"end", r.end_us ? Value(JournalTime(r.end_us)) : Value()},
                        {"status", Value(r.status)}, {"tasks", Value(std::move(tasks))},
                        {"retries", Value(int64_t{r.retries})},
                        {"compensations", Value(int64_t{r.compensations})},
                        {"resumed", Value(int64_t{r.resumed})},
                        {"breakers", Value(std::move(breakers))},
                        {"rollouts", Value(std::move(rollouts))}});
}

Result<Value> ProbeOverRuns(const ProbeSpec& p, const std::vector<const TargetRun*>& runs) {
  if (runs.empty()) return Fail(ErrorCode::kNotFound, "no data: the phase has no target run");
  switch (p.kind) {
    case ProbeSpec::Kind::kRuns: {
      int ok = 0;
      for (const TargetRun* r : runs) {
        ok += std::find(p.statuses.begin(), p.statuses.end(), r->status) != p.statuses.end();
      }
      return Value(static_cast<double>(ok) / static_cast<double>(runs.size()));
    }
    case ProbeSpec::Kind::kTaskDuration: {
      std::vector<double> seconds;
      for (const TargetRun* r : runs) {
        for (const auto& t : r->tasks) {
          if (!TaskMatches(p.task, t.name)) continue;
          for (const auto& a : t.attempts) {
            if (a.status == "succeeded" && a.end_us) seconds.push_back((a.end_us - a.start_us) / 1e6);
          }
        }
      }
      if (seconds.empty()) {
        return Fail(ErrorCode::kNotFound, "no data: no attempt of {} succeeded in the phase",
                    Quote(p.task));
      }
      std::sort(seconds.begin(), seconds.end());
      // Nearest rank: the smallest value with at least p % of the samples at or below it.
      const size_t rank = static_cast<size_t>(std::ceil(p.percentile / 100.0 * seconds.size()));
      return Value(seconds[std::clamp<size_t>(rank, 1, seconds.size()) - 1]);
    }
    case ProbeSpec::Kind::kRetries:
    case ProbeSpec::Kind::kCompensations: {
      // A compensation is a handler instance "TASK.compensate": it counts for TASK.
      int64_t n = 0;
      bool seen = p.task.empty();
      for (const TargetRun* r : runs) {
        for (const auto& t : r->tasks) {
          const size_t handler = t.name.find(".compensate");
          if (!TaskMatches(p.task, t.name.substr(0, handler))) continue;
          seen = true;
          if (p.kind == ProbeSpec::Kind::kRetries) {
            for (const auto& a : t.attempts) n += a.attempt > 1;
          } else {
            n += handler != std::string::npos && !t.attempts.empty();
          }
        }
      }
      if (!seen) return Fail(ErrorCode::kNotFound, "no data: no task {} ran in the phase", Quote(p.task));
      return Value(n);
    }
    case ProbeSpec::Kind::kRollout: {
      int64_t n = 0;
      bool seen = false;
      for (const TargetRun* r : runs) {
        for (const auto& x : r->rollouts) {
          if (!TaskMatches(p.task, x.task)) continue;
          seen = true;
          n += x.phase == p.rollout_phase;
        }
      }
      if (!seen) {
        return Fail(ErrorCode::kNotFound, "no data: no rollout of {} in the phase",
                    Quote(p.task.empty() ? "*" : p.task));
      }
      return Value(n);
    }
    default:
      return Fail(ErrorCode::kInternal, "not a probe over runs");
  }
}

}  // namespace sluice
