// The triggers table (store_triggers.cc), on both engines: applied with its audit record,
// applied again keeping its token, rotated, removed, and refusals that write nothing.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_triggers_test {

AuditRecord Record(const std::string& action, const std::string& subject) {
  AuditRecord a;
  a.time_us = 5;
  a.actor = "alice";
  a.action = action;
  a.subject = subject;
  a.details = "{}";
  return a;
}

TriggerRow Row(const std::string& name, const std::string& token_id, int64_t now_us) {
  TriggerRow r;
  r.name = name;
  r.file = "/t/hook.yaml";
  r.document = "kind: Trigger";
  r.sources = R"({"/p/pipeline.yaml":"v1"})";
  r.token_id = token_id;
  r.token_hash = "hash-of-" + token_id;
  r.applied_by = "alice";
  r.applied_us = now_us;
  r.rotated_us = now_us;
  return r;
}

class StoreTriggers : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override { SLUICE_REQUIRE_DB(db); }
  TempDb db{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engine, StoreTriggers,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(StoreTriggers, ApplyingAgainKeepsTheTokenAndTakesTheNewSnapshot) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  auto first = (*store)->ApplyTrigger(Row("hook", "aaaa", 100), Record("trigger.applied", "hook"));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first) << "a new trigger";
  TriggerRow again = Row("hook", "bbbb", 200);
  again.sources = R"({"/p/pipeline.yaml":"v2"})";
  auto second = (*store)->ApplyTrigger(again, Record("trigger.applied", "hook"));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(*second) << "it existed";
  auto row = (*store)->FindTrigger("default", "hook");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->token_id, "aaaa") << "applying again keeps the token the sender holds";
  EXPECT_EQ((*row)->token_hash, "hash-of-aaaa");
  EXPECT_EQ((*row)->rotated_us, 100);
  EXPECT_EQ((*row)->sources, again.sources);
  EXPECT_EQ((*row)->applied_us, 200);
  EXPECT_TRUE((*store)->ListTriggers("other")->empty());
  EXPECT_EQ((*store)->ListTriggers("")->size(), 1u);
  EXPECT_FALSE(*(*store)->FindTrigger("other", "hook"));
}

TEST_P(StoreTriggers, RotateAndRemoveAreAuditedAndAnUnknownTriggerIsNotFound) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->ApplyTrigger(Row("a", "aaaa", 1), Record("trigger.applied", "a")));
  ASSERT_TRUE((*store)->ApplyTrigger(Row("b", "bbbb", 1), Record("trigger.applied", "b")));
  ASSERT_TRUE((*store)->RotateTrigger("default", "a", "cccc", "hash-of-cccc", 7,
                                      Record("trigger.rotated", "a")));
  auto a = (*store)->FindTrigger("default", "a");
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->token_id, "cccc");
  EXPECT_EQ((*a)->token_hash, "hash-of-cccc");
  EXPECT_EQ((*a)->rotated_us, 7);
  auto missing = (*store)->RotateTrigger("default", "zz", "d", "h", 8, Record("trigger.rotated", "zz"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE((*store)->RemoveTrigger("default", "a", Record("trigger.removed", "a")));
  auto gone = (*store)->RemoveTrigger("default", "a", Record("trigger.removed", "a"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  auto rows = (*store)->ListTriggers("default");
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].name, "b");
  auto audit = (*store)->ListAudit();
  ASSERT_EQ(audit->size(), 4u) << "the refused rotate and remove left no record";
  EXPECT_EQ((*audit)[2].action, "trigger.rotated");
  EXPECT_EQ((*audit)[3].action, "trigger.removed");
  EXPECT_EQ((*audit)[3].actor, "alice");
}

}  // namespace store_triggers_test
}  // namespace sluice
