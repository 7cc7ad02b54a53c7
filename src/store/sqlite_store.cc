// Store over its SQL seam (sql.h; SQLite or PostgreSQL): opening and migrating (the schema's
// text is in store_schema.cc), runs, events and their projections, the cache. The other tables are in
// store_governance.cc, store_approvals.cc and store_waivers.cc; all share Store::Impl.
#include <algorithm>
#include <iterator>

#include "store/journal.h"
#include "store/store_impl.h"

namespace sluice {


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
      // Asked again (a group retry): a new round, which the earlier round's votes do not decide.
      auto s = Run("INSERT INTO approval_requests(run_id,task,requested_us,deadline_us,request,"
                   "state) VALUES(?,?,?,?,?,'pending') ON CONFLICT(run_id,task) DO UPDATE SET "
                   "requested_us=excluded.requested_us, deadline_us=excluded.deadline_us, "
                   "request=excluded.request, state='pending', round=approval_requests.round+1", e.run_id, e.task,
                   e.time_us, e.due_us, e.data);
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
    case EventKind::kPolicyDecision: return ProjectDecisions(e);
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
      // A row made before the task first ran (it was upstream-failed, then retried) gets its
      // start time now.
      auto s = Run("INSERT INTO tasks(run_id,name,state,attempts,started_us) VALUES(?,?,'running',?,?) "
                   "ON CONFLICT(run_id,name) DO UPDATE SET state='running', attempts=excluded.attempts, "
                   "started_us=CASE WHEN tasks.started_us=0 THEN excluded.started_us ELSE tasks.started_us END",
                   e.run_id, e.task, e.attempt, e.time_us);
      if (!s) return s;
      // An attempt started again (a resumed run) starts afresh.
      return Run("INSERT INTO attempts(run_id,task,attempt,status,started_us) "
                 "VALUES(?,?,?,'running',?) ON CONFLICT(run_id,task,attempt) DO UPDATE SET "
                 "status='running', error_class='', exit_code=0, message='', pid=0, "
                 "started_us=excluded.started_us, finished_us=0", e.run_id, e.task, e.attempt,
                 e.time_us);
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
    case EventKind::kTaskFinished: return ProjectTaskVerdict(e);
    case EventKind::kRunRetried: return ProjectRetried(e);
    case EventKind::kRunPruned: return {};  // Store::PruneRun deletes the rest itself
  }
  return {};
}

// The tasks that start over are pending again, without the outputs and artifacts of the round
// that ended (their attempts stay); the rows of retired instances go (a forEach item may not
// come back when its task expands again).
Status Store::Impl::ProjectRetried(const Event& e) {
  SLUICE_TRY_STATUS(Run("UPDATE runs SET status='running', finished_us=0 WHERE id=?", e.run_id));
  auto d = ParseJson(e.data);
  for (const char* key : {"tasks", "retired"}) {
    const Value* list = d && d->is_map() ? d->Find(key) : nullptr;
    if (!list || !list->is_list()) continue;
    const bool reset = key == std::string_view("tasks");
    for (const auto& v : list->as_list()) {
      if (!v.is_string()) continue;
      SLUICE_TRY_STATUS(reset ? Run("UPDATE tasks SET state='pending', message=?, outputs='', "
                                    "finished_us=0 WHERE run_id=? AND name=?",
                                    e.message, e.run_id, v.as_string())
                              : Run("DELETE FROM tasks WHERE run_id=? AND name=?", e.run_id,
                                    v.as_string()));
      SLUICE_TRY_STATUS(Run("DELETE FROM artifacts WHERE run_id=? AND task=?", e.run_id,
                            v.as_string()));
    }
  }
  return {};
}

