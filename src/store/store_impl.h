// Store::Impl, shared by the files that implement Store (sqlite_store.cc, store_governance.cc,
// store_approvals.cc, store_waivers.cc): the connection (SQLite or PostgreSQL, sql.h), the
// binding helpers and the in-transaction writers.
// Internal to src/store.
#pragma once

#include <unordered_map>

#include "common/strings.h"
#include "common/value.h"
#include "store/ready_to_start.h"
#include "store/sql.h"
#include "store/store.h"

namespace sluice {

inline std::string Text(SqlStmt* st, int col) { return st->Text(col); }
inline int64_t Int(SqlStmt* st, int col) { return st->Int(col); }

// The schema (store_schema.cc): the newest as one script, and kUpgrades[v - 1], which takes a
// store from version v to v + 1. PostgreSQL stores begin at kPgFirstVersion, with kPgSchema
// (the same tables and columns in its types); kPgUpgrades[v - kPgFirstVersion] takes one from
// v to v + 1.
inline constexpr int kUpgradeSteps = Store::kSchemaVersion - 1;
extern const char* const kSchema;
extern const char* const kUpgrades[kUpgradeSteps];
inline constexpr int kPgFirstVersion = 9;
extern const char* const kPgSchema;
extern const std::array<const char*, Store::kSchemaVersion - kPgFirstVersion> kPgUpgrades;

// The previous hash of the audit log's first record.
inline constexpr std::string_view kGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";
// The audit table's columns in AuditRecord's order, and the reader of a row of them that starts
// at column `col`.
#define AUDIT_COLUMNS "seq,time_us,actor,action,run_id,subject,details,prev_hash,hash"
AuditRecord ReadAuditRecord(SqlStmt* st, int col);

struct Store::Impl {
  std::unique_ptr<SqlConn> owned;  // the connection (sql.h)
  SqlConn* db = nullptr;           // owned's, set as soon as it is open (Migrate runs before)
  std::vector<Event> pending;  // appended, not yet committed
  bool faulty = false;  // faults are injected under it (faulty_vfs.h): every commit publishes
  int disk_full_at = 0, commits = 0;  // the disk fills at this Commit()

  // The journal (journal.h), while this process executes a run.
  std::unique_ptr<AppendFile> journal;
  FileSystem* journal_fs = nullptr;
  std::string journal_path;
  std::string journal_run;
  int64_t journal_end = 0;           // the file's size: the end of the last record appended
  std::vector<Event> unpublished;    // committed to the journal, not yet in the tables
  int64_t oldest_unpublished_us = 0;
  bool publishing = false;
  // Samples of ready -> start this process observed (Store::ObserveReadyToStart), written with
  // its next transaction of events (ready_to_start.h).
  ReadyToStartHistogram ready_to_start;

  // Adds `h` to the ready_to_start table (nothing when it is empty). REQUIRES: inside a
  // transaction. The writers of events add ready_to_start and clear it once they committed.
  Status AddReadyToStart(const ReadyToStartHistogram& h);

  // Writes the unpublished events into the tables and advances runs.journal_offset, in one
  // transaction.
  Status PublishJournaled();

  // Events committed to the journal are published before any other statement, so every
  // statement sees them and the tables keep the order in which things happened.
  Status PublishFirst() {
    if (unpublished.empty() || publishing) return {};
    return PublishJournaled();
  }

  static std::unexpected<Error> SqlError(std::string_view what, const Error& e) {
    return Fail(ErrorCode::kStore, "store: {}: {}", what, e.message);
  }

  Status Exec(const std::string& sql) {
    if (auto s = db->Exec(sql); !s) return Fail(ErrorCode::kStore, "store: {}", s.error().message);
    return {};
  }

  // A cached prepared statement, reset and with bindings cleared, after publishing (above).
  Result<SqlStmt*> Prepare(const char* sql) {
    SLUICE_TRY_STATUS(PublishFirst());
    auto st = db->Prepare(sql);
    if (!st) return SqlError("prepare", st.error());
    return st;
  }

  // Binds arguments by position: strings as text, integers as int64. Text is bound without a
  // copy: REQUIRES every bound string to outlive the statement's steps, which holds because
  // Run() steps at once and Query() callers bind their own parameters.
  static void Bind(SqlStmt* st, int i, const std::string& s) { st->Bind(i, std::string_view(s)); }
  static void Bind(SqlStmt* st, int i, std::string_view s) { st->Bind(i, s); }
  static void Bind(SqlStmt* st, int i, const char* s) { st->Bind(i, std::string_view(s)); }
  static void Bind(SqlStmt* st, int i, int64_t v) { st->Bind(i, v); }
  static void Bind(SqlStmt* st, int i, int v) { st->Bind(i, static_cast<int64_t>(v)); }

  template <typename... Args>
  Result<SqlStmt*> Query(const char* sql, const Args&... args) {
    auto st = Prepare(sql);
    if (!st) return st;
    int i = 0;
    (Bind(*st, ++i, args), ...);
    return st;
  }

