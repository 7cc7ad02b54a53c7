// Store::Impl, shared by the files that implement Store (sqlite_store.cc, store_governance.cc,
// store_approvals.cc):
// the connection, its cached statements, the binding helpers and the in-transaction writers.
// Internal to src/store.
#pragma once

#include <sqlite3.h>

#include <unordered_map>

#include "common/strings.h"
#include "common/value.h"
#include "store/store.h"

namespace sluice {

inline std::string Text(sqlite3_stmt* st, int col) {
  const unsigned char* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(st, col)))
           : std::string();
}

inline int64_t Int(sqlite3_stmt* st, int col) { return sqlite3_column_int64(st, col); }

// The schema (store_schema.cc): the newest as one script, and kUpgrades[v - 1], which takes a
// store from version v to v + 1.
inline constexpr int kUpgradeSteps = Store::kSchemaVersion - 1;
extern const char* const kSchema;
extern const char* const kUpgrades[kUpgradeSteps];

// The previous hash of the audit log's first record.
inline constexpr std::string_view kGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";
// The audit table's columns in AuditRecord's order, and the reader of a row of them that starts
// at column `col`.
#define AUDIT_COLUMNS "seq,time_us,actor,action,run_id,subject,details,prev_hash,hash"
AuditRecord ReadAuditRecord(sqlite3_stmt* st, int col);

struct Store::Impl {
  sqlite3* db = nullptr;
  // Keyed by the SQL literal's address: every statement text is a literal in the store's
  // files, and hashing the text (and building a std::string of it) on each of a run's 100,000s of inserts
  // showed in profiles.
  std::unordered_map<const char*, sqlite3_stmt*> stmts;
  std::vector<Event> pending;  // appended, not yet committed
  int fail_fsync_at = 0;

  // The journal (journal.h), while this process executes a run.
  std::unique_ptr<AppendFile> journal;
  FileSystem* journal_fs = nullptr;
  std::string journal_path;
  std::string journal_run;
  int64_t journal_end = 0;           // the file's size: the end of the last record appended
  std::vector<Event> unpublished;    // committed to the journal, not yet in the tables
  int64_t oldest_unpublished_us = 0;
  bool publishing = false;

  // Writes the unpublished events into the tables and advances runs.journal_offset, in one
  // transaction.
  Status PublishJournaled();

  ~Impl() {
    for (auto& [sql, st] : stmts) sqlite3_finalize(st);
    if (db) sqlite3_close(db);
  }

  std::unexpected<Error> SqlError(std::string_view what) {
    return Fail(ErrorCode::kStore, "store: {}: {}{}", what, sqlite3_errmsg(db), Detail());
  }

