// Commands run end to end against a FakeEnv: the files, clock, launcher, locks, signals and
// variables are the fake's. Commands that only read a pipeline use its MemFileSystem; those that
// open the store get a real file system over a temporary folder, because SQLite opens real paths.
#include "cli/commands.h"
#include "cli/cli_support.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>

#include "env/fake_env.h"
#include "store/store.h"

namespace sluice {
namespace commands_test {

constexpr const char* kTwoNoops = R"(apiVersion: sluice/v1
kind: Pipeline
metadata: {name: two-steps}
spec:
  tasks:
    - name: prep
      run: ["builtin:noop"]
    - name: train
      needs: [prep]
      run: ["builtin:noop"]
)";

struct Outcome {
  int rc = -1;
  std::string out;
  std::string err;
};

// Runs a command, capturing what it prints.
Outcome Capture(const std::function<int()>& command) {
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  Outcome o;
  o.rc = command();
  o.out = testing::internal::GetCapturedStdout();
  o.err = testing::internal::GetCapturedStderr();
  return o;
}

GlobalOptions InState(const std::string& state_dir, bool json = false) {
  GlobalOptions g;
  g.state_dir = state_dir;
  g.json = json;
  return g;
}

TEST(Commands, ValidateReadsThePipelineFromTheEnvsFiles) {
  FakeEnv env;
  ASSERT_TRUE(env.mem_files.WriteFile("/work/pipeline.yaml", kTwoNoops));
  Outcome o = Capture([&] { return CmdValidate(env, InState("/state"), "/work/pipeline.yaml", ""); });
  EXPECT_EQ(o.rc, 0) << o.err;
  EXPECT_NE(o.out.find("pipeline two-steps is valid: 2 tasks"), std::string::npos) << o.out;
  EXPECT_TRUE(env.fake_processes.spawned.empty());
}

TEST(Commands, ValidateOfAFileNotInTheEnvIsInvalidInput) {
  FakeEnv env;
  Outcome o = Capture([&] { return CmdValidate(env, InState("/state"), "/work/missing.yaml", ""); });
  EXPECT_EQ(o.rc, 2);
  EXPECT_NE(o.err.find("missing.yaml"), std::string::npos) << o.err;
}

// Issue 16: an argoproj.io file is checked by the interop module, not the Sluice loader.
TEST(Commands, ValidateChecksAnArgoFileAndNamesWhatItCannotRun) {
  FakeEnv env;
  ASSERT_TRUE(env.mem_files.WriteFile("/work/wf.yaml", R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: hello-}
spec:
  entrypoint: main
  templates:
  - {name: main, container: {image: busybox, command: [echo, hi]}}
)"));
  Outcome o = Capture([&] { return CmdValidate(env, InState("/state"), "/work/wf.yaml", ""); });
  EXPECT_EQ(o.rc, 0) << o.err;
  EXPECT_EQ(o.out, "/work/wf.yaml: valid Argo Workflow hello, imported as pipeline hello (sluice "
                   "import argo shows it): 1 components\n  main@1.0.0 -> main@1.0.0 (main)\n");
  ASSERT_TRUE(env.mem_files.WriteFile("/work/bad.yaml", R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: main
  templates:
  - {name: main, daemon: true, container: {image: nginx}}
)"));
  o = Capture([&] { return CmdValidate(env, InState("/state"), "/work/bad.yaml", ""); });
  EXPECT_EQ(o.rc, 2);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "/work/bad.yaml:7:18: daemon is not supported here: daemon steps serve later "
                   "steps over the pod network\n");
}

TEST(Commands, GraphPrintsTheEdgesOfThePipelineInTheEnv) {
  FakeEnv env;
  ASSERT_TRUE(env.mem_files.WriteFile("/p.yaml", kTwoNoops));
  Outcome o = Capture([&] { return CmdGraph(env, GlobalOptions{}, "/p.yaml", "mermaid"); });
  EXPECT_EQ(o.rc, 0) << o.err;
  EXPECT_NE(o.out.find("prep"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("train"), std::string::npos) << o.out;
}

TEST(Commands, RunsWithoutAStateFolderSaysNoRunsYet) {
  FakeEnv env;
  Outcome text = Capture([&] { return CmdRuns(env, InState("/nowhere"), 50); });
  EXPECT_EQ(text.rc, 0);
  EXPECT_EQ(text.out, "no runs yet\n");
  Outcome json = Capture([&] { return CmdRuns(env, InState("/nowhere", true), 50); });
  EXPECT_EQ(json.rc, 0);
  EXPECT_EQ(json.out, "[]\n");
}

TEST(Commands, StatusWithoutAStateFolderIsNotFound) {
  FakeEnv env;
  Outcome o = Capture([&] { return CmdStatus(env, InState("/nowhere"), "r1"); });
  EXPECT_EQ(o.rc, 2);
  EXPECT_NE(o.err.find("no state in /nowhere"), std::string::npos) << o.err;
}

TEST(Commands, EvalReadsItsVariablesFileFromTheEnv) {
  FakeEnv env;
  ASSERT_TRUE(env.mem_files.WriteFile("/vars.json", R"({"n": 3})"));
  Outcome o = Capture([&] { return CmdEval(env, "n > 2 && m == 'x'", {"m=\"x\""}, "/vars.json"); });
  EXPECT_EQ(o.rc, 0) << o.err;
  EXPECT_EQ(o.out, "true\n");
  Outcome bad = Capture([&] { return CmdEval(env, "n", {}, "/missing.json"); });
  EXPECT_EQ(bad.rc, 2);
}

TEST(Commands, WhoamiIsTheAccountWhateverTheVariablesClaim) {
  FakeEnv env;
  env.user_name = "login";
  env.vars["USER"] = "user";
  env.vars["LOGNAME"] = "user";
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).out, "login\n");
  env.vars["SLUICE_USER"] = "";  // empty counts as unset
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).out, "login\n");
  env.user_name = "";  // an account the password database does not name
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).out, "uid-1000\n");
}

