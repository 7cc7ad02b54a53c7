// Failure handling in the engine: error classes, retry.when, catch, fallback, compensation,
// finally, failFast/onFailure and the run deadline, with fake processes and fake time.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/engine_fakes.h"

namespace sluice {
namespace failure_test {

using Names = std::vector<std::string>;

TEST(Failure, RetryWhenSeesTheErrorAndTheAttempt) {
  Harness h;
  h.exec.exits["a"] = {3, 3, 2, 2};
  auto plan = Compile(
      "    - name: a\n      run: [x]\n"
      "      retry: {limit: 5, backoff: {initial: 1s}, when: \"${{ error.exitCode == 3 && "
      "error.class == 'exit' && task.attempt < 5 }}\"}\n");
  auto s = h.Make(plan)->Run();
  ASSERT_TRUE(s);
  // Exit 3, 3 retry; exit 2 does not.
  EXPECT_EQ(h.exec.started, (Names{"a", "a", "a"}));
  EXPECT_EQ(RunStatusName(s->status), "failed");
}

TEST(Failure, RetryOnMatchesClassesWithCodes) {
  Harness h;
  h.exec.exits["a"] = {4, 3, 0};
  h.exec.exits["b"] = {4, 0};
  auto plan = Compile(
      "    - {name: a, run: [x], retry: {limit: 3, backoff: {initial: 1s}, on: [exit(4), 3]}}\n"
      "    - {name: b, run: [x], retry: {limit: 3, backoff: {initial: 1s}, except: [exit]}}\n",
      "  failFast: false\n");
  auto s = h.Make(plan)->Run();
  ASSERT_TRUE(s);
  auto e = h.Make(plan);
  EXPECT_EQ(std::count(h.exec.started.begin(), h.exec.started.end(), "a"), 3);
  EXPECT_EQ(std::count(h.exec.started.begin(), h.exec.started.end(), "b"), 1);
}

TEST(Failure, CatchHandlerSeesTheErrorAndRecoversTheTask) {
  Harness h;
  h.exec.exits["a"] = {7};
  auto plan = Compile(
      "    - name: a\n      run: [x]\n      catch:\n"
      "        - {on: [timeout], run: [wrong]}\n"
      "        - {on: [exit(7)], run: [notify, \"${{ error.class }}:${{ error.exitCode }}\"]}\n"
      "    - {name: b, needs: [a], run: [x]}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
  EXPECT_EQ(e->StateOf("a"), TaskState::kRecovered);
  EXPECT_EQ(e->StateOf("b"), TaskState::kSucceeded);
  EXPECT_EQ(h.exec.started, (Names{"a", "a.catch[1]", "b"}));
  EXPECT_EQ(h.exec.requests[1].argv, (Names{"notify", "exit:7"}));
}

TEST(Failure, CatchWithoutRecoverLeavesTheTaskFailed) {
  Harness h;
  h.exec.exits["a"] = {1};
  auto plan = Compile("    - name: a\n      run: [x]\n      catch: [{recover: false, run: [x]}]\n"
                      "    - {name: b, needs: [a], run: [x]}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  EXPECT_EQ(e->StateOf("a"), TaskState::kFailed);
  EXPECT_EQ(e->StateOf("b"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.exec.started, (Names{"a", "a.catch[0]"}));
}

TEST(Failure, FallbackOutputsStandInForTheTask) {
  Harness h;
  h.exec.exits["fetch"] = {1, 1};
  auto plan = Compile(
      "    - name: fetch\n      run: [x]\n      retry: {limit: 1, backoff: {initial: 1s}}\n"
      "      outputs: {params: [{name: m, from: {file: m}}]}\n"
      "      fallback:\n        run: [y]\n        outputs: {params: [{name: m, from: {file: m}}]}\n"
      "    - {name: use, run: [\"${{ tasks.fetch.outputs.params.m }}\"]}\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
  EXPECT_EQ(e->StateOf("fetch"), TaskState::kRecovered);
  EXPECT_EQ(h.exec.started, (Names{"fetch", "fetch", "fetch.fallback", "use"}));
  EXPECT_EQ(h.exec.requests.back().argv, (Names{"fetch.fallback-out"}));
}

TEST(Failure, AFailedFallbackStillGoesToCatch) {
  Harness h;
  h.exec.exits["a"] = {5};
  h.exec.exits["a.fallback"] = {1};
  auto plan = Compile("    - name: a\n      run: [x]\n      fallback: {run: [y]}\n"
                      "      catch: [{on: [exit(5)], run: [\"${{ error.exitCode }}\"]}]\n");
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(e->StateOf("a"), TaskState::kRecovered);
  EXPECT_EQ(h.exec.started, (Names{"a", "a.fallback", "a.catch[0]"}));
  EXPECT_EQ(h.exec.requests.back().argv, (Names{"5"}));  // the task's error, not the fallback's
}

void ExpectReverseOrder(const Harness& h) {
  Names started = h.Tasks(EventKind::kAttemptStarted);
  Names finished = h.Tasks(EventKind::kTaskFinished);
  auto pos = [](const Names& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) - v.begin();
  };
  // Event positions: compensation X finished before compensation Y started.
  auto before = [&](const std::string& x, const std::string& y) {
    size_t fin = 0, start = 0;
    for (size_t k = 0; k < h.sink.events.size(); ++k) {
      const Event& e = h.sink.events[k];
      if (e.kind == EventKind::kTaskFinished && e.task == x) fin = k;
      if (e.kind == EventKind::kAttemptStarted && e.task == y && !start) start = k;
    }
    return fin > 0 && start > fin;
  };
  (void)pos;
  EXPECT_TRUE(before("c.compensate", "b.compensate"));
  EXPECT_TRUE(before("b.compensate", "a.compensate"));
  EXPECT_TRUE(before("d.compensate", "a.compensate"));
}

TEST(Failure, AFailedRunCompensatesCompletedTasksInReverseOrder) {
  Harness h;
  h.exec.exits["e"] = {1};
  auto plan = Compile(kSaga);
  auto e = h.Make(plan);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "compensated");
  ExpectReverseOrder(h);
  EXPECT_EQ(e->StateOf("a.compensate"), TaskState::kSucceeded);
}

TEST(Failure, ACompensationThatFailsMakesTheRunCompensationFailed) {
  Harness h;
  h.exec.exits["e"] = {1};
  h.exec.exits["b.compensate"] = {1, 1, 0};
  auto plan = Compile(
      "    - {name: a, run: [x], compensate: {run: [undo]}}\n"
      "    - {name: b, needs: [a], run: [x], compensate: {run: [undo], retry: 1}}\n"
      "    - {name: e, needs: [b], run: [x]}\n");
  auto s = h.Make(plan)->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "compensation-failed");
  // b's compensation had its own retry (2 attempts, both failed); a's still ran after it.
  Names started = h.Tasks(EventKind::kAttemptStarted);
  EXPECT_EQ(std::count(started.begin(), started.end(), "b.compensate"), 2);
  EXPECT_EQ(started.back(), "a.compensate");
}

TEST(Failure, RollbackCompensatesASucceededRun) {
  Harness h;
  auto plan = Compile(kSaga);
  auto s = h.Make(plan)->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "succeeded");
  EXPECT_FALSE(h.Resume(plan)->Run());  // finished: a plain resume refuses
  auto r = h.Resume(plan, 2, /*rollback=*/true)->Run();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(RunStatusName(r->status), "compensated");
  ExpectReverseOrder(h);
  auto again = h.Resume(plan, 2, true)->Run();
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("ended compensated"), std::string::npos)
      << again.error().message;
}

TEST(Failure, CompensationResumesAfterACrash) {
  Harness h;
  h.exec.exits["e"] = {1};
  auto plan = Compile(kSaga);
  // Commits: one per turn. Fail one in the middle of the compensations.
  h.sink.fail_at_commit = 9;
  ASSERT_FALSE(h.Make(plan)->Run());
  h.exec.Crash();
  auto s = h.Resume(plan)->Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(RunStatusName(s->status), "compensated") << h.Log();
  ExpectReverseOrder(h);
  for (const char* t : {"a.compensate", "b.compensate", "c.compensate", "d.compensate"}) {
    Names fin = h.Tasks(EventKind::kTaskFinished);
    EXPECT_EQ(std::count(fin.begin(), fin.end(), t), 1) << t;
  }
}

TEST(Failure, FinallyTasksRunWithTheRunStatusAndTheFailedTasks) {
  Harness h;
  h.exec.exits["a"] = {1};
  auto plan = Compile("    - {name: a, run: [x]}\n",
                      "  finally:\n"
                      "    - {name: notify, run: [\"${{ run.status }}\", \"${{ run.failedTasks }}\"]}\n"
                      "    - {name: after, needs: [notify], run: [x]}\n");
  auto s = h.Make(plan)->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  EXPECT_EQ(h.exec.started, (Names{"a", "notify", "after"}));
  EXPECT_EQ(h.exec.requests[1].argv, (Names{"failed", "[\"a\"]"}));
}

TEST(Failure, AFailingFinallyTaskFailsASucceededRun) {
  Harness h;
  h.exec.exits["f"] = {1};
  auto plan = Compile("    - {name: a, run: [x]}\n", "  finally:\n    - {name: f, run: [x]}\n");
  auto s = h.Make(plan)->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
}

TEST(Failure, FailFastStartsNothingNewAfterAFailure) {
  Harness h;
  h.exec.exits["a"] = {1};
  h.exec.durations["a"] = 1'000'000;
  h.exec.durations["long"] = 5'000'000;
  auto plan = Compile("    - {name: a, run: [x]}\n    - {name: long, run: [x]}\n"
                      "    - {name: later, needs: [long], run: [x]}\n"
                      "    - {name: other, run: [x]}\n");
  auto e = h.Make(plan, 2);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  EXPECT_EQ(e->StateOf("long"), TaskState::kSucceeded);  // onFailure: wait
  EXPECT_EQ(e->StateOf("other"), TaskState::kCancelled);
  EXPECT_EQ(e->StateOf("later"), TaskState::kCancelled);
  EXPECT_EQ(h.exec.started, (Names{"a", "long"}));
}

TEST(Failure, WithoutFailFastIndependentBranchesGoOn) {
  Harness h;
  h.exec.exits["a"] = {1};
  auto plan = Compile("    - {name: a, run: [x]}\n    - {name: long, run: [x]}\n"
                      "    - {name: later, needs: [long], run: [x]}\n"
                      "    - {name: other, run: [x]}\n",
                      "  failFast: false\n");
  auto e = h.Make(plan, 2);
  ASSERT_TRUE(e->Run());
  EXPECT_EQ(e->StateOf("later"), TaskState::kSucceeded);
  EXPECT_EQ(e->StateOf("other"), TaskState::kSucceeded);
}

TEST(Failure, OnFailureCancelTerminatesRunningTasks) {
  Harness h;
  h.exec.exits["a"] = {1};
  h.exec.durations["long"] = 60'000'000;
  auto plan = Compile("    - {name: a, run: [x]}\n    - {name: long, run: [x], retry: 3}\n",
                      "  onFailure: cancel\n");
  const int64_t t0 = h.clock.NowUs();
  auto e = h.Make(plan, 2);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(e->StateOf("long"), TaskState::kCancelled);
  EXPECT_EQ(h.exec.started, (Names{"a", "long"}));  // no retry of a cancelled attempt
  EXPECT_LT(h.clock.NowUs() - t0, 10'000'000);
}

TEST(Failure, TheRunDeadlineStopsTheMainTasksButNotTheCleanUp) {
  Harness h;
  h.exec.durations["long"] = 60'000'000;
  auto plan = Compile("    - {name: quick, run: [x], compensate: {run: [undo]}}\n"
                      "    - {name: long, run: [x], retry: 3}\n"
                      "    - {name: after, needs: [quick], run: [x]}\n",
                      "  deadline: 1500ms\n  finally:\n    - {name: f, run: [x]}\n");
  auto e = h.Make(plan, 2);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "compensated");
  EXPECT_EQ(e->StateOf("long"), TaskState::kFailed) << h.Log();
  EXPECT_EQ(e->StateOf("after"), TaskState::kFailed);  // it was running at the deadline
  EXPECT_EQ(e->StateOf("quick.compensate"), TaskState::kSucceeded);
  EXPECT_EQ(e->StateOf("f"), TaskState::kSucceeded);
}

