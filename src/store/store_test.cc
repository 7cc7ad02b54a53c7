// The store on both engines (SQLite, and PostgreSQL when SLUICE_TEST_PG_URL names a server):
// events and projections in step, migrations, refusing newer schemas, the audit chain and the
// journal. SQLite's own history (version-1 stores, its fsync faults) is tested on SQLite only.
#include "store/store.h"

#include "store/journal.h"
#include "store/temp_db.h"

#include <sqlite3.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace sluice {
namespace store_test {

Event Ev(EventKind kind, std::string task, std::string status = "", int attempt = 0) {
  Event e;
  e.run_id = "r1";
  e.time_us = 1000;
  e.kind = kind;
  e.task = std::move(task);
  e.status = std::move(status);
  e.attempt = attempt;
  return e;
}

RunRecord Run1() {
  RunRecord r;
  r.id = "r1";
  r.pipeline = "p";
  r.status = "pending";
  r.created_us = 1;
  return r;
}

// A fresh database of the engine the test is instantiated for.
class StoreOn : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override { SLUICE_REQUIRE_DB(t); }
  TempDb t{GetParam()};
};
INSTANTIATE_TEST_SUITE_P(Engine, StoreOn,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(StoreOn, AppendedEventsUpdateProjectionsOnlyWhenCommitted) {
  auto store = Store::Open(t.path());
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->CreateRun(Run1(), {{"/p.yaml", "text"}}, Ev(EventKind::kRunCreated, "")));
  (*store)->Append(Ev(EventKind::kAttemptStarted, "a", "", 1));
  EXPECT_TRUE((*store)->ListTasks("r1")->empty());  // buffered, not yet written
  ASSERT_TRUE((*store)->Commit());
  (*store)->Append(Ev(EventKind::kAttemptFinished, "a", "succeeded", 1));
  (*store)->Append(Ev(EventKind::kTaskFinished, "a", "succeeded", 1));
  ASSERT_TRUE((*store)->Commit());
  auto tasks = (*store)->ListTasks("r1");
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ((*tasks)[0].state, "succeeded");
  EXPECT_EQ((*tasks)[0].attempts, 1);
  auto events = (*store)->LoadEvents("r1");
  ASSERT_EQ(events->size(), 4u);
  for (size_t i = 1; i < events->size(); ++i) EXPECT_LT((*events)[i - 1].seq, (*events)[i].seq);
  EXPECT_EQ((*(*store)->LoadSources("r1"))["/p.yaml"], "text");
}

// The schema of a version-1 store, as the first sluice made it.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL, time_us INTEGER NOT NULL, kind TEXT NOT NULL,
  task TEXT NOT NULL DEFAULT '', attempt INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT '', error_class TEXT NOT NULL DEFAULT '',
  exit_code INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0, due_us INTEGER NOT NULL DEFAULT 0,
  data TEXT NOT NULL DEFAULT '');
CREATE INDEX events_by_run ON events(run_id, seq);
CREATE TABLE runs (
  id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, status TEXT NOT NULL,
  created_us INTEGER NOT NULL, started_us INTEGER NOT NULL DEFAULT 0,
  finished_us INTEGER NOT NULL DEFAULT 0, params TEXT NOT NULL DEFAULT '{}',
  spec_path TEXT NOT NULL DEFAULT '', spec_digest TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0, stats TEXT NOT NULL DEFAULT '');
CREATE TABLE sources (run_id TEXT NOT NULL, path TEXT NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY (run_id, path));
CREATE TABLE tasks (run_id TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  outputs TEXT NOT NULL DEFAULT '', started_us INTEGER NOT NULL DEFAULT 0,
  finished_us INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, name));
CREATE TABLE attempts (run_id TEXT NOT NULL, task TEXT NOT NULL, attempt INTEGER NOT NULL,
  status TEXT NOT NULL, error_class TEXT NOT NULL DEFAULT '',
  exit_code INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0, started_us INTEGER NOT NULL DEFAULT 0,
  finished_us INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, task, attempt));
CREATE TABLE artifacts (run_id TEXT NOT NULL, task TEXT NOT NULL, name TEXT NOT NULL,
  path TEXT NOT NULL, PRIMARY KEY (run_id, task, name));