  // What SQLite's short messages leave out, for the errors an operator can act on.
  const char* Detail() const {
    switch (sqlite3_extended_errcode(db)) {
      case SQLITE_IOERR_FSYNC: return " (fsync failed: the disk did not confirm the write)";
      case SQLITE_FULL: return " (the disk is full)";
      default: return "";
    }
  }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return Fail(ErrorCode::kStore, "store: {}{}", msg, Detail());
    }
    return {};
  }

  // A cached prepared statement, reset and with bindings cleared. Events committed to the
  // journal are published first, so every statement sees them and the tables keep the order in
  // which things happened.
  Result<sqlite3_stmt*> Prepare(const char* sql) {
    if (!unpublished.empty() && !publishing) {
      if (auto s = PublishJournaled(); !s) return std::unexpected(s.error());
    }
    auto it = stmts.find(sql);
    if (it != stmts.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK) {
      return SqlError("prepare");
    }
    stmts[sql] = st;
    return st;
  }

  // Binds arguments by position: strings as text, integers as int64. Text is bound without a
  // copy (SQLITE_STATIC): REQUIRES every bound string to outlive the statement's steps, which
  // holds because Run() steps at once and Query() callers bind their own parameters.
  static void Bind(sqlite3_stmt* st, int i, const std::string& s) {
    sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  static void Bind(sqlite3_stmt* st, int i, std::string_view s) {
    sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  static void Bind(sqlite3_stmt* st, int i, const char* s) { Bind(st, i, std::string_view(s)); }
  static void Bind(sqlite3_stmt* st, int i, int64_t v) { sqlite3_bind_int64(st, i, v); }
  static void Bind(sqlite3_stmt* st, int i, int v) { sqlite3_bind_int64(st, i, v); }

  template <typename... Args>
  Result<sqlite3_stmt*> Query(const char* sql, const Args&... args) {
    auto st = Prepare(sql);
    if (!st) return st;
    int i = 0;
    (Bind(*st, ++i, args), ...);
    return st;
  }

  // Every row of a query, each made by `read(statement)`.
  template <typename Row, typename Read, typename... Args>
  Result<std::vector<Row>> Rows(const char* sql, Read read, const Args&... args) {
    auto st = Query(sql, args...);
    if (!st) return std::unexpected(st.error());
    std::vector<Row> out;
    while (sqlite3_step(*st) == SQLITE_ROW) out.push_back(read(*st));
    sqlite3_reset(*st);
    return out;
  }

  template <typename... Args>
  Status Run(const char* sql, const Args&... args) {
    auto st = Query(sql, args...);
    if (!st) return std::unexpected(st.error());
    int rc = sqlite3_step(*st);
    sqlite3_reset(*st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqlError(std::string_view(sql).substr(0, 40));
    return {};
  }


  Result<int> SchemaVersion() {
    auto st = Query("PRAGMA user_version");
    if (!st) return std::unexpected(st.error());
    int version = 0;
    if (sqlite3_step(*st) == SQLITE_ROW) version = static_cast<int>(Int(*st, 0));
    sqlite3_reset(*st);
    return version;
  }

  // Brings the schema from `version` to kSchemaVersion, in one transaction.
  Status Migrate(int version);

  Status Project(const Event& e);
  Status ProjectDecisions(const Event& e);     // policy.decision: rows and an audit record
  Status ProjectTaskVerdict(const Event& e);   // task.finished/skipped: row, artifacts, cache
  Status ProjectRetried(const Event& e);       // run.retried: the run and its tasks reopened

  // Runs `f` (returning a Status or a Result) in one BEGIN IMMEDIATE transaction: committed when
  // it succeeds, rolled back when it or the commit fails. BEGIN and COMMIT are cached statements
  // like any other: parsing them anew took ~20 us a transaction, a fifth of a small commit.
  template <typename F>
  auto InTransaction(F f) -> decltype(f()) {
    if (auto s = Run("BEGIN IMMEDIATE"); !s) return std::unexpected(s.error());
    auto out = f();
    if (!out) {
      (void)Run("ROLLBACK");
      return out;
    }
    if (auto c = Run("COMMIT"); !c) {
      (void)Run("ROLLBACK");
      return std::unexpected(c.error());
    }
    return out;
  }

  // An audit record of an engine event, by "sluice", in the event's transaction.
  Status AuditEvent(const Event& e, std::string action, const Value& details);

  Status InsertDecision(const DecisionRow& d);

  // Appends to the audit chain. REQUIRES: inside a transaction (so the previous hash read is
  // the latest).
  Result<AuditRecord> InsertAudit(AuditRecord r);
  // Whether the audit chain holds from its first record through record `seq`: each record
  // present, following the one before, and matching its hash. Remembers how far it has checked
  // (and re-checks that record's hash each call), so polling costs the records added since.
  Result<bool> ChainHolds(int64_t seq);
  int64_t chain_checked_seq = 0;   // ChainHolds' progress: records 1..this verified
  std::string chain_checked_hash;  // the hash of that record

  // Appends one event and updates the projections. REQUIRES: inside a transaction.
  Status Insert(const Event& e) {
    auto s = Run("INSERT INTO events(run_id,time_us,kind,task,attempt,status,error_class,"
                 "exit_code,message,pid,due_us,data) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                 e.run_id, e.time_us, EventKindName(e.kind), e.task, e.attempt, e.status,
                 e.error_class, e.exit_code, e.message, e.pid, e.due_us, e.data);
    if (!s) return s;
    return Project(e);
  }

  static RunRecord ReadRun(sqlite3_stmt* st) {
  RunRecord r;
  r.id = Text(st, 0);
  r.pipeline = Text(st, 1);
  r.status = Text(st, 2);
  r.created_us = Int(st, 3);
  r.started_us = Int(st, 4);
  r.finished_us = Int(st, 5);
  r.params = Text(st, 6);
  r.spec_path = Text(st, 7);
  r.spec_digest = Text(st, 8);
  r.pid = Int(st, 9);
  r.stats = Text(st, 10);
  return r;
}
};

}  // namespace sluice
