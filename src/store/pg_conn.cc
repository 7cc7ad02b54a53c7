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
#include <dlfcn.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "common/strings.h"
#include "store/sql.h"

namespace sluice {

namespace {

// The functions of libpq the store uses, resolved once per process.
struct LibPq {
#define SLUICE_PQ_FUNCTIONS(X)                                                                   \
  X(PQconnectdb) X(PQstatus) X(PQerrorMessage) X(PQfinish) X(PQreset) X(PQexec) X(PQprepare)  \
  X(PQexecPrepared) X(PQresultStatus) X(PQresultErrorField) X(PQclear) X(PQntuples)           \
  X(PQgetvalue) X(PQgetlength) X(PQgetisnull) X(PQcmdTuples)
#define SLUICE_PQ_MEMBER(name) decltype(&::name) name = nullptr;
  SLUICE_PQ_FUNCTIONS(SLUICE_PQ_MEMBER)
#undef SLUICE_PQ_MEMBER
};

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
  // The server forgot its prepared statements (a new connection).
  void Forget() { prepared_ = false; }

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
  // statements outside a transaction connect again).
  Status Exec(const std::string& script) override {
    PGresult* res = pq_->PQexec(conn_, script.c_str());
    ExecStatusType status = res ? pq_->PQresultStatus(res) : PGRES_FATAL_ERROR;
    Status out;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) out = ResultError(res);
    if (res) pq_->PQclear(res);
    return out;
  }

  Status Begin() override {
    SLUICE_TRY_STATUS(Connect());
    auto s = Exec(fmt::format("BEGIN; SELECT pg_advisory_xact_lock({})", kWriteLock));
    if (!s) {
      if (pq_->PQstatus(conn_) == CONNECTION_OK) (void)Exec("ROLLBACK");
      return s;
    }
    in_tx_ = true;
    return {};
  }
  Status Commit() override {
    auto s = Exec("COMMIT");
    if (!s && pq_->PQstatus(conn_) == CONNECTION_BAD) {
      in_tx_ = false;
      return Fail(ErrorCode::kStore, "{} (the commit may or may not have happened)",
                  s.error().message);
    }
    if (s) in_tx_ = false;
    return s;
  }
  void Rollback() override {
    if (pq_->PQstatus(conn_) == CONNECTION_OK) (void)Exec("ROLLBACK");
    in_tx_ = false;
  }
  int64_t Changes() const override { return changes_; }

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

  const LibPq* pq_;
  std::string url_;
  PGconn* conn_ = nullptr;
  bool in_tx_ = false;
  int64_t changes_ = 0;
  std::unordered_map<const char*, std::unique_ptr<PgStmt>> stmts_;
};

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

Result<bool> PgStmt::Step() {
  if (!res_) {
    if (!conn_->in_transaction()) SLUICE_TRY_STATUS(conn_->Connect());
    PGconn* c = conn_->conn();
    if (!prepared_ || prepared_types_ != types_) {
      // A new name when the types changed: the server keeps the old statement under its own.
      if (prepared_) name_ += "_";
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
    if (status == PGRES_TUPLES_OK) {
      rows_ = pq_->PQntuples(res_);
    } else if (status == PGRES_COMMAND_OK) {
      rows_ = 0;
      conn_->set_changes(std::strtoll(pq_->PQcmdTuples(res_), nullptr, 10));
    } else {
      auto e = conn_->ResultError(res_);
      Reset();
      return e;
    }
  }
  return ++row_ < rows_;
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