CREATE TABLE cache (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, task TEXT NOT NULL,
  outputs TEXT NOT NULL, created_us INTEGER NOT NULL);
)sql";

// Tables, their columns and their indexes, as SQLite reports them (not the SQL text, which
// differs between a table created whole and one renamed or altered into shape).
std::string SchemaOf(const std::string& path) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return "cannot open";
  auto rows = [&](const std::string& sql, auto&& each) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      out += "bad query " + sql;
      return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) each(st);
    sqlite3_finalize(st);
  };
  auto text = [](sqlite3_stmt* st, int i) {
    const unsigned char* t = sqlite3_column_text(st, i);
    return std::string(t ? reinterpret_cast<const char*>(t) : "NULL");
  };
  std::vector<std::string> tables;
  rows("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
       [&](sqlite3_stmt* st) { tables.push_back(text(st, 0)); });
  for (const auto& t : tables) {
    out += "table " + t + "\n";
    rows("PRAGMA table_xinfo(" + t + ")", [&](sqlite3_stmt* st) {
      out += "  column " + text(st, 1) + " " + text(st, 2) + " notnull=" + text(st, 3) +
             " default=" + text(st, 4) + " pk=" + text(st, 5) + "\n";
    });
    std::vector<std::string> indexes;
    rows("SELECT name, \"unique\", origin FROM pragma_index_list('" + t + "') ORDER BY origin, name",
         [&](sqlite3_stmt* st) {
           std::string name = text(st, 0);
           bool autoindex = name.rfind("sqlite_autoindex_", 0) == 0;
           out += "  index " + (autoindex ? std::string("(auto)") : name) + " unique=" + text(st, 1) +
                  " origin=" + text(st, 2) + " on";
           rows("PRAGMA index_info(" + name + ")", [&](sqlite3_stmt* c) { out += " " + text(c, 2); });
           out += "\n";
         });
  }
  sqlite3_close(db);
  return out;
}

TEST(Store, ANewStoreHasTheSchemaAnUpgradedOneHas) {
  TempDb fresh, old;
  ASSERT_TRUE(Store::Open(fresh.path()));
  old.Sql(std::string(kVersion1Schema) + "PRAGMA user_version = 1;");
  ASSERT_TRUE(Store::Open(old.path()));
  std::string schema = SchemaOf(fresh.path());
  EXPECT_NE(schema.find("column journal_offset"), std::string::npos) << schema;
  EXPECT_EQ(schema, SchemaOf(old.path()));
}

// Every table's columns, "table.column notnull", on PostgreSQL (without its `rowid` columns,
// which stand for SQLite's implicit ones) or on SQLite.
std::vector<std::string> ColumnsOf(TempDb& db) {
  std::vector<std::string> out;
  if (db.engine() == SqlEngine::kPostgres) {
    auto conn = ConnectPostgres(db.path());
    EXPECT_TRUE(conn) << conn.error().message;
    if (!conn) return out;
    auto st = (*conn)->Prepare(
        "SELECT table_name || '.' || column_name || CASE WHEN is_nullable='NO' THEN ' notnull' "
        "ELSE '' END FROM information_schema.columns WHERE table_schema='public' AND "
        "table_name<>'sluice_schema' AND column_name<>'rowid' ORDER BY 1");
    while (st && (*st)->Step().value_or(false)) out.push_back((*st)->Text(0));
    return out;
  }
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open(db.path().c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "SELECT m.name || '.' || c.name || CASE WHEN c.\"notnull\" OR c.pk THEN "
                     "' notnull' ELSE '' END FROM sqlite_master m, pragma_table_info(m.name) c "
                     "WHERE m.type='table' ORDER BY 1", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    out.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

// kPgSchema is written apart from kSchema; the two must not drift.
TEST(StorePostgres, HasTheSameTablesAndColumnsAsSqlite) {
  TempDb lite, pg(SqlEngine::kPostgres);
  if (!pg.skip_reason().empty()) GTEST_SKIP() << pg.skip_reason();
  ASSERT_TRUE(pg.error().empty()) << pg.error();
  ASSERT_TRUE(Store::Open(lite.path()));
  auto opened = Store::Open(pg.path());
  ASSERT_TRUE(opened) << opened.error().message;
  std::vector<std::string> expected = ColumnsOf(lite);
  EXPECT_GT(expected.size(), 80u);
  EXPECT_EQ(ColumnsOf(pg), expected);
  EXPECT_EQ(pg.Int("SELECT version FROM sluice_schema"), Store::kSchemaVersion);
}

// The server ends the store's connection (a restart, a failover, a network cut): the commit
// that meets it fails and says so; nothing committed before is lost, and the next commit
// connects again.
TEST(StorePostgres, ALostConnectionFailsTheCommitClearlyAndTheNextOneConnectsAgain) {
  TempDb t(SqlEngine::kPostgres);
  if (!t.skip_reason().empty()) GTEST_SKIP() << t.skip_reason();
  ASSERT_TRUE(t.error().empty()) << t.error();
  auto store = Store::Open(t.path());
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->CreateRun(Run1(), {}, Ev(EventKind::kRunCreated, "")));
  t.KillConnections();
  (*store)->Append(Ev(EventKind::kAttemptStarted, "a", "", 1));
  auto lost = (*store)->Commit();
  ASSERT_FALSE(lost);
  EXPECT_NE(lost.error().message.find("lost the connection to PostgreSQL"), std::string::npos)
      << lost.error().message;
  EXPECT_EQ(t.Int("SELECT count(*) FROM events"), 1);
  (*store)->Append(Ev(EventKind::kAttemptStarted, "b", "", 1));
  ASSERT_TRUE((*store)->Commit());
  auto events = (*store)->LoadEvents("r1");
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].task, "b");
}

