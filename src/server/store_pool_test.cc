// The server's pool of store handles (store_pool.h) on real SQLite stores in a temporary folder.
#include "server/store_pool.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "cli/cli_support.h"
#include "env/fake_env.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {
namespace store_pool_test {

class StorePoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-store-pool-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    g_.state_dir = std::string(tmpl) + "/state";
    std::filesystem::create_directories(g_.state_dir);  // SQLite opens real files
  }
  void TearDown() override { std::filesystem::remove_all(Dirname(g_.state_dir)); }

  // Opens a store per call and counts the calls.
  StorePool::Opener Counting() {
    return [this]() -> Result<std::unique_ptr<Store>> {
      ++opened_;
      if (fail_) return Fail(ErrorCode::kStore, "the database is down");
      return OpenStore(env_, g_, true);
    };
  }

  FakeEnv env_;
  GlobalOptions g_;
  int opened_ = 0;
  bool fail_ = false;
};

TEST_F(StorePoolTest, OpensNoMoreHandlesThanItsSizeAndReusesThoseGivenBack) {
  StorePool pool(Counting(), 2, 0);
  bool busy = true;
  auto a = pool.Checkout(&busy);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_FALSE(busy);
  auto b = pool.Checkout(&busy);
  ASSERT_TRUE(b);
  EXPECT_NE(*a, *b);
  auto c = pool.Checkout(&busy);  // both in use, and no wait allowed
  ASSERT_FALSE(c);
  EXPECT_TRUE(busy);
  EXPECT_NE(c.error().message.find("--store-handles"), std::string::npos) << c.error().message;
  pool.Return(*a);
  auto d = pool.Checkout(&busy);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, *a);
  EXPECT_EQ(opened_, 2);
  EXPECT_EQ(pool.open(), 2);
}

TEST_F(StorePoolTest, AnOpenerThatFailsIsNotBusyAndFreesItsPlace) {
  StorePool pool(Counting(), 1, 0);
  fail_ = true;
  bool busy = true;
  auto a = pool.Checkout(&busy);
  ASSERT_FALSE(a);
  EXPECT_FALSE(busy);  // a 500/503 of the store, not a full pool
  EXPECT_EQ(a.error().message, "the database is down");
  fail_ = false;
  auto b = pool.Checkout(&busy);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(pool.open(), 1);
}

// A request's handle goes back when its scope ends; outside a scope a thread keeps its own.
TEST_F(StorePoolTest, AScopeGivesItsHandleBackWhenItEnds) {
  StorePool pool(Counting(), 1, 0);
  RequestMetrics metrics;
  ApiContext ctx{env_, g_, metrics};
  ctx.pool = &pool;
  Store* first = nullptr;
  {
    StoreScope scope(ctx);
    auto s = ctx.ThreadStore();
    ASSERT_TRUE(s) << s.error().message;
    first = *s;
    EXPECT_EQ(*ctx.ThreadStore(), first);  // the same handle for the whole request
    bool busy = false;
    EXPECT_FALSE(pool.Checkout(&busy));
    EXPECT_TRUE(busy);
    ctx.ReleaseStore();  // a stream about to wait
    auto again = pool.Checkout(&busy);
    ASSERT_TRUE(again);
    pool.Return(*again);
  }
  {
    StoreScope scope(ctx);
    EXPECT_EQ(*ctx.ThreadStore(), first);
    StoreScope inner(ctx);  // nothing free within the outer scope's hold: busy
    EXPECT_FALSE(ctx.ThreadStore());
    EXPECT_TRUE(inner.busy());
  }
  EXPECT_EQ(opened_, 1);
}

}  // namespace store_pool_test
}  // namespace sluice
