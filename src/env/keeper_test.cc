// The keeper with real processes: kept attempts report their real ends through it while the
// launcher lives; when the launcher goes away without acknowledging them (as a killed sluice
// would), the keeper writes their exit files, lists what it still owes, and ends after them.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "env/env.h"

namespace sluice {
namespace {

class KeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-keeper-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  SpawnRequest Kept(const std::string& name, std::vector<std::string> argv) {
    SpawnRequest r;
    r.argv = std::move(argv);
    r.env = {"PATH=/usr/bin:/bin"};
    r.cwd = root_;
    r.stdout_path = root_ + "/" + name + ".out";
    r.stderr_path = root_ + "/" + name + ".err";
    r.exit_file = root_ + "/" + name + ".exit";
    r.keeper_dir = root_ + "/keepers";
    return r;
  }
  // The exits of `pids` Wait returns (waiting up to 10 s). Others are left out: a keeper of an
  // earlier test, which nobody waited for, is reaped here too.
  static std::vector<ProcessExit> WaitFor(ProcessLauncher& l, std::vector<int> pids) {
    std::vector<ProcessExit> all;
    for (int i = 0; i < 100 && all.size() < pids.size(); ++i) {
      for (const auto& e : l.Wait(100'000).exits) {
        if (std::find(pids.begin(), pids.end(), e.pid) != pids.end()) all.push_back(e);
      }
    }
    return all;
  }
  // The content of `path` once it exists (waiting up to 10 s); "" if it never does.
  static std::string WhenThere(const std::string& path) {
    for (int i = 0; i < 1000 && !std::filesystem::exists(path); ++i) usleep(10'000);
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  // Whether the folder `dir` is (or becomes, within 10 s) empty.
  static bool Empties(const std::string& dir) {
    for (int i = 0; i < 1000 && !std::filesystem::is_empty(dir); ++i) usleep(10'000);
    return std::filesystem::is_empty(dir);
  }
  std::string root_;
};

TEST_F(KeeperTest, KeptProcessesReportTheirRealEndsThroughTheKeeper) {
  auto l = NewPosixProcessLauncher();
  auto a = l->Spawn(Kept("a", {"sh", "-c", "echo out; exit 3"}));
  auto b = l->Spawn(Kept("b", {"sh", "-c", "kill -9 $$"}));
  auto c = l->Spawn(Kept("c", {"no-such-program-here"}));
  ASSERT_TRUE(a && b) << (a ? b.error().message : a.error().message);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("cannot start no-such-program-here"), std::string::npos);
  auto exits = WaitFor(*l, {*a, *b});
  ASSERT_EQ(exits.size(), 2u);
  for (const auto& e : exits) {
    if (e.pid == *a) {
      EXPECT_EQ(e.exit_code, 3);
    } else {
      EXPECT_EQ(e.pid, *b);
      EXPECT_EQ(e.signal, SIGKILL);
    }
    EXPECT_FALSE(e.lost);
  }
  EXPECT_EQ(WhenThere(root_ + "/a.out"), "out\n");
  l->ExitsRecorded();
  l.reset();  // acknowledged: nothing is written, and the keeper ends at once
  EXPECT_TRUE(Empties(root_ + "/keepers")) << "its lock is removed as it ends";
  EXPECT_FALSE(std::filesystem::exists(root_ + "/a.exit"));
}

// What a crash looks like to the keeper: its socket closes with an exit not acknowledged and an
// attempt still running.
TEST_F(KeeperTest, WhatTheLauncherDidNotAcknowledgeOutlivesIt) {
  auto l = NewPosixProcessLauncher();
  auto done = l->Spawn(Kept("done", {"sh", "-c", "exit 4"}));
  ASSERT_TRUE(done);
  ASSERT_EQ(WaitFor(*l, {*done}).size(), 1u);
  auto slow = l->Spawn(Kept("slow", {"sh", "-c", "sleep 0.5; echo finished"}));
  ASSERT_TRUE(slow);
  l.reset();
  EXPECT_EQ(WhenThere(root_ + "/done.exit"),
            fmt::format("{{\"pid\":{},\"exit_code\":4,\"signal\":0}}\n", *done));
  std::string owed;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/keepers")) {
    if (e.path().extension() == ".owed") owed = WhenThere(e.path().string());
  }
  EXPECT_EQ(owed, fmt::format("{} {}/slow.exit\n", *slow, root_));
  EXPECT_EQ(WhenThere(root_ + "/slow.exit"),
            fmt::format("{{\"pid\":{},\"exit_code\":0,\"signal\":0}}\n", *slow));
  EXPECT_EQ(WhenThere(root_ + "/slow.out"), "finished\n");
  EXPECT_TRUE(Empties(root_ + "/keepers")) << "it ends after its last attempt";
}

}  // namespace
}  // namespace sluice