TEST(Commands, OnlyAnAccountWithTheActAsRightActsForAnotherName) {
  FakeEnv env;
  env.user_name = "login";
  env.vars["SLUICE_USER"] = "alice";
  Outcome claimed = Capture([&] { return CmdWhoami(env, InState("/state")); });
  EXPECT_EQ(claimed.rc, 2);
  EXPECT_NE(claimed.err.find("account \"login\" may not act as \"alice\""), std::string::npos)
      << claimed.err;
  ASSERT_TRUE(env.mem_files.WriteFile(
      "/state/users.yaml",
      "users:\n  - {name: login, rights: [act-as]}\n  - {name: alice, groups: [ml, ops]}\n"));
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).out,
            "alice (by login) (groups: ml, ops) (rights: act-as)\n");
  env.vars["SLUICE_USER"] = "mallory";
  Outcome refused = Capture([&] { return CmdWhoami(env, InState("/state")); });
  EXPECT_EQ(refused.rc, 2);
  EXPECT_NE(refused.err.find("user \"mallory\" is not in"), std::string::npos) << refused.err;
  ASSERT_TRUE(env.mem_files.WriteFile("/state/users.yaml", "users:\n  - {name: login}\n  - {name: alice}\n"));
  env.vars["SLUICE_USER"] = "alice";
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).rc, 2);  // no right
}

TEST(Commands, AUsersFileOthersCanWriteIsNotTrusted) {
  FakeEnv env;
  env.user_name = "login";
  ASSERT_TRUE(env.mem_files.WriteFile("/state/users.yaml",
                                      "users:\n  - {name: login, groups: [approvers]}\n"));
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).out,
            "login (groups: approvers)\n");
  env.mem_files.SetOwner("/state/users.yaml", 1000, 0664);  // the group may write it
  Outcome writable = Capture([&] { return CmdWhoami(env, InState("/state")); });
  EXPECT_EQ(writable.rc, 2);
  EXPECT_NE(writable.err.find("is not trusted"), std::string::npos) << writable.err;
  env.mem_files.SetOwner("/state/users.yaml", 1001, 0644);  // another account's file
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).rc, 2);
  env.mem_files.SetOwner("/state/users.yaml", 1000, 0640);
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).rc, 0);
}