TEST(Store, MigratesAFirstVersionStoreKeepingItsEvents) {
  TempDb t;
  t.Sql(std::string(kVersion1Schema) + R"sql(
INSERT INTO runs(id,pipeline,status,created_us) VALUES('old','p','running',5);
INSERT INTO events(run_id,time_us,kind) VALUES('old',5,'run.created');
INSERT INTO events(run_id,time_us,kind,task,attempt) VALUES('old',6,'attempt.started','a',1);
PRAGMA user_version = 1;
)sql");
  auto store = Store::Open(t.path());
  ASSERT_TRUE(store) << store.error().message;
  auto events = (*store)->LoadEvents("old");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].kind, EventKind::kAttemptStarted);
  // New events continue after the migrated ones.
  Event e = Ev(EventKind::kAttemptFinished, "a", "failed", 1);
  e.run_id = "old";
  (*store)->Append(e);
  ASSERT_TRUE((*store)->Commit());
  events = (*store)->LoadEvents("old");
  ASSERT_EQ(events->size(), 3u);
  EXPECT_GT((*events)[2].seq, (*events)[1].seq);
}

TEST_P(StoreOn, RefusesASchemaNewerThanItselfAndLeavesItAlone) {
  t.Sql("CREATE TABLE future(x INTEGER)");
  t.SetSchemaVersion(99);
  auto store = Store::Open(t.path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("newer than this sluice"), std::string::npos);
  // Still as it was: no table of ours, still writable by its own version, and (SQLite) not
  // switched to WAL.
  t.Sql("INSERT INTO future VALUES (1);");
  if (GetParam() == SqlEngine::kSqlite) {
    EXPECT_FALSE(std::filesystem::exists(t.path() + "-wal"));
    EXPECT_EQ(t.Int("SELECT count(*) FROM sqlite_master WHERE name='events'"), 0);
  } else {
    EXPECT_EQ(t.Int("SELECT count(*) FROM information_schema.tables WHERE table_name='events'"), 0);
  }
}

// Run ids carry random bits; one drawn twice is refused under the write lock, so that the
// caller can draw again, rather than failing with a constraint error.
TEST_P(StoreOn, ARunIdTakenAlreadyIsAConflictAndRecordsNothing) {
  auto store = Store::Open(t.path());
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->CreateRun(Run1(), {{"/p.yaml", "one"}}, Ev(EventKind::kRunCreated, "")));
  auto again = (*store)->CreateRun(Run1(), {{"/p.yaml", "two"}}, Ev(EventKind::kRunCreated, ""));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_NE(again.error().message.find("run id r1 is taken"), std::string::npos) << again.error().message;
  auto events = (*store)->LoadEvents("r1");
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), 1u);
  auto sources = (*store)->LoadSources("r1");
  ASSERT_TRUE(sources);
  EXPECT_EQ(sources->at("/p.yaml"), "one");
}

