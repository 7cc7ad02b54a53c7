// The PostgreSQL driver of the store's SQL seam (sql.h), over libpq loaded at run time.
//
// Design. libpq is opened with dlopen("libpq.so.5") the first time a postgresql:// store is
// used, never at start-up: `sluice run` on SQLite loads nothing more than before (libpq pulls in
// OpenSSL, Kerberos and LDAP, ~10 shared libraries). libpq-fe.h gives the types only.
// Statements are prepared on the server under a name ("s1", "s2", ...) at their first run, with
// the parameter types of that run's bindings (int8 or text; a call site always binds the same
// C++ types), and all parameters travel in binary form: text with its length, so a NUL byte is
// refused by the server (invalid UTF-8 too) rather than cutting the text short. Results come as
// text and integers are parsed. The write lock is a transaction-scoped advisory lock
// (kWriteLock) with lock_timeout = 10 s, as SQLite's BEGIN IMMEDIATE with busy_timeout.
// A connection that is lost fails the statement that met it, with the reason; the next
// transaction (or statement outside one) connects again, preparing statements anew. A COMMIT
// that met a lost connection may or may not have happened (the error says so).
//
// Pipelines (sql.h, "Round trips"). A transaction runs in libpq's pipeline mode from Begin to
// Commit: BEGIN, the lock, each Send() and each statement's first PREPARE go out at once and
// are queued here (`queue_`); a statement whose rows are read, Changes() and COMMIT end the
// queue with a Sync and read every reply in order. The first error met is kept (`tx_error_`)
// and fails every later statement of the transaction and its Commit, whatever the server says
// of a COMMIT in an aborted transaction (it answers ROLLBACK, not an error). A Sync inside
// BEGIN ... COMMIT does not end the transaction, so a long queue is synced every kMaxQueued
// statements: the replies then never fill the socket's buffers while libpq, blocking, sends.
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "common/strings.h"
#include "store/pg_lib.h"
#include "store/sql.h"

