// The SQLite driver of the store's SQL seam (sql.h): a thin layer over the C API, because it is
// on every local run's hot path (each engine turn's events go through these statements).
#include <sqlite3.h>

#include <unordered_map>

#include "store/faulty_vfs.h"
#include "store/sql.h"

namespace sluice {

namespace {

// What SQLite's short messages leave out, for the errors an operator can act on.
const char* Detail(sqlite3* db) {
  switch (sqlite3_extended_errcode(db)) {
    case SQLITE_IOERR_FSYNC: return " (fsync failed: the disk did not confirm the write)";
    case SQLITE_FULL: return " (the disk is full)";
    default: return "";
  }
}

std::unexpected<Error> SqliteError(sqlite3* db) {
  return Fail(ErrorCode::kStore, "{}{}", sqlite3_errmsg(db), Detail(db));
}

// One prepared statement; owned by its SqliteConn.
class SqliteStmt final : public SqlStmt {
 public:
  SqliteStmt(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
  ~SqliteStmt() override { sqlite3_finalize(st_); }
  // Text is bound without a copy (SQLITE_STATIC), as SqlStmt::Bind allows.
  void Bind(int i, std::string_view text) override {
    sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
  void Bind(int i, int64_t value) override { sqlite3_bind_int64(st_, i, value); }
  Result<bool> Step() override {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_);
  }
  Status Send() override {  // SQLite is in this process: nothing to gain by waiting later
    auto done = Step();
    if (!done) return std::unexpected(done.error());
    return {};
  }
  std::string Text(int col) const override {
    const unsigned char* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(st_, col)))
             : std::string();
  }
  int64_t Int(int col) const override { return sqlite3_column_int64(st_, col); }
  bool IsNull(int col) const override { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  void Reset() override { sqlite3_reset(st_); }
  // Before a cached statement is used again: its bindings point into strings long gone.
  void Recycle() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_;
};

// A connection to one SQLite file, with its statements.
class SqliteConn final : public SqlConn {
 public:
  ~SqliteConn() override {
    stmts_.clear();  // finalized before the connection closes
    if (db_) sqlite3_close(db_);
  }
  sqlite3*& db() { return db_; }
  SqlEngine engine() const override { return SqlEngine::kSqlite; }

  Result<SqlStmt*> Prepare(const char* sql) override {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) {
      it->second->Recycle();
      return it->second.get();
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK) {
      return SqliteError(db_);
    }
    auto& slot = stmts_[sql];
    slot = std::make_unique<SqliteStmt>(db_, st);
    return slot.get();
  }

  Status Exec(const std::string& script) override {
    char* err = nullptr;
    if (sqlite3_exec(db_, script.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return Fail(ErrorCode::kStore, "{}{}", msg, Detail(db_));
    }
    return {};
  }

  // BEGIN and COMMIT are cached statements like any other: parsing them anew took ~20 us a
  // transaction, a fifth of a small commit. IMMEDIATE takes the write lock at once, so what a
  // transaction reads is still true when it writes (busy_timeout: up to 10 s).
  Status Begin() override { return Once("BEGIN IMMEDIATE"); }
  Status Commit() override { return Once("COMMIT"); }
  void Rollback() override { (void)Once("ROLLBACK"); }
  Result<int64_t> Changes() override { return int64_t{sqlite3_changes(db_)}; }

  Result<int> SchemaVersion() override {
    auto st = Prepare("PRAGMA user_version");
    if (!st) return std::unexpected(st.error());
    auto row = (*st)->Step();
    int version = row && *row ? static_cast<int>((*st)->Int(0)) : 0;
    (*st)->Reset();
    if (!row) return std::unexpected(row.error());
    return version;
  }
  Status SetSchemaVersion(int version) override {
    return Exec(fmt::format("PRAGMA user_version = {}", version));
  }

 private:
  Status Once(const char* sql) {
    auto st = Prepare(sql);
    if (!st) return std::unexpected(st.error());
    auto done = (*st)->Step();
    (*st)->Reset();
    if (!done) return std::unexpected(done.error());
    return {};
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<SqliteStmt>> stmts_;
};

}  // namespace

Result<std::unique_ptr<SqlConn>> OpenSqlite(const std::string& path, const StoreFaults& faults, int newest,
                                            const SqlMigrate& migrate) {
  auto conn = std::make_unique<SqliteConn>();
  const char* vfs = faults.any() ? FaultyVfs(faults.fsync_fail_at) : nullptr;
  // NOMUTEX: a Store is used by one thread at a time (store.h), so SQLite's per-call mutexes
  // (serialized mode, Debian's default) only cost: ~3.6 % of a 20,000-noop run's instructions.
  if (sqlite3_open_v2(path.c_str(), &conn->db(),
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs) !=
      SQLITE_OK) {
    return Fail(ErrorCode::kStore, "store: cannot open {}: {}", path,
                conn->db() ? sqlite3_errmsg(conn->db()) : "out of memory");
  }
  sqlite3_busy_timeout(conn->db(), 10000);
  // A newer schema is refused before anything (even the journal mode) is changed.
  auto version = conn->SchemaVersion();
  if (!version) return std::unexpected(version.error().Wrap("store: " + path));
  if (*version > newest) {
    return Fail(ErrorCode::kStore, "store: {} has schema version {}, newer than this sluice ({}); "
                "use a newer sluice", path, *version, newest);
  }
  // WAL: readers (status, logs) never block the running engine. synchronous=NORMAL: a commit
  // survives the process being killed; only a power loss can drop the last commits.
  // Under an injected fsync fault every commit syncs, so the Nth fsync is a commit's.
  // A new store is made without syncing at all: switching an empty file to WAL and writing the
  // schema synced the file, the rollback journal, the WAL and the folder (8 syncs, ~8 ms here,
  // in every benchmark run); a power loss in those milliseconds can only lose an empty store.
  const bool fresh = *version == 0 && !faults.any();
  const char* sync = faults.fsync_fail_at > 0 ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  for (const char* pragma : {fresh ? "PRAGMA synchronous=OFF" : sync, "PRAGMA journal_mode=WAL",
                             "PRAGMA foreign_keys=OFF"}) {
    // Switching a new file to WAL needs it to itself, and SQLite answers SQLITE_BUSY at once,
    // without its busy handler, while another process opening the same new store holds it (two
    // `sluice run` started together on a fresh state folder): try again for up to 10 s.
    Status s = conn->Exec(pragma);
    for (int tries = 0; !s && (sqlite3_errcode(conn->db()) & 0xff) == SQLITE_BUSY && tries < 500;
         ++tries) {
      sqlite3_sleep(20);
      s = conn->Exec(pragma);
    }
    if (!s) return std::unexpected(s.error().Wrap("store: " + path));
  }
  if (auto s = migrate(*conn, *version); !s) return std::unexpected(s.error());
  if (fresh) {
    if (auto s = conn->Exec(sync); !s) return std::unexpected(s.error().Wrap("store: " + path));
  }
  // The last connection to close would checkpoint the WAL into the database and sync both
  // (~2 ms at the end of every command); SQLite's automatic checkpoints (every 1,000 pages)
  // are enough, and the WAL stays beside the database.
  sqlite3_db_config(conn->db(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  return std::unique_ptr<SqlConn>(std::move(conn));
}

}  // namespace sluice
