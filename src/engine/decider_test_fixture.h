// The DeciderTest fixture shared by decider_test.cc, decider_failure_test.cc and attempt_test.cc:
// the Decider stepped by hand, with no executor. A turn (Advance) gives the attempts to start and
// the decisions recorded; the test reports how attempts ended (AttemptEnded, SubmitFailed) and
// lets time pass (Tick) with plain integer times. Header-only; test-only. Not in an anonymous
// namespace, so that every file's TEST_F(DeciderTest, ...) shares one fixture class, as
// GoogleTest requires of a test suite.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/attempt.h"
#include "engine/breaker.h"
#include "engine/decider.h"
#include "engine/engine_fakes.h"  // Compile() and kSaga only
#include "engine/recorder.h"
#include "engine/run_state.h"

namespace sluice {

using Names = std::vector<std::string>;

constexpr int64_t kS = 1'000'000;  // one second, in the engine's microseconds

// Votes as cast so far, by task.
class FakeApprovals : public Approvals {
 public:
  Result<std::vector<ApprovalVote>> Votes(const std::string&, const std::string& task) override {
    return votes[task];
  }
  std::map<std::string, std::vector<ApprovalVote>> votes;
};

// Answers every lookup with `hit` (nullopt: a miss) and keeps the keys asked for.
class FakeCache : public CacheLookup {
 public:
  std::optional<Value> Find(const std::string& key, int64_t, int64_t) override {
    keys.push_back(key);
    return hit;
  }
  std::optional<Value> hit;
  Names keys;
};

inline AttemptOutputs Params(ValueMap params) {
  return AttemptOutputs{Value(std::move(params)), {}};
}

class DeciderTest : public ::testing::Test {
 protected:
  // Compiles the pipeline and builds a run of it that started at 1 s.
  void Build(const std::string& tasks, const std::string& extra = "",
             std::map<std::string, std::string> files = {}) {
    plan_ = Compile(tasks, extra, std::move(files));
    state_ = std::make_unique<RunState>(plan_);
    rec_ = std::make_unique<Recorder>(*state_, "r1", nullptr, nullptr);
    ctx_.run_id = "r1";
    ctx_.breakers = &breakers_;
    ctx_.cache = &cache_;
    decider_ = std::make_unique<Decider>(*state_, *rec_, ctx_, capacity_, &approvals_);
    Event started;
    started.kind = EventKind::kRunStarted;
    rec_->Record(started, kS);
  }

  // One turn, as the loop takes it but without submitting anything.
  Orders Turn(int64_t now) {
    Orders orders;
    decider_->Advance(now, orders);
    stops_ = Names();
    for (int i : orders.stop) stops_.push_back(state_->at(i).name);
    return orders;
  }
  // One turn whose attempts are all submitted (recorded spawned, as the loop does): their names.
  Names Advance(int64_t now) {
    Orders orders = Turn(now);
    Names started;
    for (auto& [i, req] : orders.start) {
      Event e;
      e.kind = EventKind::kAttemptSpawned;
      e.task = req.task;
      e.attempt = req.attempt;
      e.pid = next_pid_++;
      rec_->Record(e, now, i);
      started.push_back(req.task);
      requests_[req.task] = std::move(req);
    }
    return started;
  }
  // Time passes to `now`: the attempts the Decider asks to stop.
  Names Tick(int64_t now) {
    Orders orders;
    decider_->Tick(now, orders);
    Names out;
    for (int i : orders.stop) out.push_back(state_->at(i).name);
    return out;
  }
  // Tick, then a turn: what became due starts.
  Names Due(int64_t now) {
    EXPECT_TRUE(Tick(now).empty());
    return Advance(now);
  }
  void End(const std::string& task, AttemptEnd end, int64_t now) {
    ASSERT_GE(I(task), 0) << task;
    decider_->AttemptEnded(I(task), end, now);
  }
  void Exit(const std::string& task, int code, int64_t now, AttemptOutputs out = Params({})) {
    AttemptEnd end;
    end.how = AttemptEnd::How::kExited;
    end.exit_code = code;
    if (code == 0) end.outputs = std::move(out);
    End(task, std::move(end), now);
  }
  void Killed(const std::string& task, int sig, int64_t now) {
    AttemptEnd end;
    end.how = AttemptEnd::How::kSignaled;
    end.signal = sig;
    End(task, std::move(end), now);
  }

  int I(const std::string& name) const { return state_->Find(name); }
  TaskState StateOf(const std::string& name) const {
    return I(name) < 0 ? TaskState::kPending : state_->at(I(name)).state;
  }
  // Task names of the recorded events of `kind` (with `status`, when given), in order.
  Names Tasks(EventKind kind, const std::string& status = "") const {
    Names out;
    for (const auto& e : rec_->captured()) {
      if (e.kind == kind && (status.empty() || e.status == status)) out.push_back(e.task);
    }
    return out;
  }
  // The last recorded event of `kind` about `task`.
  const Event& Last(EventKind kind, const std::string& task = "") const {
    static const Event kNone;
    const auto& events = rec_->captured();
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->kind == kind && it->task == task) return *it;
    }
    ADD_FAILURE() << "no " << EventKindName(kind) << " event for " << task;
    return kNone;
  }
  std::string Log() const {
    std::string out;
    for (const auto& e : rec_->captured()) {
      out += fmt::format("{} {} #{} {} {} {}\n", EventKindName(e.kind), e.task, e.attempt, e.status,
                         e.error_class, e.message);
    }
    return out;
  }

  Capacity capacity_{.jobs = 2, .cpu = 4};
  MemoryBreakers breakers_;
  FakeCache cache_;
  FakeApprovals approvals_;
  std::shared_ptr<const Plan> plan_;
  std::unique_ptr<RunState> state_;
  std::unique_ptr<Recorder> rec_;
  RunContext ctx_;
  std::unique_ptr<Decider> decider_;
  std::map<std::string, AttemptRequest> requests_;  // the last request of each instance
  Names stops_;                                     // the stops of the last turn
  int next_pid_ = 100;
};

}  // namespace sluice
