// Calls of DAG templates in the engine, with the fake clock and executor: each call's instance
// expands into its own instances of the template's tasks, named after it; the call finishes
// with the template's outputs, is retried as a group, nests to spec.maxDepth, and a crash in the
// middle of a template resumes from the events.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/engine_fakes.h"

namespace sluice {
namespace template_test {

const char* const kLib =
    "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: ab, version: 1.0.0}\nspec:\n"
    "  params: [{name: x, type: int, default: 1}]\n"
    "  tasks:\n"
    "    - {name: a, run: [x, '${{ params.x }}']}\n"
    "    - {name: b, needs: [a], run: [x]}\n"
    "  finally:\n"
    "    - {name: fin, run: [x, '${{ scope.name }}']}\n"
    "  outputs:\n"
    "    params: [{name: twice, value: '${{ params.x * 2 }}'}]\n";

std::shared_ptr<const Plan> WithLib(const std::string& tasks, const std::string& extra = "") {
  return Compile(tasks, "  imports: [/lib.yaml]\n" + extra, {{"/lib.yaml", kLib}});
}

TEST(Templates, ACallRunsItsTasksInOrderThenItsFinallyAndGivesItsOutputs) {
  Harness h;
  auto plan = WithLib("    - {name: c, uses: ab@1, with: {x: 21}}\n"
                      "    - {name: d, run: [x, '${{ tasks.c.outputs.params.twice }}']}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
  EXPECT_EQ(h.exec.started, (std::vector<std::string>{"c.a", "c.b", "c.fin", "d"}));
  EXPECT_EQ(h.exec.requests[0].argv, (std::vector<std::string>{"x", "21"}));
  EXPECT_EQ(h.exec.requests[2].argv, (std::vector<std::string>{"x", "c"}));
  EXPECT_EQ(h.exec.requests[3].argv, (std::vector<std::string>{"x", "42"}));
  EXPECT_EQ(e->StateOf("c"), TaskState::kSucceeded);
}

TEST(Templates, ForEachOverACallGivesEachItemItsOwnTasks) {
  Harness h;
  auto plan = WithLib("    - {name: c, forEach: [1, 2], uses: ab@1, with: {x: '${{ item }}'}}\n");
  auto e = h.Make(plan, 1);
  ASSERT_TRUE(e->Run());
  for (const char* name : {"c[0].a", "c[0].b", "c[1].a", "c[1].b", "c[1].fin"}) {
    EXPECT_EQ(e->StateOf(name), TaskState::kSucceeded) << name << "\n" << h.Log();
  }
}

TEST(Templates, ParallelismBoundsHowManyCallsOfAForEachRunAtOnce) {
  Harness h;
  auto plan = WithLib("    - {name: c, forEach: [1, 2], parallelism: 1, uses: ab@1, "
                      "with: {x: '${{ item }}'}}\n");
  auto e = h.Make(plan, 2);
  ASSERT_TRUE(e->Run());
  EXPECT_EQ(h.exec.started, (std::vector<std::string>{"c[0].a", "c[0].b", "c[0].fin", "c[1].a",
                                                      "c[1].b", "c[1].fin"}));
}

TEST(Templates, RetryWhenOnACallSeesTheErrorOfTheTaskThatFailedIt) {
  Harness h;
  h.exec.exits["c.b"] = {75, 0};
  auto plan = WithLib("    - {name: c, uses: ab@1, retry: {limit: 1, backoff: {initial: 1s}, "
                      "when: '${{ error.exitCode == 75 }}'}}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
}

TEST(Templates, AFailedTaskFailsItsCallAfterTheFinallyAndRetryRunsTheGroupAgain) {
  Harness h;
  h.exec.exits["c.b"] = {3, 0};
  auto plan = WithLib("    - {name: c, uses: ab@1, retry: {limit: 1, backoff: {initial: 1s}}}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
  EXPECT_EQ(h.exec.started, (std::vector<std::string>{"c.a", "c.b", "c.fin", "c.a", "c.b",
                                                      "c.fin"}));
  // The second round's attempts go on counting (their folders and rows are by number).
  EXPECT_EQ(h.exec.requests[3].attempt, 2);
  EXPECT_EQ(h.Tasks(EventKind::kRetryScheduled), (std::vector<std::string>{"c"}));
}

TEST(Templates, AFailedCallWithoutRetryFailsTheRunWithItsTasksError) {
  Harness h;
  h.exec.exits["c.a"] = {5};
  auto plan = WithLib("    - {name: c, uses: ab@1}\n    - {name: after, needs: [c], run: [x]}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  EXPECT_EQ(e->StateOf("c.b"), TaskState::kUpstreamFailed);
  EXPECT_EQ(e->StateOf("c.fin"), TaskState::kSucceeded);  // the template's finally ran
  EXPECT_EQ(e->StateOf("c"), TaskState::kFailed);
  EXPECT_EQ(e->StateOf("after"), TaskState::kUpstreamFailed);
}

// Whatever commit a crash hits, inside a round or between the rounds of a retried call, the
// resumed run ends, and replaying its whole log gives every instance the state the live run
// gave it (the retried round's tasks replace the first round's by name).
TEST(Templates, ACrashAnywhereInARetriedCallResumesAndReplaysToTheSameStates) {
  auto plan = WithLib("    - {name: c, uses: ab@1, retry: {limit: 1, backoff: {initial: 1s}}}\n");
  for (int crash = 2; crash < 40; ++crash) {
    Harness h;
    h.exec.exits["c.b"] = {3, 0};
    h.sink.fail_at_commit = crash;
    {
      auto e = h.Make(plan);
      (void)e->Run();
    }
    if (h.sink.commits() < crash) break;  // the run ended before that commit: all covered
    h.sink.fail_at_commit = -1;
    auto e = h.Resume(plan);
    auto s = e->Run();
    ASSERT_TRUE(s) << "crash at commit " << crash << ": " << s.error().message << "\n" << h.Log();
    RunState replayed(plan);
    ASSERT_TRUE(replayed.Replay(h.sink.events)) << h.Log();
    for (const char* name : {"c", "c.a", "c.b", "c.fin"}) {
      ASSERT_GE(replayed.Find(name), 0) << name;
      EXPECT_EQ(replayed.at(replayed.Find(name)).state, e->StateOf(name))
          << "crash at commit " << crash << ", " << name << "\n" << h.Log();
    }
    EXPECT_TRUE(IsTerminal(e->StateOf("c"))) << h.Log();
  }
}

const char* const kRecursive =
    "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: down, version: 1.0.0}\nspec:\n"
    "  params: [{name: n, type: int, required: true}]\n"
    "  tasks:\n"
    "    - {name: step, run: [x, '${{ params.n }}']}\n"
    "    - name: again\n"
    "      needs: [step]\n"
    "      when: '${{ params.n > 0 }}'\n"
    "      uses: down@1\n"
    "      with: {n: '${{ params.n - 1 }}'}\n";

TEST(Templates, RecursionEndsAtItsBaseCase) {
  Harness h;
  auto plan = Compile("    - {name: r, uses: down@1, with: {n: 2}}\n", "  imports: [/lib.yaml]\n",
                      {{"/lib.yaml", kRecursive}});
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
  EXPECT_EQ(h.exec.started, (std::vector<std::string>{"r.step", "r.again.step",
                                                      "r.again.again.step"}));
  EXPECT_EQ(e->StateOf("r.again.again.again"), TaskState::kSkipped);
}

TEST(Templates, RecursionDeeperThanMaxDepthFailsWithDepthLimit) {
  Harness h;
  auto plan = Compile("    - {name: r, uses: down@1, with: {n: 9}}\n",
                      "  imports: [/lib.yaml]\n  maxDepth: 3\n", {{"/lib.yaml", kRecursive}});
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  EXPECT_EQ(e->StateOf("r.again.again.again"), TaskState::kFailed) << h.Log();
  bool found = false;
  for (const auto& ev : h.sink.events) {
    found |= ev.task == "r.again.again.again" && ev.error_class == "depth-limit";
  }
  EXPECT_TRUE(found) << h.Log();
}

// A failure no retry repeats (here the depth limit; a gate's denial or an approval's rejection
// alike) ends a call for good even when another of its tasks failed in an ordinary way first.
TEST(Templates, ACallWithATaskThatMustNotBeRetriedIsNotRetried) {
  const std::string lib =
      "apiVersion: sluice/v1\nkind: Component\nmetadata: {name: down, version: 1.0.0}\nspec:\n"
      "  tasks:\n"
      "    - {name: boom, run: [x]}\n"
      "    - {name: again, when: '${{ 1 > 0 }}', uses: down@1}\n";
  Harness h;
  h.exec.exits["r.boom"] = {1};
  auto plan = Compile("    - {name: r, uses: down@1, retry: {limit: 2, backoff: {initial: 1s}}}\n",
                      "  imports: [/lib.yaml]\n  maxDepth: 2\n", {{"/lib.yaml", lib}});
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  EXPECT_TRUE(h.Tasks(EventKind::kRetryScheduled).empty()) << h.Log();
}

}  // namespace template_test
}  // namespace sluice
