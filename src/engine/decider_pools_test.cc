// The Decider and central pools (decider_pools.cc): an attempt starts only once its units are
// taken, waits (polled, not spun) while they are not free, gives them back when it ends or
// never started, and a pool no longer declared fails its task.
#include "engine/decider_test_fixture.h"

namespace sluice {
namespace decider_pools_test {

// Pools with `free` units each; what each task holds.
class FakePools : public CentralPools {
 public:
  Result<bool> Acquire(const std::string& task, int attempt, int64_t, const Units& units,
                       int64_t) override {
    ++asks;
    if (undeclared) return Fail(ErrorCode::kInvalidInput, "pool \"gpus\" is no longer declared");
    for (const auto& [pool, n] : units) {
      if (free[pool] < n) return false;
    }
    for (const auto& [pool, n] : units) free[pool] -= n;
    held[task] = {attempt, units};
    return true;
  }
  Status Release(const std::string& task) override {
    auto it = held.find(task);
    if (it == held.end()) return {};
    for (const auto& [pool, n] : it->second.second) free[pool] += n;
    held.erase(it);
    return {};
  }
  Status Reset(const std::vector<Held>& now_held, int64_t) override {
    while (!held.empty()) (void)Release(held.begin()->first);
    for (const Held& h : now_held) {
      for (const auto& [pool, n] : h.units) free[pool] -= n;
      held[h.task] = {h.attempt, h.units};
    }
    ++resets;
    return {};
  }
  std::map<std::string, double> free;
  std::map<std::string, std::pair<int, Units>> held;
  bool undeclared = false;
  int asks = 0;
  int resets = 0;
};

constexpr const char* kTwoGpuTasks =
    "    - {name: a, run: [x], resources: {gpus: 1}}\n"
    "    - {name: b, run: [x], resources: {gpus: 1}}\n";

class DeciderPoolsTest : public DeciderTest {
 protected:
  void SetUp() override {
    pools_.free["gpus"] = 1;
    ctx_.pools = &pools_;
  }
  FakePools pools_;
};

TEST_F(DeciderPoolsTest, AnAttemptWaitsForItsCentralUnitsAcrossTurnsAndRuns) {
  Build(kTwoGpuTasks);
  ASSERT_TRUE(decider_->AdoptCentralPools(kS));
  EXPECT_EQ(Advance(kS), (Names{"a"})) << "one unit: b waits, though a slot is free";
  EXPECT_EQ(pools_.held.count("a"), 1u);
  EXPECT_FALSE(decider_->HasRunnable()) << "the loop must sleep, not spin, while b waits";
  EXPECT_EQ(decider_->NextDueUs(), kS + 200'000) << "b asks again after a poll";
  const int asked = pools_.asks;
  EXPECT_TRUE(Advance(kS + 1).empty());
  EXPECT_EQ(pools_.asks, asked) << "a refused pool is not asked again before the poll";
  Exit("a", 0, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"b"})) << "a's unit came back at the turn after its end";
  EXPECT_EQ(pools_.held.count("a"), 0u);
  EXPECT_EQ(pools_.held.count("b"), 1u);
}

TEST_F(DeciderPoolsTest, UnitsFreedByAnotherRunAreTakenAtThePoll) {
  pools_.free["gpus"] = 0;  // another run holds the unit
  Build(kTwoGpuTasks);
  EXPECT_TRUE(Advance(kS).empty());
  pools_.free["gpus"] = 1;  // ... and gives it back
  EXPECT_TRUE(Advance(kS + 100'000).empty()) << "before the poll";
  EXPECT_EQ(Advance(kS + 200'000).size(), 1u);
}

TEST_F(DeciderPoolsTest, AnInstanceSettledWithoutAnAttemptGivesItsUnitsBack) {
  cache_.hit = Value(ValueMap{});
  Build("    - {name: a, run: [x], resources: {gpus: 1}, cache: true}\n");
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(StateOf("a"), TaskState::kCached);
  EXPECT_TRUE(pools_.held.empty());
  EXPECT_EQ(pools_.free["gpus"], 1);
}

TEST_F(DeciderPoolsTest, APoolNoLongerDeclaredFailsItsTask) {
  pools_.undeclared = true;
  Build("    - {name: a, run: [x], resources: {gpus: 1}}\n");
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").error_class, "unschedulable");
}

TEST_F(DeciderPoolsTest, AResumedRunHoldsWhatItsOpenAttemptsHeld) {
  Build(kTwoGpuTasks);
  ASSERT_TRUE(decider_->AdoptCentralPools(kS));
  EXPECT_EQ(Advance(kS), (Names{"a"}));
  // A new process replays the run: a is open; the store's rows become exactly that.
  auto replayed = std::make_unique<RunState>(plan_);
  ASSERT_TRUE(replayed->Replay(rec_->captured()));
  Recorder rec(*replayed, "r1", nullptr, nullptr);
  Decider again(*replayed, rec, ctx_, capacity_, &approvals_);
  pools_.held.clear();
  pools_.free["gpus"] = 1;
  ASSERT_TRUE(again.AdoptCentralPools(2 * kS));
  EXPECT_EQ(pools_.held.count("a"), 1u);
  EXPECT_EQ(pools_.free["gpus"], 0);
  again.ReleaseAllCentralPools(3 * kS);
  EXPECT_TRUE(pools_.held.empty());
}

constexpr const char* kHeldByTheRun = "  resources: {deploy: 1}\n";
constexpr const char* kTwoTasks =
    "    - {name: a, run: [x]}\n"
    "    - {name: b, run: [x]}\n";

// spec.resources: the run decides nothing before it holds them, then holds them across all
// its tasks, until it ends.
TEST_F(DeciderPoolsTest, ARunTakesItsOwnUnitsBeforeAnyTaskAndHoldsThemToItsEnd) {
  pools_.free["deploy"] = 0;  // another run holds the mutex
  Build(kTwoTasks, kHeldByTheRun);
  ASSERT_TRUE(decider_->AdoptCentralPools(kS));
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_TRUE(decider_->WaitsForRunPools());
  EXPECT_FALSE(decider_->Stuck()) << "waiting for the run's pools is not being stuck";
  EXPECT_FALSE(decider_->HasRunnable());
  EXPECT_EQ(decider_->NextDueUs(), kS + 200'000) << "the run asks again after a poll";
  EXPECT_EQ(rec_->captured().size(), 1u) << "nothing decided but the run's start";
  pools_.free["deploy"] = 1;  // ... the other run ended
  EXPECT_TRUE(Advance(kS + 100'000).empty()) << "before the poll";
  EXPECT_EQ(Advance(kS + 200'000), (Names{"a", "b"}));
  EXPECT_FALSE(decider_->WaitsForRunPools());
  ASSERT_EQ(pools_.held.count(CentralPools::kRunHolder), 1u);
  EXPECT_EQ(pools_.held[CentralPools::kRunHolder].second,
            (CentralPools::Units{{"deploy", 1.0}}));
  Exit("a", 0, 2 * kS);
  Exit("b", 0, 2 * kS);
  Advance(2 * kS);
  EXPECT_EQ(pools_.held.count(CentralPools::kRunHolder), 1u)
      << "tasks that end give back their own units only";
  decider_->ReleaseAllCentralPools(3 * kS);
  EXPECT_TRUE(pools_.held.empty());
  EXPECT_EQ(pools_.free["deploy"], 1);
}

TEST_F(DeciderPoolsTest, AResumedRunHoldsItsOwnUnitsAgainOnlyIfItHadBegun) {
  Build(kTwoTasks, kHeldByTheRun);
  pools_.free["deploy"] = 1;
  ASSERT_TRUE(decider_->AdoptCentralPools(kS));
  EXPECT_EQ(Advance(kS), (Names{"a", "b"}));
  Exit("a", 0, 2 * kS);
  auto resume = [&](const std::vector<Event>& events) {
    auto replayed = std::make_unique<RunState>(plan_);
    EXPECT_TRUE(replayed->Replay(events));
    return replayed;
  };
  // Killed after it began: a new process holds the mutex again, whatever the store says now.
  auto replayed = resume(rec_->captured());
  EXPECT_TRUE(replayed->began());
  Recorder rec(*replayed, "r1", nullptr, nullptr);
  Decider again(*replayed, rec, ctx_, capacity_, &approvals_);
  pools_.held.clear();
  pools_.free["deploy"] = 1;
  ASSERT_TRUE(again.AdoptCentralPools(3 * kS));
  EXPECT_EQ(pools_.held.count(CentralPools::kRunHolder), 1u);
  EXPECT_EQ(pools_.free["deploy"], 0);
  EXPECT_FALSE(again.WaitsForRunPools());
  // Killed before it began (only its start recorded): it asks in its turn, as a new run would.
  auto fresh = resume({rec_->captured().front()});
  EXPECT_FALSE(fresh->began());
  Recorder rec2(*fresh, "r1", nullptr, nullptr);
  Decider anew(*fresh, rec2, ctx_, capacity_, &approvals_);
  ASSERT_TRUE(anew.AdoptCentralPools(4 * kS));
  EXPECT_TRUE(pools_.held.empty());
  EXPECT_TRUE(anew.WaitsForRunPools());
  // A finished run gave them back: a rollback of it (or a retry) asks again.
  std::vector<Event> finished = rec_->captured();
  Event fin;
  fin.kind = EventKind::kRunFinished;
  fin.status = "succeeded";
  finished.push_back(fin);
  EXPECT_FALSE(resume(finished)->began());
}

TEST_F(DeciderPoolsTest, ARunsOwnPoolNoLongerDeclaredFailsItsTasks) {
  pools_.undeclared = true;
  Build(kTwoTasks, kHeldByTheRun);
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").error_class, "unschedulable");
  EXPECT_NE(Last(EventKind::kTaskFinished, "a").message.find("no longer declared"),
            std::string::npos);
}

}  // namespace decider_pools_test
}  // namespace sluice
