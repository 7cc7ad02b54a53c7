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

}  // namespace decider_pools_test
}  // namespace sluice
