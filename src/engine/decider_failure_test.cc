// The Decider stepped by hand (the fixture is in decider_test_fixture.h), for failure handling
// and governance: upstream failures, failFast, onFailure and deadlines, catch, fallback,
// compensation and finally, gates and approvals, groups, and the Recorder's sticky refusal. The
// scenarios of failure_test.cc, checked at the level of decisions.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "engine/decider.h"
#include "engine/decider_test_fixture.h"
#include "engine/recorder.h"
#include "engine/run_state.h"

namespace sluice {
namespace decider_failure_test {

// --- Upstream failures --------------------------------------------------------------------------

TEST_F(DeciderTest, AFailureMakesDependentsUpstreamFailedButNotSiblings) {
  Build(
      "    - {name: a, run: [x]}\n    - {name: b, needs: [a], run: [x]}\n"
      "    - {name: c, run: [x]}\n",
      "  failFast: false\n");
  EXPECT_EQ(Advance(kS), (Names{"a", "c"}));
  Exit("a", 1, 2 * kS);
  Advance(2 * kS);
  EXPECT_EQ(StateOf("b"), TaskState::kUpstreamFailed);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "b").message, "upstream task \"a\" failed");
  EXPECT_EQ(StateOf("c"), TaskState::kRunning);
}

TEST_F(DeciderTest, ContinueOnFailureLetsDependentsRun) {
  Build(
      "    - {name: a, run: [x], continueOnFailure: true}\n"
      "    - {name: b, needs: [a], run: [x]}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"b"}));
  Exit("b", 0, 3 * kS);
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kSucceeded);
}

// --- failFast, onFailure and deadlines ----------------------------------------------------------

TEST_F(DeciderTest, ADeadlinePassingWhileWaitingToRetryFailsTheTaskAtTheDeadline) {
  Build("    - {name: a, run: [x], deadline: 5s, retry: {limit: 3, backoff: {initial: 60s}}}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  EXPECT_EQ(decider_->NextDueUs(), 6 * kS);  // not the retry at 62 s
  Tick(6 * kS);
  const Event& fin = Last(EventKind::kTaskFinished, "a");
  EXPECT_EQ(fin.error_class, "timeout");
  EXPECT_EQ(fin.message, "deadline passed while waiting to retry");
}

TEST_F(DeciderTest, FailFastCancelsTasksNotStartedAndLetsRunningOnesFinish) {
  Build(
      "    - {name: a, run: [x]}\n    - {name: long, run: [x]}\n"
      "    - {name: later, needs: [long], run: [x]}\n    - {name: other, run: [x]}\n");
  EXPECT_EQ(Advance(kS), (Names{"a", "long"}));
  Exit("a", 1, 2 * kS);
  EXPECT_TRUE(Advance(2 * kS).empty());
  EXPECT_TRUE(Tick(2 * kS).empty());  // onFailure: wait
  EXPECT_EQ(StateOf("other"), TaskState::kCancelled);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "other").message,
            "not started: task \"a\" failed and failFast is on");
  Exit("long", 0, 3 * kS);
  EXPECT_TRUE(Advance(3 * kS).empty());
  EXPECT_EQ(StateOf("long"), TaskState::kSucceeded);
  EXPECT_EQ(StateOf("later"), TaskState::kCancelled);
}

TEST_F(DeciderTest, OnFailureCancelStopsRunningAttemptsWithoutRetrying) {
  Build("    - {name: a, run: [x]}\n    - {name: long, run: [x], retry: 3}\n",
        "  onFailure: cancel\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  Advance(2 * kS);
  EXPECT_EQ(Tick(2 * kS), (Names{"long"}));
  Killed("long", SIGTERM, 3 * kS);
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "long").error_class, "cancelled");
  EXPECT_EQ(StateOf("long"), TaskState::kCancelled);
  EXPECT_TRUE(Tasks(EventKind::kRetryScheduled).empty());
}

