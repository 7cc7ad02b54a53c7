// Doorbells (env.h, bell_posix.cc) on real sockets: a ring wakes the listener once, a bell
// nobody rings times out, a ring nobody hears is harmless, a listener leaves the socket of one
// that took its path over, and a path too long is refused.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "env/env.h"

namespace sluice {
namespace bell_test {

class Bell : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-bell-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Bell, RingsWakeTheListenerOnceAndASilentBellTimesOut) {
  auto bell = ListenBellPosix(dir_ + "/work.bell");
  ASSERT_TRUE(bell) << bell.error().message;
  EXPECT_FALSE((*bell)->Wait(0)) << "nobody rang";
  RingBellPosix(dir_ + "/work.bell");
  RingBellPosix(dir_ + "/work.bell");
  EXPECT_TRUE((*bell)->Wait(10'000'000)) << "a ring wakes it";
  EXPECT_FALSE((*bell)->Wait(0)) << "both rings were taken by one wakeup";
}

TEST_F(Bell, ARingNobodyHearsIsHarmlessAndTheBellsPathGoesWithIt) {
  RingBellPosix(dir_ + "/nobody.bell");  // no socket there: nothing happens
  {
    auto bell = ListenBellPosix(dir_ + "/work.bell");
    ASSERT_TRUE(bell);
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/work.bell"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/work.bell")) << "removed with its listener";
  auto again = ListenBellPosix(dir_ + "/work.bell");
  EXPECT_TRUE(again) << "a bell can be listened to again at the same path";
}

// A second server on the same state folder listens at the same path: the first one going must
// not remove the second's socket (it would never be rung again).
TEST_F(Bell, AListenerGoingLeavesTheSocketOfOneThatTookItsPathOver) {
  const std::string path = dir_ + "/work.bell";
  auto first = ListenBellPosix(path);
  ASSERT_TRUE(first);
  auto second = ListenBellPosix(path);
  ASSERT_TRUE(second) << second.error().message;
  first->reset();
  EXPECT_TRUE(std::filesystem::exists(path)) << "the second listener's socket stays";
  RingBellPosix(path);
  EXPECT_TRUE((*second)->Wait(10'000'000)) << "and it is still rung";
  second->reset();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(Bell, APathTooLongForASocketIsRefusedSoCallersPoll) {
  auto bell = ListenBellPosix(dir_ + "/" + std::string(120, 'x'));
  ASSERT_FALSE(bell);
  EXPECT_EQ(bell.error().code, ErrorCode::kInvalidInput);
}

}  // namespace bell_test
}  // namespace sluice
