// Central pools' holds and queues (store_pools.cc), on both engines: capacity across runs,
// first come first served, all or nothing across pools, a forgotten queue place, a run's holds
// replaced and released.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_pools_test {

class StorePools : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override {
    SLUICE_REQUIRE_DB(db);
    auto opened = Store::Open(db.path());
    ASSERT_TRUE(opened) << opened.error().message;
    store = std::move(*opened);
  }
  // Asks `units` of pool `pool` (capacity `cap`) for run/task, waiting since `since`, at `now`.
  bool Ask(const std::string& run, const std::string& task, int64_t since, int64_t now,
           std::vector<PoolAsk> asks) {
    auto took = store->AcquirePools(run, task, 1, since, asks, now);
    EXPECT_TRUE(took) << took.error().message;
    return took && *took;
  }
  int64_t Used(const std::string& pool) {
    int64_t used = 0;
    auto rows = store->ListPoolHolds();
    EXPECT_TRUE(rows) << rows.error().message;
    for (const auto& r : *rows) {
      if (r.pool == pool && r.granted) used += r.units_milli;
    }
    return used;
  }
  TempDb db{GetParam()};
  std::unique_ptr<Store> store;
};
INSTANTIATE_TEST_SUITE_P(Engine, StorePools,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

PoolAsk Gpus(int64_t units) { return PoolAsk{"gpus", 2000, units * 1000}; }

TEST_P(StorePools, RunsShareAPoolsCapacity) {
  EXPECT_TRUE(Ask("r1", "a", 10, 100, {Gpus(1)}));
  EXPECT_TRUE(Ask("r2", "b", 20, 100, {Gpus(1)}));
  EXPECT_FALSE(Ask("r3", "c", 30, 100, {Gpus(1)})) << "two of two units are held";
  EXPECT_EQ(Used("gpus"), 2000);
  ASSERT_TRUE(store->ReleasePools("r1", "a"));
  EXPECT_TRUE(Ask("r3", "c", 30, 200, {Gpus(1)})) << "a unit was given back";
}

TEST_P(StorePools, TheQueueIsFirstComeFirstServed) {
  EXPECT_TRUE(Ask("r1", "a", 10, 100, {Gpus(2)}));
  EXPECT_FALSE(Ask("r2", "big", 20, 100, {Gpus(2)})) << "waits for both units";
  ASSERT_TRUE(store->ReleasePools("r1", "a"));
  // A later, smaller ask does not pass the big one that waits before it.
  EXPECT_FALSE(Ask("r3", "small", 30, 200, {Gpus(1)}));
  EXPECT_TRUE(Ask("r2", "big", 20, 200, {Gpus(2)})) << "its place was kept";
  EXPECT_FALSE(Ask("r3", "small", 30, 300, {Gpus(1)}));
  ASSERT_TRUE(store->ReleasePools("r2", "big"));
  EXPECT_TRUE(Ask("r3", "small", 30, 400, {Gpus(1)}));
}

TEST_P(StorePools, APlaceNotAskedForLongIsForgotten) {
  EXPECT_TRUE(Ask("r1", "a", 10, 100, {Gpus(2)}));
  EXPECT_FALSE(Ask("r2", "gone", 20, 100, {Gpus(1)}));  // its engine then stops asking
  ASSERT_TRUE(store->ReleasePools("r1", "a"));
  EXPECT_FALSE(Ask("r3", "c", 30, 200, {Gpus(2)})) << "r2's unit is still queued before it";
  const int64_t later = 200 + Store::kPoolWaitForgetUs + 1;
  EXPECT_TRUE(Ask("r3", "c", 30, later, {Gpus(2)})) << "r2's place was dropped";
}

TEST_P(StorePools, AnAskTakesEveryPoolOrNone) {
  PoolAsk db{"db", 1000, 1000};
  EXPECT_TRUE(Ask("r1", "holds-db", 10, 100, {db}));
  EXPECT_FALSE(Ask("r2", "both", 20, 100, {Gpus(1), db}));
  EXPECT_EQ(Used("gpus"), 0) << "no gpu is held while the db is not free";
  ASSERT_TRUE(store->ReleasePools("r1", ""));
  EXPECT_TRUE(Ask("r2", "both", 20, 200, {Gpus(1), db}));
  EXPECT_EQ(Used("gpus"), 1000);
  EXPECT_EQ(Used("db"), 1000);
}

TEST_P(StorePools, SetPoolHoldsReplacesARunsRows) {
  EXPECT_TRUE(Ask("r1", "a", 10, 100, {Gpus(1)}));
  EXPECT_FALSE(Ask("r1", "waits", 11, 100, {Gpus(2)}));
  PoolHoldRow kept{"gpus", "r1", "b", 3, 1000, true, 500, 500};
  ASSERT_TRUE(store->SetPoolHolds("r1", {kept}));
  auto rows = store->ListPoolHolds();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u) << "a's hold and the waiting row are gone";
  EXPECT_EQ((*rows)[0].task, "b");
  EXPECT_EQ((*rows)[0].attempt, 3);
  EXPECT_TRUE((*rows)[0].granted);
  ASSERT_TRUE(store->SetPoolHolds("r1", {}));
  EXPECT_EQ(Used("gpus"), 0);
}

}  // namespace store_pools_test
}  // namespace sluice