TEST_F(DeciderTest, TheRunDeadlineStopsMainTasksAndCancelsThoseNotStarted) {
  capacity_.jobs = 1;
  Build("    - {name: long, run: [x], retry: 3}\n    - {name: other, run: [x]}\n",
        "  deadline: 1500ms\n");
  EXPECT_EQ(Advance(kS), (Names{"long"}));
  EXPECT_EQ(decider_->NextDueUs(), kS + 1'500'000);
  EXPECT_EQ(Tick(kS + 1'500'000), (Names{"long"}));
  Killed("long", SIGTERM, 3 * kS);
  const Event& end = Last(EventKind::kAttemptFinished, "long");
  EXPECT_EQ(end.error_class, "timeout");
  EXPECT_EQ(end.message, "the run's deadline of 1.5s passed");
  EXPECT_TRUE(Tasks(EventKind::kRetryScheduled).empty());
  EXPECT_TRUE(Advance(3 * kS).empty());
  EXPECT_EQ(StateOf("other"), TaskState::kCancelled);
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kFailed);
}

// --- Handlers, compensation, finally ------------------------------------------------------------

TEST_F(DeciderTest, ACatchHandlerSeesTheErrorAndRecoversTheTask) {
  Build(
      "    - name: a\n      run: [x]\n      catch:\n"
      "        - {on: [timeout], run: [wrong]}\n"
      "        - {on: [exit(7)], run: [notify, \"${{ error.class }}:${{ error.exitCode }}\"]}\n"
      "    - {name: b, needs: [a], run: [x]}\n");
  Advance(kS);
  Exit("a", 7, 2 * kS);
  EXPECT_EQ(Last(EventKind::kHandlerStarted, "a.catch[1]").data,
            R"({"owner":"a","plan":"a.catch[1]",)"
            R"("error":{"class":"exit","code":7,"message":"exited with 7"}})");
  EXPECT_EQ(Advance(2 * kS), (Names{"a.catch[1]"}));
  EXPECT_EQ(requests_["a.catch[1]"].argv, (Names{"notify", "exit:7"}));
  Exit("a.catch[1]", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"b"}));
  EXPECT_EQ(StateOf("a"), TaskState::kRecovered);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").message,
            "recovered by its catch handler after exit(7): exited with 7");
}

TEST_F(DeciderTest, ACatchWithoutRecoverLeavesTheTaskFailed) {
  Build(
      "    - name: a\n      run: [x]\n      catch: [{recover: false, run: [x]}]\n"
      "    - {name: b, needs: [a], run: [x]}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  Advance(2 * kS);
  Exit("a.catch[0]", 0, 3 * kS);
  EXPECT_TRUE(Advance(3 * kS).empty());
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  EXPECT_EQ(Last(EventKind::kTaskFinished, "a").message, "exited with 1 (its catch handler ran)");
  EXPECT_EQ(StateOf("b"), TaskState::kUpstreamFailed);
}

TEST_F(DeciderTest, FallbackOutputsStandInForTheTask) {
  Build(
      "    - name: fetch\n      run: [x]\n      retry: {limit: 1, backoff: {initial: 1s}}\n"
      "      outputs: {params: [{name: m, from: {file: m}}]}\n"
      "      fallback:\n        run: [y]\n        outputs: {params: [{name: m, from: {file: m}}]}\n"
      "    - {name: use, run: [\"${{ tasks.fetch.outputs.params.m }}\"]}\n");
  Advance(kS);
  Exit("fetch", 1, 2 * kS);
  Due(3 * kS);
  Exit("fetch", 1, 4 * kS);
  EXPECT_EQ(Advance(4 * kS), (Names{"fetch.fallback"}));
  Exit("fetch.fallback", 0, 5 * kS, Params({{"m", Value("alt")}}));
  EXPECT_EQ(Advance(5 * kS), (Names{"use"}));
  EXPECT_EQ(StateOf("fetch"), TaskState::kRecovered);
  EXPECT_EQ(requests_["use"].argv, (Names{"alt"}));
}

TEST_F(DeciderTest, AFailedFallbackStillGoesToCatchWithTheTasksError) {
  Build(
      "    - name: a\n      run: [x]\n      fallback: {run: [y]}\n"
      "      catch: [{on: [exit(5)], run: [\"${{ error.exitCode }}\"]}]\n");
  Advance(kS);
  Exit("a", 5, 2 * kS);
  EXPECT_EQ(Advance(2 * kS), (Names{"a.fallback"}));
  Exit("a.fallback", 1, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"a.catch[0]"}));
  EXPECT_EQ(requests_["a.catch[0]"].argv, (Names{"5"}));
  Exit("a.catch[0]", 0, 4 * kS);
  Advance(4 * kS);
  EXPECT_EQ(StateOf("a"), TaskState::kRecovered);
}

