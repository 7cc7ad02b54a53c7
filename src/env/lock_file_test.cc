// The run lock (env.h: TryLockFile, IsFileLocked) on a real file.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "env/env.h"

namespace sluice {
namespace lock_file_test {

class LockFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-lock-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/lock"; }
  std::string dir_;
};

TEST_F(LockFile, OneHolderAtATimeAndTheOwnerIsReadable) {
  auto held = TryLockFile(path(), "123456");
  ASSERT_TRUE(held && *held);
  std::string owner;
  EXPECT_TRUE(IsFileLocked(path(), &owner));
  EXPECT_EQ(owner, "123456");
  auto second = TryLockFile(path(), "999");  // another open file: flock refuses it
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, nullptr);
  EXPECT_EQ(owner, "123456");  // the refused attempt wrote nothing
  held->reset();
  EXPECT_FALSE(IsFileLocked(path(), &owner));
}

// The owner is written over the last one and the rest cut, without truncating the file to zero
// first (ext4 writes such a file out at close).
TEST_F(LockFile, AShorterOwnerReplacesALongerOne) {
  {
    auto first = TryLockFile(path(), "123456");
    ASSERT_TRUE(first && *first);
  }
  auto next = TryLockFile(path(), "7");
  ASSERT_TRUE(next && *next);
  std::string owner;
  EXPECT_TRUE(IsFileLocked(path(), &owner));
  EXPECT_EQ(owner, "7");
}

TEST_F(LockFile, AFolderThatDoesNotExistIsAnError) {
  EXPECT_FALSE(TryLockFile(dir_ + "/missing/lock", "1"));
  EXPECT_FALSE(IsFileLocked(dir_ + "/missing/lock", nullptr));
}

}  // namespace lock_file_test
}  // namespace sluice
