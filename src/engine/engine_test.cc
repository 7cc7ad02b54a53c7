// Engine tests with a fake clock and a fake executor (engine_fakes.h): no processes, no
// sleeps; time moves only when the fake executor waits.
#include <signal.h>

#include <gtest/gtest.h>

#include <map>

#include "engine/engine.h"
#include "engine/engine_fakes.h"

namespace sluice {
namespace engine_test {

TEST(Engine, RunsTasksInDependencyOrder) {
  Harness h;
  auto plan = Compile("    - {name: c, needs: [b], run: [x]}\n"
                      "    - {name: a, run: [x]}\n"
                      "    - {name: b, needs: [a], run: [x]}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
  EXPECT_EQ(h.exec.started, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Engine, RespectsJobLimit) {
  Harness h;
  auto plan = Compile("    - {name: a, run: [x]}\n    - {name: b, run: [x]}\n    - {name: c, run: [x]}\n");
  int64_t t0 = h.clock.NowUs();
  auto e = h.Make(plan, 2);
  ASSERT_TRUE(e->Run());
  // Three 1 s tasks on two slots take two rounds.
  EXPECT_EQ(h.clock.NowUs() - t0, 2'000'000);
}

TEST(Engine, RetriesFailedAttemptUntilLimitWithBackoff) {
  Harness h;
  h.exec.exits["a"] = {1, 1, 1, 1};
  auto plan = Compile("    - {name: a, run: [x], retry: {limit: 2, backoff: {initial: 10s, factor: 3}}}\n");
  int64_t t0 = h.clock.NowUs();
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  EXPECT_EQ(h.exec.started.size(), 3u);
  // 3 attempts of 1 s, waits of 10 s and 30 s between them.
  EXPECT_EQ(h.clock.NowUs() - t0, 43'000'000);
}

TEST(Engine, ExceptExitCodesNeverRetry) {
  Harness h;
  h.exec.exits["a"] = {2};
  auto plan = Compile("    - {name: a, run: [x], retry: {limit: 5, except: [2]}}\n");
  auto e = h.Make(plan);
  ASSERT_TRUE(e->Run());
  EXPECT_EQ(h.exec.started.size(), 1u);
  EXPECT_EQ(e->StateOf("a"), TaskState::kFailed);
}

TEST(Engine, FailureBlocksDownstreamButNotSiblings) {
  Harness h;
  h.exec.exits["a"] = {1};
  auto plan = Compile("    - {name: a, run: [x]}\n    - {name: b, needs: [a], run: [x]}\n"
                      "    - {name: c, run: [x]}\n    - {name: d, needs: [a], run: [x], }\n");
  auto e = h.Make(plan);
  ASSERT_TRUE(e->Run());
  EXPECT_EQ(e->StateOf("b"), TaskState::kUpstreamFailed);
  EXPECT_EQ(e->StateOf("c"), TaskState::kSucceeded);
}

// The end-of-run report comes from the engine: states of everything but forEach items, and
// the tasks that failed after an attempt (not those that never started), with why.
TEST(Engine, ContinueOnFailureLetsDownstreamRunAndRunSucceed) {
  Harness h;
  h.exec.exits["a"] = {1};
  auto plan = Compile("    - {name: a, run: [x], continueOnFailure: true}\n"
                      "    - {name: b, needs: [a], run: [x]}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
  EXPECT_EQ(e->StateOf("b"), TaskState::kSucceeded);
}

TEST(Engine, TimeoutTerminatesThenKillsAfterGrace) {
  Harness h;
  h.exec.duration_us = 100'000'000;
  h.exec.ignore_term = true;
  auto plan = Compile("    - {name: a, run: [x], timeout: 2s}\n");
  auto e = h.Make(plan);
  ASSERT_TRUE(e->Run());
  // TERM, then KILL after the grace period. What the attempt left in its process group is the
  // executor's to kill after the exit (LocalExecutor's tests).
  ASSERT_EQ(h.exec.signals.size(), 2u);
  EXPECT_EQ(h.exec.signals[0].second, SIGTERM);
  EXPECT_EQ(h.exec.signals[1].second, SIGKILL);
  EXPECT_EQ(e->StateOf("a"), TaskState::kFailed);
}

TEST(Engine, SpawnErrorIsRetryableClass) {
  Harness h;
  h.exec.spawn_fails.insert("a");
  auto plan = Compile("    - {name: a, run: [x], retry: {limit: 1, on: [spawn-error], backoff: {initial: 1s}}}\n");
  auto e = h.Make(plan);
  ASSERT_TRUE(e->Run());
  EXPECT_EQ(e->StateOf("a"), TaskState::kFailed);
  int finished = 0;
  for (const auto& ev : h.sink.events) {
    if (ev.kind == EventKind::kAttemptFinished) {
      EXPECT_EQ(ev.error_class, "spawn-error");
      ++finished;
    }
  }
  EXPECT_EQ(finished, 2);
}

TEST(Engine, WhenFalseSkipsTaskAndReaders) {
  Harness h;
  auto plan = Compile("    - {name: a, when: '${{ 1 > 2 }}', run: [x], outputs: {params: [{name: o, from: {stdout: text}}]}}\n"
                      "    - {name: b, run: [x, '${{ tasks.a.outputs.params.o }}']}\n"
                      "    - {name: c, run: [x]}\n");
  auto e = h.Make(plan);
  ASSERT_TRUE(e->Run());
  EXPECT_EQ(e->StateOf("a"), TaskState::kSkipped);
  EXPECT_EQ(e->StateOf("b"), TaskState::kSkipped);
  EXPECT_EQ(e->StateOf("c"), TaskState::kSucceeded);
}

TEST(Engine, ForEachRunsChildrenAndGathersOutputsInOrder) {
  Harness h;
  auto plan = Compile("    - {name: f, forEach: [a, b, c], parallelism: 1, run: [x, '${{ item }}'], "
                      "outputs: {params: [{name: o, from: {stdout: text}}]}}\n");
  auto e = h.Make(plan, 4);
  ASSERT_TRUE(e->Run());
  const Value* out = e->OutputsOf("f");
  ASSERT_TRUE(out && out->is_map());
  EXPECT_EQ(out->Find("params")->Find("o")->ToJson(), R"(["f[0]-out","f[1]-out","f[2]-out"])");
}

TEST(Engine, ResumeAfterStoreFailureRecordsLostAttemptAndRetriesIt) {
  Harness h;
  auto plan = Compile("    - {name: a, run: [x], retry: {limit: 1, on: [lost]}}\n"
                      "    - {name: b, needs: [a], run: [x]}\n");
  h.sink.fail_at_commit = 2;  // a's attempt is recorded started; the next commit fails
  auto e = h.Make(plan);
  EXPECT_FALSE(e->Run());
  std::vector<Event> committed = h.sink.events;
  h.sink.fail_at_commit = -1;
  h.exec.started.clear();
  auto resumed = h.Make(plan);
  ASSERT_TRUE(resumed->Replay(committed));
  auto s = resumed->Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
  bool lost = false;
  for (const auto& ev : h.sink.events) lost = lost || ev.error_class == "lost";
  EXPECT_TRUE(lost);
  // The first process's attempt was killed by the failed run itself, and the resumed engine
  // still reclaims what may be left of it before retrying.
  EXPECT_EQ(h.exec.reclaimed, (std::vector<std::string>{"a"}));
  EXPECT_EQ(h.exec.started, (std::vector<std::string>{"a", "b"}));
}

TEST(Engine, ReplayOfFinishedRunDoesNotRunAgain) {
  Harness h;
  auto plan = Compile("    - {name: a, run: [x]}\n");
  ASSERT_TRUE(h.Make(plan)->Run());
  auto again = h.Make(plan);
  ASSERT_TRUE(again->Replay(h.sink.events));
  EXPECT_FALSE(again->Run());
  EXPECT_EQ(h.exec.started.size(), 1u);
}

TEST(Engine, WhenReadingItemDecidesPerItem) {
  Harness h;
  auto plan = Compile("    - {name: f, forEach: [1, 5, 2, 7], when: '${{ item > 3 }}', run: [x, '${{ item }}'], "
                      "outputs: {params: [{name: o, from: {stdout: text}}]}}\n");
  auto e = h.Make(plan, 4);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
  EXPECT_EQ(h.exec.started, (std::vector<std::string>{"f[1]", "f[3]"}));
  EXPECT_EQ(e->StateOf("f[0]"), TaskState::kSkipped);
  // Skipped items keep the gathered list aligned with the items.
  EXPECT_EQ(e->OutputsOf("f")->Find("params")->Find("o")->ToJson(), R"([null,"f[1]-out",null,"f[3]-out"])");
}

TEST(Engine, ReaderOfToleratedFailureIsSkipped) {
  Harness h;
  h.exec.exits["a"] = {1};
  auto plan = Compile("    - {name: a, run: [x], continueOnFailure: true, outputs: {params: [{name: o, from: {stdout: text}}]}}\n"
                      "    - {name: b, run: [x, '${{ tasks.a.outputs.params.o }}']}\n"
                      "    - {name: c, needs: [a], run: [x]}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
  EXPECT_EQ(e->StateOf("b"), TaskState::kSkipped);
  EXPECT_EQ(e->StateOf("c"), TaskState::kSucceeded);
}

TEST(Engine, DeadlinePassingDuringRetryWaitFailsAtTheDeadline) {
  Harness h;
  h.exec.exits["a"] = {1, 1};
  auto plan = Compile("    - {name: a, run: [x], deadline: 5s, retry: {limit: 3, backoff: {initial: 60s}}}\n");
  int64_t t0 = h.clock.NowUs();
  auto e = h.Make(plan);
  ASSERT_TRUE(e->Run());
  EXPECT_EQ(e->StateOf("a"), TaskState::kFailed);
  EXPECT_EQ(h.exec.started.size(), 1u);
  EXPECT_EQ(h.clock.NowUs() - t0, 5'000'000);  // not at the 61 s retry
}

TEST(Engine, TaskEnvOverridesComponentEnvOfTheSameName) {
  Harness h;
  auto plan = Compile("    - {name: a, uses: tool@1, env: {MODE: task}}\n", "  imports: [lib.yaml]\n",
                      {{"/lib.yaml", "apiVersion: sluice/v1\nkind: Component\n"
                                     "metadata: {name: tool, version: 1.0.0}\n"
                                     "spec: {run: [x], env: {MODE: component, OTHER: o}}\n"}});
  auto e = h.Make(plan);
  ASSERT_TRUE(e->Run());
  ASSERT_EQ(h.exec.requests.size(), 1u);
  int modes = 0;
  for (const auto& [k, v] : h.exec.requests[0].env) {
    if (k == "MODE") {
      ++modes;
      EXPECT_EQ(v, "task");
    }
  }
  EXPECT_EQ(modes, 1);
}

TEST(Engine, GpuTaskFailsWithoutGpusAndRunsWithThem) {
  Harness h;
  auto plan = Compile("    - {name: a, run: [x], resources: {gpu: 1}}\n");
  ASSERT_TRUE(h.Make(plan)->Run());
  EXPECT_TRUE(h.exec.started.empty());
  EngineOptions o;
  o.run_id = "r2";
  o.capacity.gpu = 1;
  Engine e(plan, Value(ValueMap{}), o, h.clock, h.exec, h.sink, nullptr, nullptr);
  auto s = e.Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
}

// When failFast cancels the forEach items not yet started, the parent's verdict (and what it
// releases downstream) is recorded at once. The engine before the split recorded it only at the
// next exit or timer, here the unrelated t0's end 99 s later (the fault simulation's seed 38).
TEST(Engine, CancellingItemsSettlesTheirParentAtOnceNotAtTheNextExit) {
  Harness h;
  h.exec.exits["t1"] = {1};
  h.exec.durations["t0"] = 100'000'000;
  auto plan = Compile("    - {name: t0, run: [x]}\n"
                      "    - {name: t1, run: [x], forEach: [a, b, c], parallelism: 1}\n");
  const int64_t t0 = h.clock.NowUs();
  auto s = h.Make(plan)->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  int verdicts = 0;
  for (const auto& e : h.sink.events) {
    if (e.kind == EventKind::kTaskFinished && e.task == "t1") {
      ++verdicts;
      EXPECT_EQ(e.status, "failed");
      EXPECT_EQ(e.time_us - t0, 1'000'000) << h.Log();
    }
  }
  EXPECT_EQ(verdicts, 1) << h.Log();
}

// A forEach whose items all fail to start, with nothing else running, is settled at once: the
// engine before the split slept until the next timer (here the run's deadline, which then
// cancelled what was downstream; the fault simulation's seed 5580).
TEST(Engine, ItemsThatFailToStartSettleTheirParentWithoutWaitingForATimer) {
  Harness h;
  h.exec.spawn_fails.insert("t0");
  auto plan = Compile("    - {name: t0, run: [x], forEach: [a, b, c], continueOnFailure: true}\n"
                      "    - {name: t2, needs: [t0], run: [x]}\n",
                      "  deadline: 9s\n");
  const int64_t t0 = h.clock.NowUs();
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
  EXPECT_EQ(e->StateOf("t2"), TaskState::kSucceeded);
  EXPECT_EQ(h.clock.NowUs() - t0, 1'000'000) << "t2 ran at once, for its 1 s";
}

}  // namespace engine_test
}  // namespace sluice