TEST(Store, AnInjectedFsyncFailureFailsACommitAndLeavesWholeBatches) {
  TempDb t;
  int failed_at = 0;
  {
    // Every commit syncs under injection; opening and creating the run sync too.
    auto store = Store::Open(t.path(), {.fsync_fail_at = 12});
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE((*store)->CreateRun(Run1(), {}, Ev(EventKind::kRunCreated, "")));
    for (int batch = 1; batch <= 20 && !failed_at; ++batch) {
      for (int k = 0; k < 3; ++k) (*store)->Append(Ev(EventKind::kTaskSkipped, "t" + std::to_string(batch)));
      if (auto st = (*store)->Commit(); !st) {
        failed_at = batch;
        EXPECT_NE(st.error().message.find("I/O"), std::string::npos) << st.error().message;
      }
    }
  }
  ASSERT_GT(failed_at, 0) << "the fault never struck";
  auto store = Store::Open(t.path());
  ASSERT_TRUE(store) << store.error().message;
  auto events = (*store)->LoadEvents("r1");
  ASSERT_TRUE(events);
  // run.created plus whole batches of three: a failed fsync never leaves half a batch.
  EXPECT_EQ((events->size() - 1) % 3, 0u) << events->size();
  EXPECT_GE(events->size(), 1u + 3u * (failed_at - 1));
}

TEST(Store, AFullDiskFailsACommitAndLeavesWholeBatches) {
  TempDb t;
  int failed_at = 0;
  {
    {
      auto made = Store::Open(t.path());  // made and migrated while the disk had room
      ASSERT_TRUE(made && (*made)->CreateRun(Run1(), {}, Ev(EventKind::kRunCreated, "")));
    }
    auto store = Store::Open(t.path(), {.disk_full_at = 4});
    ASSERT_TRUE(store) << store.error().message;
    for (int batch = 1; batch <= 50 && !failed_at; ++batch) {
      for (int k = 0; k < 3; ++k) (*store)->Append(Ev(EventKind::kTaskSkipped, "t" + std::to_string(batch)));
      if (auto st = (*store)->Commit(); !st) {
        failed_at = batch;
        EXPECT_NE(st.error().message.find("full"), std::string::npos) << st.error().message;
      }
    }
    // Full stays full: the next commit fails too.
    (*store)->Append(Ev(EventKind::kTaskSkipped, "later"));
    EXPECT_FALSE((*store)->Commit());
  }
  EXPECT_EQ(failed_at, 4);
  auto store = Store::Open(t.path());  // the disk freed: the store opens with what committed
  ASSERT_TRUE(store) << store.error().message;
  auto events = (*store)->LoadEvents("r1");
  ASSERT_TRUE(events);
  EXPECT_EQ((events->size() - 1) % 3, 0u) << events->size();
  EXPECT_GE(events->size(), 1u + 3u * (failed_at - 1));
}

TEST_P(StoreOn, BreakerUpdatesAreSharedAndAFailedUpdateChangesNothing) {
  auto a = Store::Open(t.path());
  auto b = Store::Open(t.path());  // a second run's process on the same state directory
  ASSERT_TRUE(a && b);
  auto add = [](std::string& data) -> Result<std::vector<BreakerTransitionRow>> {
    data = data.empty() ? "1" : std::to_string(std::stoi(data) + 1);
    return std::vector<BreakerTransitionRow>{{"", "closed", "open", "why", "r/t#1", 0}};
  };
  ASSERT_TRUE((*a)->UpdateBreaker("reg", 10, add));
  ASSERT_TRUE((*b)->UpdateBreaker("reg", 20, add));
  auto fail = [](std::string& data) -> Result<std::vector<BreakerTransitionRow>> {
    data = "garbage";
    return Fail(ErrorCode::kInternal, "no");
  };
  EXPECT_FALSE((*a)->UpdateBreaker("reg", 30, fail));
  auto rows = (*b)->ListBreakers();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].data, "2");
  EXPECT_EQ((*rows)[0].updated_us, 20);
  auto ts = (*a)->ListBreakerTransitions("reg", 10);
  ASSERT_TRUE(ts);
  ASSERT_EQ(ts->size(), 2u);
  EXPECT_EQ((*ts)[1].time_us, 20);
  EXPECT_EQ((*ts)[1].who, "r/t#1");
}

