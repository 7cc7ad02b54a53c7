// Slurm's output read back as attempt ends, and what Sluice hands to sbatch, on text recorded
// from Slurm 22.05 (Debian 12's slurm-wlm). The test cluster has no cgroups and cannot end a job
// OUT_OF_MEMORY, so that row is as Slurm writes it for a job its cgroup killed (ExitCode 0:125).
#include "exec/slurm_text.h"

#include <signal.h>

#include <gtest/gtest.h>

#include "exec/slurm_executor.h"

namespace sluice {
namespace slurm_text_test {

// squeue -h -r -t all -j 1,2,3,4 -O kSqueueFields: exit 3, ok, a 4-task array (task 3 took
// the array's own id), a scancel while running.
constexpr std::string_view kSqueue =
    "4|4|N/A|CANCELLED|15|None|\n"
    "2|2|N/A|COMPLETED|0|None|\n"
    "5|3|0|COMPLETED|0|None|\n"
    "6|3|1|FAILED|1792|NonZeroExitCode|\n"
    "7|3|2|RUNNING|0|None|\n"
    "3|3|3|PENDING|0|Resources|\n"
    "1|1|N/A|FAILED|768|NonZeroExitCode|\n"
    "9|9|N/A|TIMEOUT|15|TimeLimit|\n"
    "10|10|N/A|OUT_OF_MEMORY|125|OutOfMemory|\n"
    "11|11|N/A|FAILED|9|JobLaunchFailure|\n"
    "12|12|N/A|NODE_FAIL|0|NodeDown|\n"
    "13_[4-9]|13|N/A|PENDING|0|JobArrayTaskLimit|\n"
    "slurm_load_jobs error: Invalid job id specified\n";

const SlurmJobRow& Row(const std::vector<SlurmJobRow>& rows, SlurmJobKey key) {
  for (const auto& r : rows) {
    if (r.key == key) return r;
  }
  static const SlurmJobRow kNone;
  ADD_FAILURE() << "no row for " << key.Text();
  return kNone;
}

TEST(SlurmText, SqueueRowsAreKeyedByArrayAndTaskNotByJobId) {
  auto rows = ParseSqueue(kSqueue);
  ASSERT_EQ(rows.size(), 11u);  // the pending range and the error line are skipped
  EXPECT_EQ(Row(rows, {3, 3}).state, "PENDING");
  EXPECT_EQ(Row(rows, {3, 3}).reason, "Resources");
  EXPECT_EQ(Row(rows, {3, 1}).exit_code, 7);
  EXPECT_EQ(Row(rows, {1, -1}).exit_code, 3);
  EXPECT_EQ(Row(rows, {4, -1}).signal, 15);
  EXPECT_EQ(Row(rows, {11, -1}).signal, 9);
  EXPECT_EQ(SlurmJobKey({3, 1}).Text(), "3_1");
  EXPECT_EQ(SlurmJobKey({4, -1}).Text(), "4");
}

TEST(SlurmText, StatesBecomeEndsWithTheirErrorClasses) {
  auto rows = ParseSqueue(kSqueue);
  EXPECT_TRUE(SlurmJobActive(Row(rows, {3, 2}).state));
  EXPECT_TRUE(SlurmJobActive("COMPLETING"));
  EXPECT_FALSE(SlurmJobActive(Row(rows, {2, -1}).state));

  AttemptEnd ok = SlurmEnd(Row(rows, {2, -1}));
  EXPECT_EQ(ok.how, AttemptEnd::How::kExited);
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.error_class, ErrorClass::kNone);

  AttemptEnd failed = SlurmEnd(Row(rows, {1, -1}));
  EXPECT_EQ(failed.how, AttemptEnd::How::kExited);
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.error_class, ErrorClass::kNone);

  AttemptEnd killed = SlurmEnd(Row(rows, {11, -1}));  // its script killed itself: kill -9 $$
  EXPECT_EQ(killed.how, AttemptEnd::How::kSignaled);
  EXPECT_EQ(killed.signal, 9);

  AttemptEnd cancelled = SlurmEnd(Row(rows, {4, -1}));
  EXPECT_EQ(cancelled.how, AttemptEnd::How::kSignaled);
  EXPECT_EQ(cancelled.signal, SIGTERM);
  EXPECT_EQ(cancelled.error_class, ErrorClass::kNone);

