// Votes in the store: one transaction with their audit record, one per account and round, none
// after the deadline, and only those the audit chain covers count.
#include <gtest/gtest.h>

#include "common/strings.h"
#include "common/value.h"
#include "store/store.h"
#include "store/temp_db.h"

namespace sluice {
namespace store_approvals_test {


// On each engine (temp_db.h).
class Votes : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override {
    SLUICE_REQUIRE_DB(db);
    auto opened = Store::Open(db.path());
    ASSERT_TRUE(opened) << opened.error().message;
    store = std::move(*opened);
    RunRecord run;
    run.id = "r1";
    run.pipeline = "p";
    run.status = "running";
    run.created_us = 1;
    Event created;
    created.run_id = "r1";
    created.kind = EventKind::kRunCreated;
    ASSERT_TRUE(store->CreateRun(run, {}, created));
    Ask();
  }

  // The run's process asks (again) for approval of "ship", due at 10 s.
  void Ask() {
    Event e;
    e.run_id = "r1";
    e.time_us = kSecondUs;
    e.kind = EventKind::kApprovalRequested;
    e.task = "ship";
    e.due_us = 10 * kSecondUs;
    e.data = R"({"approvers":["bob","carol"],"quorum":2})";
    store->Append(e);
    ASSERT_TRUE(store->Commit());
  }

  Result<AuditRecord> Cast(std::string user, std::string account, int64_t time_us = 2 * kSecondUs,
                           int64_t round = 1) {
    VoteRow v{user, account, true, "ok", time_us, round, 0};
    AuditRecord a;
    a.time_us = time_us;
    a.actor = ActorName(user, account);
    a.action = "approval.approved";
    a.run_id = "r1";
    a.subject = "ship";
    a.details = CanonicalJson(Value(ValueMap{{"comment", Value("ok")}, {"round", Value(round)}}));
    return store->CastVote("r1", "ship", v, a);
  }

  std::vector<std::string> Counted() {
    auto votes = store->ListVotes("r1", "ship");
    EXPECT_TRUE(votes) << votes.error().message;
    std::vector<std::string> out;
    for (const auto& v : *votes) out.push_back(ActorName(v.user, v.account));
    return out;
  }

  TempDb db{GetParam()};
  std::unique_ptr<Store> store;
};
INSTANTIATE_TEST_SUITE_P(Engine, Votes, ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres),
                         EngineName);

TEST_P(Votes, AVoteIsStoredWithItsAuditRecordAndCounts) {
  auto cast = Cast("bob", "bob");
  ASSERT_TRUE(cast) << cast.error().message;
  EXPECT_EQ(Counted(), (std::vector<std::string>{"bob"}));
  EXPECT_EQ(db.Int("SELECT audit_seq FROM approval_votes"), cast->seq);
}

TEST_P(Votes, AVoteWhoseAuditRecordFailsIsNotStored) {
  db.FailInserts("audit", "disk full");
  EXPECT_FALSE(Cast("bob", "bob"));
  EXPECT_EQ(db.Int("SELECT count(*) FROM approval_votes"), 0);
}

TEST_P(Votes, AnAccountVotesOnceARoundUnderWhateverName) {
  ASSERT_TRUE(Cast("bob", "root"));
  auto again = Cast("carol", "root");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().message, "root has already voted on ship of run r1 (as bob)");
  EXPECT_EQ(Counted(), (std::vector<std::string>{"bob (by root)"}));
}

TEST_P(Votes, AVoteAtOrAfterTheDeadlineIsRefused) {
  auto late = Cast("bob", "bob", 10 * kSecondUs);
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("timed out"), std::string::npos) << late.error().message;
  EXPECT_TRUE(Cast("bob", "bob", 10 * kSecondUs - 1));
}

