// The notifier's pure parts (notifier.h): which answers deliver, retry or fail, and what the
// payloads say.
#include <gtest/gtest.h>

#include "common/value.h"
#include "server/notifier.h"

namespace sluice {
namespace notifier_test {

TEST(Notifier, RetriesServerErrorsThrottlingAndNoAnswerUntilTheLastAttempt) {
  EXPECT_EQ(OutcomeOf(200, 1, 3), AttemptOutcome::kDelivered);
  EXPECT_EQ(OutcomeOf(204, 3, 3), AttemptOutcome::kDelivered);
  EXPECT_EQ(OutcomeOf(500, 1, 3), AttemptOutcome::kRetry);
  EXPECT_EQ(OutcomeOf(0, 2, 3), AttemptOutcome::kRetry) << "no answer";
  EXPECT_EQ(OutcomeOf(429, 1, 3), AttemptOutcome::kRetry);
  EXPECT_EQ(OutcomeOf(503, 3, 3), AttemptOutcome::kFailed) << "the last attempt";
  EXPECT_EQ(OutcomeOf(400, 1, 3), AttemptOutcome::kFailed) << "a 4xx is not retried";
  EXPECT_EQ(OutcomeOf(404, 1, 3), AttemptOutcome::kFailed);
  EXPECT_EQ(OutcomeOf(301, 1, 3), AttemptOutcome::kFailed) << "redirects are not followed";
}

TEST(Notifier, ARunsFailureNamesTheRunPipelineAndFailedTask) {
  EXPECT_EQ(RunFinishedEvent("failed"), "run.failed");
  EXPECT_EQ(RunFinishedEvent("compensated"), "run.failed");
  EXPECT_EQ(RunFinishedEvent("succeeded"), "run.succeeded");
  EXPECT_EQ(RunFinishedEvent("cancelled"), "");
  Event e;
  e.seq = 42;
  e.run_id = "r-123";
  e.kind = EventKind::kRunFinished;
  e.status = "failed";
  auto v = ParseJson(RunPayload(e, "run.failed", {"train", "default", "fit", "exit 1"}));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->Find("text")->as_string(), "run r-123 (train) failed: task fit: exit 1");
  const Value& s = *v->Find("sluice");
  EXPECT_EQ(s.Find("event")->as_string(), "run.failed");
  EXPECT_EQ(s.Find("task")->as_string(), "fit");
  EXPECT_EQ(s.Find("id")->as_string(), "event:42");
}

TEST(Notifier, AnApprovalNamesTheGateAndWhoMayApprove) {
  Event e;
  e.seq = 7;
  e.run_id = "r-1";
  e.task = "ship";
  e.kind = EventKind::kApprovalRequested;
  e.data = R"({"approvers":["bob","carol"],"quorum":2})";
  auto v = ParseJson(ApprovalPayload(e, {"deploy", "default", "", ""}));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->Find("text")->as_string(),
            "run r-1 (deploy) waits for approval of task ship: bob, carol may approve (quorum 2)");
  BreakerTransitionRow t{"flaky-api", "closed", "open", "failure rate 75%", "r/t#1", 0};
  v = ParseJson(BreakerPayload(3, t));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->Find("text")->as_string(), "breaker flaky-api opened (closed -> open): failure rate 75%");
  EXPECT_EQ(v->Find("sluice")->Find("breaker")->as_string(), "flaky-api");
}

}  // namespace notifier_test
}  // namespace sluice
