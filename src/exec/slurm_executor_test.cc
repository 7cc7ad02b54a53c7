// The Slurm executor against Slurm's clients as FakeEnv answers them (their text recorded from
// Slurm 22.05): one squeue per due poll for every job, the poll's interval, ends with their
// classes and outputs, and adoption after a restart. tests/e2e/slurm.py runs it on a real cluster.
#include "exec/slurm_executor.h"

#include <gtest/gtest.h>

#include "common/strings.h"
#include "env/fake_env.h"

namespace sluice {
namespace slurm_executor_test {

constexpr char kRun[] = "/state/runs/r1";
const std::string kJoin = "/bin/sh -c exec \"$0\" \"$@\" 2>&1";

class SlurmExecutorTest : public testing::Test {
 protected:
  SlurmExecutorTest()
      : local_(env_, env_.fake_processes, kRun, "/state/artifacts", {}),
        slurm_(env_, local_, kRun, {}) {}

  AttemptRequest Request(const std::string& task) {
    AttemptRequest r;
    r.run_id = "r1";
    r.task = task;
    r.attempt = 1;
    r.executor = "slurm";
    r.argv = {"sh", "-c", "echo hi"};
    return r;
  }
  // sbatch of `req` answers job `id`.
  void Accept(const AttemptRequest& req, int64_t id) {
    AttemptPaths p = AttemptPathsFor(kRun, req.task, req.attempt);
    std::vector<std::string> argv = {"sbatch"};
    for (auto& o : SbatchOptions(req, p.work, p.stdout_log, p.stderr_log, 0, 0)) argv.push_back(o);
    argv.push_back(p.work + ".slurm.sh");
    env_.commands[Join(argv, " ")] = CommandResult{0, 0, false, false, std::to_string(id) + "\n"};
  }
  // squeue of `ids` answers `rows` (kSqueueFields).
  void Squeue(const std::string& ids, const std::string& rows, int exit_code = 0) {
    env_.commands[kJoin + " squeue -h -r -t all -j " + ids + " -O " + std::string(kSqueueFields)] =
        CommandResult{exit_code, 0, false, false, rows};
  }
  int Squeues() const {
    int n = 0;
    for (const auto& c : env_.ran) n += c.find(" squeue ") != std::string::npos;
    return n;
  }