Status Store::Impl::ProjectDecisions(const Event& e) {
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

Status Store::Impl::ProjectTaskVerdict(const Event& e) {
  std::string state = e.kind == EventKind::kTaskSkipped ? "skipped" : e.status;
  auto s = Run("INSERT INTO tasks(run_id,name,state,attempts,message,outputs,finished_us) "
               "VALUES(?,?,?,?,?,?,?) ON CONFLICT(run_id,name) DO UPDATE SET "
               "state=excluded.state, message=excluded.message, outputs=excluded.outputs, "
               "finished_us=excluded.finished_us, "
               "attempts=CASE WHEN tasks.attempts>excluded.attempts THEN tasks.attempts ELSE "
               "excluded.attempts END",
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
      if (auto r = Run("INSERT INTO artifacts(run_id,task,name,path) VALUES(?,?,?,?) "
                       "ON CONFLICT(run_id,task,name) DO UPDATE SET path=excluded.path",
                       e.run_id, e.task, name.as_string(), path.as_string());
          !r) {
        return r;
      }
    }
  }
  if (const Value* key = out->Find("cache_key"); key && key->is_string() && e.status == "succeeded") {
    return Run("INSERT INTO cache(key,run_id,task,outputs,created_us) VALUES(?,?,?,?,?) "
               "ON CONFLICT(key) DO UPDATE SET run_id=excluded.run_id, task=excluded.task, "
               "outputs=excluded.outputs, created_us=excluded.created_us",
               key->as_string(), e.run_id, e.task, e.data, e.time_us);
  }
  return s;
}

