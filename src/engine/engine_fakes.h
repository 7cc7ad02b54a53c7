// Test doubles for the engine (after ninja's FakeCommandRunner): a compiler from inline YAML, an
// executor that runs attempts in fake time with scripted exit codes, and an in-memory event
// sink that can fail a chosen commit. Header-only; used by the engine's tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/breaker.h"
#include "engine/engine.h"
#include "env/fake_env.h"
#include "spec/plan.h"

namespace sluice {

inline std::shared_ptr<const Plan> Compile(const std::string& tasks, const std::string& spec_extra = "",
                                    std::map<std::string, std::string> files = {}) {
  files["/p.yaml"] = "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: t}\nspec:\n" +
                     spec_extra + "  tasks:\n" + tasks;
  MemFileSystem fs(std::move(files));
  auto plan = LoadPlan(fs, "/p.yaml");
  // A test whose inline pipeline does not compile fails with the reason (GoogleTest reports an
  // exception thrown from a test body) rather than crashing on the missing plan.
  if (!plan) throw std::runtime_error("the test's pipeline does not compile: " + plan.error().message);
  return *plan;
}

// a -> b -> c and a -> d, all compensable; e needs c and d and fails last. Compensations undo
// in reverse: c before b, b and d before a; c and d are unrelated and may overlap.
inline const char* const kSaga =
    "    - {name: a, run: [x], compensate: {run: [undo]}}\n"
    "    - {name: b, needs: [a], run: [x], compensate: {run: [undo]}}\n"
    "    - {name: c, needs: [b], run: [x], compensate: {run: [undo]}}\n"
    "    - {name: d, needs: [a], run: [x], compensate: {run: [undo]}}\n"
    "    - {name: e, needs: [c, d], run: [x]}\n";

// "train[2].catch[0]" -> "train.catch": the task an instance belongs to, for FakeExecutor.
inline std::string BaseName(const std::string& instance) {
  std::string out;
  int depth = 0;
  for (char c : instance) {
    if (c == '[') ++depth;
    else if (c == ']') --depth;
    else if (depth == 0) out += c;
  }
  return out;
}

// Runs attempts in fake time. Each task's attempts take `duration_us` (or durations[task]) and
// exit with the next code from `exits[task]` (0 once the list runs out); tasks are named by
// BaseName(), so exits["a.fallback"] scripts a's fallback. An attempt that exits 0 (and was not
// cancelled) hands back "TASK-out" for each output param it declares.
class FakeExecutor : public Executor {
 public:
  explicit FakeExecutor(FakeClock& clock) : clock_(clock) {}

  std::vector<Result<AttemptHandle>> Submit(std::span<const AttemptRequest> batch) override {
    std::vector<Result<AttemptHandle>> out;
    for (const auto& req : batch) out.push_back(Start(req));
    return out;
  }

  void Cancel(AttemptHandle pid, StopMode mode) override {
    const int sig = mode == StopMode::kKill ? SIGKILL : SIGTERM;
    signals.emplace_back(static_cast<int>(pid), sig);
    auto it = procs_.find(pid);
    if (it == procs_.end()) return;
    it->second.cancelled = true;
    if (sig == SIGKILL || !ignore_term) {
      it->second.end_us = clock_.NowUs();
      it->second.signal = sig;
    }
  }

  PollResult Poll(int64_t timeout_us) override {
    PollResult r;
    if (procs_.empty()) {
      if (timeout_us > 0) clock_.Advance(timeout_us);
      return r;
    }
    auto first = procs_.begin();
    for (auto it = procs_.begin(); it != procs_.end(); ++it) {
      if (it->second.end_us < first->second.end_us) first = it;
    }
    int64_t now = clock_.NowUs();
    if (timeout_us >= 0 && first->second.end_us > now + timeout_us) {
      clock_.Advance(timeout_us);
      return r;
    }
    if (first->second.end_us > now) clock_.Set(first->second.end_us);
    const Proc& p = first->second;
    AttemptEnd e;
    e.handle = first->first;
    e.how = p.signal ? AttemptEnd::How::kSignaled : AttemptEnd::How::kExited;
    e.exit_code = p.signal ? -1 : p.code;
    e.signal = p.signal;
    if (!p.signal && p.code == 0 && !p.cancelled) {
      ValueMap params;
      for (const auto& o : p.params) params.emplace_back(o.name, Value(p.task + "-out"));
      e.outputs = AttemptOutputs{Value(std::move(params)), {}};
    }
    r.ends.push_back(std::move(e));
    procs_.erase(first);
    return r;
  }

