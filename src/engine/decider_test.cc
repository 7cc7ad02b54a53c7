// The Decider stepped by hand (the fixture is in decider_test_fixture.h): starting tasks in
// order within the slots, forEach, how attempts end, retries and timers, the cache and breakers.
// The scenarios of engine_test.cc, checked at the level of decisions. Failure handling and
// governance are in decider_failure_test.cc; ResolveAttempt and BackoffUs in attempt_test.cc.
#include "engine/decider.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "engine/breaker.h"
#include "engine/decider_test_fixture.h"
#include "engine/recorder.h"
#include "engine/run_state.h"

namespace sluice {
namespace decider_test {

// --- Order, slots and retries -------------------------------------------------------------------

TEST_F(DeciderTest, StartsTasksInDependencyOrder) {
  Build(
      "    - {name: c, needs: [b], run: [x, c]}\n"
      "    - {name: a, run: [x, a]}\n"
      "    - {name: b, needs: [a], run: [x, b]}\n");
  EXPECT_EQ(Advance(kS), (Names{"a"}));
  EXPECT_EQ(requests_["a"].argv, (Names{"x", "a"}));
  EXPECT_EQ(requests_["a"].attempt, 1);
  EXPECT_EQ(requests_["a"].run_id, "r1");
  EXPECT_TRUE(Advance(kS).empty());  // nothing new until a ends
  Exit("a", 0, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"b"}));
  Exit("b", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"c"}));
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"a", "b", "c"}));
}

TEST_F(DeciderTest, StartsNoMoreAttemptsThanTheJobLimit) {
  Build("    - {name: a, run: [x]}\n    - {name: b, run: [x]}\n    - {name: c, run: [x]}\n");
  EXPECT_EQ(Advance(kS), (Names{"a", "b"}));
  EXPECT_EQ(state_->usage().slots, 2);
  EXPECT_TRUE(decider_->HasRunnable());
  Exit("b", 0, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"c"}));
  EXPECT_EQ(state_->usage().slots, 2);
}

