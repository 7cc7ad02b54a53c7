// The SQLite implementation of Store. All sqlite3 calls live in this file.
#include <sqlite3.h>

#include <unordered_map>

#include "common/strings.h"
#include "common/value.h"
#include "store/store.h"

#include <openssl/evp.h>

#include "store/faulty_vfs.h"

namespace sluice {

namespace {

// The schema, one migration per version. A migration runs in one transaction together with the
// update of user_version, so a crash leaves the old or the new schema, never half of one.
const char* const kMigrations[] = {
    // 1: the initial layout.
    R"sql(
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
CREATE TABLE sources (
  run_id TEXT NOT NULL, path TEXT NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY (run_id, path));
CREATE TABLE tasks (
  run_id TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  outputs TEXT NOT NULL DEFAULT '', started_us INTEGER NOT NULL DEFAULT 0,
  finished_us INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, name));
CREATE TABLE attempts (
  run_id TEXT NOT NULL, task TEXT NOT NULL, attempt INTEGER NOT NULL,
  status TEXT NOT NULL, error_class TEXT NOT NULL DEFAULT '',
  exit_code INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0, started_us INTEGER NOT NULL DEFAULT 0,
  finished_us INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, task, attempt));
CREATE TABLE artifacts (
  run_id TEXT NOT NULL, task TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
  PRIMARY KEY (run_id, task, name));
CREATE TABLE cache (
  key TEXT PRIMARY KEY, run_id TEXT NOT NULL, task TEXT NOT NULL,
  outputs TEXT NOT NULL, created_us INTEGER NOT NULL);
)sql",
    // 2: events without AUTOINCREMENT. It updated sqlite_sequence on every insert; a plain
    // INTEGER PRIMARY KEY is still increasing here because events are never deleted.
    R"sql(
CREATE TABLE events_v2 (
  seq INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL, time_us INTEGER NOT NULL, kind TEXT NOT NULL,
  task TEXT NOT NULL DEFAULT '', attempt INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT '', error_class TEXT NOT NULL DEFAULT '',
  exit_code INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0, due_us INTEGER NOT NULL DEFAULT 0,
  data TEXT NOT NULL DEFAULT '');
INSERT INTO events_v2 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE INDEX events_by_run ON events(run_id, seq);
)sql",
    // 3: circuit breakers, shared by every run of the state directory.
    R"sql(
CREATE TABLE breakers (
  name TEXT PRIMARY KEY, data TEXT NOT NULL, updated_us INTEGER NOT NULL);
CREATE TABLE breaker_transitions (
  seq INTEGER PRIMARY KEY, name TEXT NOT NULL, from_state TEXT NOT NULL,
  to_state TEXT NOT NULL, reason TEXT NOT NULL, who TEXT NOT NULL, time_us INTEGER NOT NULL);
CREATE INDEX breaker_transitions_by_name ON breaker_transitions(name, seq);
)sql",
    // 4: the audit log, a SHA-256 hash chain.
    R"sql(
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '',
  details TEXT NOT NULL DEFAULT '{}', prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
)sql",
    // 5: policy decisions.
    R"sql(
CREATE TABLE decisions (
  seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, run_id TEXT NOT NULL, stage TEXT NOT NULL,
  task TEXT NOT NULL DEFAULT '', policy TEXT NOT NULL, rule TEXT NOT NULL,
  policy_hash TEXT NOT NULL, input_digest TEXT NOT NULL, result TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', waiver TEXT NOT NULL DEFAULT '');
CREATE INDEX decisions_by_run ON decisions(run_id, seq);
)sql",
    // 6: approvals.
    R"sql(
CREATE TABLE approval_requests (
  run_id TEXT NOT NULL, task TEXT NOT NULL, requested_us INTEGER NOT NULL,
  deadline_us INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL, PRIMARY KEY (run_id, task));
CREATE TABLE approval_votes (
  run_id TEXT NOT NULL, task TEXT NOT NULL, user TEXT NOT NULL, approve INTEGER NOT NULL,
  comment TEXT NOT NULL DEFAULT '', time_us INTEGER NOT NULL, PRIMARY KEY (run_id, task, user));
)sql",
};

constexpr std::string_view kGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

std::string Sha256HexOpenSsl(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string AuditHash(const std::string& prev, const AuditRecord& r) {
  return Sha256HexOpenSsl(prev + "\n" + AuditPayload(r));
}

std::string Text(sqlite3_stmt* st, int col) {
  const unsigned char* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(st, col)))
           : std::string();
}

int64_t Int(sqlite3_stmt* st, int col) { return sqlite3_column_int64(st, col); }

}  // namespace

