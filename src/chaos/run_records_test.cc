// Target runs read back from their events, and the probes over a phase's runs: the figures a
// journal carries, and "no data" as a failure, never a pass.
#include "chaos/run_records.h"

#include <gtest/gtest.h>

namespace sluice {
namespace run_records_test {

Event E(EventKind kind, int64_t t_ms, const std::string& task = "", int attempt = 0,
        const std::string& status = "", int exit_code = 0) {
  Event e;
  e.kind = kind;
  e.time_us = t_ms * 1000;
  e.task = task;
  e.attempt = attempt;
  e.status = status;
  e.exit_code = exit_code;
  return e;
}

// train runs 200 ms; register fails once with 75 and is retried; the run is resumed once and
// compensates register.
std::vector<Event> Events(const std::string& final_status) {
  return {E(EventKind::kRunCreated, 0), E(EventKind::kRunStarted, 1),
          E(EventKind::kAttemptStarted, 10, "train", 1),
          E(EventKind::kAttemptFinished, 210, "train", 1, "succeeded"),
          E(EventKind::kTaskFinished, 210, "train", 1, "succeeded"),
          E(EventKind::kAttemptStarted, 220, "register", 1),
          E(EventKind::kAttemptFinished, 230, "register", 1, "failed", 75),
          E(EventKind::kRunStarted, 300),
          E(EventKind::kAttemptStarted, 310, "register", 2),
          E(EventKind::kAttemptFinished, 320, "register", 2, "succeeded"),
          E(EventKind::kAttemptStarted, 330, "register.compensate", 1),
          E(EventKind::kAttemptFinished, 340, "register.compensate", 1, "succeeded"),
          E(EventKind::kRunFinished, 400, "", 0, final_status)};
}

TEST(ChaosRecords, ARunsRecordComesFromItsEvents) {
  TargetRun r = TargetRunOf("r1", "during", Events("compensated"));
  EXPECT_EQ(r.status, "compensated");
  EXPECT_EQ(r.start_us, 0);
  EXPECT_EQ(r.end_us, 400'000);
  EXPECT_EQ(r.retries, 1);
  EXPECT_EQ(r.compensations, 1);
  EXPECT_EQ(r.resumed, 1);
  ASSERT_EQ(r.tasks.size(), 3u);
  EXPECT_EQ(r.tasks[1].name, "register");
  EXPECT_EQ(r.tasks[1].attempts[0].exit_code, 75);
  const Value v = TargetRunToValue(r);
  EXPECT_EQ(v.Find("end")->as_string(), "1970-01-01T00:00:00.4Z");
}

TEST(ChaosRecords, ProbesOverRunsAndNoDataFails) {
  const TargetRun ok = TargetRunOf("r1", "during", Events("succeeded"));
  const TargetRun bad = TargetRunOf("r2", "during", Events("compensated"));
  const std::vector<const TargetRun*> runs = {&ok, &bad};
  ProbeSpec p;
  p.kind = ProbeSpec::Kind::kRuns;
  EXPECT_EQ(ProbeOverRuns(p, runs)->to_double(), 0.5);
  p.statuses = {"succeeded", "compensated"};
  EXPECT_EQ(ProbeOverRuns(p, runs)->to_double(), 1.0);
  p.kind = ProbeSpec::Kind::kTaskDuration;
  p.task = "tr*";
  p.percentile = 95;
  EXPECT_NEAR(ProbeOverRuns(p, runs)->to_double(), 0.2, 1e-9);
  p.kind = ProbeSpec::Kind::kRetries;
  p.task = "register";
  EXPECT_EQ(ProbeOverRuns(p, runs)->as_int(), 2);
  p.kind = ProbeSpec::Kind::kCompensations;
  EXPECT_EQ(ProbeOverRuns(p, runs)->as_int(), 2);
  // No data: no run at all, a task that never ran, no successful attempt to time.
  p.kind = ProbeSpec::Kind::kRuns;
  EXPECT_FALSE(ProbeOverRuns(p, {}));
  p.kind = ProbeSpec::Kind::kRetries;
  p.task = "nope";
  auto none = ProbeOverRuns(p, runs);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no data"), std::string::npos);
  p.kind = ProbeSpec::Kind::kTaskDuration;
  EXPECT_FALSE(ProbeOverRuns(p, runs));
}

}  // namespace run_records_test
}  // namespace sluice