// In one transaction with the new schema version, so a crash leaves the old schema or the
// newest. Processes opening a store at once (parallel first runs): the transaction takes the
// write lock before the version is read again, so only the first creates or upgrades it.
Status Store::Impl::Migrate(int version) {
  if (version >= kSchemaVersion) return {};
  const bool pg = db->engine() == SqlEngine::kPostgres;
  return InTransaction([&]() -> Status {
    SLUICE_TRY(now, SchemaVersion());
    version = *now;
    if (version >= kSchemaVersion) return {};
    if (version == 0) {
      SLUICE_TRY_STATUS(Exec(pg ? kPgSchema : kSchema));
    } else if (pg && version < kPgFirstVersion) {
      return Fail(ErrorCode::kStore, "store: a PostgreSQL store of schema version {} cannot be: "
                  "they begin at version {}", version, kPgFirstVersion);
    } else {
      for (int v = version; v < kSchemaVersion; ++v) {
        SLUICE_TRY_STATUS(Exec(pg ? kPgUpgrades[v - kPgFirstVersion] : kUpgrades[v - 1]));
      }
    }
    if (auto s = db->SetSchemaVersion(kSchemaVersion); !s) return SqlError("schema version", s.error());
    return {};
  });
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreFaults& faults) {
  auto impl = std::make_unique<Impl>();
  impl->faulty = faults.any();
  impl->disk_full_at = faults.disk_full_at;
  auto migrate = [&impl](SqlConn& conn, int version) {
    impl->db = &conn;
    return impl->Migrate(version);
  };
  const bool pg = IsPostgresUrl(path);
  if (pg && faults.any()) {
    return Fail(ErrorCode::kInvalidInput, "store: fsync and disk-full faults are injected only into SQLite "
                "stores, not into {}", path.substr(0, path.find('@')));
  }
  auto conn = pg ? OpenPostgres(path, kSchemaVersion, migrate)
                 : OpenSqlite(path, faults, kSchemaVersion, migrate);
  if (!conn) return std::unexpected(conn.error());
  impl->owned = std::move(*conn);
  impl->db = impl->owned.get();
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::CreateRun(const RunRecord& run, const std::map<std::string, std::string>& sources,
                        const Event& created, const AuditRecord* audit,
                        const std::vector<DecisionRow>& decisions, const std::vector<Event>& then) {
  return impl_->InTransaction([&]() -> Status {
    // Under the write lock (BEGIN IMMEDIATE), so no other process can take the id meanwhile.
    SLUICE_TRY(taken, impl_->Rows<int>("SELECT 1 FROM runs WHERE id=?",
                                       [](SqlStmt*) { return 1; }, run.id));
    if (!taken->empty()) return Fail(ErrorCode::kConflict, "store: run id {} is taken", run.id);
    // A pruned run's id stays taken by its tombstone (a backfill must not bring it back).
    SLUICE_TRY(pruned, impl_->Rows<int>("SELECT 1 FROM events WHERE run_id=? AND kind='run.pruned'",
                                        [](SqlStmt*) { return 1; }, run.id));
    if (!pruned->empty()) {
      return Fail(ErrorCode::kConflict, "store: run id {} is taken (by a pruned run)", run.id);
    }
    SLUICE_TRY_STATUS(impl_->Run("INSERT INTO runs(id,pipeline,status,created_us,params,spec_path,"
                                 "spec_digest,namespace) VALUES(?,?,?,?,?,?,?,?)", run.id,
                                 run.pipeline, run.status, run.created_us, run.params,
                                 run.spec_path, run.spec_digest, run.ns));
    for (const auto& [path, content] : sources) {
      SLUICE_TRY_STATUS(impl_->Run("INSERT INTO sources(run_id,path,content) VALUES(?,?,?)",
                                   run.id, path, content));
    }
    SLUICE_TRY_STATUS(impl_->Insert(created));
    for (const auto& e : then) SLUICE_TRY_STATUS(impl_->Insert(e));
    if (audit) SLUICE_TRY_STATUS(impl_->InsertAudit(*audit));
    for (const auto& d : decisions) SLUICE_TRY_STATUS(impl_->InsertDecision(d));
    return {};
  });
}

// Buffers in memory: no transaction (and so no write lock) is open while the engine waits for
// its processes.
void Store::Append(const Event& e) { impl_->pending.push_back(e); }

namespace {

// Events other processes act on or show at once: a run's start, phases and end (status, cancel,
// resume), gate decisions (the audit chain's order) and approvals (`sluice approve`).
bool PublishAtOnce(EventKind k) {
  switch (k) {
    case EventKind::kRunStarted:
    case EventKind::kRunFinished:
    case EventKind::kRunPhase:
    case EventKind::kPolicyDecision:
    case EventKind::kApprovalRequested:
    case EventKind::kApprovalDecided:
    case EventKind::kRunRetried: return true;
    default: return false;
  }
}

}  // namespace

Status Store::Commit() {
  Impl& m = *impl_;
  if (m.pending.empty()) return {};
  if (m.disk_full_at > 0 && ++m.commits == m.disk_full_at) FillFaultyVfsDisk();
  std::vector<Event> batch;
  batch.swap(m.pending);
  if (!m.journal) {
    auto s = m.InTransaction([&]() -> Status {
      for (const auto& e : batch) SLUICE_TRY_STATUS(m.Insert(e));
      return m.AddReadyToStart(m.ready_to_start);
    });
    if (s) m.ready_to_start = {};
    return s;
  }
  // Under an injected fsync fault every commit is published (and so synced), as without a journal.
  bool now = m.faulty || m.unpublished.size() + batch.size() >= kPublishEvents ||
             std::any_of(batch.begin(), batch.end(), [](const Event& e) { return PublishAtOnce(e.kind); });
  // A batch published at once needs no journal record: its transaction is the commit.
  if (!now) {
    std::string record = EncodeJournalRecord(batch);
    if (auto s = m.journal->Append(record); !s) {
      (void)m.journal->Truncate(m.journal_end);  // a torn record would end the journal anyway
      return Fail(ErrorCode::kStore, "store: {}", s.error().message);
    }
    m.journal_end += static_cast<int64_t>(record.size());
  }
  if (m.unpublished.empty()) m.oldest_unpublished_us = batch.front().time_us;
  for (auto& e : batch) m.unpublished.push_back(std::move(e));
  return now ? m.PublishJournaled() : Status{};
}

int64_t Store::PublishDueUs() const {
  return impl_->unpublished.empty() ? -1 : impl_->oldest_unpublished_us + kPublishAfterUs;
}

Status Store::Publish() { return impl_->unpublished.empty() ? Status{} : impl_->PublishJournaled(); }

Status Store::Impl::PublishJournaled() {
  publishing = true;
  auto s = InTransaction([&]() -> Status {
    for (const auto& e : unpublished) SLUICE_TRY_STATUS(Insert(e));
    SLUICE_TRY_STATUS(AddReadyToStart(ready_to_start));
    return Run("UPDATE runs SET journal_offset=? WHERE id=?", journal_end, journal_run);
  });
  publishing = false;
  if (s) {
    unpublished.clear();
    ready_to_start = {};
  }
  return s;
}

Status Store::OpenJournal(FileSystem& fs, const std::string& path, const std::string& run_id) {
  Impl& m = *impl_;
  SLUICE_TRY_STATUS(CloseJournal());
  SLUICE_TRY(found, m.First<int64_t>("SELECT journal_offset FROM runs WHERE id=?",
                                     [](SqlStmt* st) { return Int(st, 0); }, run_id));
  int64_t offset = found->value_or(0);
  std::string bytes;
  if (fs.Stat(path).exists) {
    auto read = fs.ReadFile(path);
    if (!read) return std::unexpected(read.error());
    bytes = std::move(*read);
  }
  // What the tables lack: the whole records past `offset`. A file shorter than `offset` was
  // removed (or cut by a power loss) after everything in it was published.
  int64_t good_end = 0;
  std::vector<JournalRecord> records;
  if (static_cast<int64_t>(bytes.size()) > offset) records = DecodeJournal(bytes, offset, run_id, &good_end);
  m.journal_run = run_id;
  if (!records.empty()) {
    for (auto& r : records) {
      for (auto& e : r.events) m.unpublished.push_back(std::move(e));
    }
    m.journal_end = good_end;
    SLUICE_TRY_STATUS(m.PublishJournaled());
  }
  // Start afresh: remove the old file first, then zero the offset, so that a crash in between
  // leaves a file shorter than the offset (all published), never records counted twice. A new
  // file rather than one truncated to zero: ext4 writes such a file out when it is closed, and
  // then freeing its blocks made removing a run's journal cost ~1 ms at the end of every run.
  if (!bytes.empty()) SLUICE_TRY_STATUS(fs.Remove(path));
  if (offset != 0) SLUICE_TRY_STATUS(m.Run("UPDATE runs SET journal_offset=0 WHERE id=?", run_id));
  auto file = fs.OpenAppend(path);
  if (!file) return std::unexpected(file.error());
  m.journal = std::move(*file);
  m.journal_fs = &fs;
  m.journal_path = path;
  m.journal_end = 0;
  return {};
}

Status Store::CloseJournal() {
  Impl& m = *impl_;
  if (!m.journal) return {};
  SLUICE_TRY_STATUS(Publish());
  m.journal.reset();
  // runs.journal_offset keeps the end of the removed file: a missing file shorter than the
  // offset means everything was published, and the next OpenJournal zeroes the offset before
  // it starts a new file. (Zeroing it here was one more transaction at the end of every run.)
  return m.journal_fs->Remove(m.journal_path);
}

Result<std::vector<RunRecord>> Store::ListRuns(int limit, const std::string& ns) {
  static const std::string all = fmt::format(
      "SELECT {} FROM runs ORDER BY created_us DESC, id DESC LIMIT ?", Impl::kRunColumns);
  static const std::string one = fmt::format(
      "SELECT {} FROM runs WHERE namespace=? ORDER BY created_us DESC, id DESC LIMIT ?",
      Impl::kRunColumns);
  if (ns.empty()) return impl_->Rows<RunRecord>(all.c_str(), Impl::ReadRun, limit);
  return impl_->Rows<RunRecord>(one.c_str(), Impl::ReadRun, ns, limit);
}

Result<RunRecord> Store::GetRun(const std::string& id) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM runs WHERE id=? OR substr(id,1,length(?))=? LIMIT 3", Impl::kRunColumns);
  auto found = impl_->Rows<RunRecord>(sql.c_str(), Impl::ReadRun, id, id, id);
  if (!found) return std::unexpected(found.error());
  for (const auto& r : *found) {
    if (r.id == id) return r;
  }
  if (found->empty() && !id.empty()) {
    SLUICE_TRY(pruned, FindTombstone(id));
    if (*pruned) return Fail(ErrorCode::kNotFound, "run {} was {}", id, (*pruned)->message);
  }
  if (found->empty() || id.empty()) return Fail(ErrorCode::kNotFound, "no run {}", Quote(id));
  if (found->size() > 1) return Fail(ErrorCode::kInvalidInput, "run prefix {} is ambiguous", Quote(id));
  return (*found)[0];
}