// Five audit records, then one kind of tampering done directly in the database.
class AuditTamper : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override {
    SLUICE_REQUIRE_DB(db);
    auto store = Store::Open(db.path());
    ASSERT_TRUE(store);
    for (int k = 1; k <= 5; ++k) {
      AuditRecord r;
      r.time_us = 1000 * k;
      r.actor = k % 2 ? "alice" : "bob";
      r.action = "run.submitted";
      r.run_id = "r" + std::to_string(k);
      r.details = "{\"specDigest\":\"abc\"}";
      auto a = (*store)->AppendAudit(r);
      ASSERT_TRUE(a) << a.error().message;
      EXPECT_EQ(a->seq, k);
      head = a->hash;
    }
    auto c = (*store)->VerifyAudit(head);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->broken_at, 0) << c->why;
    EXPECT_EQ(c->records, 5);
  }
  AuditCheck Verify(const std::string& expect_head = "") {
    auto store = Store::Open(db.path());
    auto c = (*store)->VerifyAudit(expect_head);
    EXPECT_TRUE(c);
    return *c;
  }
  TempDb db{GetParam()};
  std::string head;
};
INSTANTIATE_TEST_SUITE_P(Engine, AuditTamper,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(AuditTamper, AnEditedRecordIsNamed) {
  db.Sql("UPDATE audit SET actor='mallory' WHERE seq=3");
  AuditCheck c = Verify();
  EXPECT_EQ(c.broken_at, 3);
  EXPECT_NE(c.why.find("changed"), std::string::npos) << c.why;
}

TEST_P(AuditTamper, AnEditedDetailIsNamed) {
  db.Sql("UPDATE audit SET details='{\"specDigest\": \"abd\"}' WHERE seq=2");
  EXPECT_EQ(Verify().broken_at, 2);
}

TEST_P(AuditTamper, ADeletedRecordIsNamed) {
  db.Sql("DELETE FROM audit WHERE seq=2");
  AuditCheck c = Verify();
  EXPECT_EQ(c.broken_at, 3);
  EXPECT_NE(c.why.find("missing"), std::string::npos) << c.why;
}

TEST_P(AuditTamper, AnInsertedRecordIsNamed) {
  // A forged record appended with a made-up chain link.
  db.Sql("INSERT INTO audit VALUES(6, 9000, 'mallory', 'run.cancelled', 'r1', '', '{}', "
         "'0000000000000000000000000000000000000000000000000000000000000000', 'ff')");
  EXPECT_EQ(Verify().broken_at, 6);
}

TEST_P(AuditTamper, ARecordSlippedInBetweenIsNamed) {
  // The records from 3 on move up one to make room; the forgery links to record 2 correctly.
  db.Sql("UPDATE audit SET seq=seq+100 WHERE seq>=3");
  db.Sql("UPDATE audit SET seq=seq-99 WHERE seq>=100");
  db.Sql("INSERT INTO audit SELECT 3, 2500, 'mallory', action, run_id, subject, details, hash, "
         "hash FROM audit WHERE seq=2");
  EXPECT_EQ(Verify().broken_at, 3);
}

TEST_P(AuditTamper, ReorderedRecordsAreNamed) {
  // Swap the contents of records 2 and 4, keeping their numbers.
  db.Sql("UPDATE audit SET seq=100 WHERE seq=2");
  db.Sql("UPDATE audit SET seq=2 WHERE seq=4");
  db.Sql("UPDATE audit SET seq=4 WHERE seq=100");
  EXPECT_EQ(Verify().broken_at, 2);
}

TEST_P(AuditTamper, RecordsRemovedFromTheEndNeedTheExportedHead) {
  db.Sql("DELETE FROM audit WHERE seq=5");
  EXPECT_EQ(Verify().broken_at, 0);  // the chain alone cannot tell
  AuditCheck c = Verify(head);
  EXPECT_NE(c.broken_at, 0);
  EXPECT_NE(c.why.find("removed"), std::string::npos) << c.why;
}

// A state folder with store and journal, as `sluice run` has them; each Open() is a new process.
class JournalFile : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override { SLUICE_REQUIRE_DB(t_); }
  // The store with run r1's journal open; `create` first records run r1.
  std::unique_ptr<Store> Open(bool create = false) {
    auto store = Store::Open(t_.path());
    if (!store) return nullptr;
    if (create && !(*store)->CreateRun(Run1(), {}, Ev(EventKind::kRunCreated, ""))) return nullptr;
    if (!(*store)->OpenJournal(*fs_, journal_, "r1")) return nullptr;
    return std::move(*store);
  }
  // The events of run r1 seen through a second connection, as `sluice status` in another
  // process would see them.
  int64_t SeenElsewhere() { return t_.Int("SELECT count(*) FROM events WHERE run_id='r1'"); }

  TempDb t_{GetParam()};
  std::unique_ptr<FileSystem> fs_ = NewPosixFileSystem();
  const std::string journal_ = t_.dir() + "/journal";
};
INSTANTIATE_TEST_SUITE_P(Engine, JournalFile,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres), EngineName);