  AttemptEnd timeout = SlurmEnd(Row(rows, {9, -1}));
  EXPECT_EQ(timeout.error_class, ErrorClass::kTimeout);
  EXPECT_EQ(timeout.message, "Slurm ended the job at its time limit (TIMEOUT)");

  AttemptEnd oom = SlurmEnd(Row(rows, {10, -1}));
  EXPECT_EQ(oom.error_class, ErrorClass::kOom);
  EXPECT_EQ(ErrorClassName(oom.error_class), "oom");

  AttemptEnd node = SlurmEnd(Row(rows, {12, -1}));
  EXPECT_EQ(node.how, AttemptEnd::How::kLost);
  EXPECT_EQ(node.message, "Slurm ended the job: NODE_FAIL");
}

// jobcomp/filetxt lines (one per ended job; the file is read for jobs squeue forgot).
constexpr std::string_view kJobcomp =
    "JobId=6 UserId=root(0) GroupId=root(0) Name=sluice:f JobState=FAILED Partition=debug "
    "WorkDir=/tmp/a b ArrayJobId=3 ArrayTaskId=1 DerivedExitCode=0:0 ExitCode=7:0 \n"
    "JobId=9 UserId=root(0) GroupId=root(0) Name=sluice:t JobState=TIMEOUT Partition=debug "
    "DerivedExitCode=0:0 ExitCode=0:0 \n"
    "JobId=10 UserId=root(0) Name=sluice:big JobState=OUT_OF_MEMORY ExitCode=0:125 \n"
    "JobId=2 UserId=root(0) Name=sluice:a JobState=FAILED ExitCode=1:0 \n"
    "JobId=2 UserId=root(0) Name=sluice:a JobState=COMPLETED ExitCode=0:0 \n";

TEST(SlurmText, JobcompGivesTheLastRowOfAJobWithItsState) {
  auto task = FindInJobcomp(kJobcomp, {3, 1});
  ASSERT_TRUE(task);
  EXPECT_EQ(task->state, "FAILED");
  EXPECT_EQ(SlurmEnd(*task).exit_code, 7);
  EXPECT_FALSE(FindInJobcomp(kJobcomp, {6, -1}));  // job 6 is array task 3_1
  auto timeout = FindInJobcomp(kJobcomp, {9, -1});
  ASSERT_TRUE(timeout);
  EXPECT_EQ(SlurmEnd(*timeout).error_class, ErrorClass::kTimeout);  // jobcomp lost the signal
  auto oom = FindInJobcomp(kJobcomp, {10, -1});
  ASSERT_TRUE(oom);
  EXPECT_EQ(SlurmEnd(*oom).error_class, ErrorClass::kOom);
  EXPECT_EQ(FindInJobcomp(kJobcomp, {2, -1})->state, "COMPLETED");
  EXPECT_EQ(JobcompFileOf("JobCompHost = localhost\nJobCompLoc = /tmp/s/jobcomp.txt\n"
                          "JobCompType = jobcomp/filetxt\n"),
            "/tmp/s/jobcomp.txt");
  EXPECT_EQ(JobcompFileOf("JobCompLoc = /tmp/x\nJobCompType = jobcomp/none\n"), "");
}