TEST(Commands, AStateFolderOthersMayWriteMustBeSticky) {
  FakeEnv env;
  env.user_name = "login";
  ASSERT_TRUE(env.mem_files.WriteFile("/state/users.yaml", "users:\n  - {name: login}\n"));
  env.mem_files.SetOwner("/state", 1000, 02770);  // a member could rename users.yaml away
  Outcome open = Capture([&] { return CmdWhoami(env, InState("/state")); });
  EXPECT_EQ(open.rc, 2);
  EXPECT_NE(open.err.find("writable by its group or others but not sticky"), std::string::npos)
      << open.err;
  env.mem_files.SetOwner("/state", 1000, 03770);
  EXPECT_EQ(Capture([&] { return CmdWhoami(env, InState("/state")); }).rc, 0);
}

TEST(Commands, AUsersFileRefusesNamesThatLookLikeGroupsAndUnknownRights) {
  FakeEnv env;
  env.user_name = "login";
  ASSERT_TRUE(env.mem_files.WriteFile("/state/users.yaml", "users:\n  - {name: \"group:ops\"}\n"));
  Outcome group = Capture([&] { return CmdWhoami(env, InState("/state")); });
  EXPECT_EQ(group.rc, 2);
  EXPECT_NE(group.err.find("/state/users.yaml:2:12: \"group:ops\" is not a user name"),
            std::string::npos) << group.err;
  ASSERT_TRUE(env.mem_files.WriteFile("/state/users.yaml",
                                      "users:\n  - {name: login, rights: [root]}\n"));
  Outcome right = Capture([&] { return CmdWhoami(env, InState("/state")); });
  EXPECT_NE(right.err.find("unknown right \"root\""), std::string::npos) << right.err;
}

// Ids of runs started in the same second differ by 32 random bits from the Env (a review saw 30
// of 7,472 runs in 15 s collide when they had 16 bits of a hash of the time and pid).
TEST(Commands, RunIdsAreTheSecondAndThirtyTwoRandomBits) {
  FakeEnv env;
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewRunId(env));
  EXPECT_EQ(ids.size(), 10000u);
  const std::string id = *ids.begin();
  ASSERT_EQ(id.size(), 24u) << id;
  EXPECT_EQ(id.substr(0, 16), "20231114-221320-");
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 16), std::string::npos) << id;
}

// The commands that open the store: a FakeEnv over a real temporary folder.
class CommandsWithStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-commands-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    env_.user_name = "alice";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  GlobalOptions State(bool json = false) { return InState(dir_ + "/state", json); }

  // Records a pending run, as a `sluice run` that has not started executing leaves it.
  void CreatePendingRun(const std::string& id) {
    ASSERT_TRUE(files_->MakeDirs(dir_ + "/state"));
    auto store = Store::Open(dir_ + "/state/sluice.db");
    ASSERT_TRUE(store) << store.error().message;
    RunRecord run;
    run.id = id;
    run.pipeline = "two-steps";
    run.status = "pending";
    run.created_us = env_.clock().NowUs();
    run.params = "{}";
    run.spec_path = "/p.yaml";
    Event created;
    created.run_id = id;
    created.time_us = run.created_us;
    created.kind = EventKind::kRunCreated;
    created.status = "pending";
    ASSERT_TRUE((*store)->CreateRun(run, {{"/p.yaml", kTwoNoops}}, created));
  }

  std::string dir_;
  std::unique_ptr<FileSystem> files_ = NewPosixFileSystem();
  FakeEnv env_{*files_};
};