// The events a statement selects (seq, run_id, time_us, kind, task, attempt, status,
// error_class, exit_code, message, pid, due_us, data), in its order.
static Result<std::vector<Event>> ReadEvents(SqlStmt* st) {
  std::vector<Event> out;
  Result<bool> row;
  while ((row = st->Step()) && *row) {
    Event e;
    e.seq = Int(st, 0);
    e.run_id = Text(st, 1);
    e.time_us = Int(st, 2);
    std::string kind = Text(st, 3);
    if (!ParseEventKind(kind, &e.kind)) {
      st->Reset();
      return Fail(ErrorCode::kStore, "store: event {} has unknown kind {}", e.seq, Quote(kind));
    }
    e.task = Text(st, 4);
    e.attempt = static_cast<int>(Int(st, 5));
    e.status = Text(st, 6);
    e.error_class = Text(st, 7);
    e.exit_code = static_cast<int>(Int(st, 8));
    e.message = Text(st, 9);
    e.pid = Int(st, 10);
    e.due_us = Int(st, 11);
    e.data = Text(st, 12);
    out.push_back(std::move(e));
  }
  st->Reset();
  if (!row) return Fail(ErrorCode::kStore, "store: read events: {}", row.error().message);
  return out;
}

Result<std::vector<Event>> Store::LoadEvents(const std::string& run_id) {
  auto st = impl_->Query("SELECT seq,run_id,time_us,kind,task,attempt,status,error_class,exit_code,"
                         "message,pid,due_us,data FROM events WHERE run_id=? ORDER BY seq", run_id);
  if (!st) return std::unexpected(st.error());
  return ReadEvents(*st);
}

