// Rollouts, measurements and releases (store_rollouts.cc), on both engines: one active rollout
// per environment, commands numbered and audited without a state write losing them, the
// measurements' order, and an environment's history.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_rollouts_test {

class StoreRollouts : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override {
    SLUICE_REQUIRE_DB(db);
    auto opened = Store::Open(db.path());
    ASSERT_TRUE(opened) << opened.error().message;
    store = std::move(*opened);
  }
  static RolloutRow Row(const std::string& run, const std::string& env, std::string phase) {
    RolloutRow r;
    r.run_id = run;
    r.task = "deploy";
    r.environment = env;
    r.phase = std::move(phase);
    r.started_us = r.updated_us = 100;
    r.data = "{}";
    return r;
  }
  static AuditRecord Audit(const std::string& actor, const std::string& action) {
    AuditRecord a;
    a.actor = actor;
    a.action = action;
    a.time_us = 1;
    a.details = "{}";
    return a;
  }
  TempDb db{GetParam()};
  std::unique_ptr<Store> store;
};
INSTANTIATE_TEST_SUITE_P(Engine, StoreRollouts,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(StoreRollouts, OneActiveRolloutPerEnvironment) {
  auto first = store->PutRollout(Row("r1", "staging", "Progressing"), true);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(*first);
  auto second = store->PutRollout(Row("r2", "staging", "Progressing"), true);
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(*second) << "r1's rollout is active in staging";
  EXPECT_EQ((*second)->run_id, "r1");
  auto other_env = store->PutRollout(Row("r2", "prod", "Progressing"), true);
  ASSERT_TRUE(other_env && !*other_env) << "another environment is free";
  ASSERT_TRUE(store->PutRollout(Row("r1", "staging", "Healthy"), false));
  auto again = store->PutRollout(Row("r3", "staging", "Progressing"), true);
  ASSERT_TRUE(again && !*again) << "r1's rollout ended";
}

TEST_P(StoreRollouts, ARolloutWaitingForItsTurnClaimsNothing) {
  ASSERT_TRUE(store->PutRollout(Row("r1", "staging", "Waiting"), false));
  auto claimed = store->PutRollout(Row("r2", "staging", "Progressing"), true);
  ASSERT_TRUE(claimed && !*claimed) << "a waiting rollout does not hold the environment";
  auto waiter = store->PutRollout(Row("r1", "staging", "Progressing"), true);
  ASSERT_TRUE(waiter && *waiter && (*waiter)->run_id == "r2") << "r2 acts now";
  auto row = store->GetRollout("r1", "deploy");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->phase, "Waiting") << "a refused claim writes nothing";
}

TEST_P(StoreRollouts, CommandsAreNumberedAuditedAndSurviveStateWrites) {
  ASSERT_TRUE(store->PutRollout(Row("r1", "staging", "Paused"), true));
  auto c = store->CommandRollout("r1", "deploy", "promote", Audit("alice", "rollout.promote"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->actor, "alice");
  RolloutRow state = Row("r1", "staging", "Progressing");
  state.step = 3;
  ASSERT_TRUE(store->PutRollout(state, false));
  auto row = store->GetRollout("r1", "deploy");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->command, "promote");
  EXPECT_EQ((*row)->command_seq, 1);
  EXPECT_EQ((*row)->command_by, "alice");
  EXPECT_EQ((*row)->step, 3);
  ASSERT_TRUE(store->CommandRollout("r1", "deploy", "abort", Audit("bob", "rollout.abort")));
  EXPECT_EQ((*store->GetRollout("r1", "deploy"))->command_seq, 2);
  auto missing = store->CommandRollout("r9", "deploy", "abort", Audit("bob", "rollout.abort"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("has no rollout"), std::string::npos);
  ASSERT_TRUE(store->PutRollout(Row("r1", "staging", "Degraded"), false));
  auto ended = store->CommandRollout("r1", "deploy", "promote", Audit("bob", "rollout.promote"));
  ASSERT_FALSE(ended) << "an ended rollout takes no command";
  auto audit = store->VerifyAudit();
  ASSERT_TRUE(audit) << audit.error().message;
  EXPECT_EQ(audit->broken_at, 0);
}

TEST_P(StoreRollouts, MeasurementsKeepTheirOrderPerRollout) {
  for (const char* phase : {"Successful", "Error", "Failed"}) {
    MeasurementRow m;
    m.run_id = "r1";
    m.task = "deploy";
    m.analysis = "step 2";
    m.template_name = "error-rate";
    m.metric = "ratio";
    m.phase = phase;
    m.value = "[0.1]";
    ASSERT_TRUE(store->AddMeasurement(m));
  }
  MeasurementRow other;
  other.run_id = "r2";
  other.task = "deploy";
  other.phase = "Successful";
  ASSERT_TRUE(store->AddMeasurement(other));
  auto rows = store->Measurements("r1", "deploy");
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].seq, 1);
  EXPECT_EQ((*rows)[2].seq, 3);
  EXPECT_EQ((*rows)[1].phase, "Error");
  EXPECT_EQ((*store->Measurements("r2", "deploy"))[0].seq, 1);
}

TEST_P(StoreRollouts, ReleasesAreAnEnvironmentsHistory) {
  ReleaseRow a{0, "staging", "blue", "d1", "v1", "r1", "deploy", "alice", 100, 0};
  ASSERT_TRUE(store->RecordRelease(a, Audit("alice", "release")));
  ReleaseRow b{0, "staging", "green", "d2", "v2", "r2", "deploy", "bob", 200, 0};
  ASSERT_TRUE(store->RecordRelease(b, Audit("bob", "release")));
  ReleaseRow c{0, "prod", "blue", "d1", "v1", "r3", "deploy", "carol", 300, 0};
  ASSERT_TRUE(store->RecordRelease(c, Audit("carol", "release")));
  auto staging = store->Releases("staging", 10);
  ASSERT_TRUE(staging) << staging.error().message;
  ASSERT_EQ(staging->size(), 2u);
  EXPECT_EQ((*staging)[0].digest, "d2");
  EXPECT_EQ((*staging)[0].until_us, 0) << "the current release";
  EXPECT_EQ((*staging)[1].until_us, 200) << "ended when d2 was released";
  EXPECT_EQ(store->Releases("", 10)->size(), 3u);
  EXPECT_EQ(store->Releases("", 1)->size(), 1u);
}

}  // namespace store_rollouts_test
}  // namespace sluice
