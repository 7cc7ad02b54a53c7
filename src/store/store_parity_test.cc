// Run ids by prefix within a namespace (store_parity.cc): what the server resolves a run prefix
// against, on both engines.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_parity_test {

class StoreRunPrefix : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override { SLUICE_REQUIRE_DB(db); }
  TempDb db{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engine, StoreRunPrefix,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(StoreRunPrefix, FindsRunIdsByPrefixOnlyInTheNamespaceAsked) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  for (auto [id, ns] : {std::pair{"20261207-0100-aa", "default"}, std::pair{"20261207-0100-ab", "ml"},
                        std::pair{"20261207-0100-b", "default"}, std::pair{"x%_", "default"}}) {
    RunRecord run;
    run.id = id;
    run.ns = ns;
    run.pipeline = "p";
    run.status = "pending";
    run.created_us = 1;
    Event created;
    created.run_id = id;
    created.kind = EventKind::kRunCreated;
    ASSERT_TRUE((*store)->CreateRun(run, {}, created));
  }
  using Ids = std::vector<std::string>;
  EXPECT_EQ(*(*store)->RunIdsWithPrefix("20261207-0100-a", "default", 2), Ids{"20261207-0100-aa"});
  EXPECT_EQ(*(*store)->RunIdsWithPrefix("20261207-0100-a", "ml", 2), Ids{"20261207-0100-ab"});
  EXPECT_EQ(*(*store)->RunIdsWithPrefix("20261207-0100-a", "", 5),
            (Ids{"20261207-0100-aa", "20261207-0100-ab"}));
  EXPECT_EQ(*(*store)->RunIdsWithPrefix("2026", "default", 1), Ids{"20261207-0100-aa"});
  EXPECT_EQ(*(*store)->RunIdsWithPrefix("20261207-0100-b", "ml", 2), Ids{});
  // A prefix is text, never a pattern.
  EXPECT_EQ(*(*store)->RunIdsWithPrefix("x%", "", 2), Ids{"x%_"});
  EXPECT_EQ(*(*store)->RunIdsWithPrefix("%", "", 2), Ids{});
}

}  // namespace store_parity_test
}  // namespace sluice