TEST_P(JournalFile, CommittedEventsArePublishedLaterInBatchesAndReadFirstInThisProcess) {
  auto store = Open(/*create=*/true);
  ASSERT_TRUE(store);
  store->Append(Ev(EventKind::kAttemptStarted, "a", "", 1));
  ASSERT_TRUE(store->Commit());
  EXPECT_GT(fs_->Stat(journal_).size, 0);
  EXPECT_EQ(SeenElsewhere(), 1) << "not published yet";
  EXPECT_EQ(store->PublishDueUs(), 1000 + Store::kPublishAfterUs);
  // A run-level event is published at once, with everything before it.
  store->Append(Ev(EventKind::kRunStarted, ""));
  ASSERT_TRUE(store->Commit());
  EXPECT_EQ(SeenElsewhere(), 3);
  EXPECT_EQ(store->PublishDueUs(), -1);
  // This process's own reads publish first.
  store->Append(Ev(EventKind::kAttemptFinished, "a", "succeeded", 1));
  ASSERT_TRUE(store->Commit());
  EXPECT_EQ(SeenElsewhere(), 3);
  EXPECT_EQ(store->LoadEvents("r1")->size(), 4u);
  EXPECT_EQ(SeenElsewhere(), 4);
  ASSERT_TRUE(store->CloseJournal());
  EXPECT_FALSE(fs_->Stat(journal_).exists);
}

// After a closed journal, the offset still holds the removed file's end. A later process that
// executes the run again (a rollback) starts a new file from 0; if it is killed, what it
// committed must still be published, not taken as covered by the old offset.
TEST_P(JournalFile, AJournalOpenedAgainAfterItWasClosedLosesNothing) {
  {
    auto store = Open(/*create=*/true);
    ASSERT_TRUE(store);
    for (int i = 0; i < 20; ++i) {
      store->Append(Ev(EventKind::kAttemptStarted, "t" + std::to_string(i), "", 1));
      ASSERT_TRUE(store->Commit());
    }
    ASSERT_TRUE(store->CloseJournal());
  }
  EXPECT_EQ(SeenElsewhere(), 21);
  {
    auto store = Open();
    ASSERT_TRUE(store);
    store->Append(Ev(EventKind::kAttemptStarted, "late", "", 1));
    ASSERT_TRUE(store->Commit());
    // Killed here.
  }
  EXPECT_EQ(SeenElsewhere(), 21);
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->LoadEvents("r1")->size(), 22u);
}

// A process killed with events in its journal: the next one to open the journal publishes them,
// stopping at a torn last record, and starts the journal afresh.
TEST_P(JournalFile, TheNextProcessPublishesWhatAKilledOneLeft) {
  {
    auto store = Open(/*create=*/true);
    ASSERT_TRUE(store);
    store->Append(Ev(EventKind::kRunStarted, ""));
    ASSERT_TRUE(store->Commit());  // published at once
    store->Append(Ev(EventKind::kAttemptStarted, "a", "", 1));
    ASSERT_TRUE(store->Commit());
    store->Append(Ev(EventKind::kAttemptFinished, "a", "succeeded", 1));
    store->Append(Ev(EventKind::kTaskFinished, "a", "succeeded", 1));
    ASSERT_TRUE(store->Commit());
    // Killed here: the store goes away without publishing (as the process would).
  }
  EXPECT_EQ(SeenElsewhere(), 2);
  auto tail = fs_->OpenAppend(journal_);
  ASSERT_TRUE((*tail)->Append(EncodeJournalRecord({Ev(EventKind::kTaskSkipped, "b")}).substr(0, 20)));
  tail->reset();
  auto store = Open();
  ASSERT_TRUE(store);
  auto events = store->LoadEvents("r1");
  ASSERT_EQ(events->size(), 5u) << "the torn record is not an event";
  EXPECT_EQ((*events)[4].kind, EventKind::kTaskFinished);
  EXPECT_EQ((*events)[4].run_id, "r1");
  EXPECT_EQ((*store->ListTasks("r1"))[0].state, "succeeded");
  EXPECT_EQ(fs_->Stat(journal_).size, 0);
  // Opening again publishes nothing twice.
  auto again = Open();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->LoadEvents("r1")->size(), 5u);
}