struct Store::Impl {
  sqlite3* db = nullptr;
  // Keyed by the SQL literal's address: every statement text is a literal in this file, and
  // hashing the text (and building a std::string of it) on each of a run's 100,000s of inserts
  // showed in profiles.
  std::unordered_map<const char*, sqlite3_stmt*> stmts;
  std::vector<Event> pending;  // appended, not yet committed

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

  // A cached prepared statement, reset and with bindings cleared.
  Result<sqlite3_stmt*> Prepare(const char* sql) {
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

  // Brings the schema from `version` to kSchemaVersion, one transaction per step.
  Status Migrate(int version) {
    for (int v = version; v < kSchemaVersion; ++v) {
      if (auto s = Exec("BEGIN IMMEDIATE"); !s) return s;
      auto s = Exec(kMigrations[v]);
      if (s) s = Exec(fmt::format("PRAGMA user_version = {}", v + 1).c_str());
      if (!s) {
        (void)Exec("ROLLBACK");
        return s;
      }
      if (auto c = Exec("COMMIT"); !c) return c;
    }
    return {};
  }

  Status Project(const Event& e);

  // Runs `f` (returning a Status or a Result) in one BEGIN IMMEDIATE transaction: committed when
  // it succeeds, rolled back when it or the commit fails.
  template <typename F>
  auto InTransaction(F f) -> decltype(f()) {
    if (auto s = Exec("BEGIN IMMEDIATE"); !s) return std::unexpected(s.error());
    auto out = f();
    if (!out) {
      (void)Exec("ROLLBACK");
      return out;
    }
    if (auto c = Exec("COMMIT"); !c) {
      (void)Exec("ROLLBACK");
      return std::unexpected(c.error());
    }
    return out;
  }

  // An audit record of an engine event, by "sluice", in the event's transaction.
  Status AuditEvent(const Event& e, std::string action, const Value& details) {
    AuditRecord r;
    r.time_us = e.time_us;
    r.actor = "sluice";
    r.action = std::move(action);
    r.run_id = e.run_id;
    r.subject = e.task;
    r.details = CanonicalJson(details);
    auto a = InsertAudit(std::move(r));
    if (!a) return std::unexpected(a.error());
    return {};
  }

  Status InsertDecision(const DecisionRow& d) {
    return Run("INSERT INTO decisions(time_us,run_id,stage,task,policy,rule,policy_hash,"
               "input_digest,result,message,waiver) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
               d.time_us, d.run_id, d.stage, d.task, d.policy, d.rule, d.policy_hash,
               d.input_digest, d.result, d.message, d.waiver);
  }

  // Appends to the audit chain. REQUIRES: inside a transaction (so the previous hash read is
  // the latest).
  Result<AuditRecord> InsertAudit(AuditRecord r) {
    auto st = Query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    if (!st) return std::unexpected(st.error());
    r.seq = 1;
    r.prev_hash = std::string(kGenesis);
    if (sqlite3_step(*st) == SQLITE_ROW) {
      r.seq = Int(*st, 0) + 1;
      r.prev_hash = Text(*st, 1);
    }
    sqlite3_reset(*st);
    if (r.details.empty()) r.details = "{}";
    r.hash = AuditHash(r.prev_hash, r);
    auto s = Run("INSERT INTO audit(seq,time_us,actor,action,run_id,subject,details,prev_hash,hash) "
                 "VALUES(?,?,?,?,?,?,?,?,?)", r.seq, r.time_us, r.actor, r.action, r.run_id,
                 r.subject, r.details, r.prev_hash, r.hash);
    if (!s) return std::unexpected(s.error());
    return r;
  }

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

// Keeps the projections in step with one event. Runs inside the caller's transaction.
Status Store::Impl::Project(const Event& e) {
  switch (e.kind) {
    case EventKind::kRunCreated:
    case EventKind::kGroupRetry: return {};  // the members' own events follow
    case EventKind::kRunStarted:
      return Run("UPDATE runs SET status='running', pid=?, started_us=CASE WHEN started_us=0 "
                 "THEN ? ELSE started_us END WHERE id=?", e.pid, e.time_us, e.run_id);
    case EventKind::kRunFinished:
      return Run("UPDATE runs SET status=?, finished_us=?, stats=?, pid=0 WHERE id=?", e.status,
                 e.time_us, e.data, e.run_id);
    case EventKind::kApprovalRequested: {
      auto s = Run("INSERT OR REPLACE INTO approval_requests(run_id,task,requested_us,deadline_us,"
                   "request,state) VALUES(?,?,?,?,?,'pending')", e.run_id, e.task, e.time_us,
                   e.due_us, e.data);
      if (!s) return s;
      return Run("INSERT INTO tasks(run_id,name,state,message) VALUES(?,?,'awaiting-approval',?) "
                 "ON CONFLICT(run_id,name) DO UPDATE SET state='awaiting-approval', "
                 "message=excluded.message", e.run_id, e.task, e.message);
    }
    case EventKind::kApprovalDecided: {
      auto s = Run("UPDATE approval_requests SET state=? WHERE run_id=? AND task=?", e.status,
                   e.run_id, e.task);
      if (!s) return s;
      // The outcome is the engine's (a quorum, a rejection, a timeout): audited as sluice's.
      return AuditEvent(e, "approval." + e.status,
                        Value(ValueMap{{"message", Value(e.message)}}));
    }
    case EventKind::kPolicyDecision: {
      auto d = ParseJson(e.data);
      const Value* list = d && d->is_map() ? d->Find("decisions") : nullptr;
      const Value* stage = d && d->is_map() ? d->Find("stage") : nullptr;
      if (!list || !list->is_list()) return {};
      auto field = [](const Value& m, const char* k) {
        const Value* v = m.Find(k);
        return v && v->is_string() ? v->as_string() : std::string();
      };
      for (const auto& x : list->as_list()) {
        if (!x.is_map()) continue;
        DecisionRow r{e.time_us, e.run_id, stage && stage->is_string() ? stage->as_string() : "gate",
                      e.task, field(x, "policy"), field(x, "rule"), field(x, "policyHash"),
                      field(x, "inputDigest"), field(x, "result"), field(x, "message"),
                      field(x, "waiver")};
        if (auto s = InsertDecision(r); !s) return s;
      }
      // Gate decisions, waivers used included, are audit records too, in the same transaction.
      return AuditEvent(e, "policy.gate", Value(ValueMap{{"result", Value(e.status)},
                                                         {"decisions", *list}}));
    }
    case EventKind::kRunPhase:  // compensating, finalizing; a rollback reopens a finished run
      return Run("UPDATE runs SET status=?, finished_us=0 WHERE id=?", e.status, e.run_id);
    case EventKind::kHandlerStarted:
      return Run("INSERT INTO tasks(run_id,name,state,started_us) VALUES(?,?,'ready',?) "
                 "ON CONFLICT(run_id,name) DO NOTHING", e.run_id, e.task, e.time_us);
    case EventKind::kTaskExpanded:
      return Run("INSERT INTO tasks(run_id,name,state,started_us) VALUES(?,?,'running',?) "
                 "ON CONFLICT(run_id,name) DO UPDATE SET state='running'", e.run_id, e.task,
                 e.time_us);
    case EventKind::kAttemptStarted: {
      auto s = Run("INSERT INTO tasks(run_id,name,state,attempts,started_us) VALUES(?,?,'running',?,?) "
                   "ON CONFLICT(run_id,name) DO UPDATE SET state='running', attempts=excluded.attempts",
                   e.run_id, e.task, e.attempt, e.time_us);
      if (!s) return s;
      return Run("INSERT OR REPLACE INTO attempts(run_id,task,attempt,status,started_us) "
                 "VALUES(?,?,?,'running',?)", e.run_id, e.task, e.attempt, e.time_us);
    }
    case EventKind::kAttemptSpawned:
      return Run("UPDATE attempts SET pid=? WHERE run_id=? AND task=? AND attempt=?", e.pid,
                 e.run_id, e.task, e.attempt);
    case EventKind::kAttemptFinished:
      return Run("UPDATE attempts SET status=?, error_class=?, exit_code=?, message=?, "
                 "finished_us=? WHERE run_id=? AND task=? AND attempt=?", e.status,
                 e.error_class, e.exit_code, e.message, e.time_us, e.run_id, e.task, e.attempt);
    case EventKind::kRetryScheduled:
      return Run("UPDATE tasks SET state='waiting', message=? WHERE run_id=? AND name=?",
                 e.message, e.run_id, e.task);
    case EventKind::kTaskSkipped:
    case EventKind::kTaskFinished: {
      std::string state = e.kind == EventKind::kTaskSkipped ? "skipped" : e.status;
      auto s = Run("INSERT INTO tasks(run_id,name,state,attempts,message,outputs,finished_us) "
                   "VALUES(?,?,?,?,?,?,?) ON CONFLICT(run_id,name) DO UPDATE SET "
                   "state=excluded.state, message=excluded.message, outputs=excluded.outputs, "
                   "finished_us=excluded.finished_us, "
                   "attempts=MAX(attempts, excluded.attempts)",
                   e.run_id, e.task, state, e.attempt, e.message, e.data, e.time_us);
      if (!s || e.data.empty() ||
          (e.status != "succeeded" && e.status != "cached" && e.status != "recovered")) {
        return s;
      }
      auto out = ParseJson(e.data);
      if (!out || !out->is_map()) return s;
      if (const Value* arts = out->Find("artifacts"); arts && arts->is_map()) {
        for (const auto& [name, path] : arts->as_map()) {
          if (!name.is_string() || !path.is_string()) continue;
          if (auto r = Run("INSERT OR REPLACE INTO artifacts(run_id,task,name,path) VALUES(?,?,?,?)",
                           e.run_id, e.task, name.as_string(), path.as_string());
              !r) {
            return r;
          }
        }
      }
      if (const Value* key = out->Find("cache_key"); key && key->is_string() && e.status == "succeeded") {
        return Run("INSERT OR REPLACE INTO cache(key,run_id,task,outputs,created_us) VALUES(?,?,?,?,?)",
                   key->as_string(), e.run_id, e.task, e.data, e.time_us);
      }
      return s;
    }
  }
  return {};
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, int fail_fsync_at) {
  auto impl = std::make_unique<Impl>();
  const char* vfs = fail_fsync_at > 0 ? FaultyVfs(fail_fsync_at) : nullptr;
  if (sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) !=
      SQLITE_OK) {
    return Fail(ErrorCode::kStore, "store: cannot open {}: {}", path,
                impl->db ? sqlite3_errmsg(impl->db) : "out of memory");
  }
  sqlite3_busy_timeout(impl->db, 10000);
  // A newer schema is refused before anything (even the journal mode) is changed.
  auto version = impl->SchemaVersion();
  if (!version) return std::unexpected(version.error().Wrap(path));
  if (*version > kSchemaVersion) {
    return Fail(ErrorCode::kStore, "store: {} has schema version {}, newer than this sluice ({}); "
                "use a newer sluice", path, *version, kSchemaVersion);
  }
  // WAL: readers (status, logs) never block the running engine. synchronous=NORMAL: a commit
  // survives the process being killed; only a power loss can drop the last commits.
  // Under an injected fsync fault every commit syncs, so the Nth fsync is a commit's.
  for (const char* pragma : {"PRAGMA journal_mode=WAL",
                             fail_fsync_at > 0 ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                             "PRAGMA foreign_keys=OFF"}) {
    if (auto s = impl->Exec(pragma); !s) return std::unexpected(s.error().Wrap(path));
  }
  if (auto s = impl->Migrate(*version); !s) return std::unexpected(s.error());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::CreateRun(const RunRecord& run, const std::map<std::string, std::string>& sources,
                        const Event& created, const AuditRecord* audit,
                        const std::vector<DecisionRow>& decisions) {
  if (auto s = impl_->Exec("BEGIN IMMEDIATE"); !s) return s;
  auto s = impl_->Run("INSERT INTO runs(id,pipeline,status,created_us,params,spec_path,spec_digest) "
                      "VALUES(?,?,?,?,?,?,?)", run.id, run.pipeline, run.status, run.created_us,
                      run.params, run.spec_path, run.spec_digest);
  for (auto it = sources.begin(); s && it != sources.end(); ++it) {
    s = impl_->Run("INSERT INTO sources(run_id,path,content) VALUES(?,?,?)", run.id, it->first,
                   it->second);
  }
  if (s) s = impl_->Insert(created);
  if (s && audit) {
    auto a = impl_->InsertAudit(*audit);
    if (!a) s = std::unexpected(a.error());
  }
  for (auto it = decisions.begin(); s && it != decisions.end(); ++it) s = impl_->InsertDecision(*it);
  if (!s) {
    (void)impl_->Exec("ROLLBACK");
    return s;
  }
  return impl_->Exec("COMMIT");
}

// Buffers in memory: no transaction (and so no write lock) is open while the engine waits for
// its processes; Commit() writes the batch in one transaction.
void Store::Append(const Event& e) { impl_->pending.push_back(e); }

Status Store::Commit() {
  if (impl_->pending.empty()) return {};
  std::vector<Event> batch;
  batch.swap(impl_->pending);
  if (auto s = impl_->Exec("BEGIN IMMEDIATE"); !s) return s;
  for (const auto& e : batch) {
    if (auto s = impl_->Insert(e); !s) {
      (void)impl_->Exec("ROLLBACK");
      return s;
    }
  }
  if (auto s = impl_->Exec("COMMIT"); !s) {
    (void)impl_->Exec("ROLLBACK");
    return s;
  }
  return {};
}

Result<std::vector<BreakerTransitionRow>> Store::UpdateBreaker(const std::string& name,
                                                              int64_t now_us,
                                                              const BreakerUpdate& update) {
  return impl_->InTransaction([&]() -> Result<std::vector<BreakerTransitionRow>> {
    auto st = impl_->Query("SELECT data FROM breakers WHERE name=?", name);
    if (!st) return std::unexpected(st.error());
    std::string data;
    if (sqlite3_step(*st) == SQLITE_ROW) data = Text(*st, 0);
    sqlite3_reset(*st);
    auto rows = update(data);
    if (!rows) return rows;
    auto s = impl_->Run("INSERT INTO breakers(name,data,updated_us) VALUES(?,?,?) ON "
                        "CONFLICT(name) DO UPDATE SET data=excluded.data, "
                        "updated_us=excluded.updated_us", name, data, now_us);
    for (auto it = rows->begin(); s && it != rows->end(); ++it) {
      s = impl_->Run("INSERT INTO breaker_transitions(name,from_state,to_state,reason,who,time_us) "
                     "VALUES(?,?,?,?,?,?)", name, it->from, it->to, it->reason, it->who, now_us);
    }
    if (!s) return std::unexpected(s.error());
    return rows;
  });
}

std::string AuditPayload(const AuditRecord& r) {
  auto details = ParseJson(r.details);
  return CanonicalJson(Value(ValueMap{{"seq", Value(r.seq)},
                                      {"time_us", Value(r.time_us)},
                                      {"actor", Value(r.actor)},
                                      {"action", Value(r.action)},
                                      {"run", Value(r.run_id)},
                                      {"subject", Value(r.subject)},
                                      {"details", details ? *details : Value(r.details)}}));
}

// A request is pending while its task still awaits approval: a cancelled run leaves its request
// 'pending' in approval_requests, but its task is cancelled, and that is the state shown.
#define APPROVAL_SELECT                                                                        \
  "SELECT r.run_id,r.task,r.requested_us,r.deadline_us,r.request,CASE WHEN r.state='pending' " \
  "AND t.state!='awaiting-approval' THEN t.state ELSE r.state END FROM approval_requests r "  \
  "JOIN tasks t ON t.run_id=r.run_id AND t.name=r.task "

Result<std::vector<ApprovalRequestRow>> Store::ListApprovalRequests(bool pending_only) {
  auto st = impl_->Query(APPROVAL_SELECT "WHERE ?=0 OR (r.state='pending' AND "
                         "t.state='awaiting-approval') ORDER BY r.requested_us",
                         static_cast<int64_t>(pending_only));
  if (!st) return std::unexpected(st.error());
  std::vector<ApprovalRequestRow> out;
  while (sqlite3_step(*st) == SQLITE_ROW) {
    out.push_back({Text(*st, 0), Text(*st, 1), Int(*st, 2), Int(*st, 3), Text(*st, 4), Text(*st, 5)});
  }
  sqlite3_reset(*st);
  return out;
}

Result<std::optional<ApprovalRequestRow>> Store::GetApprovalRequest(const std::string& run_id,
                                                                    const std::string& task) {
  auto st = impl_->Query(APPROVAL_SELECT "WHERE r.run_id=? AND r.task=?", run_id, task);
  if (!st) return std::unexpected(st.error());
  std::optional<ApprovalRequestRow> out;
  if (sqlite3_step(*st) == SQLITE_ROW) {
    out = ApprovalRequestRow{Text(*st, 0), Text(*st, 1), Int(*st, 2), Int(*st, 3), Text(*st, 4),
                             Text(*st, 5)};
  }
  sqlite3_reset(*st);
  return out;
}

Status Store::AddVote(const std::string& run_id, const std::string& task, const VoteRow& v) {
  auto st = impl_->Query("INSERT INTO approval_votes(run_id,task,user,approve,comment,time_us) "
                         "VALUES(?,?,?,?,?,?) ON CONFLICT DO NOTHING", run_id, task, v.user,
                         static_cast<int64_t>(v.approve), v.comment, v.time_us);
  if (!st) return std::unexpected(st.error());
  int rc = sqlite3_step(*st);
  sqlite3_reset(*st);
  if (rc != SQLITE_DONE) return impl_->SqlError("vote");
  if (sqlite3_changes(impl_->db) == 0) {
    return Fail(ErrorCode::kConflict, "{} has already voted on {} of run {}", v.user, task, run_id);
  }
  return {};
}

Result<std::vector<VoteRow>> Store::ListVotes(const std::string& run_id, const std::string& task) {
  auto st = impl_->Query("SELECT user,approve,comment,time_us FROM approval_votes WHERE run_id=? "
                         "AND task=? ORDER BY time_us, rowid", run_id, task);
  if (!st) return std::unexpected(st.error());
  std::vector<VoteRow> out;
  while (sqlite3_step(*st) == SQLITE_ROW) {
    out.push_back({Text(*st, 0), Int(*st, 1) != 0, Text(*st, 2), Int(*st, 3)});
  }
  sqlite3_reset(*st);
  return out;
}

Result<std::string> Store::RunSubmitter(const std::string& run_id) {
  auto st = impl_->Query("SELECT actor FROM audit WHERE run_id=? AND action='run.submitted' "
                         "ORDER BY seq LIMIT 1", run_id);
  if (!st) return std::unexpected(st.error());
  std::string who;
  if (sqlite3_step(*st) == SQLITE_ROW) who = Text(*st, 0);
  sqlite3_reset(*st);
  return who;
}

Result<std::vector<DecisionRow>> Store::ListDecisions(const std::string& run_id) {
  auto st = impl_->Query("SELECT time_us,run_id,stage,task,policy,rule,policy_hash,input_digest,"
                         "result,message,waiver FROM decisions WHERE run_id=? ORDER BY seq", run_id);
  if (!st) return std::unexpected(st.error());
  std::vector<DecisionRow> out;
  while (sqlite3_step(*st) == SQLITE_ROW) {
    DecisionRow d;
    d.time_us = Int(*st, 0);
    d.run_id = Text(*st, 1);
    d.stage = Text(*st, 2);
    d.task = Text(*st, 3);
    d.policy = Text(*st, 4);
    d.rule = Text(*st, 5);
    d.policy_hash = Text(*st, 6);
    d.input_digest = Text(*st, 7);
    d.result = Text(*st, 8);
    d.message = Text(*st, 9);
    d.waiver = Text(*st, 10);
    out.push_back(std::move(d));
  }
  sqlite3_reset(*st);
  return out;
}

Result<AuditRecord> Store::AppendAudit(AuditRecord r) {
  return impl_->InTransaction([&] { return impl_->InsertAudit(std::move(r)); });
}

Result<std::vector<AuditRecord>> Store::ListAudit(int64_t after_seq) {
  auto st = impl_->Query("SELECT seq,time_us,actor,action,run_id,subject,details,prev_hash,hash "
                         "FROM audit WHERE seq > ? ORDER BY seq", after_seq);
  if (!st) return std::unexpected(st.error());
  std::vector<AuditRecord> out;
  while (sqlite3_step(*st) == SQLITE_ROW) {
    AuditRecord r;
    r.seq = Int(*st, 0);
    r.time_us = Int(*st, 1);
    r.actor = Text(*st, 2);
    r.action = Text(*st, 3);
    r.run_id = Text(*st, 4);
    r.subject = Text(*st, 5);
    r.details = Text(*st, 6);
    r.prev_hash = Text(*st, 7);
    r.hash = Text(*st, 8);
    out.push_back(std::move(r));
  }
  sqlite3_reset(*st);
  return out;
}

Result<AuditCheck> Store::VerifyAudit(const std::string& expect_head) {
  auto records = ListAudit();
  if (!records) return std::unexpected(records.error());
  AuditCheck c;
  std::string prev(kGenesis);
  int64_t expect_seq = 1;
  for (const auto& r : *records) {
    ++c.records;
    std::string why;
    if (r.seq != expect_seq) {
      why = r.seq == expect_seq + 1 ? fmt::format("record {} is missing", expect_seq)
            : r.seq > expect_seq    ? fmt::format("records {} to {} are missing", expect_seq, r.seq - 1)
                                    : "its sequence number is out of order";
    } else if (r.prev_hash != prev) {
      why = "it does not follow the record before it (inserted, moved, or the one before changed)";
    } else if (AuditHash(r.prev_hash, r) != r.hash) {
      why = "its content does not match its hash (changed)";
    }
    if (!why.empty()) {
      c.broken_at = r.seq;
      c.why = why;
      return c;
    }
    prev = r.hash;
    expect_seq = r.seq + 1;
  }
  c.head = records->empty() ? std::string(kGenesis) : records->back().hash;
  if (!expect_head.empty() && expect_head != c.head) {
    bool known = std::any_of(records->begin(), records->end(),
                             [&](const AuditRecord& r) { return r.hash == expect_head; });
    c.broken_at = records->empty() ? 1 : records->back().seq;
    c.why = known ? "the expected head is an earlier record: records were added since (not an error "
                    "by itself; verify with the newer head)"
                  : "the expected head is not in the log: records at the end were removed or "
                    "rewritten";
    if (known) c.broken_at = 0;
  }
  return c;
}

Result<std::vector<BreakerRow>> Store::ListBreakers() {
  auto st = impl_->Query("SELECT name,data,updated_us FROM breakers ORDER BY name");
  if (!st) return std::unexpected(st.error());
  std::vector<BreakerRow> out;
  while (sqlite3_step(*st) == SQLITE_ROW) out.push_back({Text(*st, 0), Text(*st, 1), Int(*st, 2)});
  sqlite3_reset(*st);
  return out;
}

Result<std::vector<BreakerTransitionRow>> Store::ListBreakerTransitions(const std::string& name,
                                                                        int limit) {
  auto st = impl_->Query("SELECT name,from_state,to_state,reason,who,time_us FROM "
                         "(SELECT * FROM breaker_transitions WHERE name=? OR ?='' "
                         "ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                         name, name, static_cast<int64_t>(limit));
  if (!st) return std::unexpected(st.error());
  std::vector<BreakerTransitionRow> out;
  while (sqlite3_step(*st) == SQLITE_ROW) {
    out.push_back({Text(*st, 0), Text(*st, 1), Text(*st, 2), Text(*st, 3), Text(*st, 4), Int(*st, 5)});
  }
  sqlite3_reset(*st);
  return out;
}

#define RUN_COLUMNS \
  "id,pipeline,status,created_us,started_us,finished_us,params,spec_path,spec_digest,pid,stats"

Result<std::vector<RunRecord>> Store::ListRuns(int limit) {
  auto st = impl_->Query("SELECT " RUN_COLUMNS " FROM runs ORDER BY created_us DESC, id DESC LIMIT ?",
                         limit);
  if (!st) return std::unexpected(st.error());
  std::vector<RunRecord> out;
  while (sqlite3_step(*st) == SQLITE_ROW) out.push_back(Impl::ReadRun(*st));
  sqlite3_reset(*st);
  return out;
}

Result<RunRecord> Store::GetRun(const std::string& id) {
  auto st = impl_->Query("SELECT " RUN_COLUMNS " FROM runs WHERE id=? OR substr(id,1,?)=? LIMIT 3",
                         id, static_cast<int64_t>(id.size()), id);
  if (!st) return std::unexpected(st.error());
  std::vector<RunRecord> found;
  while (sqlite3_step(*st) == SQLITE_ROW) found.push_back(Impl::ReadRun(*st));
  sqlite3_reset(*st);
  for (const auto& r : found) {
    if (r.id == id) return r;
  }
  if (found.empty() || id.empty()) return Fail(ErrorCode::kNotFound, "no run {}", Quote(id));
  if (found.size() > 1) return Fail(ErrorCode::kInvalidInput, "run prefix {} is ambiguous", Quote(id));
  return found[0];
}

Result<std::vector<Event>> Store::LoadEvents(const std::string& run_id) {
  auto st = impl_->Query("SELECT seq,run_id,time_us,kind,task,attempt,status,error_class,exit_code,"
                         "message,pid,due_us,data FROM events WHERE run_id=? ORDER BY seq", run_id);
  if (!st) return std::unexpected(st.error());
  std::vector<Event> out;
  int rc;
  while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
    Event e;
    e.seq = Int(*st, 0);
    e.run_id = Text(*st, 1);
    e.time_us = Int(*st, 2);
    std::string kind = Text(*st, 3);
    if (!ParseEventKind(kind, &e.kind)) {
      sqlite3_reset(*st);
      return Fail(ErrorCode::kStore, "store: event {} has unknown kind {}", e.seq, Quote(kind));
    }
    e.task = Text(*st, 4);
    e.attempt = static_cast<int>(Int(*st, 5));
    e.status = Text(*st, 6);
    e.error_class = Text(*st, 7);
    e.exit_code = static_cast<int>(Int(*st, 8));
    e.message = Text(*st, 9);
    e.pid = Int(*st, 10);
    e.due_us = Int(*st, 11);
    e.data = Text(*st, 12);
    out.push_back(std::move(e));
  }
  sqlite3_reset(*st);
  if (rc != SQLITE_DONE) return impl_->SqlError("read events");
  return out;
}

static TaskRecord ReadTask(sqlite3_stmt* st) {
  TaskRecord t;
  t.name = Text(st, 0);
  t.state = Text(st, 1);
  t.attempts = static_cast<int>(Int(st, 2));
  t.message = Text(st, 3);
  t.outputs = Text(st, 4);
  t.started_us = Int(st, 5);
  t.finished_us = Int(st, 6);
  return t;
}

Result<std::vector<TaskRecord>> Store::ListTasks(const std::string& run_id) {
  auto st = impl_->Query("SELECT name,state,attempts,message,outputs,started_us,finished_us FROM "
                         "tasks WHERE run_id=? ORDER BY rowid", run_id);
  if (!st) return std::unexpected(st.error());
  std::vector<TaskRecord> out;
  while (sqlite3_step(*st) == SQLITE_ROW) out.push_back(ReadTask(*st));
  sqlite3_reset(*st);
  return out;
}

Result<std::vector<TaskRecord>> Store::ListTasksInState(const std::string& run_id,
                                                        const std::string& state, int limit) {
  auto st = impl_->Query("SELECT name,state,attempts,message,outputs,started_us,finished_us FROM "
                         "tasks WHERE run_id=? AND state=? ORDER BY rowid LIMIT ?", run_id, state,
                         limit);
  if (!st) return std::unexpected(st.error());
  std::vector<TaskRecord> out;
  while (sqlite3_step(*st) == SQLITE_ROW) out.push_back(ReadTask(*st));
  sqlite3_reset(*st);
  return out;
}

Result<std::map<std::string, int>> Store::CountTasksByState(const std::string& run_id) {
  auto st = impl_->Query("SELECT state, COUNT(*) FROM tasks WHERE run_id=? AND instr(name,'[')=0 "
                         "GROUP BY state", run_id);
  if (!st) return std::unexpected(st.error());
  std::map<std::string, int> out;
  while (sqlite3_step(*st) == SQLITE_ROW) out[Text(*st, 0)] = static_cast<int>(Int(*st, 1));
  sqlite3_reset(*st);
  return out;
}

Result<std::vector<std::array<std::string, 3>>> Store::ListArtifacts(const std::string& run_id) {
  auto st = impl_->Query("SELECT task,name,path FROM artifacts WHERE run_id=? AND instr(task,'[')=0 "
                         "ORDER BY rowid", run_id);
  if (!st) return std::unexpected(st.error());
  std::vector<std::array<std::string, 3>> out;
  while (sqlite3_step(*st) == SQLITE_ROW) {
    out.push_back({Text(*st, 0), Text(*st, 1), Text(*st, 2)});
  }
  sqlite3_reset(*st);
  return out;
}

Result<std::vector<AttemptRecord>> Store::ListAttempts(const std::string& run_id) {
  auto st = impl_->Query("SELECT task,attempt,status,error_class,exit_code,message,pid,started_us,"
                         "finished_us FROM attempts WHERE run_id=? ORDER BY started_us, task, attempt",
                         run_id);
  if (!st) return std::unexpected(st.error());
  std::vector<AttemptRecord> out;
  while (sqlite3_step(*st) == SQLITE_ROW) {
    AttemptRecord a;
    a.task = Text(*st, 0);
    a.attempt = static_cast<int>(Int(*st, 1));
    a.status = Text(*st, 2);
    a.error_class = Text(*st, 3);
    a.exit_code = static_cast<int>(Int(*st, 4));
    a.message = Text(*st, 5);
    a.pid = Int(*st, 6);
    a.started_us = Int(*st, 7);
    a.finished_us = Int(*st, 8);
    out.push_back(std::move(a));
  }
  sqlite3_reset(*st);
  return out;
}

Result<std::map<std::string, std::string>> Store::LoadSources(const std::string& run_id) {
  auto st = impl_->Query("SELECT path,content FROM sources WHERE run_id=?", run_id);
  if (!st) return std::unexpected(st.error());
  std::map<std::string, std::string> out;
  while (sqlite3_step(*st) == SQLITE_ROW) out[Text(*st, 0)] = Text(*st, 1);
  sqlite3_reset(*st);
  return out;
}

Result<std::optional<std::string>> Store::FindCache(const std::string& key, int64_t ttl_ms,
                                                    int64_t now_us) {
  auto st = impl_->Query("SELECT outputs,created_us FROM cache WHERE key=?", key);
  if (!st) return std::unexpected(st.error());
  std::optional<std::string> out;
  if (sqlite3_step(*st) == SQLITE_ROW) {
    int64_t created = Int(*st, 1);
    if (ttl_ms == 0 || now_us - created <= ttl_ms * 1000) out = Text(*st, 0);
  }
  sqlite3_reset(*st);
  return out;
}

Result<std::vector<CacheRecord>> Store::ListCache() {
  auto st = impl_->Query("SELECT key,run_id,task,outputs,created_us FROM cache ORDER BY created_us");
  if (!st) return std::unexpected(st.error());
  std::vector<CacheRecord> out;
  while (sqlite3_step(*st) == SQLITE_ROW) {
    out.push_back({Text(*st, 0), Text(*st, 1), Text(*st, 2), Text(*st, 3),
                   Int(*st, 4)});
  }
  sqlite3_reset(*st);
  return out;
}

Result<int> Store::ClearCache() {
  if (auto s = impl_->Run("DELETE FROM cache"); !s) return std::unexpected(s.error());
  return sqlite3_changes(impl_->db);
}

}  // namespace sluice
