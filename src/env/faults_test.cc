// Fault injection at the Env seams: the fault list's syntax, the launcher's stand-ins, the sink's
// failing commit.
#include "env/faults.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"

namespace sluice {
namespace faults_test {

SpawnRequest Attempt(const std::string& task, int attempt) {
  SpawnRequest r;
  r.argv = {"train.py", "--fast"};
  r.env = {"PATH=/bin", "SLUICE_TASK=" + task, "SLUICE_ATTEMPT=" + std::to_string(attempt)};
  return r;
}

TEST(Faults, ParsesEveryKindAndRejectsNonsenseWithTheEntry) {
  auto p = FaultPlan::Parse("spawn-fail@3, exit=2@task:train#1,signal=9@2,hang@task:fetch,"
                            "delay=500ms@1,commit-fail@4,fsync-fail@2");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->rules.size(), 7u);
  EXPECT_EQ(p->rules[1].task, "train");
  EXPECT_EQ(p->rules[1].attempt, 1);
  EXPECT_EQ(p->rules[4].value, 500);
  EXPECT_EQ(p->CountFor(FaultRule::Kind::kCommitFail), 4);
  EXPECT_EQ(p->CountFor(FaultRule::Kind::kFsyncFail), 2);
  EXPECT_EQ(p->CountFor(FaultRule::Kind::kHang), 0);  // selected by task, not by count
  for (const char* bad : {"explode@1", "exit@1", "exit=999@1", "hang=3@1", "exit=2", "exit=2@0",
                          "exit=2@task:", "commit-fail@task:x", "delay=soon@1", "exit=2@task:x#y"}) {
    auto r = FaultPlan::Parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(FaultPlan::Parse("")->rules.empty());
}

TEST(Faults, TheLauncherReplacesSelectedAttemptsWithStandIns) {
  FakeProcessLauncher real;
  FaultyLauncher l(real, *FaultPlan::Parse("exit=2@task:train#2,signal=9@task:push,"
                                            "hang@task:fetch,delay=1500ms@task:late,spawn-fail@6"));
  ASSERT_TRUE(l.Spawn(Attempt("train", 1)));  // attempt 1 untouched
  EXPECT_EQ(real.spawned.back().argv, (std::vector<std::string>{"train.py", "--fast"}));
  ASSERT_TRUE(l.Spawn(Attempt("train", 2)));
  EXPECT_EQ(real.spawned.back().argv, (std::vector<std::string>{"/bin/sh", "-c", "exit 2"}));
  EXPECT_EQ(real.spawned.back().env, Attempt("train", 2).env);  // same env, same logs
  ASSERT_TRUE(l.Spawn(Attempt("push[3]", 1)));
  EXPECT_EQ(real.spawned.back().argv[0], "train.py");  // task:push selects "push", not its items
  ASSERT_TRUE(l.Spawn(Attempt("fetch", 1)));
  EXPECT_EQ(real.spawned.back().argv[2], "exec sleep 2147483647");
  ASSERT_TRUE(l.Spawn(Attempt("late", 1)));
  EXPECT_EQ(real.spawned.back().argv,
            (std::vector<std::string>{"/bin/sh", "-c", "sleep 1.500; exec \"$@\"", "sh", "train.py", "--fast"}));
  auto sixth = l.Spawn(Attempt("any", 1));
  ASSERT_FALSE(sixth);
  EXPECT_NE(sixth.error().message.find("spawn-fail@6"), std::string::npos);
  EXPECT_EQ(real.spawned.size(), 5u);
  ASSERT_TRUE(l.Spawn(Attempt("push", 4)));
  EXPECT_EQ(real.spawned.back().argv[2], "kill -9 $$");
}

// A glob selects instances by name, and a rate strikes a share of them, drawn from the run,
// instance and attempt: the same again for the same attempt, and near the rate over many.
TEST(Faults, AGlobAndARateSelectAShareOfTheMatchingAttemptsReproducibly) {
  for (const char* bad : {"exit=2@3~0.5", "exit=2@task:x~0", "exit=2@task:x~1.5", "exit=2@task:x~"}) {
    auto r = FaultPlan::Parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
  auto plan = FaultPlan::Parse("exit=75@task:reg*~0.3");
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->rules[0].rate, 0.3);
  auto struck = [&](int run) {
    FakeProcessLauncher real;
    FaultyLauncher l(real, *plan);
    int n = 0;
    for (int a = 1; a <= 1000; ++a) {
      SpawnRequest req = Attempt(a % 2 ? "register" : "train", a);
      req.env.push_back("SLUICE_RUN_ID=run-" + std::to_string(run));
      EXPECT_TRUE(l.Spawn(req));
      const bool hit = real.spawned.back().argv[0] == "/bin/sh";
      EXPECT_FALSE(hit && a % 2 == 0) << "train does not match reg*";
      n += hit;
    }
    return n;
  };
  const int first = struck(1);
  EXPECT_EQ(struck(1), first);  // the same run strikes the same attempts
  EXPECT_GT(first, 100);        // about 150 of the 500 register attempts
  EXPECT_LT(first, 200);
}

class CountingSink : public EventSink {
 public:
  void Append(const Event&) override { ++appended; }
  Status Commit() override {
    ++committed;
    return {};
  }
  int appended = 0, committed = 0;
};

TEST(Faults, TheSinkFailsTheChosenCommitOnly) {
  CountingSink real;
  FaultySink s(real, 2);
  EXPECT_TRUE(s.Commit());
  auto second = s.Commit();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kStore);
  EXPECT_TRUE(s.Commit());
  EXPECT_EQ(real.committed, 2);
}

}  // namespace faults_test
}  // namespace sluice