TEST(StoreJournal, RecordsRoundTripAndDamageEndsTheJournal) {
  Event full = Ev(EventKind::kAttemptFinished, "train[2]", "failed", 3);
  full.error_class = "exit";
  full.exit_code = 7;
  full.message = std::string("bytes \0\xff and \n", 14);  // a NUL, a non-UTF-8 byte
  full.pid = 4242;
  full.due_us = -5;
  full.data = R"({"x":1})";
  std::string a = EncodeJournalRecord({full, Ev(EventKind::kRunStarted, "")});
  std::string b = EncodeJournalRecord({Ev(EventKind::kTaskSkipped, "c")});
  int64_t end = 0;
  auto recs = DecodeJournal(a + b, 0, "r9", &end);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(end, static_cast<int64_t>(a.size() + b.size()));
  EXPECT_EQ(recs[0].end, static_cast<int64_t>(a.size()));
  const Event& e = recs[0].events[0];
  EXPECT_EQ(e.run_id, "r9");
  EXPECT_EQ(e.task, "train[2]");
  EXPECT_EQ(e.attempt, 3);
  EXPECT_EQ(e.error_class, "exit");
  EXPECT_EQ(e.exit_code, 7);
  EXPECT_EQ(e.message, full.message);
  EXPECT_EQ(e.pid, 4242);
  EXPECT_EQ(e.due_us, -5);
  EXPECT_EQ(e.data, full.data);
  EXPECT_EQ(recs[1].events[0].kind, EventKind::kTaskSkipped);
  // From an offset; a flipped byte, or a record cut anywhere, stops decoding before it.
  EXPECT_EQ(DecodeJournal(a + b, static_cast<int64_t>(a.size()), "r9", &end).size(), 1u);
  std::string flipped = a + b;
  flipped[a.size() + 12] ^= 1;
  EXPECT_EQ(DecodeJournal(flipped, 0, "r9", &end).size(), 1u);
  EXPECT_EQ(end, static_cast<int64_t>(a.size()));
  for (size_t cut = 0; cut < b.size(); ++cut) {
    EXPECT_EQ(DecodeJournal(a + b.substr(0, cut), 0, "r9", &end).size(), 1u) << cut;
    EXPECT_EQ(end, static_cast<int64_t>(a.size()));
  }
}

// Found by the journal fuzzer: a record whose CRC holds but whose attempt does not fit an int
// decoded to a different attempt, and so encoded back to different bytes. It now ends the
// journal like any damaged record.
TEST(StoreJournal, ARecordWithAnIntegerOutOfRangeEndsTheJournal) {
  std::string good = EncodeJournalRecord({Ev(EventKind::kTaskSkipped, "c")});
  // header 8 | count 4 | time 8 | kind (4 + name) | task (4 + 1) | attempt 8
  size_t attempt_at = 8 + 4 + 8 + 4 + EventKindName(EventKind::kTaskSkipped).size() + 4 + 1;
  for (int64_t bad : {int64_t{1} << 40, int64_t{INT32_MIN} - 1}) {
    std::string rec = good;
    for (int i = 0; i < 8; ++i) rec[attempt_at + i] = static_cast<char>((static_cast<uint64_t>(bad) >> (8 * i)) & 0xFF);
    uint32_t crc = Crc32c(std::string_view(rec).substr(8));
    for (int i = 0; i < 4; ++i) rec[4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    int64_t end = -1;
    EXPECT_TRUE(DecodeJournal(good + rec + good, 0, "r", &end).size() == 1u) << bad;
    EXPECT_EQ(end, static_cast<int64_t>(good.size()));
  }
}

}  // namespace store_test
}  // namespace sluice