TEST_F(DeciderTest, RetryIsScheduledAtBackoffAndReadyWhenDue) {
  Build("    - {name: a, run: [x], retry: {limit: 2, backoff: {initial: 10s, factor: 3}}}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  const Event& retry = Last(EventKind::kRetryScheduled, "a");
  EXPECT_EQ(retry.attempt, 2);
  EXPECT_EQ(retry.due_us, 12 * kS);
  EXPECT_EQ(retry.message, "exited with 1");
  EXPECT_EQ(StateOf("a"), TaskState::kWaiting);
  EXPECT_EQ(state_->usage().slots, 0);  // waiting holds no slot
  EXPECT_EQ(decider_->NextDueUs(), 12 * kS);
  EXPECT_TRUE(Due(12 * kS - 1).empty());
  EXPECT_EQ(Due(12 * kS), (Names{"a"}));
  EXPECT_EQ(requests_["a"].attempt, 2);
  Exit("a", 1, 13 * kS);
  EXPECT_EQ(Last(EventKind::kRetryScheduled, "a").due_us, 43 * kS);  // 10 s, then 30 s
}

TEST_F(DeciderTest, ATaskOutOfRetriesFailsNamingItsAttempts) {
  Build("    - {name: a, run: [x], retry: {limit: 1, backoff: {initial: 1s}}}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  Due(3 * kS);
  Exit("a", 4, 4 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  const Event& fin = Last(EventKind::kTaskFinished, "a");
  EXPECT_EQ(fin.error_class, "exit");
  EXPECT_EQ(fin.exit_code, 4);
  EXPECT_EQ(fin.message, "exited with 4 (attempt 2 of 2)");
  EXPECT_EQ(Tasks(EventKind::kRetryScheduled).size(), 1u);
}

TEST_F(DeciderTest, ExceptListedExitCodeIsNeverRetried) {
  Build("    - {name: a, run: [x], retry: {limit: 5, except: [2]}}\n");
  Advance(kS);
  Exit("a", 2, 2 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  EXPECT_TRUE(Tasks(EventKind::kRetryScheduled).empty());
}

TEST_F(DeciderTest, RetryOnMatchesClassesWithCodes) {
  Build("    - {name: a, run: [x], retry: {limit: 5, backoff: {initial: 1s}, on: [exit(4), 3]}}\n");
  Advance(kS);
  Exit("a", 4, 2 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kWaiting);
  EXPECT_EQ(Due(3 * kS), (Names{"a"}));
  Exit("a", 3, 4 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kWaiting);
  EXPECT_EQ(Due(6 * kS), (Names{"a"}));  // after 2 s this time
  Exit("a", 5, 7 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
}

TEST_F(DeciderTest, RetryWhenSeesTheErrorAndTheAttempt) {
  Build(
      "    - name: a\n      run: [x]\n"
      "      retry: {limit: 5, backoff: {initial: 1s}, when: \"${{ error.exitCode == 3 && "
      "error.class == 'exit' && task.attempt < 2 }}\"}\n");
  Advance(kS);
  Exit("a", 3, 2 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kWaiting);
  Due(3 * kS);
  Exit("a", 3, 4 * kS);  // attempt 2: the condition no longer holds
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
}

// --- Starting without an attempt, forEach -------------------------------------------------------

TEST_F(DeciderTest, WhenFalseSkipsTheTaskAndItsReaders) {
  Build(
      "    - {name: a, when: '${{ 1 > 2 }}', run: [x], "
      "outputs: {params: [{name: o, from: {stdout: text}}]}}\n"
      "    - {name: b, run: [x, '${{ tasks.a.outputs.params.o }}']}\n"
      "    - {name: c, run: [x]}\n");
  EXPECT_EQ(Advance(kS), (Names{"c"}));
  EXPECT_EQ(Tasks(EventKind::kTaskSkipped), (Names{"a", "b"}));
  EXPECT_EQ(Last(EventKind::kTaskSkipped, "b").message,
            "it reads outputs of \"a\", which was skipped");
}

TEST_F(DeciderTest, AnUnschedulableTaskFailsWithoutAnAttempt) {
  Build("    - {name: a, run: [x], resources: {gpu: 1}}\n");
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").error_class, "unschedulable");
  EXPECT_TRUE(Tasks(EventKind::kAttemptStarted).empty());
}

TEST_F(DeciderTest, ForEachStartsItemsWithinParallelismAndGathersOutputsInOrder) {
  capacity_.jobs = 4;
  Build(
      "    - {name: f, forEach: [a, b, c], parallelism: 1, run: [x, '${{ item }}'], "
      "outputs: {params: [{name: o, from: {stdout: text}}]}}\n");
  EXPECT_EQ(Advance(kS), (Names{"f[0]"}));
  EXPECT_EQ(Last(EventKind::kTaskExpanded, "f").data, R"(["a","b","c"])");
  EXPECT_EQ(requests_["f[0]"].argv, (Names{"x", "a"}));
  EXPECT_EQ(requests_["f[0]"].array_key, "f");
  int64_t now = kS;
  for (const char* out : {"A", "B", "C"}) {
    const std::string item = fmt::format("f[{}]", out[0] - 'A');
    now += kS;
    Exit(item, 0, now, Params({{"o", Value(out)}}));
    Advance(now);
  }
  EXPECT_EQ(StateOf("f"), TaskState::kSucceeded);
  EXPECT_EQ(state_->at(I("f")).outputs.Find("params")->ToJson(), R"({"o":["A","B","C"]})");
}

// --- How attempts end ---------------------------------------------------------------------------

TEST_F(DeciderTest, TimeoutBecomesAStopOrderThenAnEndClassifiedTimeout) {
  Build("    - {name: a, run: [x], timeout: 2s}\n");
  Advance(kS);
  EXPECT_EQ(decider_->NextDueUs(), 3 * kS);
  EXPECT_TRUE(Tick(3 * kS - 1).empty());
  EXPECT_EQ(Tick(3 * kS), (Names{"a"}));
  EXPECT_TRUE(Tick(4 * kS).empty());  // asked once; killing it is the loop's
  Killed("a", SIGTERM, 4 * kS);
  const Event& end = Last(EventKind::kAttemptFinished, "a");
  EXPECT_EQ(end.error_class, "timeout");
  EXPECT_EQ(end.message, "timed out after 2.0s");
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
}

TEST_F(DeciderTest, AttemptEndsAreClassifiedByHowTheyEnded) {
  capacity_.jobs = 4;
  Build(
      "    - {name: s, run: [x]}\n    - {name: l, run: [x]}\n"
      "    - {name: m, run: [x]}\n    - {name: o, run: [x]}\n",
      "  failFast: false\n");
  Advance(kS);
  Killed("s", SIGKILL, 2 * kS);
  AttemptEnd lost;
  lost.message = "its worker is gone";
  End("l", lost, 2 * kS);
  AttemptEnd no_outputs;
  no_outputs.how = AttemptEnd::How::kExited;
  no_outputs.exit_code = 0;
  End("m", no_outputs, 2 * kS);
  AttemptEnd bad_outputs = no_outputs;
  bad_outputs.outputs = Result<AttemptOutputs>(std::unexpected(Error(ErrorCode::kIo, "no file m")));
  End("o", bad_outputs, 2 * kS);
  auto cls = [&](const std::string& t) { return Last(EventKind::kAttemptFinished, t).error_class; };
  EXPECT_EQ(cls("s"), "signal");
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "s").exit_code, SIGKILL);
  EXPECT_EQ(cls("l"), "lost");
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "l").message, "its worker is gone");
  EXPECT_EQ(cls("m"), "outputs-error");
  EXPECT_EQ(cls("o"), "outputs-error");
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "o").message, "no file m");
}