Result<int64_t> Store::LastEventSeq() {
  auto last = impl_->First<int64_t>("SELECT COALESCE(MAX(seq),0) FROM events",
                                    [](SqlStmt* st) { return Int(st, 0); });
  if (!last) return std::unexpected(last.error());
  return last->value_or(0);
}

Result<std::vector<Event>> Store::LoadEventsAfter(int64_t after_seq, const std::string& run_id,
                                                  int limit) {
  auto st = run_id.empty()
                ? impl_->Query("SELECT seq,run_id,time_us,kind,task,attempt,status,error_class,"
                               "exit_code,message,pid,due_us,data FROM events WHERE seq>? "
                               "ORDER BY seq LIMIT ?", after_seq, static_cast<int64_t>(limit))
                : impl_->Query("SELECT seq,run_id,time_us,kind,task,attempt,status,error_class,"
                               "exit_code,message,pid,due_us,data FROM events WHERE run_id=? AND "
                               "seq>? ORDER BY seq LIMIT ?", run_id, after_seq,
                               static_cast<int64_t>(limit));
  if (!st) return std::unexpected(st.error());
  return ReadEvents(*st);
}

static TaskRecord ReadTask(SqlStmt* st) {
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
  return impl_->Rows<TaskRecord>("SELECT name,state,attempts,message,outputs,started_us,finished_us "
                                 "FROM tasks WHERE run_id=? ORDER BY rowid", ReadTask, run_id);
}