TEST(SlurmText, ResourcesTimeoutAndSlurmOptionsBecomeSbatchOptions) {
  AttemptRequest req;
  req.run_id = "r1";
  req.task = "train";
  req.cpu = 1.5;
  req.memory = 512.0 * (1 << 20);
  req.gpu = 2;
  req.timeout_ms = 90'000;
  req.slurm = {"gpu", "ml", "high", "a100", {"--exclusive"}};
  std::vector<std::string> want = {
      "--parsable", "--no-requeue", "--job-name=sluice:train", "--comment=sluice run r1",
      "--chdir=/w", "--output=/o", "--error=/e", "--cpus-per-task=2", "--mem=512M",
      "--gres=gpu:2", "--time=2", "--partition=gpu", "--account=ml", "--qos=high",
      "--constraint=a100", "--exclusive"};
  EXPECT_EQ(SbatchOptions(req, "/w", "/o", "/e", 0, 0), want);
  req.array_key = "f";
  auto array = SbatchOptions(req, "/w", "/dev/null", "/dev/null", 10, 3);
  EXPECT_EQ(array[2], "--job-name=sluice:f");
  EXPECT_EQ(array[5], "--array=0-9%3");
  EXPECT_EQ(SlurmTimeLimit(0), "");
  EXPECT_EQ(SlurmTimeLimit(60'000), "1");
  EXPECT_EQ(SlurmTimeLimit(1), "1");
}

TEST(SlurmText, ScriptsQuoteEveryValue) {
  std::string s = AttemptScript({{"A", "it's $HOME `x`"}}, "/w d",
                                {"echo", "a b", "$(rm -rf /)"}, "/o", "/e", false);
  EXPECT_EQ(s,
            "#!/bin/bash\n# A Sluice attempt (docs/slurm.md).\n"
            "export A='it'\\''s $HOME `x`'\n"
            "cd '/w d' || exit 126\n"
            "exec 'echo' 'a b' '$(rm -rf /)'\n");
  std::string t = AttemptScript({}, "/w", {"true"}, "/o", "/e", true);
  EXPECT_NE(t.find("exec >>'/o' 2>>'/e'\n"), std::string::npos);
}

TEST(SlurmText, AJobArrayReadsItsTasksScriptFromAListAndStaysSmall) {
  auto list = ArrayList({"/t/f[0]@1.slurm.sh", "/t/f[1]@1.slurm.sh"});
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, "/t/f[0]@1.slurm.sh\n/t/f[1]@1.slurm.sh\n");
  EXPECT_EQ(ArrayIndexOf(*list, "/t/f[1]@1.slurm.sh"), 1);
  EXPECT_EQ(ArrayIndexOf(*list, "/t/f[0]@1.slurm.sh"), 0);
  EXPECT_EQ(ArrayIndexOf(*list, "/t/f[2]@1.slurm.sh"), -1);
  EXPECT_EQ(ArrayIndexOf(*list, "/t/f[1]@1"), -1) << "whole lines only";
  EXPECT_FALSE(ArrayList({"/t/a\nb@1.slurm.sh"})) << "a line cannot hold a newline";
  // The script names the list, quoted, and not one attempt: its size does not grow with N.
  std::string a = ArrayScript("/t/it's.array.list");
  EXPECT_NE(a.find("mapfile -t -s \"$SLURM_ARRAY_TASK_ID\" -n 1 sluice_attempt < "
                   "'/t/it'\\''s.array.list'\n"),
            std::string::npos);
  EXPECT_NE(a.find(". \"${sluice_attempt[0]}\"\n"), std::string::npos);
  EXPECT_EQ(a.size(), ArrayScript("/t/x.array.list").size() + 6);  // it's, quoted, for x
  // An array script of an earlier version (a `case` per task), left by a run now resumed.
  const std::string old =
      "#!/bin/bash\n# A Sluice fan-out: one job array (docs/slurm.md).\n"
      "case \"$SLURM_ARRAY_TASK_ID\" in\n  0) . '/t/f[0]@1.slurm.sh' ;;\n"
      "  1) . '/t/f[1]@1.slurm.sh' ;;\nesac\n"
      "echo \"no attempt for array task $SLURM_ARRAY_TASK_ID\" >&2\nexit 127\n";
  EXPECT_EQ(ArrayIndexOf(old, "/t/f[1]@1.slurm.sh"), 1);
  EXPECT_EQ(ArrayIndexOf(old, "/t/f[2]@1.slurm.sh"), -1);
}

TEST(SlurmText, HandlesCarryTheJobAndArrayTask) {
  for (SlurmJobKey k : {SlurmJobKey{1, -1}, SlurmJobKey{67'043'327, -1}, SlurmJobKey{24, 0},
                        SlurmJobKey{2'000'000'000, 200'000}}) {
    AttemptHandle h = SlurmHandle(k);
    EXPECT_TRUE(IsSlurmHandle(h));
    EXPECT_FALSE(h & (AttemptHandle{1} << 52)) << "not a work queue handle";
    EXPECT_LT(h, AttemptHandle{1} << 53) << "exact as a JSON number";
    EXPECT_EQ(SlurmKeyOf(h), k) << k.Text();
  }
}

}  // namespace slurm_text_test
}  // namespace sluice
