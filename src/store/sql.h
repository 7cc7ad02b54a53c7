// The seam under Store: one SQL connection, to SQLite (sqlite_conn.cc) or to PostgreSQL
// (pg_conn.cc). Internal to src/store.
//
// Design. Store::Impl writes its SQL once, in the subset both engines accept: `?` placeholders
// (the PostgreSQL driver numbers them $1, $2, ... when it prepares a statement), `INSERT ... ON
// CONFLICT(...) DO UPDATE|NOTHING` with the updated table's columns qualified by its name
// (PostgreSQL calls a bare name ambiguous), CASE instead of two-argument MAX, a quoted "user"
// column, `rowid` for insertion order (a real column in the PostgreSQL schema). What cannot be
// shared sits behind this interface: opening (SQLite's pragmas, PostgreSQL's connection string),
// the schema version (PRAGMA user_version, a sluice_schema table), the writer's lock (BEGIN
// IMMEDIATE, a transaction-scoped advisory lock: both engines then serialize writers exactly
// alike, which the audit chain and run-id checks rely on), and the error texts.
// Rejected: an ORM or a query builder (two engines, ~60 statements); a second copy of Store for
// PostgreSQL (every projection rule would live twice); virtual calls on a row cursor type apart
// from the statement (one more object per query on SQLite's hot path).
//
// Round trips. Over a network every statement's reply is a round trip; a publish of 4,000
// events wrote ~10,000 rows, one statement each. So a PostgreSQL transaction pipelines
// (libpq's pipeline mode): BEGIN, the write lock and every Send() go out without waiting, and
// only a statement whose rows the caller reads, Changes() or COMMIT waits, for everything sent
// before it at once. Commit semantics stay those of one transaction: the first failure in the
// pipeline fails every later statement and the commit, and is the error reported.
// Rejected: multi-row INSERTs built per batch (a statement text per batch size, and each
// projection rule written twice), COPY (no ON CONFLICT, and a second path for every table).
//
// A connection and its statements are used by one thread, like the Store that owns them.
#pragma once

#include "store/faulty_vfs.h"
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "env/env.h"

namespace sluice {

enum class SqlEngine { kSqlite, kPostgres };

// A prepared statement, owned and cached by its SqlConn. Bind, Step until false, Reset; the
// columns of the current row are valid between a Step that returned true and the next call.
class SqlStmt {
 public:
  virtual ~SqlStmt() = default;
  // Binds parameter `i` (1-based). Text is not copied: REQUIRES it to outlive the statement's
  // steps (callers bind their own arguments and step at once).
  virtual void Bind(int i, std::string_view text) = 0;
  virtual void Bind(int i, int64_t value) = 0;
  // Runs the statement on the first call after binding, then moves to the next row. Returns
  // true when a row is there, false when there are none (or the statement returns none). On
  // failure returns an error whose message the engine wrote (and what an operator can do).
  virtual Result<bool> Step() = 0;
  // Runs a statement that returns no rows, and may return before its outcome is known: inside a
  // PostgreSQL transaction it is sent in a pipeline with the statements around it, and the next
  // statement that waits for rows, Changes() or Commit reports its failure (after which every
  // later statement of the transaction and its Commit fail too: the transaction is lost whole).
  // Elsewhere it is Step. On an error known at once, that error.
  virtual Status Send() = 0;
  virtual std::string Text(int col) const = 0;
  virtual int64_t Int(int col) const = 0;  // 0 for NULL
  virtual bool IsNull(int col) const = 0;
  // Ends the current execution and clears the bindings, ready to bind and step again.
  virtual void Reset() = 0;
};

// One connection to a store's database.
class SqlConn {
 public:
  virtual ~SqlConn() = default;
  virtual SqlEngine engine() const = 0;
  // The statement for `sql`, prepared on first use and cached by the literal's address (every
  // statement text is a string literal: hashing the text on each of a run's 100,000s of inserts
  // showed in profiles). REQUIRES: `sql` outlives the connection.
  virtual Result<SqlStmt*> Prepare(const char* sql) = 0;
  // Runs a script of statements without parameters (the schema). On failure an error.
  virtual Status Exec(const std::string& script) = 0;
  // Begin starts a transaction holding the store's write lock (waiting up to 10 s for it, then
  // failing with "busy"); Commit commits it (on failure the caller rolls back); Rollback ends it
  // and never fails (an error there leaves nothing to undo).
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  // The rows the last INSERT, UPDATE or DELETE changed (waiting for the statements sent before
  // it); on failure of one of those, its error.
  virtual Result<int64_t> Changes() = 0;
  // The store's schema version (0 for an empty database), and setting it (REQUIRES: inside
  // Begin/Commit).
  virtual Result<int> SchemaVersion() = 0;
  virtual Status SetSchemaVersion(int version) = 0;
};

// A doorbell rung by each commit that NOTIFYs `channel` in the PostgreSQL database at `url`,
// over a connection of its own (pg_listen.cc). On failure an error. EndsChannel is the channel
// of run `run_id`'s ends; kWorkChannel that of work queued.
Result<std::unique_ptr<Doorbell>> ListenPostgres(const std::string& url, const std::string& channel);
std::string EndsChannel(const std::string& run_id);
inline constexpr const char* kWorkChannel = "sluice_work";

// Called once a connection is open with the schema version found, to create or upgrade the
// schema: Store::Impl::Migrate.
using SqlMigrate = std::function<Status(SqlConn& conn, int version)>;

// Whether `store` names a PostgreSQL database (postgresql://... or postgres://...) rather than
// a SQLite file.
bool IsPostgresUrl(std::string_view store);

// Opens (creating when missing) the SQLite database at `path`, refuses a schema newer than
// `newest`, sets WAL mode and runs `migrate`. `faults` are injected (faulty_vfs.h).
// On failure returns an error and leaves the file as it was found.
Result<std::unique_ptr<SqlConn>> OpenSqlite(const std::string& path, const StoreFaults& faults, int newest,
                                            const SqlMigrate& migrate);

// Connects to the PostgreSQL database at `url` (a libpq connection URI), loading libpq on first
// use, and does nothing more: no schema is read or made (tests use it to make databases). On
// failure returns an error that says what is missing or unreachable.
Result<std::unique_ptr<SqlConn>> ConnectPostgres(const std::string& url);

// Connects to the PostgreSQL database at `url` (a libpq connection URI), loading libpq on first
// use; refuses a schema newer than `newest` and runs `migrate`. On failure (libpq missing, the
// server unreachable, a newer schema) returns an error that says which, with the URL's password
// left out.
Result<std::unique_ptr<SqlConn>> OpenPostgres(const std::string& url, int newest,
                                              const SqlMigrate& migrate);

}  // namespace sluice