  // The first row of a query, made by `read(statement)`; nullopt when there is none.
  template <typename Row, typename Read, typename... Args>
  Result<std::optional<Row>> First(const char* sql, Read read, const Args&... args) {
    auto st = Query(sql, args...);
    if (!st) return std::unexpected(st.error());
    auto row = (*st)->Step();
    std::optional<Row> out;
    if (row && *row) out = read(*st);
    (*st)->Reset();
    if (!row) return SqlError(std::string_view(sql).substr(0, 40), row.error());
    return out;
  }

  // Every row of a query, each made by `read(statement)`.
  template <typename Row, typename Read, typename... Args>
  Result<std::vector<Row>> Rows(const char* sql, Read read, const Args&... args) {
    auto st = Query(sql, args...);
    if (!st) return std::unexpected(st.error());
    std::vector<Row> out;
    Result<bool> row;
    while ((row = (*st)->Step()) && *row) out.push_back(read(*st));
    (*st)->Reset();
    if (!row) return SqlError(std::string_view(sql).substr(0, 40), row.error());
    return out;
  }

  // Runs a statement that returns no rows. Inside a PostgreSQL transaction it is pipelined
  // (SqlStmt::Send): its failure may be reported by a later statement or by the commit.
  template <typename... Args>
  Status Run(const char* sql, const Args&... args) {
    auto st = Query(sql, args...);
    if (!st) return std::unexpected(st.error());
    auto done = (*st)->Send();
    (*st)->Reset();
    if (!done) return SqlError(std::string_view(sql).substr(0, 40), done.error());
    return {};
  }

  // The rows the last statement changed (sql.h: waits for what was sent before it).
  Result<int64_t> Changes() {
    auto n = db->Changes();
    if (!n) return SqlError("changes", n.error());
    return n;
  }

  Result<int> SchemaVersion() {
    auto v = db->SchemaVersion();
    if (!v) return SqlError("schema version", v.error());
    return v;
  }

  // Brings the schema from `version` to kSchemaVersion, in one transaction.
  Status Migrate(int version);

  Status Project(const Event& e);
  Status ProjectDecisions(const Event& e);     // policy.decision: rows and an audit record
  Status ProjectTaskVerdict(const Event& e);   // task.finished/skipped: row, artifacts, cache
  Status ProjectRetried(const Event& e);       // run.retried: the run and its tasks reopened

  // Runs `f` (returning a Status or a Result) in one transaction holding the store's write
  // lock (SqlConn::Begin): committed when it succeeds, rolled back when it or the commit fails.
  template <typename F>
  auto InTransaction(F f) -> decltype(f()) {
    SLUICE_TRY_STATUS(PublishFirst());
    if (auto s = db->Begin(); !s) return SqlError("begin", s.error());
    auto out = f();
    if (!out) {
      db->Rollback();
      return out;
    }
    if (auto c = db->Commit(); !c) {
      db->Rollback();
      return SqlError("commit", c.error());
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
  // SQLite numbers the row max(seq)+1 itself. PostgreSQL's identity values are taken outside
  // the transaction, so an engine killed inside one (or any rollback) would leave a gap in the
  // sequence; under the write lock every transaction holds, max(seq)+1 is gap-free there too
  // and in commit order, so both engines number events alike.
  Status Insert(const Event& e) {
    const char* sql =
        db->engine() == SqlEngine::kPostgres
            ? "INSERT INTO events(seq,run_id,time_us,kind,task,attempt,status,error_class,"
              "exit_code,message,pid,due_us,data) VALUES((SELECT COALESCE(MAX(seq),0)+1 FROM "
              "events),?,?,?,?,?,?,?,?,?,?,?,?)"
            : "INSERT INTO events(run_id,time_us,kind,task,attempt,status,error_class,"
              "exit_code,message,pid,due_us,data) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)";
    auto s = Run(sql, e.run_id, e.time_us, EventKindName(e.kind), e.task, e.attempt, e.status,
                 e.error_class, e.exit_code, e.message, e.pid, e.due_us, e.data);
    if (!s) return s;
    return Project(e);
  }

  // Tells the listeners of `channel` (pg_listen.cc) when the transaction commits: PostgreSQL
  // only (nothing on SQLite). REQUIRES: inside a transaction.
  Status Notify(const std::string& channel) {
    if (db->engine() != SqlEngine::kPostgres) return {};
    return Run("SELECT pg_notify(?, '')", channel);
  }

  // The columns ReadRun reads, in its order.
  static constexpr const char* kRunColumns =
      "id,pipeline,status,created_us,started_us,finished_us,params,spec_path,spec_digest,pid,"
      "stats,namespace";
  static RunRecord ReadRun(SqlStmt* st) {
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
  r.ns = Text(st, 11);
  return r;
}
};

}  // namespace sluice