// Issue 12's report: with a run deadline, failFast cancelling every forEach item before it starts
// left the run idle until the deadline. Each shape below cancels all items before they start
// (in the turn they are made ready, or while they wait for a slot or for parallelism); the run
// must end at once, long before its deadline.
TEST(Failure, ARunWhoseForEachItemsAreAllCancelledByFailFastEndsBeforeItsDeadline) {
  const std::vector<std::pair<std::string, int>> shapes = {
      {"    - {name: up, run: [x]}\n    - {name: bad, run: [x]}\n"
       "    - {name: fe, needs: [up], forEach: [1, 2, 3], run: [x]}\n", 4},
      {"    - {name: bad, run: [x]}\n    - {name: fe, forEach: [1, 2, 3], run: [x]}\n", 1},
      {"    - {name: bad, run: [x]}\n"
       "    - {name: fe, forEach: [1, 2, 3], parallelism: 1, run: [x]}\n", 2},
      {"    - {name: up, run: [x]}\n    - {name: bad, run: [x], retry: {limit: 1, backoff: {initial: 10ms}}}\n"
       "    - {name: fe, needs: [up], forEach: [1, 2, 3], run: [x]}\n", 1},
  };
  for (const auto& [tasks, jobs] : shapes) {
    Harness h;
    h.exec.exits["bad"] = {1, 1};
    h.exec.durations["up"] = 100'000;
    const int64_t t0 = h.clock.NowUs();
    auto e = h.Make(Compile(tasks, "  deadline: 60s\n  onFailure: cancel\n"), jobs);
    auto s = e->Run();
    ASSERT_TRUE(s) << tasks;
    EXPECT_EQ(RunStatusName(s->status), "failed") << tasks << h.Log();
    for (const char* item : {"fe[0]", "fe[1]", "fe[2]"}) {
      auto st = e->StateOf(item);
      EXPECT_TRUE(st == TaskState::kCancelled || st == TaskState::kUpstreamFailed ||
                  st == TaskState::kSucceeded) << tasks << item;
    }
    EXPECT_LT(h.clock.NowUs() - t0, 20'000'000) << "idle until the deadline: " << tasks << h.Log();
  }
}