  std::vector<Adoption> Adopt(std::span<const OpenAttempt> open) override {
    std::vector<Adoption> out;
    for (const auto& a : open) {
      reclaimed.push_back(a.task);
      Adoption lost;
      lost.end.how = AttemptEnd::How::kLost;
      lost.end.message = "the attempt's outcome is unknown: sluice stopped while it ran";
      out.push_back(std::move(lost));
    }
    return out;
  }

  // The process of a crashed sluice: gone (Adopt would have killed it).
  void Crash() { procs_.clear(); }

  std::map<std::string, std::vector<int>> exits;
  std::map<std::string, int64_t> durations;
  std::set<std::string> spawn_fails;
  int64_t duration_us = 1'000'000;
  bool ignore_term = false;
  std::vector<std::string> started;
  std::vector<AttemptRequest> requests;
  std::vector<std::pair<int, int>> signals;
  std::vector<std::string> reclaimed;

 private:
  struct Proc {
    std::string task;
    int64_t end_us;
    int code;
    int signal = 0;
    bool cancelled = false;
    std::vector<WantedParam> params;
  };

  Result<AttemptHandle> Start(const AttemptRequest& req) {
    std::string base = BaseName(req.task);
    if (spawn_fails.count(base)) return Fail(ErrorCode::kIo, "cannot start");
    int pid = next_pid_++;
    auto& codes = exits[base];
    int code = codes.empty() ? 0 : codes.front();
    if (!codes.empty()) codes.erase(codes.begin());
    auto d = durations.find(base);
    procs_[pid] = {req.task, clock_.NowUs() + (d == durations.end() ? duration_us : d->second),
                   code, 0, false, req.params};
    started.push_back(req.task);
    requests.push_back(req);
    return pid;
  }

  FakeClock& clock_;
  int next_pid_ = 100;
  std::map<AttemptHandle, Proc> procs_;
};

// Keeps committed events; can be told to fail the Nth commit (a crash of the store).
class MemorySink : public EventSink {
 public:
  void Append(const Event& e) override { pending_.push_back(e); }
  Status Commit() override {
    const bool after_kind = fail_after_kind && seen_kind_ && !pending_.empty();
    if (++commits_ == fail_at_commit || after_kind) {
      pending_.clear();
      fail_after_kind.reset();
      return Fail(ErrorCode::kStore, "injected commit failure");
    }
    for (const auto& e : pending_) seen_kind_ = seen_kind_ || (fail_after_kind && e.kind == *fail_after_kind);
    for (auto& e : pending_) {
      e.seq = static_cast<int64_t>(events.size()) + 1;
      events.push_back(e);
    }
    pending_.clear();
    return {};
  }
  int commits() const { return commits_; }
  std::vector<Event> events;
  int fail_at_commit = -1;
  // Fails the first commit with events after the one that held an event of this kind (once):
  // a crash at a point of the run rather than at a count of commits, which timers change.
  std::optional<EventKind> fail_after_kind;

 private:
  bool seen_kind_ = false;
  std::vector<Event> pending_;
  int commits_ = 0;
};

struct Harness {
  FakeClock clock;
  FakeExecutor exec{clock};
  MemorySink sink;
  MemoryBreakers breakers;  // outlives each engine, as the store does

  std::unique_ptr<Engine> Make(std::shared_ptr<const Plan> plan, int jobs = 2,
                               bool rollback = false) {
    EngineOptions o;
    o.run_id = "r1";
    o.capacity.jobs = jobs;
    o.capacity.cpu = 4;
    o.rollback = rollback;
    o.breakers = &breakers;
    return std::make_unique<Engine>(plan, Value(ValueMap{}), o, clock, exec, sink, nullptr, nullptr);
  }

  // A new engine over what the sink committed, as `sluice resume` (or `rollback`) builds it.
  std::unique_ptr<Engine> Resume(std::shared_ptr<const Plan> plan, int jobs = 2,
                                 bool rollback = false) {
    auto e = Make(std::move(plan), jobs, rollback);
    auto st = e->Replay(sink.events);
    EXPECT_TRUE(st) << st.error().message;
    return e;
  }

  // The committed events, one a line: for failure messages.
  std::string Log() const {
    std::string out;
    for (const auto& e : sink.events) {
      out += fmt::format("{} {} {} #{} {} {} {}\n", e.seq, EventKindName(e.kind), e.task, e.attempt,
                         e.status, e.error_class, e.message);
    }
    return out;
  }

  // Task names of the committed events of `kind` (with `status`, when given), in order.
  std::vector<std::string> Tasks(EventKind kind, const std::string& status = "") const {
    std::vector<std::string> out;
    for (const auto& e : sink.events) {
      if (e.kind == kind && (status.empty() || e.status == status)) out.push_back(e.task);
    }
    return out;
  }
};

}  // namespace sluice