// A data plane that knows why a job ended (Slurm's TIMEOUT, OUT_OF_MEMORY) names the class; an
// oom is retried when the policy's on: lists it.
TEST_F(DeciderTest, AnEndsErrorClassFromTheDataPlaneIsRecordedAndRetriedByIt) {
  capacity_.jobs = 4;
  Build(
      "    - {name: big, run: [x], retry: {limit: 1, on: [oom], backoff: {initial: 1s}}}\n"
      "    - {name: slow, run: [x], retry: {limit: 1, on: [oom], backoff: {initial: 1s}}}\n",
      "  failFast: false\n");
  Advance(kS);
  AttemptEnd oom;
  oom.how = AttemptEnd::How::kSignaled;
  oom.signal = 125;
  oom.error_class = ErrorClass::kOom;
  oom.message = "Slurm ended the job: OUT_OF_MEMORY";
  End("big", oom, 2 * kS);
  AttemptEnd timeout;
  timeout.how = AttemptEnd::How::kSignaled;
  timeout.signal = SIGTERM;
  timeout.error_class = ErrorClass::kTimeout;
  End("slow", timeout, 2 * kS);
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "big").error_class, "oom");
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "big").message, "Slurm ended the job: OUT_OF_MEMORY");
  EXPECT_EQ(Last(EventKind::kRetryScheduled, "big").due_us, 3 * kS);
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "slow").error_class, "timeout");
  EXPECT_EQ(StateOf("slow"), TaskState::kFailed);
}

TEST_F(DeciderTest, ASubmitFailureIsASpawnErrorAndRetriesLikeOne) {
  Build(
      "    - {name: a, run: [x], retry: {limit: 1, on: [spawn-error], backoff: {initial: 1s}}}\n");
  Orders orders = Turn(kS);
  ASSERT_EQ(orders.start.size(), 1u);
  decider_->SubmitFailed(orders.start[0].first, "cannot start", kS);
  const Event& end = Last(EventKind::kAttemptFinished, "a");
  EXPECT_EQ(end.error_class, "spawn-error");
  EXPECT_EQ(end.message, "cannot start");
  EXPECT_EQ(Last(EventKind::kRetryScheduled, "a").due_us, 2 * kS);
  EXPECT_EQ(state_->usage().slots, 0);
}

