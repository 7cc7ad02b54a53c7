// A fresh store database for the store's tests, on either engine, removed with the object: a
// file in a temporary folder for SQLite, a new database on the PostgreSQL server named by
// SLUICE_TEST_PG_URL (scripts/pg.sh starts one for `make test`). Sql() runs raw SQL against it,
// as an older sluice (or a tamperer) would.
#pragma once

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "store/sql.h"

namespace sluice {

// The store's engines, as test parameters; `EngineName` names the instantiated tests.
inline std::string EngineName(const ::testing::TestParamInfo<SqlEngine>& info) {
  return info.param == SqlEngine::kSqlite ? "sqlite" : "postgresql";
}

class TempDb {
 public:
  explicit TempDb(SqlEngine engine = SqlEngine::kSqlite) : engine_(engine) {
    char tmpl[] = "/tmp/sluice-store-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    if (engine_ == SqlEngine::kPostgres) MakeDatabase();
  }
  ~TempDb() {
    if (admin_) (void)admin_->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    std::filesystem::remove_all(dir_);
  }
  SqlEngine engine() const { return engine_; }
  // Why the PostgreSQL cases cannot run here ("" when they can): tests GTEST_SKIP with it.
  const std::string& skip_reason() const { return skip_; }
  // "" when the database is ready; otherwise what went wrong (a failure, not a skip).
  const std::string& error() const { return error_; }
  // What Store::Open takes: the SQLite file, or the PostgreSQL database's URL.
  std::string path() const { return engine_ == SqlEngine::kSqlite ? dir_ + "/sluice.db" : url_; }
  // A folder beside the database, for journals and such.
  const std::string& dir() const { return dir_; }

  void Sql(const std::string& sql) {
    if (engine_ == SqlEngine::kPostgres) {
      auto conn = ConnectPostgres(url_);
      ASSERT_TRUE(conn) << conn.error().message;
      auto s = (*conn)->Exec(sql);
      ASSERT_TRUE(s) << s.error().message << "\n" << sql;
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }

  // The first column of the first row of `sql`, as an integer (0 when there is none).
  int64_t Int(const std::string& sql) {
    if (engine_ == SqlEngine::kPostgres) {
      auto conn = ConnectPostgres(url_);
      EXPECT_TRUE(conn) << conn.error().message;
      if (!conn) return 0;
      auto st = (*conn)->Prepare(sql.c_str());  // a new connection: nothing cached at this address
      auto row = st ? (*st)->Step() : Result<bool>(std::unexpected(st.error()));
      EXPECT_TRUE(row) << row.error().message << "\n" << sql;
      int64_t out = row && *row ? (*st)->Int(0) : 0;
      if (st) (*st)->Reset();
      return out;
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    int64_t out = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

  // Makes every insert into `table` fail with `message`, as a full disk would; with `task`,
  // only the inserts of rows whose task column is `task`.
  void FailInserts(const std::string& table, const std::string& message,
                   const std::string& task = "") {
    const std::string when = task.empty() ? "" : "NEW.task = '" + task + "'";
    if (engine_ == SqlEngine::kSqlite) {
      Sql("CREATE TRIGGER fail_" + table + " BEFORE INSERT ON " + table +
          (when.empty() ? "" : " WHEN " + when) + " BEGIN SELECT RAISE(ABORT, '" + message +
          "'); END");
    } else {
      Sql("CREATE FUNCTION fail_" + table + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
          (when.empty() ? "" : "IF NOT (" + when + ") THEN RETURN NEW; END IF; ") +
          "RAISE EXCEPTION '" + message + "'; END $$; CREATE TRIGGER fail_" + table +
          " BEFORE INSERT ON " + table + " FOR EACH ROW EXECUTE FUNCTION fail_" + table + "()");
    }
  }

  // Ends every other connection to the PostgreSQL database, as a server restart would.
  void KillConnections() {
    ASSERT_TRUE(admin_);
    auto s = admin_->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname='" +
                          name_ + "' AND pid <> pg_backend_pid()");
    ASSERT_TRUE(s) << s.error().message;
  }

  // Marks the (empty) database as made by a sluice of schema `version`.
  void SetSchemaVersion(int version) {
    if (engine_ == SqlEngine::kSqlite) {
      Sql("PRAGMA user_version = " + std::to_string(version));
    } else {
      Sql("CREATE TABLE sluice_schema (version BIGINT NOT NULL); INSERT INTO sluice_schema "
          "VALUES (" + std::to_string(version) + ")");
    }
  }

 private:
  void MakeDatabase() {
    const char* url = getenv("SLUICE_TEST_PG_URL");
    if (!url || !*url) {
      skip_ = "SLUICE_TEST_PG_URL is not set, so there is no PostgreSQL server to test against "
              "(make test starts one with scripts/pg.sh)";
      return;
    }
    auto admin = ConnectPostgres(url);
    if (!admin) {
      error_ = admin.error().message;
      return;
    }
    admin_ = std::move(*admin);
    static int made = 0;
    name_ = "sluice_test_" + std::to_string(getpid()) + "_" + std::to_string(++made);
    if (auto s = admin_->Exec("CREATE DATABASE " + name_); !s) {
      error_ = s.error().message;
      return;
    }
    // The same URL with this database's name in its path.
    std::string base = url;
    size_t query = base.find('?');
    std::string rest = query == std::string::npos ? "" : base.substr(query);
    base = base.substr(0, query);
    size_t slash = base.find('/', base.find("://") + 3);
    url_ = (slash == std::string::npos ? base : base.substr(0, slash)) + "/" + name_ + rest;
  }

  SqlEngine engine_;
  std::string dir_;
  std::string url_, name_, skip_, error_;
  std::unique_ptr<SqlConn> admin_;
};

// In a fixture's SetUp: skips the test (saying why) when its engine cannot run here, and fails
// it when its database could not be made.
#define SLUICE_REQUIRE_DB(db)                                   \
  do {                                                          \
    if (!(db).skip_reason().empty()) GTEST_SKIP() << (db).skip_reason(); \
    ASSERT_TRUE((db).error().empty()) << (db).error();          \
  } while (0)

}  // namespace sluice