namespace sluice {

// libpq, loaded on first call; an error saying what is missing when it cannot be. The library
// stays loaded for the life of the process (a function-local static: libpq is one per process
// whatever the number of stores).
Result<const LibPq*> LoadLibPq() {
  static const Result<LibPq> loaded = []() -> Result<LibPq> {
    void* lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      return Fail(ErrorCode::kStore, "store: a postgresql:// store needs libpq (libpq.so.5), "
                  "which is not installed: {} (Debian: apt-get install libpq5)", dlerror());
    }
    LibPq pq;
#define SLUICE_PQ_RESOLVE(name)                                                              \
  pq.name = reinterpret_cast<decltype(pq.name)>(dlsym(lib, #name));                         \
  if (!pq.name) return Fail(ErrorCode::kStore, "store: libpq.so.5 lacks {}", #name);
    SLUICE_PQ_FUNCTIONS(SLUICE_PQ_RESOLVE)
#undef SLUICE_PQ_RESOLVE
    return pq;
  }();
  if (!loaded) return std::unexpected(loaded.error());
  return &*loaded;
}

namespace {

// The advisory lock every writing transaction holds: "sluice" in ASCII.
constexpr int64_t kWriteLock = 0x736c75696365;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

// `sql` with its `?` placeholders numbered $1, $2, ... (none inside quotes); `*count` is set to
// their number.
std::string NumberPlaceholders(const char* sql, int* count) {
  std::string out;
  char quote = 0;
  *count = 0;
  for (const char* p = sql; *p; ++p) {
    if (quote) {
      if (*p == quote) quote = 0;
    } else if (*p == '\'' || *p == '"') {
      quote = *p;
    } else if (*p == '?') {
      out += "$" + std::to_string(++*count);
      continue;
    }
    out += *p;
  }
  return out;
}

// `url` with its password, if any, left out (for error messages).
std::string Redacted(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "(a PostgreSQL URL)";
  // The query may hold password=...: it goes whole. The user information ends at the last '@'
  // before the path (a password may hold '@' itself); only the user name stays.
  std::string out = url.substr(0, url.find('?'));
  const size_t host = scheme + 3;
  const size_t path = out.find('/', host);
  const size_t at = out.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at != std::string::npos && at >= host) {
    const size_t colon = out.find(':', host);
    if (colon != std::string::npos && colon < at) out = out.substr(0, colon) + ":***" + out.substr(at);
  }
  return out;
}

class PgConn;

// One statement; owned by its PgConn, which prepares it on the server at its first run.
class PgStmt final : public SqlStmt {
 public:
  PgStmt(PgConn* conn, const char* sql, int id);
  ~PgStmt() override { Reset(); }
  // PostgreSQL's text holds only UTF-8 without NUL; SQLite's holds any bytes. So that no byte
  // a task wrote can fail a commit (and stop its run) here alone, such text is stored with
  // U+FFFD in place of each byte PostgreSQL would refuse. (The engine keeps outputs UTF-8 and
  // JSON is written as UTF-8, so this is a last resort.)
  void Bind(int i, std::string_view text) override {
    if (i < 1 || i > params_) return;
    if (!IsTextUtf8(text)) {
      repaired_[i - 1] = ReplaceNonText(text);
      text = repaired_[i - 1];
    }
    values_[i - 1] = text.data();
    lengths_[i - 1] = static_cast<int>(text.size());
    types_[i - 1] = kTextOid;
  }
  void Bind(int i, int64_t value) override {
    if (i < 1 || i > params_) return;
    auto u = static_cast<uint64_t>(value);
    char* be = ints_[i - 1].data();
    for (int k = 0; k < 8; ++k) be[k] = static_cast<char>((u >> (8 * (7 - k))) & 0xFF);
    values_[i - 1] = be;
    lengths_[i - 1] = 8;
    types_[i - 1] = kInt8Oid;
  }
  Result<bool> Step() override;
  std::string Text(int col) const override {
    return std::string(pq_->PQgetvalue(res_, row_, col),
                       static_cast<size_t>(pq_->PQgetlength(res_, row_, col)));
  }
  int64_t Int(int col) const override {
    return std::strtoll(pq_->PQgetvalue(res_, row_, col), nullptr, 10);
  }
  bool IsNull(int col) const override { return pq_->PQgetisnull(res_, row_, col) != 0; }
  void Reset() override {
    if (res_) pq_->PQclear(res_);
    res_ = nullptr;
    row_ = -1;
  }
  void Recycle() {
    Reset();
    std::fill(values_.begin(), values_.end(), nullptr);
  }
  // The server forgot its prepared statements (a new connection), or the PREPARE sent in a
  // pipeline did not run.
  void Forget() { prepared_ = false; }
  // The first words of its text, naming it in errors.
  std::string_view label() const { return std::string_view(sql_).substr(0, 40); }
  // Sends it (and its PREPARE when the server lacks it) into the connection's pipeline.
  // REQUIRES: the connection is in a transaction. On a failure to send, the error.
  Status Enqueue();
  Status Send() override;
  // Prepares (when needed) and runs it outside a transaction, waiting for its result.
  Status RunAlone();

 private:
  PgConn* conn_;
  const LibPq* pq_;
  std::string name_, sql_;
  int params_ = 0;
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
  std::vector<Oid> types_, prepared_types_;  // the types it was prepared with, when prepared_
  bool prepared_ = false;
  std::vector<std::array<char, 8>> ints_;
  std::vector<std::string> repaired_;  // text Bind had to repair, while it is bound
  PGresult* res_ = nullptr;
  int row_ = -1;
  int rows_ = 0;
  friend class PgConn;
};

// A connection to one PostgreSQL database, with its statements.
class PgConn final : public SqlConn {
 public:
  PgConn(const LibPq* pq, std::string url) : pq_(pq), url_(std::move(url)) {}
  ~PgConn() override {
    stmts_.clear();
    if (conn_) pq_->PQfinish(conn_);
  }
  const LibPq* pq() const { return pq_; }
  PGconn* conn() const { return conn_; }
  bool in_transaction() const { return in_tx_; }
  void set_changes(int64_t n) { changes_ = n; }

  // Connects (or connects again after a lost connection) and sets the session up.
  Status Connect() {
    if (conn_ && pq_->PQstatus(conn_) == CONNECTION_OK) return {};
    if (!conn_) {
      conn_ = pq_->PQconnectdb(url_.c_str());
    } else {
      pq_->PQreset(conn_);
      for (auto& [sql, st] : stmts_) st->Forget();
      pipeline_ = false;
      queue_.clear();
    }
    if (!conn_ || pq_->PQstatus(conn_) != CONNECTION_OK) {
      return Fail(ErrorCode::kStore, "store: cannot connect to PostgreSQL at {}: {}",
                  Redacted(url_), conn_ ? Trim(pq_->PQerrorMessage(conn_)) : "out of memory");
    }
    // lock_timeout bounds the wait for the write lock as SQLite's busy_timeout does; notices
    // and warnings (a table that exists already) are not for the user's terminal.
    return Exec("SET lock_timeout = '10s'; SET client_min_messages = error");
  }

  // The error of a failed command: the server's message, or the lost connection.
  std::unexpected<Error> ResultError(PGresult* res) {
    if (pq_->PQstatus(conn_) == CONNECTION_BAD) {
      return Fail(ErrorCode::kStore, "lost the connection to PostgreSQL at {}{}: {}",
                  Redacted(url_), in_tx_ ? " (the transaction is rolled back)" : "",
                  Trim(pq_->PQerrorMessage(conn_)));
    }
    const char* state = res ? pq_->PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const char* msg = res ? pq_->PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string text = msg ? msg : Trim(pq_->PQerrorMessage(conn_));
    if (state && std::strcmp(state, "55P03") == 0) {
      text = "busy: another process held the store's write lock for 10 s (" + text + ")";
    }
    return Fail(ErrorCode::kStore, "{}", text);
  }

  SqlEngine engine() const override { return SqlEngine::kPostgres; }

  Result<SqlStmt*> Prepare(const char* sql) override {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) {
      it->second->Recycle();
      return it->second.get();
    }
    auto& slot = stmts_[sql];
    slot = std::make_unique<PgStmt>(this, sql, static_cast<int>(stmts_.size()));
    return slot.get();
  }

  // Runs on the connection as it is: a lost connection is met, not mended, here (Begin and
  // statements outside a transaction connect again). Inside a transaction, after what the
  // pipeline holds (a script cannot be pipelined).
  Status Exec(const std::string& script) override {
    SLUICE_TRY_STATUS(Leave());
    PGresult* res = pq_->PQexec(conn_, script.c_str());
    ExecStatusType status = res ? pq_->PQresultStatus(res) : PGRES_FATAL_ERROR;
    Status out;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) out = ResultError(res);
    if (res) pq_->PQclear(res);
    return out;
  }

  // BEGIN and the write lock are the pipeline's first statements: a transaction whose
  // statements only Send() costs one round trip, at its Commit.
  Status Begin() override {
    SLUICE_TRY_STATUS(Connect());
    in_tx_ = true;
    tx_error_.reset();
    static const std::string lock = fmt::format("SELECT pg_advisory_xact_lock({})", kWriteLock);
    Status s = SendQuery("BEGIN", "begin");
    if (s) s = SendQuery(lock.c_str(), "begin");
    if (!s) Rollback();
    return s;
  }
  Status Commit() override {
    Status s = SendQuery("COMMIT", "commit");
    if (s) s = Leave();
    if (!s && pq_->PQstatus(conn_) == CONNECTION_BAD) {
      in_tx_ = false;
      return Fail(ErrorCode::kStore, "{} (the commit may or may not have happened)",
                  s.error().message);
    }
    if (s) in_tx_ = false;
    return s;
  }
  void Rollback() override {
    (void)Leave();
    in_tx_ = false;
    tx_error_.reset();
    if (pq_->PQstatus(conn_) == CONNECTION_OK) (void)Exec("ROLLBACK");
  }
  Result<int64_t> Changes() override {
    SLUICE_TRY_STATUS(Sync(nullptr));
    return changes_;
  }

  // The pipeline (the design block above). Pipeline() enters it in a transaction, or returns
  // the transaction's first error. Expect records a reply to read: of `prepared`'s PREPARE, or
  // (null) of a statement named `label`. Sync sends a Sync and reads every reply queued; the
  // last one's result is kept in *keep when asked (TUPLES_OK or COMMAND_OK, the caller clears
  // it); on a failure the first error, also kept for the rest of the transaction. Leave syncs
  // and leaves pipeline mode. SyncIfLong syncs a queue of kMaxQueued replies or more.
  Status Pipeline();
  void Expect(PgStmt* prepared, std::string_view label) { queue_.push_back({prepared, label}); }
  Status Sync(PGresult** keep);
  Status Leave();
  Status SyncIfLong() { return queue_.size() >= kMaxQueued ? Sync(nullptr) : Status{}; }
  // Records a failure to send (a lost connection) as the transaction's error, and returns it.
  std::unexpected<Error> SendFailed() {
    auto e = ResultError(nullptr);
    if (in_tx_ && !tx_error_) tx_error_ = e.error();
    return e;
  }


  Result<int> SchemaVersion() override {
    // The table is looked for first: a query of a missing table would abort the transaction.
    auto exists = Scalar("SELECT CASE WHEN to_regclass('sluice_schema') IS NULL THEN 0 ELSE 1 END");
    if (!exists || *exists == 0) return exists;
    return Scalar("SELECT max(version) FROM sluice_schema");
  }
  Status SetSchemaVersion(int version) override {
    return Exec(fmt::format("CREATE TABLE IF NOT EXISTS sluice_schema (version BIGINT NOT NULL); "
                            "DELETE FROM sluice_schema; INSERT INTO sluice_schema VALUES ({})",
                            version));
  }

 private:
  static std::string Trim(const char* s) {
    std::string out = s ? s : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }
  Result<int> Scalar(const char* sql) {
    auto st = Prepare(sql);
    if (!st) return std::unexpected(st.error());
    auto row = (*st)->Step();
    int out = row && *row ? static_cast<int>((*st)->Int(0)) : 0;
    (*st)->Reset();
    if (!row) return std::unexpected(row.error());
    return out;
  }

  // Sends `sql` (one statement, no parameters) into the transaction's pipeline.
  Status SendQuery(const char* sql, std::string_view label) {
    SLUICE_TRY_STATUS(Pipeline());
    if (pq_->PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
      return SendFailed();
    }
    Expect(nullptr, label);
    return {};
  }

  // A reply awaited from the pipeline: of a PREPARE (`prepared`: forgotten when it fails) or
  // of a statement.
  struct Awaited {
    PgStmt* prepared;
    std::string_view label;
  };
  static constexpr size_t kMaxQueued = 1024;

  const LibPq* pq_;
  std::string url_;
  PGconn* conn_ = nullptr;
  bool in_tx_ = false;
  bool pipeline_ = false;
  std::vector<Awaited> queue_;
  std::optional<Error> tx_error_;  // the transaction's first failure
  int64_t changes_ = 0;
  std::unordered_map<const char*, std::unique_ptr<PgStmt>> stmts_;
};

Status PgConn::Pipeline() {
  if (tx_error_) return std::unexpected(*tx_error_);
  if (pipeline_) return {};
  if (pq_->PQenterPipelineMode(conn_) != 1) return SendFailed();
  pipeline_ = true;
  return {};
}

Status PgConn::Sync(PGresult** keep) {
  if (queue_.empty()) {
    return in_tx_ && tx_error_ ? Status(std::unexpected(*tx_error_)) : Status{};
  }
  std::vector<Awaited> queue;
  queue.swap(queue_);
  std::optional<Error> first;
  // Without the Sync sent nothing would come back: the replies are not read then.
  const bool synced = pq_->PQpipelineSync(conn_) == 1;
  if (!synced) first = ResultError(nullptr).error();
  // The replies in the order sent: each ends with a null result. After a failure the server
  // skips the rest (PGRES_PIPELINE_ABORTED) up to the Sync.
  for (size_t i = 0; synced && i < queue.size(); ++i) {
    if (pq_->PQstatus(conn_) == CONNECTION_BAD) break;
    const Awaited& a = queue[i];
    while (PGresult* r = pq_->PQgetResult(conn_)) {
      ExecStatusType st = pq_->PQresultStatus(r);
      const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
      if (!ok && a.prepared) a.prepared->Forget();
      if (!ok && !first) first = ResultError(r).error().Wrap(a.label);
      if (ok && !a.prepared && st == PGRES_COMMAND_OK) {
        changes_ = std::strtoll(pq_->PQcmdTuples(r), nullptr, 10);
      }
      if (ok && keep && !a.prepared && i + 1 == queue.size() && !*keep) {
        *keep = r;
        continue;
      }
      pq_->PQclear(r);
    }
  }
  // The Sync's own reply ends the pipeline's replies.
  while (synced && pq_->PQstatus(conn_) != CONNECTION_BAD) {
    PGresult* r = pq_->PQgetResult(conn_);
    if (!r) break;
    const bool sync = pq_->PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    pq_->PQclear(r);
    if (sync) break;
  }
  if (first && pq_->PQstatus(conn_) == CONNECTION_BAD) first = ResultError(nullptr).error();
  if (!first) return {};
  if (in_tx_ && !tx_error_) tx_error_ = first;
  return std::unexpected(*first);
}

Status PgConn::Leave() {
  Status s = Sync(nullptr);
  if (pipeline_ && pq_->PQstatus(conn_) == CONNECTION_OK) (void)pq_->PQexitPipelineMode(conn_);
  pipeline_ = false;
  return s;
}

PgStmt::PgStmt(PgConn* conn, const char* sql, int id)
    : conn_(conn), pq_(conn->pq()), name_("s" + std::to_string(id)) {
  sql_ = NumberPlaceholders(sql, &params_);  // here: params_ is initialized after sql_
  values_.assign(params_, nullptr);
  lengths_.assign(params_, 0);
  formats_.assign(params_, 1);  // binary
  types_.assign(params_, kTextOid);
  ints_.resize(params_);
  repaired_.resize(params_);
}

Status PgStmt::Enqueue() {
  SLUICE_TRY_STATUS(conn_->Pipeline());
  PGconn* c = conn_->conn();
  if (!prepared_ || prepared_types_ != types_) {
    if (prepared_) name_ += "_";  // the types changed: a statement of its own
    if (pq_->PQsendPrepare(c, name_.c_str(), sql_.c_str(), params_, types_.data()) != 1) {
      return conn_->SendFailed();
    }
    prepared_types_ = types_;
    prepared_ = true;
    conn_->Expect(this, label());
  }
  if (pq_->PQsendQueryPrepared(c, name_.c_str(), params_, values_.data(), lengths_.data(),
                               formats_.data(), 0) != 1) {
    return conn_->SendFailed();
  }
  conn_->Expect(nullptr, label());
  return {};
}

Status PgStmt::Send() {
  if (conn_->in_transaction()) {
    SLUICE_TRY_STATUS(Enqueue());
    return conn_->SyncIfLong();
  }
  auto done = Step();
  if (!done) return std::unexpected(done.error());
  return {};
}

Result<bool> PgStmt::Step() {
  if (res_) return ++row_ < rows_;
  if (conn_->in_transaction()) {
    // Sent after what the pipeline holds, and read with it in one round trip.
    SLUICE_TRY_STATUS(Enqueue());
    SLUICE_TRY_STATUS(conn_->Sync(&res_));
  } else {
    SLUICE_TRY_STATUS(conn_->Connect());
    SLUICE_TRY_STATUS(RunAlone());
  }
  const ExecStatusType status = res_ ? pq_->PQresultStatus(res_) : PGRES_COMMAND_OK;
  rows_ = status == PGRES_TUPLES_OK ? pq_->PQntuples(res_) : 0;
  return ++row_ < rows_;
}

Status PgStmt::RunAlone() {
  PGconn* c = conn_->conn();
  if (!prepared_ || prepared_types_ != types_) {
    if (prepared_) name_ += "_";  // the types changed: a statement of its own
    PGresult* p = pq_->PQprepare(c, name_.c_str(), sql_.c_str(), params_, types_.data());
    bool ok = p && pq_->PQresultStatus(p) == PGRES_COMMAND_OK;
    if (!ok) {
      auto e = conn_->ResultError(p);
      if (p) pq_->PQclear(p);
      return e;
    }
    pq_->PQclear(p);
    prepared_types_ = types_;
    prepared_ = true;
  }
  res_ = pq_->PQexecPrepared(c, name_.c_str(), params_, values_.data(), lengths_.data(),
                             formats_.data(), 0);
  ExecStatusType status = res_ ? pq_->PQresultStatus(res_) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK) {
    conn_->set_changes(std::strtoll(pq_->PQcmdTuples(res_), nullptr, 10));
  } else if (status != PGRES_TUPLES_OK) {
    auto e = conn_->ResultError(res_);
    Reset();
    return e;
  }
  return {};
}

}  // namespace

bool IsPostgresUrl(std::string_view store) {
  return store.starts_with("postgresql://") || store.starts_with("postgres://");
}

Result<std::unique_ptr<SqlConn>> ConnectPostgres(const std::string& url) {
  auto pq = LoadLibPq();
  if (!pq) return std::unexpected(pq.error());
  auto conn = std::make_unique<PgConn>(*pq, url);
  SLUICE_TRY_STATUS(conn->Connect());
  return std::unique_ptr<SqlConn>(std::move(conn));
}

Result<std::unique_ptr<SqlConn>> OpenPostgres(const std::string& url, int newest,
                                              const SqlMigrate& migrate) {
  SLUICE_TRY(conn, ConnectPostgres(url));
  auto version = (*conn)->SchemaVersion();
  if (!version) return std::unexpected(version.error().Wrap("store: " + Redacted(url)));
  if (*version > newest) {
    return Fail(ErrorCode::kStore, "store: {} has schema version {}, newer than this sluice ({}); "
                "use a newer sluice", Redacted(url), *version, newest);
  }
  if (auto s = migrate(**conn, *version); !s) return std::unexpected(s.error());
  return std::move(*conn);
}

}  // namespace sluice