TEST_F(DeciderTest, AFailedRunCompensatesCompletedTasksInReverseOrder) {
  Build(kSaga);
  int64_t now = kS;
  Advance(now);
  // Each ends in turn: completions a, b, d, c; then e fails.
  for (const char* t : {"a", "b", "d", "c"}) {
    now += kS;
    Exit(t, 0, now);
    Advance(now);
  }
  Exit("e", 1, now += kS);
  EXPECT_TRUE(Advance(now).empty());
  ASSERT_TRUE(state_->AllSettled());
  ASSERT_TRUE(decider_->AdvancePhase(now));
  const Event& phase = Last(EventKind::kRunPhase);
  EXPECT_EQ(phase.status, "compensating");
  EXPECT_EQ(phase.data, R"({"status":"failed","rollback":false,"instances":["c","d","b","a"]})");
  // c and d have nothing downstream to wait for; b waits for c; a for b, c and d.
  EXPECT_EQ(Advance(now), (Names{"c.compensate", "d.compensate"}));
  Exit("c.compensate", 0, now += kS);
  EXPECT_EQ(Advance(now), (Names{"b.compensate"}));
  Exit("b.compensate", 0, now += kS);
  EXPECT_TRUE(Advance(now).empty());
  Exit("d.compensate", 0, now += kS);
  EXPECT_EQ(Advance(now), (Names{"a.compensate"}));
  Exit("a.compensate", 0, now += kS);
  Advance(now);
  EXPECT_FALSE(decider_->AdvancePhase(now));
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kCompensated);
}

TEST_F(DeciderTest, FinallyTasksRunWithTheRunStatusAndTheFailedTasks) {
  Build("    - {name: a, run: [x]}\n",
        "  finally:\n"
        "    - {name: notify, run: [\"${{ run.status }}\", \"${{ run.failedTasks }}\"]}\n"
        "    - {name: after, needs: [notify], run: [x]}\n");
  Advance(kS);
  Exit("a", 1, 2 * kS);
  Advance(2 * kS);
  ASSERT_TRUE(decider_->AdvancePhase(2 * kS));
  EXPECT_EQ(Last(EventKind::kRunPhase).data, R"({"status":"failed"})");
  EXPECT_EQ(Advance(2 * kS), (Names{"notify"}));
  EXPECT_EQ(requests_["notify"].argv, (Names{"failed", "[\"a\"]"}));
  Exit("notify", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"after"}));
  Exit("after", 0, 4 * kS);
  Advance(4 * kS);
  EXPECT_FALSE(decider_->AdvancePhase(4 * kS));
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kFailed);
}

