// What the server keeps in the store: API tokens, written with their audit records, and the
// counts /metrics serves, and the leader lock of servers that share a database.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_server_test {

AuditRecord Record(const std::string& action, const std::string& subject) {
  AuditRecord a;
  a.time_us = 5;
  a.actor = "root";
  a.action = action;
  a.subject = subject;
  a.details = "{}";
  return a;
}

// A fresh database of the engine the test is instantiated for.
class StoreTokens : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override { SLUICE_REQUIRE_DB(db); }
  TempDb db{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engine, StoreTokens,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(StoreTokens, ATokenIsStoredWithItsAuditRecordAndRevokedTheSameWay) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  TokenRow t{"00112233aabbccdd", "hash", "alice", R"({"default":"viewer"})", "root", 5, 0, 0};
  ASSERT_TRUE((*store)->CreateToken(t, Record("token.created", t.id)));
  auto again = (*store)->CreateToken(t, Record("token.created", t.id));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto found = (*store)->FindToken(t.id);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->user, "alice");
  EXPECT_EQ((*found)->secret_hash, "hash");
  ASSERT_TRUE((*store)->RevokeToken(t.id, 9, Record("token.revoked", t.id)));
  EXPECT_EQ((*(*store)->FindToken(t.id))->revoked_us, 9);
  auto twice = (*store)->RevokeToken(t.id, 10, Record("token.revoked", t.id));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::kNotFound);
  auto audit = (*store)->ListAudit();
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 2u) << "the refused create and revoke left no record";
  EXPECT_EQ((*audit)[0].action, "token.created");
  EXPECT_EQ((*audit)[1].action, "token.revoked");
  EXPECT_TRUE((*(*store)->VerifyAudit()).broken_at == 0);
  EXPECT_FALSE(*(*store)->FindToken("ffffffffffffffff"));
}

TEST_P(StoreTokens, RunsAndTasksAreCountedByStatus) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store);
  for (const char* id : {"r1", "r2"}) {
    RunRecord run;
    run.id = id;
    run.pipeline = "p";
    run.status = "pending";
    run.created_us = 1;
    Event created;
    created.run_id = id;
    created.kind = EventKind::kRunCreated;
    ASSERT_TRUE((*store)->CreateRun(run, {}, created));
  }
  auto runs = (*store)->CountRunsByStatus();
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0], (std::pair<std::string, int64_t>{"pending", 2}));
  EXPECT_TRUE((*store)->CountTasksByState());
}

// Two servers on one PostgreSQL database: one connection leads, the other waits; asking again
// confirms without stacking the lock, and the lock passes on when the leader's connection ends.
TEST_P(StoreTokens, OneConnectionLeadsAndTheLockPassesOnWhenItCloses) {
  auto a = Store::Open(db.path());
  ASSERT_TRUE(a) << a.error().message;
  if (GetParam() == SqlEngine::kSqlite) {
    auto refused = (*a)->HoldLeadership();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidInput);
    return;
  }
  auto b = Store::Open(db.path());
  ASSERT_TRUE(b) << b.error().message;
  auto first = (*a)->HoldLeadership();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  EXPECT_EQ((*b)->HoldLeadership().value_or(true), false);
  EXPECT_EQ((*a)->HoldLeadership().value_or(false), true) << "the holder keeps it";
  a->reset();
  // The database ends the closed connection's backend, and with it the lock, a moment later
  // (under load, after b's first ask): b asks until it has it, for up to 2 s.
  bool taken = false;
  for (int i = 0; i < 200 && !taken; ++i) {
    taken = (*b)->HoldLeadership().value_or(false);
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(taken) << "taken over once the leader is gone";
}

// Two runs' events, interleaved, as the server's event streams read them.
TEST_P(StoreTokens, EventsAfterAPositionComeInOrderForOneRunOrAll) {
  auto store = Store::Open(db.path());
  ASSERT_TRUE(store) << store.error().message;
  for (const char* id : {"r1", "r2"}) {
    RunRecord r;
    r.id = id;
    r.pipeline = "p";
    r.status = "pending";
    Event created;
    created.run_id = id;
    created.kind = EventKind::kRunCreated;
    ASSERT_TRUE((*store)->CreateRun(r, {}, created));
  }
  for (int i = 0; i < 3; ++i) {
    for (const char* id : {"r1", "r2"}) {
      Event e;
      e.run_id = id;
      e.kind = EventKind::kTaskSkipped;
      e.task = "t" + std::to_string(i);
      (*store)->Append(e);
    }
  }
  ASSERT_TRUE((*store)->Commit());
  auto all = (*store)->LoadEventsAfter(0, "", 100);
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 8u);
  for (size_t i = 1; i < all->size(); ++i) EXPECT_LT((*all)[i - 1].seq, (*all)[i].seq);
  auto page = (*store)->LoadEventsAfter((*all)[2].seq, "", 2);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, (*all)[3].seq);
  auto r2 = (*store)->LoadEventsAfter((*all)[2].seq, "r2", 100);
  ASSERT_EQ(r2->size(), 3u) << "r2's events after the position, not r1's";
  for (const auto& e : *r2) EXPECT_EQ(e.run_id, "r2");
  EXPECT_TRUE((*store)->LoadEventsAfter((*all)[7].seq, "", 100)->empty());
}

}  // namespace store_server_test
}  // namespace sluice