  FakeEnv env_;
  LocalExecutor local_;
  SlurmExecutor slurm_;
};

TEST_F(SlurmExecutorTest, OneSqueueForEveryJobWhenAPollIsDueAndEndsWithTheirClasses) {
  AttemptRequest a = Request("a"), b = Request("b"), c = Request("c");
  a.params = {WantedParam{"n", WantedParam::Source::kFile, "n"}};
  Accept(a, 11);
  Accept(b, 12);
  Accept(c, 13);
  std::vector<AttemptRequest> batch = {a, b, c};
  auto handles = slurm_.Submit(batch);
  ASSERT_TRUE(handles[0] && handles[1] && handles[2]);
  EXPECT_EQ(SlurmKeyOf(*handles[1]), (SlurmJobKey{12, -1}));
  // The script is where the attempt lives, and runs its argv.
  auto script = env_.files().ReadFile(std::string(kRun) + "/tasks/a@1.slurm.sh");
  ASSERT_TRUE(script);
  EXPECT_NE(script->find("exec 'sh' '-c' 'echo hi'\n"), std::string::npos);

  EXPECT_TRUE(slurm_.Poll(0).ends.empty());  // not due yet: no squeue
  EXPECT_EQ(Squeues(), 0);
  EXPECT_EQ(slurm_.NextPollInUs(), SlurmExecutor::kMinIntervalUs);

  ASSERT_TRUE(env_.files().WriteFile(std::string(kRun) + "/tasks/a@1/n", "41\n"));
  Squeue("11,12,13", "11|11|N/A|COMPLETED|0|None|\n12|12|N/A|RUNNING|0|None|\n"
                     "13|13|N/A|OUT_OF_MEMORY|125|OutOfMemory|\n");
  env_.fake_clock.Advance(SlurmExecutor::kMinIntervalUs);
  PollResult got = slurm_.Poll(0);
  EXPECT_EQ(Squeues(), 1);
  ASSERT_EQ(got.ends.size(), 2u);
  EXPECT_EQ(got.ends[0].handle, *handles[0]);
  ASSERT_TRUE(got.ends[0].outputs && *got.ends[0].outputs);
  EXPECT_EQ((*got.ends[0].outputs)->params.ToJson(), "{\"n\":\"41\"}");
  EXPECT_EQ(got.ends[1].handle, *handles[2]);
  EXPECT_EQ(got.ends[1].error_class, ErrorClass::kOom);
  EXPECT_FALSE(got.ends[1].outputs);

  // An end came: the next poll is soon; quiet polls wait longer each time.
  EXPECT_EQ(slurm_.NextPollInUs(), SlurmExecutor::kMinIntervalUs);
  Squeue("12", "12|12|N/A|RUNNING|0|None|\n");
  env_.fake_clock.Advance(SlurmExecutor::kMinIntervalUs);
  EXPECT_TRUE(slurm_.Poll(0).ends.empty());
  EXPECT_EQ(slurm_.NextPollInUs(), SlurmExecutor::kMinIntervalUs * 3 / 2);
  // The controller away is not an end.
  Squeue("12", "squeue: error: Unable to contact slurm controller (connect failure)\n", 1);
  env_.fake_clock.Advance(slurm_.NextPollInUs());
  EXPECT_TRUE(slurm_.Poll(0).ends.empty());
  EXPECT_EQ(Squeues(), 3);
  // Cancelled by Sluice: scancel, then its end by the next poll, without outputs.
  slurm_.Cancel(*handles[1], StopMode::kTerminate);
  EXPECT_EQ(env_.ran.back(), "scancel 12");
  Squeue("12", "12|12|N/A|CANCELLED|15|None|\n");
  env_.fake_clock.Advance(slurm_.NextPollInUs());
  got = slurm_.Poll(0);
  ASSERT_EQ(got.ends.size(), 1u);
  EXPECT_EQ(got.ends[0].how, AttemptEnd::How::kSignaled);
  EXPECT_FALSE(got.ends[0].outputs);
  EXPECT_EQ(slurm_.NextPollInUs(), -1);  // nothing left to watch
}

TEST_F(SlurmExecutorTest, AForEachSubmittedTogetherIsOneJobArray) {
  std::vector<AttemptRequest> batch;
  for (int k = 0; k < 3; ++k) {
    batch.push_back(Request(fmt::format("f[{}]", k)));
    batch.back().array_key = "f";
    batch.back().array_parallelism = 2;
  }
  AttemptPaths first = AttemptPathsFor(kRun, "f[0]", 1);
  std::vector<std::string> argv = {"sbatch"};
  for (auto& o : SbatchOptions(batch[0], std::string(kRun) + "/tasks", "/dev/null", "/dev/null", 3, 2)) {
    argv.push_back(o);
  }
  argv.push_back(first.work + ".array.sh");
  env_.commands[Join(argv, " ")] = CommandResult{0, 0, false, false, "24\n"};
  auto handles = slurm_.Submit(batch);
  ASSERT_EQ(env_.ran.size(), 1u) << "one sbatch";
  // The array's script reads task k's attempt script from line k+1 of its list.
  EXPECT_EQ(env_.files().ReadFile(first.work + ".array.sh").value_or(""),
            ArrayScript(first.work + ".array.list"));
  EXPECT_EQ(env_.files().ReadFile(first.work + ".array.list").value_or(""),
            first.work + ".slurm.sh\n" + AttemptPathsFor(kRun, "f[1]", 1).work + ".slurm.sh\n" +
                AttemptPathsFor(kRun, "f[2]", 1).work + ".slurm.sh\n");
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(handles[k]);
    EXPECT_EQ(SlurmKeyOf(*handles[k]), (SlurmJobKey{24, k}));
  }
  // Task 2 got the array's own id (Slurm's way): keyed by array and index all the same.
  Squeue("24", "25|24|0|COMPLETED|0|None|\n26|24|1|FAILED|1792|NonZeroExitCode|\n"
               "24|24|2|RUNNING|0|None|\n");
  env_.fake_clock.Advance(SlurmExecutor::kMinIntervalUs);
  PollResult got = slurm_.Poll(0);
  ASSERT_EQ(got.ends.size(), 2u);
  EXPECT_EQ(got.ends[1].handle, *handles[1]);
  EXPECT_EQ(got.ends[1].exit_code, 7);
}

TEST_F(SlurmExecutorTest, AdoptionAdoptsWhatRunsAndRecordsWhatEndedWithItsRealCode) {
  auto open = [](int64_t job, const std::string& task) {
    OpenAttempt a;
    a.run_id = "r1";
    a.task = task;
    a.attempt = 1;
    a.handle = SlurmHandle({job, -1});
    return a;
  };
  std::vector<OpenAttempt> attempts = {open(21, "running"), open(22, "failed"),
                                       open(23, "purged"), open(24, "gone")};
  attempts[2].params = {WantedParam{"o", WantedParam::Source::kStdoutText}};
  Squeue("21,22,23,24", "21|21|N/A|RUNNING|0|None|\n22|22|N/A|FAILED|768|NonZeroExitCode|\n");
  // Job 23 ended more than MinJobAge ago: only the jobcomp file still has it.
  env_.commands["scontrol show config"] = CommandResult{
      0, 0, false, false, "JobCompLoc = /slurm/jobcomp.txt\nJobCompType = jobcomp/filetxt\n"};
  ASSERT_TRUE(env_.files().WriteFile("/slurm/jobcomp.txt",
                                     "JobId=23 UserId=root(0) JobState=COMPLETED ExitCode=0:0 \n"));
  ASSERT_TRUE(env_.files().WriteFile(std::string(kRun) + "/tasks/purged@1.stdout.log", "done\n"));
  auto got = slurm_.Adopt(attempts);
  EXPECT_EQ(Squeues(), 1);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].verdict, Adoption::Verdict::kAdopted);
  EXPECT_EQ(got[0].handle, attempts[0].handle);
  EXPECT_EQ(got[1].verdict, Adoption::Verdict::kEnded);
  EXPECT_EQ(got[1].end.exit_code, 3);
  EXPECT_EQ(got[2].verdict, Adoption::Verdict::kEnded);
  ASSERT_TRUE(got[2].end.outputs && *got[2].end.outputs);
  EXPECT_EQ((*got[2].end.outputs)->params.ToJson(), "{\"o\":\"done\"}");
  EXPECT_EQ(got[3].verdict, Adoption::Verdict::kLost);
  EXPECT_EQ(got[3].end.message, "Slurm no longer knows job 24");
  // The adopted job's end comes by Poll.
  Squeue("21", "21|21|N/A|TIMEOUT|15|TimeLimit|\n");
  PollResult ends = slurm_.Poll(0);
  ASSERT_EQ(ends.ends.size(), 1u);
  EXPECT_EQ(ends.ends[0].error_class, ErrorClass::kTimeout);
}