TEST(Failure, HandlersOfForEachItemsServeTheirOwnItem) {
  Harness h;
  h.exec.exits["t"] = {0, 1, 0};
  auto plan = Compile("    - name: t\n      forEach: [a, b, c]\n      run: [\"${{ item }}\"]\n"
                      "      outputs: {params: [{name: v, from: {file: v}}]}\n"
                      "      compensate: {run: [undo, \"${{ item }}\", "
                      "\"${{ tasks.t.outputs.params.v }}\"]}\n",
                      "  failFast: false\n");
  auto e = h.Make(plan, 1);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "compensated");
  EXPECT_EQ(e->StateOf("t[0].compensate"), TaskState::kSucceeded) << h.Log();
  EXPECT_EQ(e->StateOf("t[2].compensate"), TaskState::kSucceeded);
  bool saw = false;
  for (const auto& r : h.exec.requests) {
    if (r.task == "t[2].compensate") {
      EXPECT_EQ(r.argv, (Names{"undo", "c", "t[2]-out"}));
      saw = true;
    }
  }
  EXPECT_TRUE(saw);
}

TEST(Failure, SpawnErrorsAndExpressionErrorsHaveTheirClasses) {
  Harness h;
  h.exec.spawn_fails.insert("a");
  auto plan = Compile(
      "    - name: a\n      run: [x]\n      catch: [{on: [spawn-error], run: [\"${{ error.class }}\"]}]\n"
      "    - name: b\n      run: [\"${{ int('x') }}\"]\n      needs: [a]\n"
      "      catch: [{on: [expression-error], run: [\"${{ error.class }}\"]}]\n");
  auto s = h.Make(plan)->Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(h.exec.started, (Names{"a.catch[0]", "b.catch[0]"}));
  EXPECT_EQ(h.exec.requests[0].argv, (Names{"spawn-error"}));
  EXPECT_EQ(h.exec.requests[1].argv, (Names{"expression-error"}));
}