TEST_F(DeciderTest, ASucceededAttemptRecordsParamsArtifactPathsDigestsAndSizes) {
  Build(
      "    - {name: a, run: [x], outputs: {params: [{name: n, from: {stdout: json}}], "
      "artifacts: [{name: model, path: m}]}}\n");
  Advance(kS);
  AttemptOutputs out = Params({{"n", Value(3)}});
  out.artifacts.push_back({"model", "d1", 42, "/store/d1"});
  Exit("a", 0, 2 * kS, out);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").data,
            R"({"params":{"n":3},"artifacts":{"model":"/store/d1"},)"
            R"("artifact_info":{"model":{"digest":"d1","size":42}}})");
  EXPECT_EQ(StateOf("a"), TaskState::kSucceeded);
}

// --- Cache and breakers -------------------------------------------------------------------------

TEST_F(DeciderTest, ACachedResultSettlesTheTaskWithoutAnAttempt) {
  cache_.hit = ParseJson(R"({"params":{"o":"old"},"artifacts":{}})").value();
  Build(
      "    - {name: a, run: [x], cache: true, outputs: {params: [{name: o, from: {stdout: "
      "text}}]}}\n"
      "    - {name: b, run: [x, '${{ tasks.a.outputs.params.o }}']}\n");
  EXPECT_EQ(Advance(kS), (Names{"b"}));
  EXPECT_EQ(StateOf("a"), TaskState::kCached);
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"b"}));
  EXPECT_EQ(requests_["b"].argv, (Names{"x", "old"}));
  EXPECT_EQ(cache_.keys.size(), 1u);
}

TEST_F(DeciderTest, ACacheMissRecordsItsKeyWithTheAttemptAndTheOutputs) {
  Build("    - {name: a, run: [x], cache: true}\n");
  Advance(kS);
  ASSERT_EQ(cache_.keys.size(), 1u);
  const std::string& key = cache_.keys[0];
  EXPECT_EQ(Last(EventKind::kAttemptStarted, "a").data,
            fmt::format(R"({{"cache_key":"{}"}})", key));
  EXPECT_EQ(state_->cache_key(I("a")), key);
  Exit("a", 0, 2 * kS);
  const Value* stored = state_->at(I("a")).outputs.Find("cache_key");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->as_string(), key);
}

TEST_F(DeciderTest, AnOpenBreakerFailsTheAttemptWithCircuitOpen) {
  Build("    - {name: call, run: [x], breaker: registry}\n",
        "  breakers:\n    - {name: registry, slidingWindowSize: 4, minimumNumberOfCalls: 2}\n");
  ASSERT_TRUE(BreakerOperate(breakers_.data["registry"], "open", 0, nullptr));
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"call"}));
  const Event& end = Last(EventKind::kAttemptFinished, "call");
  EXPECT_EQ(end.error_class, "circuit-open");
  EXPECT_EQ(end.message, "circuit breaker \"registry\" is open");
  EXPECT_EQ(StateOf("call"), TaskState::kFailed);
  EXPECT_EQ(state_->usage().slots, 0);
}

// --- Replay -------------------------------------------------------------------------------------

// After a replay, a retry whose attempt started and that the executor adopts (it still runs) is
// not started again: before RunState::ApplyAttemptStarted took it off waiting(), the next Tick
// marked the running instance due and the next turn started another attempt beside it. Latent
// while executors never adopted (they report such attempts lost); found by this test.
TEST_F(DeciderTest, AnAdoptedRetryIsNotStartedAgainAfterAReplay) {
  Build("    - {name: a, run: [x], retry: {limit: 3, backoff: {initial: 1s}}}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  EXPECT_EQ(Due(3 * kS), (Names{"a"}));  // attempt 2 runs; the control process dies
  RunState resumed(plan_);
  ASSERT_TRUE(resumed.Replay(rec_->captured()));
  Recorder rec(resumed, "r1", nullptr, nullptr);
  Decider decider(resumed, rec, ctx_, capacity_, nullptr);
  Orders orders;
  decider.Tick(4 * kS, orders);  // attempt 2 was adopted: no end to report
  decider.Advance(4 * kS, orders);
  EXPECT_TRUE(orders.start.empty());
  EXPECT_TRUE(rec.captured().empty());
}

}  // namespace decider_test
}  // namespace sluice