TEST_F(DeciderTest, AFailingFinallyTaskFailsASucceededRun) {
  Build("    - {name: a, run: [x]}\n", "  finally:\n    - {name: f, run: [x]}\n");
  Advance(kS);
  Exit("a", 0, 2 * kS);
  Advance(2 * kS);
  ASSERT_TRUE(decider_->AdvancePhase(2 * kS));
  EXPECT_EQ(Last(EventKind::kRunPhase).data, R"({"status":"succeeded"})");
  EXPECT_EQ(Advance(2 * kS), (Names{"f"}));
  Exit("f", 1, 3 * kS);
  Advance(3 * kS);
  EXPECT_EQ(decider_->FinalStatus(), RunStatus::kFailed);
}

// --- Gates and approvals ------------------------------------------------------------------------

class DeciderGateTest : public DeciderTest {
 protected:
  void SetUp() override {
    Build(
        "    - {name: train, run: [x], outputs: {artifacts: [{name: model, path: m}]}}\n"
        "    - {name: publish, needs: [train], gate: {policies: [model-ok]}, run: [x]}\n",
        "  policies: [gate.yaml]\n",
        {{"/gate.yaml",
          "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: model-ok}\nspec:\n"
          "  stage: gate\n  rules:\n"
          "    - name: stored\n"
          "      expression: \"object.tasks.train.outputs.artifacts.model.digest == 'abc' && "
          "object.tasks.train.outputs.artifacts.model.size == 42\"\n"
          "      message: the model is not the one stored\n"}});
  }
  // train ends with its model of `size` bytes; then a turn.
  Names TrainEnds(int64_t size) {
    Advance(kS);
    AttemptOutputs out;
    out.params = Value(ValueMap{});
    out.artifacts.push_back({"model", "abc", size, "/store/abc"});
    Exit("train", 0, 2 * kS, out);
    return Advance(2 * kS);
  }
};

TEST_F(DeciderGateTest, TheGateInputCarriesTheUpstreamArtifactsDigestAndSize) {
  EXPECT_EQ(TrainEnds(42), (Names{"publish"})) << Log();
  const Event& d = Last(EventKind::kPolicyDecision, "publish");
  EXPECT_EQ(d.status, "allow");
  EXPECT_NE(d.data.find(R"("stage":"gate")"), std::string::npos) << d.data;
}

TEST_F(DeciderGateTest, AGateThatDeniesFailsTheTaskWithPolicyDenied) {
  EXPECT_TRUE(TrainEnds(7).empty());
  EXPECT_EQ(Last(EventKind::kPolicyDecision, "publish").status, "deny");
  const Event& fin = Last(EventKind::kTaskFinished, "publish");
  EXPECT_EQ(fin.error_class, "policy-denied");
  EXPECT_EQ(fin.message, "gate: policy model-ok rule stored: the model is not the one stored");
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted), (Names{"train"}));
}

TEST_F(DeciderTest, AnApprovalIsGrantedByAQuorumOfDistinctApproversAndHoldsNoSlot) {
  capacity_.jobs = 1;
  Build(
      "    - name: ship\n      approval: {approvers: [bob, carol], quorum: 2}\n"
      "    - {name: after, needs: [ship], run: [x]}\n    - {name: busy, run: [x]}\n");
  EXPECT_EQ(Advance(kS), (Names{"busy"}));
  EXPECT_EQ(StateOf("ship"), TaskState::kAwaitingApproval);
  EXPECT_EQ(Last(EventKind::kApprovalRequested, "ship").due_us, 0);  // no timeout
  EXPECT_TRUE(decider_->AwaitingVotes());
  approvals_.votes["ship"] = {{"bob", "bob", true, "", 0}, {"bob", "bob", true, "again", 0}};
  Tick(2 * kS);
  EXPECT_EQ(StateOf("ship"), TaskState::kAwaitingApproval);  // one approver, twice
  approvals_.votes["ship"].push_back({"carol", "carol", true, "", 0});
  Tick(3 * kS);
  const Event& decided = Last(EventKind::kApprovalDecided, "ship");
  EXPECT_EQ(decided.status, "approved");
  EXPECT_EQ(decided.message, "approved by bob, carol");
  Exit("busy", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"after"}));
  EXPECT_EQ(StateOf("ship"), TaskState::kSucceeded);
}