TEST(Failure, AnOpenBreakerFailsFastSoTheFallbackOrADelayedRetryTakesOver) {
  Harness h;
  h.exec.exits["call"] = {1, 1, 0, 0, 0, 0};
  auto plan = Compile(
      "    - name: call\n      forEach: [1, 2, 3, 4]\n      parallelism: 1\n      run: [x]\n"
      "      breaker: registry\n"
      "      retry: {limit: 1, on: [circuit-open], backoff: {initial: 10s}}\n"
      "      fallback: {run: [alt]}\n",
      "  failFast: false\n  breakers:\n"
      "    - {name: registry, slidingWindowSize: 4, minimumNumberOfCalls: 2, "
      "waitDurationInOpenState: 5s, permittedNumberOfCallsInHalfOpenState: 1}\n");
  auto e = h.Make(plan, 1);
  auto s = e->Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
  // Items 0 and 1 fail (their fallbacks run) and open the breaker; 2 and 3 fail fast with
  // circuit-open, wait 10 s (the breaker half-opens after 5 s) and succeed on retry.
  EXPECT_EQ(e->StateOf("call[0]"), TaskState::kRecovered);
  EXPECT_EQ(e->StateOf("call[2]"), TaskState::kSucceeded);
  std::vector<std::string> path;
  for (const auto& t : h.breakers.transitions) path.push_back(std::string(BreakerStateName(t.t.to)));
  EXPECT_EQ(path, (Names{"open", "half-open", "closed"}));
  int open_attempts = 0;
  for (const auto& ev : h.sink.events) {
    open_attempts += ev.kind == EventKind::kAttemptFinished && ev.error_class == "circuit-open";
  }
  EXPECT_EQ(open_attempts, 2);
}