Result<std::vector<std::array<std::string, 3>>> Store::ListArtifacts(const std::string& run_id) {
  return impl_->Rows<std::array<std::string, 3>>(
      "SELECT task,name,path FROM artifacts WHERE run_id=? AND task NOT LIKE '%[%' ORDER BY rowid",
      [](SqlStmt* st) -> std::array<std::string, 3> {
        return {Text(st, 0), Text(st, 1), Text(st, 2)};
      },
      run_id);
}

Result<std::vector<std::array<std::string, 3>>> Store::FindArtifactRefs(const std::string& digest) {
  // A stored artifact's path is ROOT/sha256/XX/DIGEST/NAME (exec/local_executor.cc); a digest
  // is 64 hex digits, so it holds no LIKE wildcard.
  const std::string pattern = "%/sha256/" + digest.substr(0, 2) + "/" + digest + "/%";
  return impl_->Rows<std::array<std::string, 3>>(
      "SELECT run_id,task,path FROM artifacts WHERE path LIKE ? ORDER BY rowid",
      [](SqlStmt* st) -> std::array<std::string, 3> {
        return {Text(st, 0), Text(st, 1), Text(st, 2)};
      },
      pattern);
}

Result<std::vector<AttemptRecord>> Store::ListAttempts(const std::string& run_id) {
  return impl_->Rows<AttemptRecord>(
      "SELECT task,attempt,status,error_class,exit_code,message,pid,started_us,finished_us FROM "
      "attempts WHERE run_id=? ORDER BY started_us, task, attempt",
      [](SqlStmt* st) {
        AttemptRecord a;
        a.task = Text(st, 0);
        a.attempt = static_cast<int>(Int(st, 1));
        a.status = Text(st, 2);
        a.error_class = Text(st, 3);
        a.exit_code = static_cast<int>(Int(st, 4));
        a.message = Text(st, 5);
        a.pid = Int(st, 6);
        a.started_us = Int(st, 7);
        a.finished_us = Int(st, 8);
        return a;
      },
      run_id);
}

Result<std::map<std::string, std::string>> Store::LoadSources(const std::string& run_id) {
  SLUICE_TRY(rows, (impl_->Rows<std::pair<std::string, std::string>>(
                      "SELECT path,content FROM sources WHERE run_id=?",
                      [](SqlStmt* st) { return std::pair(Text(st, 0), Text(st, 1)); }, run_id)));
  return std::map<std::string, std::string>(rows->begin(), rows->end());
}

Result<std::optional<std::string>> Store::FindCache(const std::string& key, int64_t ttl_ms,
                                                    int64_t now_us) {
  SLUICE_TRY(found, (impl_->First<std::pair<std::string, int64_t>>(
                       "SELECT outputs,created_us FROM cache WHERE key=?",
                       [](SqlStmt* st) { return std::pair(Text(st, 0), Int(st, 1)); }, key)));
  std::optional<std::string> out;
  if (*found && (ttl_ms == 0 || now_us - (*found)->second <= ttl_ms * 1000)) {
    out = std::move((*found)->first);
  }
  return out;
}

Result<std::vector<CacheRecord>> Store::ListCache() {
  return impl_->Rows<CacheRecord>(
      "SELECT key,run_id,task,outputs,created_us FROM cache ORDER BY created_us",
      [](SqlStmt* st) -> CacheRecord {
        return {Text(st, 0), Text(st, 1), Text(st, 2), Text(st, 3), Int(st, 4)};
      });
}

Result<int> Store::ClearCache() {
  if (auto s = impl_->Run("DELETE FROM cache"); !s) return std::unexpected(s.error());
  SLUICE_TRY(n, impl_->Changes());
  return static_cast<int>(*n);
}

}  // namespace sluice