TEST_P(Votes, RowsWrittenAroundCastVoteDoNotCount) {
  auto real = Cast("bob", "bob");
  ASSERT_TRUE(real);
  // A row pointing at bob's record, one at no record, one at a record of another vote.
  db.Sql("INSERT INTO approval_votes VALUES('r1','ship',1,'carol','carol',1,'ok',3000000," +
         std::to_string(real->seq) + ")");
  db.Sql("INSERT INTO approval_votes VALUES('r1','ship',1,'dave','dave',1,'ok',3000000,999)");
  EXPECT_EQ(Counted(), (std::vector<std::string>{"bob"}));
  // A record added with its hashes recomputed would chain; one that does not chain is ignored.
  db.Sql("INSERT INTO audit(seq,time_us,actor,action,run_id,subject,details,prev_hash,hash) "
         "SELECT seq+1,time_us,'erin','approval.approved','r1','ship','{\"comment\":\"ok\",\"round\":1}',"
         "hash,'forged' FROM audit ORDER BY seq DESC LIMIT 1");
  db.Sql("INSERT INTO approval_votes SELECT 'r1','ship',1,'erin','erin',1,'ok',3000000,max(seq) FROM audit");
  EXPECT_EQ(Counted(), (std::vector<std::string>{"bob"}));
}

TEST_P(Votes, AVoteWhoseRecordWasEditedDoesNotCount) {
  ASSERT_TRUE(Cast("bob", "bob"));
  ASSERT_TRUE(Cast("carol", "carol"));
  EXPECT_EQ(Counted().size(), 2u);
  db.Sql("UPDATE approval_votes SET approve=0 WHERE account='carol'");  // row and record disagree
  EXPECT_EQ(Counted(), (std::vector<std::string>{"bob"}));
}

TEST_P(Votes, AnApprovalAskedAgainIsANewRoundWithoutTheEarlierVotes) {
  ASSERT_TRUE(Cast("bob", "bob"));
  Ask();  // a group retry asks again
  auto request = store->GetApprovalRequest("r1", "ship");
  ASSERT_TRUE(request && *request);
  EXPECT_EQ((*request)->round, 2);
  EXPECT_TRUE(Counted().empty());
  EXPECT_FALSE(Cast("carol", "carol", 2 * kSecondUs, 1));  // cast on the old round
  ASSERT_TRUE(Cast("bob", "bob", 3 * kSecondUs, 2));
  EXPECT_EQ(Counted(), (std::vector<std::string>{"bob"}));
}

// A waiver is in force from its grant to its revocation, each with its audit record; a row
// written straight into the database (no record) lifts nothing.
TEST_P(Votes, AWaiverGrantedCountsUntilRevokedAndARowWithoutARecordDoesNot) {
  WaiverRow w{"hotfix", R"({"name":"hotfix"})", "carol", 5 * kSecondUs};
  AuditRecord grant;
  grant.time_us = 5 * kSecondUs;
  grant.actor = "carol";
  grant.action = "waiver.granted";
  grant.subject = "hotfix";
  grant.details = R"({"document":{"name":"hotfix"}})";
  auto granted = store->GrantWaiver(w, grant);
  ASSERT_TRUE(granted) << granted.error().message;
  EXPECT_FALSE(store->GrantWaiver(w, grant));  // in force already
  db.Sql("INSERT INTO waivers(name,document,granted_by,granted_us,audit_seq) "
         "VALUES('forged','{}','mallory',1,999)");
  auto listed = store->ListWaivers();
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "forged");
  EXPECT_FALSE((*listed)[0].verified);
  EXPECT_EQ((*listed)[1].name, "hotfix");
  EXPECT_TRUE((*listed)[1].verified);
  EXPECT_EQ((*listed)[1].audit_seq, granted->seq);
  AuditRecord revoke = grant;
  revoke.action = "waiver.revoked";
  revoke.details = "{}";
  ASSERT_TRUE(store->RevokeWaiver("hotfix", 6 * kSecondUs, revoke));
  listed = store->ListWaivers();
  ASSERT_TRUE(listed);
  EXPECT_EQ((*listed)[1].revoked_us, 6 * kSecondUs);
}

}  // namespace store_approvals_test
}  // namespace sluice