// prep -> train -> eval, with train and eval a group retried twice; report needs eval.
const char* kGroup =
    "    - {name: prep, run: [x]}\n"
    "    - {name: train, needs: [prep], run: [x], retry: 1}\n"
    "    - {name: eval, needs: [train], run: [x]}\n"
    "    - {name: side, needs: [train], run: [x]}\n"
    "    - {name: report, needs: [eval], run: [x]}\n";
const char* kGroupSpec =
    "  groups:\n    - {name: fit, tasks: [train, eval], retry: {limit: 2, backoff: {initial: 10s}}}\n";

TEST(Failure, AFailedGroupMemberResetsTheWholeGroup) {
  Harness h;
  h.exec.exits["eval"] = {1, 1, 0};  // fails in rounds 1 and 2, passes in round 3
  auto plan = Compile(kGroup, kGroupSpec);
  auto e = h.Make(plan, 1);
  auto s = e->Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
  Names started = h.exec.started;
  // prep once; train and eval three times (train's own retry is not used: it succeeds);
  // side and report once, after the group's last round.
  EXPECT_EQ(std::count(started.begin(), started.end(), "prep"), 1);
  EXPECT_EQ(std::count(started.begin(), started.end(), "train"), 3);
  EXPECT_EQ(std::count(started.begin(), started.end(), "eval"), 3);
  EXPECT_EQ(std::count(started.begin(), started.end(), "report"), 1);
  EXPECT_EQ(started.back(), "report");
  EXPECT_EQ(h.Tasks(EventKind::kGroupRetry).size(), 2u);
}