// The only test that executes a run: the engine of a run is kept for the process's life
// (commands.cc), and a second one would leave the first unreachable for the leak checker.
// A run id taken already (the same random bits drawn in the same second) is drawn again.
TEST_F(CommandsWithStore, RunExecutesWithTheEnvsClockLocksAndLauncher) {
  ASSERT_TRUE(files_->WriteFile(dir_ + "/p.yaml", kTwoNoops));
  const uint64_t seed = env_.random_state;
  const std::string taken = NewRunId(env_);
  env_.random_state = seed;
  CreatePendingRun(taken);
  RunOptions o;
  o.file = dir_ + "/p.yaml";
  Outcome run = Capture([&] { return CmdRun(env_, State(), o); });
  ASSERT_EQ(run.rc, 0) << run.err;
  std::string id = run.out.substr(0, run.out.find('\n'));
  EXPECT_NE(id, taken);
  EXPECT_EQ(id.substr(0, 15), "20231114-221320");  // the FakeClock's time, not the machine's
  EXPECT_NE(run.err.find("run " + id + " succeeded"), std::string::npos) << run.err;
  EXPECT_TRUE(env_.fake_processes.spawned.empty());  // builtins start no process
  std::string owner;
  EXPECT_FALSE(env_.IsLocked(dir_ + "/state/runs/" + id + "/lock", &owner));  // released
  EXPECT_EQ(owner, "4242");                                                    // the fake's pid

  Outcome runs = Capture([&] { return CmdRuns(env_, State(), 50); });
  EXPECT_EQ(runs.rc, 0);
  EXPECT_NE(runs.out.find(id), std::string::npos) << runs.out;
  EXPECT_NE(runs.out.find("succeeded"), std::string::npos) << runs.out;
  Outcome audit = Capture([&] { return CmdAuditExport(env_, State()); });
  EXPECT_NE(audit.out.find(R"("actor":"alice")"), std::string::npos) << audit.out;
  Outcome cancel = Capture([&] { return CmdCancel(env_, State(), id); });
  EXPECT_EQ(cancel.rc, 2);
  EXPECT_NE(cancel.err.find("already finished"), std::string::npos) << cancel.err;
}

TEST_F(CommandsWithStore, APendingRunIsInterruptedUnlessAProcessHoldsItsLock) {
  CreatePendingRun("r1");
  Outcome lost = Capture([&] { return CmdRuns(env_, State(true), 50); });
  EXPECT_NE(lost.out.find(R"("status":"interrupted")"), std::string::npos) << lost.out;
  env_.HoldLock(dir_ + "/state/runs/r1/lock", "777");
  Outcome held = Capture([&] { return CmdRuns(env_, State(true), 50); });
  EXPECT_NE(held.out.find(R"("status":"pending")"), std::string::npos) << held.out;
}

TEST_F(CommandsWithStore, CancelSignalsTheProcessThatHoldsTheRunsLock) {
  CreatePendingRun("r1");
  env_.HoldLock(dir_ + "/state/runs/r1/lock", "777");
  env_.live_pids.insert(777);
  Outcome o = Capture([&] { return CmdCancel(env_, State(), "r1"); });
  EXPECT_EQ(o.rc, 0) << o.err;
  ASSERT_EQ(env_.signals.size(), 1u);
  EXPECT_EQ(env_.signals[0], std::make_pair(777, SIGTERM));
  EXPECT_NE(o.out.find("sent SIGTERM to sluice process 777"), std::string::npos) << o.out;
}

TEST_F(CommandsWithStore, CancelFailsWhenTheLockHoldersProcessIsGone) {
  CreatePendingRun("r1");
  env_.HoldLock(dir_ + "/state/runs/r1/lock", "777");  // not in live_pids
  Outcome o = Capture([&] { return CmdCancel(env_, State(), "r1"); });
  EXPECT_EQ(o.rc, 3);
  EXPECT_NE(o.err.find("cannot signal process 777"), std::string::npos) << o.err;
}

}  // namespace commands_test
}  // namespace sluice