TEST_F(DeciderTest, AQuorumCountsAccountsNotTheNamesOneAccountVotesUnder) {
  Build("    - name: ship\n      approval: {approvers: [bob, carol], quorum: 2}\n");
  Advance(kS);
  // root, acting as bob and then as carol (--as), is one principal.
  approvals_.votes["ship"] = {{"bob", "root", true, "", 0}, {"carol", "root", true, "", 0}};
  Tick(2 * kS);
  EXPECT_EQ(StateOf("ship"), TaskState::kAwaitingApproval);
  approvals_.votes["ship"].push_back({"carol", "carol", true, "", 0});
  Tick(3 * kS);
  EXPECT_EQ(Last(EventKind::kApprovalDecided, "ship").message, "approved by bob (by root), carol");
}

TEST_F(DeciderTest, ARejectionNamesTheAccountBehindTheName) {
  Build("    - name: a\n      approval: {approvers: [bob]}\n");
  Advance(kS);
  approvals_.votes["a"] = {{"bob", "root", false, "no", 0}};
  Tick(2 * kS);
  EXPECT_EQ(Last(EventKind::kApprovalDecided, "a").message, "rejected by bob (by root): no");
}

TEST_F(DeciderTest, AVoteCastAtOrAfterTheDeadlineCountsForNothing) {
  Build("    - name: a\n      approval: {approvers: [bob], timeout: 5s}\n");
  Advance(kS);
  // Cast at the deadline while no process was watching, seen later (on resume): not counted.
  approvals_.votes["a"] = {{"bob", "bob", true, "", 6 * kS}};
  Tick(8 * kS);
  const Event& decided = Last(EventKind::kApprovalDecided, "a");
  EXPECT_EQ(decided.status, "rejected");
  EXPECT_EQ(decided.message, "not approved within 5.0s (0 of 1 approvals): rejected");
}

TEST_F(DeciderTest, AnApprovalIsRejectedByOneNo) {
  Build("    - name: a\n      approval: {approvers: [bob, carol], quorum: 2}\n");
  Advance(kS);
  approvals_.votes["a"] = {{"carol", "carol", true, "", 0}, {"bob", "bob", false, "not today", 0}};
  Tick(2 * kS);
  EXPECT_EQ(Last(EventKind::kApprovalDecided, "a").status, "rejected");
  const Event& fin = Last(EventKind::kTaskFinished, "a");
  EXPECT_EQ(fin.error_class, "approval-rejected");
  EXPECT_EQ(fin.message, "approval rejected by bob: not today");
}

TEST_F(DeciderTest, AnApprovalIsRejectedAtItsDeadlineAndNeverRetried) {
  Build("    - name: a\n      approval: {approvers: [bob], timeout: 5s}\n      retry: 3\n");
  Advance(kS);
  EXPECT_EQ(Last(EventKind::kApprovalRequested, "a").due_us, 6 * kS);
  EXPECT_EQ(decider_->NextDueUs(), 6 * kS);
  Tick(6 * kS - 1);
  EXPECT_EQ(StateOf("a"), TaskState::kAwaitingApproval);
  Tick(6 * kS);
  EXPECT_EQ(Last(EventKind::kApprovalDecided, "a").message,
            "not approved within 5.0s (0 of 1 approvals): rejected");
  EXPECT_EQ(StateOf("a"), TaskState::kFailed);
  EXPECT_TRUE(Tasks(EventKind::kRetryScheduled).empty());
}

// --- Groups -------------------------------------------------------------------------------------

// prep -> train -> eval, train and eval a group retried twice; report needs eval.
const char* kGroup =
    "    - {name: prep, run: [x]}\n"
    "    - {name: train, needs: [prep], run: [x], retry: 1}\n"
    "    - {name: eval, needs: [train], run: [x]}\n"
    "    - {name: report, needs: [eval], run: [x]}\n";