TEST(Failure, AGroupOutOfRetriesFailsTheRunAndItsDependents) {
  Harness h;
  h.exec.exits["eval"] = {1, 1, 1};
  auto plan = Compile(kGroup, kGroupSpec);
  auto e = h.Make(plan, 1);
  auto s = e->Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(RunStatusName(s->status), "failed");
  EXPECT_EQ(e->StateOf("eval"), TaskState::kFailed);
  EXPECT_EQ(e->StateOf("report"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.Tasks(EventKind::kGroupRetry).size(), 2u);
}

TEST(Failure, AGroupRetryStopsRunningMembersAndSurvivesACrash) {
  Harness h;
  h.exec.exits["train"] = {3, 3, 0};  // its own retry (1) is used up in round 1
  h.exec.durations["eval"] = 1'000'000;
  auto plan = Compile(
      "    - {name: train, run: [x], retry: {limit: 1, backoff: {initial: 1s}}}\n"
      "    - {name: long, run: [x]}\n"
      "    - {name: after, needs: [train, long], run: [x]}\n",
      "  groups:\n    - {name: g, tasks: [train, long], retry: {limit: 1, on: [exit(3)]}}\n");
  h.exec.durations["long"] = 30'000'000;
  h.sink.fail_after_kind = EventKind::kGroupRetry;  // a crash in the group's second round
  ASSERT_FALSE(h.Make(plan, 2)->Run());
  h.exec.Crash();
  auto s = h.Resume(plan, 2)->Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
  EXPECT_EQ(h.Tasks(EventKind::kGroupRetry).size(), 1u) << h.Log();
}

// Votes that appear at given fake times, as if cast from another process.
class TimedVotes : public Approvals {
 public:
  explicit TimedVotes(FakeClock& clock) : clock_(clock) {}
  Result<std::vector<ApprovalVote>> Votes(const std::string&, const std::string& task) override {
    std::vector<ApprovalVote> out;
    for (const auto& [at, v] : votes[task]) {
      if (clock_.NowUs() >= at) out.push_back(v);
    }
    return out;
  }
  std::map<std::string, std::vector<std::pair<int64_t, ApprovalVote>>> votes;

 private:
  FakeClock& clock_;
};

TEST(Failure, AnApprovalHoldsNoSlotAndWaitsForItsQuorum) {
  Harness h;
  TimedVotes votes(h.clock);
  const int64_t t0 = h.clock.NowUs();
  votes.votes["ship"] = {{t0 + 10'000'000, {"bob", "bob", true, "", 0}}, {t0 + 20'000'000, {"carol", "carol", true, "", 0}}};
  h.exec.durations["busy"] = 15'000'000;
  auto plan = Compile("    - name: ship\n      approval: {approvers: [bob, carol], quorum: 2}\n"
                      "    - {name: after, needs: [ship], run: [x]}\n"
                      "    - {name: busy, run: [x]}\n");
  EngineOptions o;
  o.run_id = "r1";
  o.capacity.jobs = 1;  // one slot: busy takes it while ship waits
  o.capacity.cpu = 4;
  o.approvals = &votes;
  Engine e(plan, Value(ValueMap{}), o, h.clock, h.exec, h.sink, nullptr, nullptr);
  auto s = e.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(RunStatusName(s->status), "succeeded") << h.Log();
  EXPECT_EQ(h.exec.started, (Names{"busy", "after"}));
  // After the second vote (20 s), within one poll.
  EXPECT_GE(h.clock.NowUs() - t0, 20'000'000);
  EXPECT_LT(h.clock.NowUs() - t0, 22'000'000);
}

TEST(Failure, AnApprovalIsRejectedByOneNoOrByItsTimeoutAndNeverRetried) {
  Harness h;
  TimedVotes votes(h.clock);
  votes.votes["a"] = {{h.clock.NowUs() + 3'000'000, {"bob", "bob", false, "not today", 0}}};
  auto plan = Compile("    - name: a\n      approval: {approvers: [bob]}\n      retry: 3\n"
                      "    - name: b\n      approval: {approvers: [bob], timeout: 5s}\n",
                      "  failFast: false\n");
  EngineOptions o;
  o.run_id = "r1";
  o.approvals = &votes;
  Engine e(plan, Value(ValueMap{}), o, h.clock, h.exec, h.sink, nullptr, nullptr);
  auto s = e.Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(e.StateOf("a"), TaskState::kFailed);
  EXPECT_EQ(e.StateOf("b"), TaskState::kFailed);
  std::string log = h.Log();
  EXPECT_NE(log.find("approval-rejected approval rejected by bob: not today"), std::string::npos) << log;
  EXPECT_NE(log.find("not approved within 5.0s"), std::string::npos) << log;
  EXPECT_TRUE(h.Tasks(EventKind::kRetryScheduled).empty());
}

TEST(Failure, ReplayRefusesALogThatRunsAFinishedTaskAgain) {
  Harness h;
  auto plan = Compile(kSaga);
  ASSERT_TRUE(h.Make(plan)->Run());
  ASSERT_TRUE(h.Make(plan)->Run());  // a second run into the same log: not one run's history
  auto e = h.Make(plan, 2, true);
  auto st = e->Replay(h.sink.events);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("already succeeded"), std::string::npos) << st.error().message;
}

}  // namespace failure_test
}  // namespace sluice