// sluice died between sbatch and the commit of the job's id: the job is found by its script.
TEST_F(SlurmExecutorTest, AJobWhoseIdNeverReachedTheLogIsFoundByItsScript) {
  auto open = [](const std::string& task) {
    OpenAttempt a;
    a.run_id = "r1";
    a.task = task;
    a.attempt = 1;
    return a;
  };
  std::vector<OpenAttempt> attempts = {open("single"), open("f[1]"), open("none"), open("g[1]")};
  const std::string tasks = std::string(kRun) + "/tasks/";
  ASSERT_TRUE(env_.files().WriteFile(tasks + "f[0]@1.array.sh", ArrayScript(tasks + "f[0]@1.array.list")));
  ASSERT_TRUE(env_.files().WriteFile(
      tasks + "f[0]@1.array.list", *ArrayList({tasks + "f[0]@1.slurm.sh", tasks + "f[1]@1.slurm.sh"})));
  env_.commands[kJoin + " squeue -h -r -t all --me -O " + std::string(kSqueueMineFields)] =
      CommandResult{0, 0, false, false,
                    "31|31|N/A|RUNNING|0|None|" + tasks + "single@1.slurm.sh|\n"
                    "40|40|0|RUNNING|0|None|" + tasks + "f[0]@1.array.sh|\n"
                    "41|40|1|FAILED|512|NonZeroExitCode|" + tasks + "f[0]@1.array.sh|\n"
                    "50|50|N/A|RUNNING|0|None|/state/runs/r2/tasks/none@1.slurm.sh|\n"
                    "61|60|1|RUNNING|0|None|" + tasks + "g[0]@1.array.sh|\n"};
  // An array an earlier version submitted: no list, its script names each task's attempt.
  ASSERT_TRUE(env_.files().WriteFile(
      tasks + "g[0]@1.array.sh", "#!/bin/bash\ncase \"$SLURM_ARRAY_TASK_ID\" in\n  0) . '" + tasks +
                                     "g[0]@1.slurm.sh' ;;\n  1) . '" + tasks + "g[1]@1.slurm.sh' ;;\nesac\n"));
  auto got = slurm_.AdoptUnrecorded(attempts);
  ASSERT_EQ(got.size(), 4u);
  ASSERT_TRUE(got[0]);
  EXPECT_EQ(got[0]->verdict, Adoption::Verdict::kAdopted);
  EXPECT_EQ(SlurmKeyOf(got[0]->handle), (SlurmJobKey{31, -1}));
  ASSERT_TRUE(got[1]);
  EXPECT_EQ(got[1]->verdict, Adoption::Verdict::kEnded);
  EXPECT_EQ(got[1]->end.exit_code, 2);
  EXPECT_FALSE(got[2]) << "another run's job is not this attempt's";
  ASSERT_TRUE(got[3]);
  EXPECT_EQ(SlurmKeyOf(got[3]->handle), (SlurmJobKey{60, 1}));
  EXPECT_EQ(slurm_.NextPollInUs(), 0);  // the adopted one is watched
}

}  // namespace slurm_executor_test
}  // namespace sluice