const char* kGroupSpec =
    "  groups:\n    - {name: fit, tasks: [train, eval], retry: {limit: 2, backoff: {initial: "
    "10s}}}\n";

TEST_F(DeciderTest, AFailedGroupMemberStartsTheGroupOverAfterItsBackoff) {
  capacity_.jobs = 1;
  Build(kGroup, kGroupSpec);
  Advance(kS);
  Exit("prep", 0, 2 * kS);
  Advance(2 * kS);
  Exit("train", 0, 3 * kS);
  EXPECT_EQ(Advance(3 * kS), (Names{"eval"}));
  Exit("eval", 1, 4 * kS);
  EXPECT_TRUE(Advance(4 * kS).empty());
  const Event& retry = Last(EventKind::kGroupRetry);
  EXPECT_EQ(retry.due_us, 14 * kS);
  EXPECT_EQ(retry.message, "group fit runs again (retry 1 of 2) after eval failed");
  EXPECT_EQ(StateOf("train"), TaskState::kPending);
  EXPECT_EQ(StateOf("eval"), TaskState::kPending);
  EXPECT_EQ(StateOf("report"), TaskState::kPending);
  EXPECT_TRUE(Due(14 * kS - 1).empty());
  EXPECT_EQ(Due(14 * kS), (Names{"train"}));
  EXPECT_EQ(requests_["train"].attempt, 2);  // attempt numbers go on
  EXPECT_EQ(Tasks(EventKind::kAttemptStarted, ""), (Names{"prep", "train", "eval", "train"}));
}

TEST_F(DeciderTest, AFailedGroupMemberStopsTheRunningOnesBeforeTheGroupIsReset) {
  Build(
      "    - {name: train, run: [x]}\n    - {name: long, run: [x]}\n"
      "    - {name: after, needs: [train, long], run: [x]}\n",
      "  groups:\n    - {name: g, tasks: [train, long], retry: {limit: 1, on: [exit(3)]}}\n");
  EXPECT_EQ(Advance(kS), (Names{"train", "long"}));
  Exit("train", 3, 2 * kS);
  Advance(2 * kS);
  EXPECT_EQ(stops_, (Names{"long"}));
  EXPECT_TRUE(Tasks(EventKind::kGroupRetry).empty());  // long still runs
  EXPECT_TRUE(state_->first_failure().empty());
  Killed("long", SIGTERM, 3 * kS);
  EXPECT_EQ(Last(EventKind::kAttemptFinished, "long").message,
            "cancelled: group \"g\" is retried after \"train\" failed");
  Advance(3 * kS);
  EXPECT_EQ(Tasks(EventKind::kGroupRetry).size(), 1u);
  EXPECT_EQ(StateOf("long"), TaskState::kPending);
}

// --- The Recorder's sticky error ----------------------------------------------------------------

TEST_F(DeciderTest, TheRecorderKeepsTheFirstRefusalAndRecordsNothingMore) {
  Build("    - {name: a, run: [x]}\n");
  const size_t recorded = rec_->captured().size();
  Event ghost;
  ghost.kind = EventKind::kAttemptStarted;
  ghost.task = "ghost";
  ghost.attempt = 1;
  rec_->Record(ghost, kS);
  ASSERT_FALSE(rec_->ok());
  EXPECT_NE(rec_->error()->message.find("\"ghost\""), std::string::npos);
  rec_->Fail(Error(ErrorCode::kStore, "later"));
  EXPECT_NE(rec_->error()->message.find("\"ghost\""), std::string::npos);  // the first one
  EXPECT_TRUE(Advance(kS).empty());
  EXPECT_EQ(rec_->captured().size(), recorded);
  EXPECT_EQ(StateOf("a"), TaskState::kReady);
  EXPECT_FALSE(rec_->Commit());
}

}  // namespace decider_failure_test
}  // namespace sluice
