#include "server/login_limiter.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace login_limiter_test {

constexpr int64_t kSecond = 1'000'000;

TEST(LoginLimiter, RefusesAnAddressAfterTenFailuresInAMinuteUntilTheOldestLeavesTheWindow) {
  LoginLimiter l(10, 60 * kSecond);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(l.RetryAfterS("10.0.0.1", i * kSecond), 0) << i;
    l.Failed("10.0.0.1", i * kSecond);
  }
  // Ten failures at 0..9 s: refused until the first leaves the window at 60 s.
  EXPECT_EQ(l.RetryAfterS("10.0.0.1", 10 * kSecond), 50);
  EXPECT_EQ(l.RetryAfterS("10.0.0.1", 59 * kSecond + 1), 1);
  EXPECT_EQ(l.RetryAfterS("10.0.0.2", 10 * kSecond), 0);  // another address is not limited
  EXPECT_EQ(l.RetryAfterS("10.0.0.1", 60 * kSecond), 0);
  // One more failure makes ten in the window again (1..9 s and 60 s): refused until 61 s.
  l.Failed("10.0.0.1", 60 * kSecond);
  EXPECT_EQ(l.RetryAfterS("10.0.0.1", 60 * kSecond), 1);
  EXPECT_EQ(l.RetryAfterS("10.0.0.1", 61 * kSecond), 0);
}

TEST(LoginLimiter, FailuresSpreadOverMoreThanTheWindowNeverLockOut) {
  LoginLimiter l(10, 60 * kSecond);
  for (int i = 0; i < 100; ++i) {  // one failure every 7 s: at most 9 in any minute
    ASSERT_EQ(l.RetryAfterS("a", i * 7 * kSecond), 0) << i;
    l.Failed("a", i * 7 * kSecond);
  }
}

TEST(LoginLimiter, RemembersABoundedNumberOfAddressesAndForgetsTheStaleFirst) {
  LoginLimiter l(2, 60 * kSecond);
  l.Failed("attacker", 0);
  l.Failed("attacker", 0);
  for (size_t i = 0; i < LoginLimiter::kMaxAddresses + 5; ++i) {
    l.Failed("client-" + std::to_string(i), 100 * kSecond);
  }
  // The attacker's failures left the window long ago, so it was forgotten, not a new client.
  EXPECT_EQ(l.RetryAfterS("attacker", 100 * kSecond), 0);
  l.Failed("late", 101 * kSecond);
  EXPECT_EQ(l.RetryAfterS("late", 101 * kSecond), 0);
  l.Failed("late", 101 * kSecond);
  EXPECT_EQ(l.RetryAfterS("late", 101 * kSecond), 60);
}

}  // namespace login_limiter_test
}  // namespace sluice
