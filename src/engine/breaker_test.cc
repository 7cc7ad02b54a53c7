// The circuit breaker's state machine, against resilience4j's documented behaviour.
#include "engine/breaker.h"

#include <gtest/gtest.h>

#include "common/strings.h"

namespace sluice {
namespace breaker_test {


struct BreakerFixture {
  BreakerSpec c;
  BreakerData d;
  std::vector<BreakerTransition> ts;
  int64_t now = 1000 * kSecondUs;

  bool Acquire() { return BreakerAcquire(c, d, now, &ts); }
  void Call(bool failed, int64_t duration_us = kSecondUs) {
    ASSERT_TRUE(Acquire());
    BreakerRecord(c, d, now, failed, duration_us, &ts);
  }
  std::string Path() const {
    std::string out = "closed";
    for (const auto& t : ts) out += std::string(" -> ") + std::string(BreakerStateName(t.to));
    return out;
  }
};

TEST(Breaker, OpensWhenTheFailureRateReachesTheThresholdOverTheMinimumCalls) {
  BreakerFixture b;
  b.c.window_size = 10;
  b.c.minimum_calls = 4;
  b.c.failure_rate = 50;
  b.Call(true);
  b.Call(true);
  b.Call(true);  // 3 of 3 failed, but fewer than the minimum
  EXPECT_EQ(b.d.state, BreakerState::kClosed);
  b.Call(false);  // 3 of 4 = 75%
  EXPECT_EQ(b.d.state, BreakerState::kOpen);
  EXPECT_FALSE(b.Acquire());  // open: calls are not permitted
  EXPECT_NE(b.ts[0].reason.find("failure rate 75%"), std::string::npos) << b.ts[0].reason;
}

TEST(Breaker, ACountWindowForgetsOldCalls) {
  BreakerFixture b;
  b.c.window_size = 4;
  b.c.minimum_calls = 100;  // capped at the window size, as resilience4j does
  b.c.failure_rate = 60;
  for (bool f : {true, true, false, false, false, false, true, true}) b.Call(f);
  // The last four: false false true true = 50% < 60%.
  EXPECT_EQ(b.d.state, BreakerState::kClosed);
  b.Call(true);  // false true true true = 75%
  EXPECT_EQ(b.d.state, BreakerState::kOpen);
}

TEST(Breaker, ATimeWindowCountsOnlyRecentCalls) {
  BreakerFixture b;
  b.c.time_based = true;
  b.c.window_size = 10;  // seconds
  b.c.minimum_calls = 3;
  b.Call(true);
  b.Call(true);
  b.now += 11 * kSecondUs;  // those two leave the window
  b.Call(true);
  b.Call(false);
  EXPECT_EQ(b.d.state, BreakerState::kClosed);
  b.Call(true);  // 2 of 3 in the last 10 s
  EXPECT_EQ(b.d.state, BreakerState::kOpen);
}

TEST(Breaker, SlowCallsOpenItToo) {
  BreakerFixture b;
  b.c.minimum_calls = 2;
  b.c.slow_rate = 50;
  b.c.slow_ms = 2000;
  b.Call(false, 3 * kSecondUs);
  b.Call(false, 1 * kSecondUs);
  EXPECT_EQ(b.d.state, BreakerState::kOpen);
  EXPECT_NE(b.ts[0].reason.find("slow-call rate 50%"), std::string::npos);
}

TEST(Breaker, HalfOpenAfterTheWaitThenClosedWhenTheTrialCallsSucceed) {
  BreakerFixture b;
  b.c.minimum_calls = 1;
  b.c.wait_open_ms = 30'000;
  b.c.half_open_calls = 2;
  b.Call(true);
  EXPECT_EQ(b.d.state, BreakerState::kOpen);
  b.now += 29 * kSecondUs;
  EXPECT_FALSE(b.Acquire());
  b.now += 1 * kSecondUs;
  EXPECT_TRUE(b.Acquire());  // the wait is over: half-open, first permit
  EXPECT_EQ(b.d.state, BreakerState::kHalfOpen);
  EXPECT_TRUE(b.Acquire());
  EXPECT_FALSE(b.Acquire());  // only two trial calls
  BreakerRecord(b.c, b.d, b.now, false, kSecondUs, &b.ts);
  BreakerRecord(b.c, b.d, b.now, false, kSecondUs, &b.ts);
  EXPECT_EQ(b.d.state, BreakerState::kClosed);
  EXPECT_EQ(b.Path(), "closed -> open -> half-open -> closed");
  EXPECT_TRUE(b.d.calls.empty());  // a fresh window
}

TEST(Breaker, HalfOpenGoesBackToOpenWhenTheTrialFails) {
  BreakerFixture b;
  b.c.minimum_calls = 1;
  b.c.half_open_calls = 2;
  b.Call(true);
  b.now += 61 * kSecondUs;  // default wait 60 s
  b.Call(true);
  b.Call(false);  // 50% >= 50%
  EXPECT_EQ(b.Path(), "closed -> open -> half-open -> open");
}

TEST(Breaker, ACancelledTrialGivesItsPermitBack) {
  BreakerFixture b;
  b.c.minimum_calls = 1;
  b.c.half_open_calls = 1;
  b.Call(true);
  b.now += 61 * kSecondUs;
  ASSERT_TRUE(b.Acquire());
  EXPECT_FALSE(b.Acquire());
  BreakerRelease(b.d);
  EXPECT_TRUE(b.Acquire());
}

TEST(Breaker, MaxWaitInHalfOpenOpensIt) {
  BreakerFixture b;
  b.c.minimum_calls = 1;
  b.c.half_open_calls = 1;
  b.c.max_wait_half_open_ms = 5000;
  b.Call(true);
  b.now += 61 * kSecondUs;
  ASSERT_TRUE(b.Acquire());  // half-open; the trial call never reports
  b.now += 6 * kSecondUs;
  EXPECT_FALSE(b.Acquire());
  EXPECT_EQ(b.d.state, BreakerState::kOpen);
}

TEST(Breaker, OperatorsForceAndDisable) {
  BreakerFixture b;
  ASSERT_TRUE(BreakerOperate(b.d, "open", b.now, &b.ts));
  EXPECT_FALSE(b.Acquire());
  b.now += 3600 * kSecondUs;
  EXPECT_FALSE(b.Acquire());  // forced open does not time out
  ASSERT_TRUE(BreakerOperate(b.d, "disable", b.now, &b.ts));
  b.c.minimum_calls = 1;
  for (int i = 0; i < 5; ++i) b.Call(true);
  EXPECT_EQ(b.d.state, BreakerState::kDisabled);
  ASSERT_TRUE(BreakerOperate(b.d, "reset", b.now, &b.ts));
  EXPECT_EQ(b.d.state, BreakerState::kClosed);
  EXPECT_FALSE(BreakerOperate(b.d, "explode", b.now, &b.ts));
}

TEST(Breaker, DataSurvivesItsJson) {
  BreakerFixture b;
  b.c.window_size = 7;
  b.Call(true, 5 * kSecondUs);
  b.Call(false);
  auto back = BreakerData::FromJson(b.d.ToJson());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ToJson(), b.d.ToJson());
  EXPECT_EQ(back->config.window_size, 7);
  EXPECT_FALSE(BreakerData::FromJson("{\"state\":\"sideways\"}"));
  EXPECT_FALSE(BreakerData::FromJson("[1,2"));
}

}  // namespace breaker_test
}  // namespace sluice
