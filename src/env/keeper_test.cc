// The keeper with real processes (keeper_posix.h): a child of the test splits into T, K and E,
// E starts attempts through a launcher that keeps them, and then ends as each test says: killed
// (a crash), or exiting after recording everything. The test, T's parent, checks what T exited
// with and what K wrote.
#include "env/keeper_posix.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "env/env.h"

namespace sluice {
namespace keeper_test {

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
    return r;
  }
  // Forks a child that splits; `engine` runs in E with a launcher kept by K (whose folder is
  // ROOT/keepers), and E then exits 0 unless `engine` ended it. Returns T's pid.
  pid_t SplitAndRun(const std::function<void(ProcessLauncher&)>& engine) {
    const pid_t top = fork();
    if (top == 0) {
      auto link = KeeperLink::Split();
      if (!link) _exit(99);
      auto l = NewPosixProcessLauncher(-1, link->get());
      l->PrepareKeeper(root_ + "/keepers");
      engine(*l);
      _exit(0);
    }
    return top;
  }
  // How T ended (its wait status).
  static int WaitStatus(pid_t top) {
    int status = 0;
    waitpid(top, &status, 0);
    return status;
  }
  // Waits in E until `pid` ended (up to 10 s); its exit code, or -2 when it never did.
  static int WaitFor(ProcessLauncher& l, int pid) {
    for (int i = 0; i < 100; ++i) {
      for (const auto& e : l.Wait(100'000).exits) {
        if (e.pid == pid) return e.exit_code;
      }
    }
    return -2;
  }
  void Note(const std::string& name, const std::string& text) {
    std::ofstream(root_ + "/" + name) << text;
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
  std::string Owed() {
    for (int i = 0; i < 1000; ++i) {
      for (const auto& e : std::filesystem::directory_iterator(root_ + "/keepers")) {
        if (e.path().extension() == ".owed") return WhenThere(e.path().string());
      }
      usleep(10'000);
    }
    return "";
  }
  std::string root_;
};

// A crash: E killed with an end it saw but did not record, and an attempt still running. The
// caller's process ends as E did; K writes the first exit, lists the second as owed, writes it
// when it ends (the attempt's output complete), and exits after it.
TEST_F(KeeperTest, AKilledEngineLeavesItsAttemptsToTheKeeper) {
  const pid_t top = SplitAndRun([&](ProcessLauncher& l) {
    auto done = l.Spawn(Kept("done", {"sh", "-c", "exit 4"}));
    if (!done || WaitFor(l, *done) != 4) _exit(98);
    auto slow = l.Spawn(Kept("slow", {"sh", "-c", "sleep 0.5; echo finished"}));
    if (!slow) _exit(97);
    Note("pids", fmt::format("{} {}", *done, *slow));
    kill(getpid(), SIGKILL);
  });
  const int status = WaitStatus(top);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  int done = 0, slow = 0;
  std::ifstream(root_ + "/pids") >> done >> slow;
  ASSERT_GT(slow, 0);
  EXPECT_EQ(WhenThere(root_ + "/done.exit"),
            fmt::format("{{\"pid\":{},\"exit_code\":4,\"signal\":0}}\n", done));
  EXPECT_EQ(Owed(), fmt::format("{} {}/slow.exit\n", slow, root_));
  EXPECT_EQ(WhenThere(root_ + "/slow.exit"),
            fmt::format("{{\"pid\":{},\"exit_code\":0,\"signal\":0}}\n", slow));
  EXPECT_EQ(WhenThere(root_ + "/slow.out"), "finished\n");
  EXPECT_TRUE(Empties(root_ + "/keepers")) << "it ends after its last attempt";
}

// E dies while it starts an attempt: its slot is taken and the kernel wrote the child's pid
// (CLONE_PARENT_SETTID), but E never got to say it started (under vfork, E waits until the
// child ran execve, and a kill in that wait came before anything was recorded). The attempt
// may have begun, so K keeps it like any other; a slot taken for a child never created (pid
// still 0) keeps nothing.
TEST_F(KeeperTest, AnAttemptWhoseStartEWasKilledInIsKeptAllTheSame) {
  const pid_t top = fork();
  if (top == 0) {
    auto link = KeeperLink::Split();
    if (!link) _exit(99);
    (*link)->KeepIn(root_ + "/keepers");
    if (!(*link)->Ready()) _exit(98);
    (void)(*link)->Reserve(root_ + "/never.exit");  // E died before its clone
    int32_t* word = (*link)->Reserve(root_ + "/begun.exit");
    if (!word) _exit(97);
    const pid_t child = fork();
    if (child == 0) {
      usleep(300'000);
      _exit(6);
    }
    *word = child;  // what the kernel does as it creates the child
    Note("pid", std::to_string(child));
    kill(getpid(), SIGKILL);
  }
  const int status = WaitStatus(top);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  int child = 0;
  std::ifstream(root_ + "/pid") >> child;
  ASSERT_GT(child, 0);
  EXPECT_EQ(Owed(), fmt::format("{} {}/begun.exit\n", child, root_));
  EXPECT_EQ(WhenThere(root_ + "/begun.exit"),
            fmt::format("{{\"pid\":{},\"exit_code\":6,\"signal\":0}}\n", child));
  EXPECT_TRUE(Empties(root_ + "/keepers"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/never.exit"));
}

// The normal path: E recorded every end and exits. T exits with E's code; K writes nothing and
// ends at once (its lock gone).
TEST_F(KeeperTest, AnEngineThatRecordedEverythingLeavesNothingBehind) {
  const pid_t top = SplitAndRun([&](ProcessLauncher& l) {
    auto a = l.Spawn(Kept("a", {"sh", "-c", "echo out; exit 3"}));
    if (!a || WaitFor(l, *a) != 3) _exit(98);
    l.ExitsRecorded();
    _exit(7);
  });
  const int status = WaitStatus(top);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_EQ(WhenThere(root_ + "/a.out"), "out\n");
  EXPECT_TRUE(Empties(root_ + "/keepers")) << "its lock is removed as it ends";
  EXPECT_FALSE(std::filesystem::exists(root_ + "/a.exit"));
}

// Only what E's table names keeps K alive: a daemon a task started (its own session, out of the
// attempt's group) is reaped if it ends, never waited for.
TEST_F(KeeperTest, ADaemonATaskStartedDoesNotKeepTheKeeperAlive) {
  const pid_t top = SplitAndRun([&](ProcessLauncher& l) {
    auto a = l.Spawn(Kept("a", {"sh", "-c",
                                "setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $! > daemon; "
                                "sleep 0.3"}));
    if (!a) _exit(97);
    if (WhenThere(root_ + "/daemon").empty()) _exit(96);
    kill(getpid(), SIGKILL);
  });
  WaitStatus(top);
  int daemon = 0;
  std::ifstream(root_ + "/daemon") >> daemon;
  ASSERT_GT(daemon, 0);
  EXPECT_NE(WhenThere(root_ + "/a.exit").find("\"exit_code\":0"), std::string::npos);
  EXPECT_TRUE(Empties(root_ + "/keepers")) << "K ended after the attempt, not the daemon";
  EXPECT_EQ(kill(daemon, 0), 0) << "the daemon still runs";
  kill(daemon, SIGKILL);
}

// The process the caller started stands for the run: SIGTERM sent to it reaches E (which here
// exits 5 on its interrupt), and killing it kills E, whose attempt K then keeps.
TEST_F(KeeperTest, TheStartedProcessForwardsSignalsAndTakesTheEngineWithIt) {
  pid_t top = SplitAndRun([&](ProcessLauncher& l) {
    Note("ready", "");
    for (int i = 0; i < 100; ++i) {
      if (l.Wait(100'000).interrupted) _exit(5);
    }
  });
  WhenThere(root_ + "/ready");
  kill(top, SIGTERM);
  int status = WaitStatus(top);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 5);

  std::filesystem::remove(root_ + "/ready");
  top = SplitAndRun([&](ProcessLauncher& l) {
    if (!l.Spawn(Kept("slow", {"sh", "-c", "sleep 0.3"}))) _exit(97);
    Note("ready", "");
    WaitFor(l, 0);  // until killed
  });
  WhenThere(root_ + "/ready");
  kill(top, SIGKILL);
  WaitStatus(top);
  EXPECT_NE(Owed().find("/slow.exit"), std::string::npos) << "E died, and K keeps its attempt";
  EXPECT_NE(WhenThere(root_ + "/slow.exit").find("\"exit_code\":0"), std::string::npos);
  EXPECT_TRUE(Empties(root_ + "/keepers"));
}

}  // namespace keeper_test
}  // namespace sluice
