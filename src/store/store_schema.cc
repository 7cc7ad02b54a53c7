// The store's schema: the newest one as one script, and the steps that bring an older store up
// (see docs/store.md, "Schema versions"), for SQLite and for PostgreSQL. Used by
// Store::Impl::Migrate in sqlite_store.cc.
#include "store/store_impl.h"

namespace sluice {

// A new store gets the newest schema in one script. Replaying every step instead (a table
// copied, dropped and renamed, a column added: each makes SQLite reparse the whole schema) was
// a third of the CPU of a one-task run. Store.ANewStoreHasTheSchemaAnUpgradedOneHas keeps this
// script and the steps below in agreement.
const char* const kSchema = R"sql(
CREATE TABLE events (
  seq INTEGER PRIMARY KEY,
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
  pid INTEGER NOT NULL DEFAULT 0, stats TEXT NOT NULL DEFAULT '',
  journal_offset INTEGER NOT NULL DEFAULT 0, namespace TEXT NOT NULL DEFAULT 'default');
CREATE INDEX runs_by_namespace ON runs(namespace, created_us);
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
CREATE TABLE breakers (
  name TEXT PRIMARY KEY, data TEXT NOT NULL, updated_us INTEGER NOT NULL);
CREATE TABLE breaker_transitions (
  seq INTEGER PRIMARY KEY, name TEXT NOT NULL, from_state TEXT NOT NULL,
  to_state TEXT NOT NULL, reason TEXT NOT NULL, who TEXT NOT NULL, time_us INTEGER NOT NULL);
CREATE INDEX breaker_transitions_by_name ON breaker_transitions(name, seq);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '',
  details TEXT NOT NULL DEFAULT '{}', prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE decisions (
  seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, run_id TEXT NOT NULL, stage TEXT NOT NULL,
  task TEXT NOT NULL DEFAULT '', policy TEXT NOT NULL, rule TEXT NOT NULL,
  policy_hash TEXT NOT NULL, input_digest TEXT NOT NULL, result TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', waiver TEXT NOT NULL DEFAULT '');
CREATE INDEX decisions_by_run ON decisions(run_id, seq);
CREATE TABLE approval_requests (
  run_id TEXT NOT NULL, task TEXT NOT NULL, requested_us INTEGER NOT NULL,
  deadline_us INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL, round INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (run_id, task));
CREATE TABLE approval_votes (
  run_id TEXT NOT NULL, task TEXT NOT NULL, round INTEGER NOT NULL, account TEXT NOT NULL,
  user TEXT NOT NULL, approve INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '',
  time_us INTEGER NOT NULL, audit_seq INTEGER NOT NULL,
  PRIMARY KEY (run_id, task, round, account));
CREATE TABLE waivers (
  name TEXT PRIMARY KEY, document TEXT NOT NULL, granted_by TEXT NOT NULL,
  granted_us INTEGER NOT NULL, revoked_us INTEGER NOT NULL DEFAULT 0,
  audit_seq INTEGER NOT NULL);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, user_name TEXT NOT NULL, roles TEXT NOT NULL,
  created_by TEXT NOT NULL, created_us INTEGER NOT NULL, expires_us INTEGER NOT NULL DEFAULT 0,
  revoked_us INTEGER NOT NULL DEFAULT 0);
CREATE TABLE work (
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, task TEXT NOT NULL, attempt INTEGER NOT NULL,
  request TEXT NOT NULL, labels TEXT NOT NULL DEFAULT '[]',
  cpu_milli INTEGER NOT NULL DEFAULT 0, memory_bytes INTEGER NOT NULL DEFAULT 0,
  gpu_milli INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, worker TEXT NOT NULL DEFAULT '',
  lease TEXT NOT NULL DEFAULT '', lease_expires_us INTEGER NOT NULL DEFAULT 0,
  cancel INTEGER NOT NULL DEFAULT 0, end_json TEXT NOT NULL DEFAULT '',
  collected INTEGER NOT NULL DEFAULT 0, created_us INTEGER NOT NULL,
  ready_us INTEGER NOT NULL DEFAULT 0, UNIQUE (run_id, task, attempt));
CREATE INDEX work_by_state ON work(state, id);
CREATE INDEX work_by_lease ON work(lease);
CREATE INDEX work_to_collect ON work(run_id, id) WHERE collected=0 AND state IN ('ended','lost');
CREATE TABLE workers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, labels TEXT NOT NULL,
  slots INTEGER NOT NULL, registered_us INTEGER NOT NULL, seen_us INTEGER NOT NULL,
  user_name TEXT NOT NULL DEFAULT '');
CREATE TABLE schedules (
  namespace TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, document TEXT NOT NULL,
  sources TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}', suspended INTEGER NOT NULL DEFAULT 0,
  watermark_us INTEGER NOT NULL, applied_by TEXT NOT NULL, applied_us INTEGER NOT NULL,
  PRIMARY KEY (namespace, name));
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY, hook TEXT NOT NULL, event TEXT NOT NULL, source TEXT NOT NULL,
  run_id TEXT NOT NULL DEFAULT '', payload TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '', created_us INTEGER NOT NULL, next_us INTEGER NOT NULL,
  delivered_us INTEGER NOT NULL DEFAULT 0, UNIQUE (hook, source));
CREATE INDEX notifications_due ON notifications(state, next_us);
CREATE TABLE notify_watermarks (source TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE ready_to_start (
  bucket INTEGER PRIMARY KEY, samples INTEGER NOT NULL DEFAULT 0, sum_us INTEGER NOT NULL DEFAULT 0);
CREATE TABLE triggers (
  namespace TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, document TEXT NOT NULL,
  sources TEXT NOT NULL, token_id TEXT NOT NULL, token_hash TEXT NOT NULL,
  applied_by TEXT NOT NULL, applied_us INTEGER NOT NULL, rotated_us INTEGER NOT NULL,
  PRIMARY KEY (namespace, name));
CREATE TABLE pool_holds (
  pool TEXT NOT NULL, run_id TEXT NOT NULL, task TEXT NOT NULL, attempt INTEGER NOT NULL,
  units_milli INTEGER NOT NULL, granted INTEGER NOT NULL DEFAULT 0, since_us INTEGER NOT NULL,
  seen_us INTEGER NOT NULL, PRIMARY KEY (pool, run_id, task));
CREATE INDEX pool_holds_by_run ON pool_holds(run_id);
CREATE TABLE rollouts (
  run_id TEXT NOT NULL, task TEXT NOT NULL, environment TEXT NOT NULL, phase TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', step INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL DEFAULT '{}',
  started_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, command TEXT NOT NULL DEFAULT '',
  command_seq INTEGER NOT NULL DEFAULT 0, command_by TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, task));
CREATE INDEX rollouts_by_environment ON rollouts(environment, phase);
CREATE TABLE measurements (
  run_id TEXT NOT NULL, task TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL,
  analysis TEXT NOT NULL,
  template TEXT NOT NULL, metric TEXT NOT NULL, phase TEXT NOT NULL, value TEXT NOT NULL,
  message TEXT NOT NULL, started_us INTEGER NOT NULL, finished_us INTEGER NOT NULL,
  dry_run INTEGER NOT NULL, PRIMARY KEY (run_id, task, seq));
CREATE TABLE releases (
  seq INTEGER PRIMARY KEY, environment TEXT NOT NULL, slot TEXT NOT NULL, digest TEXT NOT NULL,
  version TEXT NOT NULL, run_id TEXT NOT NULL, task TEXT NOT NULL, actor TEXT NOT NULL,
  since_us INTEGER NOT NULL, until_us INTEGER NOT NULL DEFAULT 0);
CREATE INDEX releases_by_environment ON releases(environment, seq);
)sql";

// The steps that bring an older store up: kUpgrades[v - 1] takes version v to v + 1. Version 1
// was kSchema's first six tables with events.seq AUTOINCREMENT. A new step goes here and into
// kSchema, with kSchemaVersion raised.
const char* const kUpgrades[] = {  // its size must match the declaration in store_impl.h
    // 1 -> 2: events without AUTOINCREMENT. It updated sqlite_sequence on every insert; a plain
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
    // 2 -> 3: circuit breakers, shared by every run of the state directory.
    R"sql(
CREATE TABLE breakers (
  name TEXT PRIMARY KEY, data TEXT NOT NULL, updated_us INTEGER NOT NULL);
CREATE TABLE breaker_transitions (
  seq INTEGER PRIMARY KEY, name TEXT NOT NULL, from_state TEXT NOT NULL,
  to_state TEXT NOT NULL, reason TEXT NOT NULL, who TEXT NOT NULL, time_us INTEGER NOT NULL);
CREATE INDEX breaker_transitions_by_name ON breaker_transitions(name, seq);
)sql",
    // 3 -> 4: the audit log, a SHA-256 hash chain.
    R"sql(
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '',
  details TEXT NOT NULL DEFAULT '{}', prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
)sql",
    // 4 -> 5: policy decisions.
    R"sql(
CREATE TABLE decisions (
  seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, run_id TEXT NOT NULL, stage TEXT NOT NULL,
  task TEXT NOT NULL DEFAULT '', policy TEXT NOT NULL, rule TEXT NOT NULL,
  policy_hash TEXT NOT NULL, input_digest TEXT NOT NULL, result TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', waiver TEXT NOT NULL DEFAULT '');
CREATE INDEX decisions_by_run ON decisions(run_id, seq);
)sql",
    // 5 -> 6: approvals.
    R"sql(
CREATE TABLE approval_requests (
  run_id TEXT NOT NULL, task TEXT NOT NULL, requested_us INTEGER NOT NULL,
  deadline_us INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL, PRIMARY KEY (run_id, task));
CREATE TABLE approval_votes (
  run_id TEXT NOT NULL, task TEXT NOT NULL, user TEXT NOT NULL, approve INTEGER NOT NULL,
  comment TEXT NOT NULL DEFAULT '', time_us INTEGER NOT NULL, PRIMARY KEY (run_id, task, user));
)sql",
    // 6 -> 7: how much of the run's journal (journal.h) the tables hold.
    R"sql(
ALTER TABLE runs ADD COLUMN journal_offset INTEGER NOT NULL DEFAULT 0;
)sql",
    // 7 -> 8: trust. An approval asked again is a new round with its own votes; a vote names the
    // account that cast it (the real principal) and the audit record that makes it count; waivers
    // granted with `sluice waiver grant`. Votes of older stores had no audit link: they are not
    // carried over (a pending approval asks for them again).
    R"sql(
ALTER TABLE approval_requests ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
DROP TABLE approval_votes;
CREATE TABLE approval_votes (
  run_id TEXT NOT NULL, task TEXT NOT NULL, round INTEGER NOT NULL, account TEXT NOT NULL,
  user TEXT NOT NULL, approve INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '',
  time_us INTEGER NOT NULL, audit_seq INTEGER NOT NULL,
  PRIMARY KEY (run_id, task, round, account));
CREATE TABLE waivers (
  name TEXT PRIMARY KEY, document TEXT NOT NULL, granted_by TEXT NOT NULL,
  granted_us INTEGER NOT NULL, revoked_us INTEGER NOT NULL DEFAULT 0,
  audit_seq INTEGER NOT NULL);
)sql",
    // 8 -> 9: the API tokens of `sluice server` (only their secrets' hashes).
    R"sql(
CREATE TABLE tokens (
  id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, user_name TEXT NOT NULL, roles TEXT NOT NULL,
  created_by TEXT NOT NULL, created_us INTEGER NOT NULL, expires_us INTEGER NOT NULL DEFAULT 0,
  revoked_us INTEGER NOT NULL DEFAULT 0);
)sql",
    // 9 -> 10: the work queue of sluice server's workers (store/work.h) and the workers.
    R"sql(
CREATE TABLE work (
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, task TEXT NOT NULL, attempt INTEGER NOT NULL,
  request TEXT NOT NULL, labels TEXT NOT NULL DEFAULT '[]',
  cpu_milli INTEGER NOT NULL DEFAULT 0, memory_bytes INTEGER NOT NULL DEFAULT 0,
  gpu_milli INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, worker TEXT NOT NULL DEFAULT '',
  lease TEXT NOT NULL DEFAULT '', lease_expires_us INTEGER NOT NULL DEFAULT 0,
  cancel INTEGER NOT NULL DEFAULT 0, end_json TEXT NOT NULL DEFAULT '',
  collected INTEGER NOT NULL DEFAULT 0, created_us INTEGER NOT NULL,
  UNIQUE (run_id, task, attempt));
CREATE INDEX work_by_state ON work(state, id);
CREATE INDEX work_by_lease ON work(lease);
CREATE TABLE workers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, labels TEXT NOT NULL,
  slots INTEGER NOT NULL, registered_us INTEGER NOT NULL, seen_us INTEGER NOT NULL,
  user_name TEXT NOT NULL DEFAULT '');
)sql",
    // 10 -> 11: nothing here (PostgreSQL's events stopped using an identity; SQLite numbers
    // them max+1 as before).
    "SELECT 1;",
    // 11 -> 12: the schedules `sluice schedule apply` stores and `sluice server` fires
    // (store_schedules.cc).
    R"sql(
CREATE TABLE schedules (
  namespace TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, document TEXT NOT NULL,
  sources TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}', suspended INTEGER NOT NULL DEFAULT 0,
  watermark_us INTEGER NOT NULL, applied_by TEXT NOT NULL, applied_us INTEGER NOT NULL,
  PRIMARY KEY (namespace, name));
)sql",
    // 12 -> 13: the namespace (team) each run belongs to; older runs are in "default".
    R"sql(
ALTER TABLE runs ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default';
CREATE INDEX runs_by_namespace ON runs(namespace, created_us);
)sql",
    // 13 -> 14: the notifications' outbox and its watermark (store_notifications.cc).
    R"sql(
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY, hook TEXT NOT NULL, event TEXT NOT NULL, source TEXT NOT NULL,
  run_id TEXT NOT NULL DEFAULT '', payload TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '', created_us INTEGER NOT NULL, next_us INTEGER NOT NULL,
  delivered_us INTEGER NOT NULL DEFAULT 0, UNIQUE (hook, source));
CREATE INDEX notifications_due ON notifications(state, next_us);
CREATE TABLE notify_watermarks (source TEXT PRIMARY KEY, seq INTEGER NOT NULL);
)sql",
    // 14 -> 15 (issue 13, performance): the engine's look for ended work reads only the rows it
    // has yet to collect (a partial index, not every ended row of every run); a queued row
    // keeps when its attempt became ready, and ready_to_start holds the histogram of ready ->
    // start that /metrics serves (store_metrics.cc).
    R"sql(
ALTER TABLE work ADD COLUMN ready_us INTEGER NOT NULL DEFAULT 0;
CREATE INDEX work_to_collect ON work(run_id, id) WHERE collected=0 AND state IN ('ended','lost');
CREATE TABLE ready_to_start (
  bucket INTEGER PRIMARY KEY, samples INTEGER NOT NULL DEFAULT 0, sum_us INTEGER NOT NULL DEFAULT 0);
)sql",
    // 15 -> 16: triggers: the webhook triggers `sluice trigger apply` stores
    // (store_triggers.cc).
    R"sql(
CREATE TABLE triggers (
  namespace TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, document TEXT NOT NULL,
  sources TEXT NOT NULL, token_id TEXT NOT NULL, token_hash TEXT NOT NULL,
  applied_by TEXT NOT NULL, applied_us INTEGER NOT NULL, rotated_us INTEGER NOT NULL,
  PRIMARY KEY (namespace, name));
)sql",
    // 16 -> 17: central pools' holds and queues (store_pools.cc).
    R"sql(
CREATE TABLE pool_holds (
  pool TEXT NOT NULL, run_id TEXT NOT NULL, task TEXT NOT NULL, attempt INTEGER NOT NULL,
  units_milli INTEGER NOT NULL, granted INTEGER NOT NULL DEFAULT 0, since_us INTEGER NOT NULL,
  seen_us INTEGER NOT NULL, PRIMARY KEY (pool, run_id, task));
CREATE INDEX pool_holds_by_run ON pool_holds(run_id);
)sql",
    // 17 -> 18: rollouts, their measurements, and environments' releases (store_rollouts.cc).
    R"sql(
CREATE TABLE rollouts (
  run_id TEXT NOT NULL, task TEXT NOT NULL, environment TEXT NOT NULL, phase TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', step INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL DEFAULT '{}',
  started_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, command TEXT NOT NULL DEFAULT '',
  command_seq INTEGER NOT NULL DEFAULT 0, command_by TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, task));
CREATE INDEX rollouts_by_environment ON rollouts(environment, phase);
CREATE TABLE measurements (
  run_id TEXT NOT NULL, task TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL,
  analysis TEXT NOT NULL,
  template TEXT NOT NULL, metric TEXT NOT NULL, phase TEXT NOT NULL, value TEXT NOT NULL,
  message TEXT NOT NULL, started_us INTEGER NOT NULL, finished_us INTEGER NOT NULL,
  dry_run INTEGER NOT NULL, PRIMARY KEY (run_id, task, seq));
CREATE TABLE releases (
  seq INTEGER PRIMARY KEY, environment TEXT NOT NULL, slot TEXT NOT NULL, digest TEXT NOT NULL,
  version TEXT NOT NULL, run_id TEXT NOT NULL, task TEXT NOT NULL, actor TEXT NOT NULL,
  since_us INTEGER NOT NULL, until_us INTEGER NOT NULL DEFAULT 0);
CREATE INDEX releases_by_environment ON releases(environment, seq);
)sql",
};

// PostgreSQL: the same tables, columns, keys and indexes as kSchema, in its types. INTEGER is
// 32 bits there, so every integer is BIGINT; a sequence number the database assigns is an
// identity column (SQLite's INTEGER PRIMARY KEY); `rowid`, which SQLite gives every table, is a
// column of the tables read in insertion order; "user" is quoted (a keyword there); the names
// listed in order compare bytes (COLLATE "C"), as SQLite's do, whatever the database's locale.
// PostgreSQL stores begin at version 9 (kPgFirstVersion).
// StorePostgres.HasTheSameTablesAndColumnsAsSqlite keeps this script and kSchema in agreement.
const char* const kPgSchema = R"sql(
CREATE TABLE events (
  seq BIGINT PRIMARY KEY,
  run_id TEXT NOT NULL, time_us BIGINT NOT NULL, kind TEXT NOT NULL,
  task TEXT NOT NULL DEFAULT '', attempt BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT '', error_class TEXT NOT NULL DEFAULT '',
  exit_code BIGINT NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  pid BIGINT NOT NULL DEFAULT 0, due_us BIGINT NOT NULL DEFAULT 0,
  data TEXT NOT NULL DEFAULT '');
CREATE INDEX events_by_run ON events(run_id, seq);
CREATE TABLE runs (
  id TEXT COLLATE "C" PRIMARY KEY, pipeline TEXT NOT NULL, status TEXT NOT NULL,
  created_us BIGINT NOT NULL, started_us BIGINT NOT NULL DEFAULT 0,
  finished_us BIGINT NOT NULL DEFAULT 0, params TEXT NOT NULL DEFAULT '{}',
  spec_path TEXT NOT NULL DEFAULT '', spec_digest TEXT NOT NULL DEFAULT '',
  pid BIGINT NOT NULL DEFAULT 0, stats TEXT NOT NULL DEFAULT '',
  journal_offset BIGINT NOT NULL DEFAULT 0,
  namespace TEXT COLLATE "C" NOT NULL DEFAULT 'default');
CREATE INDEX runs_by_namespace ON runs(namespace, created_us);
CREATE TABLE sources (
  run_id TEXT NOT NULL, path TEXT NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY (run_id, path));
CREATE TABLE tasks (
  run_id TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  outputs TEXT NOT NULL DEFAULT '', started_us BIGINT NOT NULL DEFAULT 0,
  finished_us BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (run_id, name),
  rowid BIGINT GENERATED ALWAYS AS IDENTITY);
CREATE TABLE attempts (
  run_id TEXT NOT NULL, task TEXT NOT NULL, attempt BIGINT NOT NULL,
  status TEXT NOT NULL, error_class TEXT NOT NULL DEFAULT '',
  exit_code BIGINT NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
  pid BIGINT NOT NULL DEFAULT 0, started_us BIGINT NOT NULL DEFAULT 0,
  finished_us BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (run_id, task, attempt));
CREATE TABLE artifacts (
  run_id TEXT NOT NULL, task TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
  PRIMARY KEY (run_id, task, name), rowid BIGINT GENERATED ALWAYS AS IDENTITY);
CREATE TABLE cache (
  key TEXT PRIMARY KEY, run_id TEXT NOT NULL, task TEXT NOT NULL,
  outputs TEXT NOT NULL, created_us BIGINT NOT NULL);
CREATE TABLE breakers (
  name TEXT COLLATE "C" PRIMARY KEY, data TEXT NOT NULL, updated_us BIGINT NOT NULL);
CREATE TABLE breaker_transitions (
  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT NOT NULL,
  from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL, who TEXT NOT NULL,
  time_us BIGINT NOT NULL);
CREATE INDEX breaker_transitions_by_name ON breaker_transitions(name, seq);
CREATE TABLE audit (
  seq BIGINT PRIMARY KEY, time_us BIGINT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '',
  details TEXT NOT NULL DEFAULT '{}', prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE decisions (
  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, time_us BIGINT NOT NULL,
  run_id TEXT NOT NULL, stage TEXT NOT NULL,
  task TEXT NOT NULL DEFAULT '', policy TEXT NOT NULL, rule TEXT NOT NULL,
  policy_hash TEXT NOT NULL, input_digest TEXT NOT NULL, result TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', waiver TEXT NOT NULL DEFAULT '');
CREATE INDEX decisions_by_run ON decisions(run_id, seq);
CREATE TABLE approval_requests (
  run_id TEXT NOT NULL, task TEXT NOT NULL, requested_us BIGINT NOT NULL,
  deadline_us BIGINT NOT NULL DEFAULT 0, request TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL, round BIGINT NOT NULL DEFAULT 1, PRIMARY KEY (run_id, task));
CREATE TABLE approval_votes (
  run_id TEXT NOT NULL, task TEXT NOT NULL, round BIGINT NOT NULL, account TEXT NOT NULL,
  "user" TEXT NOT NULL, approve BIGINT NOT NULL, comment TEXT NOT NULL DEFAULT '',
  time_us BIGINT NOT NULL, audit_seq BIGINT NOT NULL,
  PRIMARY KEY (run_id, task, round, account), rowid BIGINT GENERATED ALWAYS AS IDENTITY);
CREATE TABLE waivers (
  name TEXT COLLATE "C" PRIMARY KEY, document TEXT NOT NULL, granted_by TEXT NOT NULL,
  granted_us BIGINT NOT NULL, revoked_us BIGINT NOT NULL DEFAULT 0,
  audit_seq BIGINT NOT NULL);
CREATE TABLE tokens (
  id TEXT COLLATE "C" PRIMARY KEY, secret_hash TEXT NOT NULL, user_name TEXT NOT NULL,
  roles TEXT NOT NULL, created_by TEXT NOT NULL, created_us BIGINT NOT NULL,
  expires_us BIGINT NOT NULL DEFAULT 0, revoked_us BIGINT NOT NULL DEFAULT 0);
CREATE TABLE work (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, run_id TEXT NOT NULL,
  task TEXT NOT NULL, attempt BIGINT NOT NULL, request TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '[]', cpu_milli BIGINT NOT NULL DEFAULT 0,
  memory_bytes BIGINT NOT NULL DEFAULT 0, gpu_milli BIGINT NOT NULL DEFAULT 0,
  state TEXT NOT NULL, worker TEXT NOT NULL DEFAULT '', lease TEXT NOT NULL DEFAULT '',
  lease_expires_us BIGINT NOT NULL DEFAULT 0, cancel BIGINT NOT NULL DEFAULT 0,
  end_json TEXT NOT NULL DEFAULT '', collected BIGINT NOT NULL DEFAULT 0,
  created_us BIGINT NOT NULL, ready_us BIGINT NOT NULL DEFAULT 0,
  UNIQUE (run_id, task, attempt));
CREATE INDEX work_by_state ON work(state, id);
CREATE INDEX work_by_lease ON work(lease);
CREATE INDEX work_to_collect ON work(run_id, id) WHERE collected=0 AND state IN ('ended','lost');
CREATE TABLE workers (
  id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL,
  labels TEXT NOT NULL, slots BIGINT NOT NULL, registered_us BIGINT NOT NULL,
  seen_us BIGINT NOT NULL, user_name TEXT NOT NULL DEFAULT '');
CREATE TABLE schedules (
  namespace TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, file TEXT NOT NULL,
  document TEXT NOT NULL, sources TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}',
  suspended BIGINT NOT NULL DEFAULT 0, watermark_us BIGINT NOT NULL, applied_by TEXT NOT NULL,
  applied_us BIGINT NOT NULL, PRIMARY KEY (namespace, name));
CREATE TABLE notifications (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, hook TEXT NOT NULL,
  event TEXT NOT NULL, source TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
  last_status BIGINT NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
  created_us BIGINT NOT NULL, next_us BIGINT NOT NULL, delivered_us BIGINT NOT NULL DEFAULT 0,
  UNIQUE (hook, source));
CREATE INDEX notifications_due ON notifications(state, next_us);
CREATE TABLE notify_watermarks (source TEXT COLLATE "C" PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE ready_to_start (
  bucket BIGINT PRIMARY KEY, samples BIGINT NOT NULL DEFAULT 0, sum_us BIGINT NOT NULL DEFAULT 0);
CREATE TABLE triggers (
  namespace TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, file TEXT NOT NULL,
  document TEXT NOT NULL, sources TEXT NOT NULL, token_id TEXT NOT NULL,
  token_hash TEXT NOT NULL, applied_by TEXT NOT NULL, applied_us BIGINT NOT NULL,
  rotated_us BIGINT NOT NULL, PRIMARY KEY (namespace, name));
CREATE TABLE pool_holds (
  pool TEXT COLLATE "C" NOT NULL, run_id TEXT COLLATE "C" NOT NULL, task TEXT COLLATE "C" NOT NULL,
  attempt BIGINT NOT NULL, units_milli BIGINT NOT NULL, granted BIGINT NOT NULL DEFAULT 0,
  since_us BIGINT NOT NULL, seen_us BIGINT NOT NULL, PRIMARY KEY (pool, run_id, task));
CREATE INDEX pool_holds_by_run ON pool_holds(run_id);
CREATE TABLE rollouts (
  run_id TEXT COLLATE "C" NOT NULL, task TEXT COLLATE "C" NOT NULL,
  environment TEXT COLLATE "C" NOT NULL, phase TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
  step BIGINT NOT NULL DEFAULT 0, data TEXT NOT NULL DEFAULT '{}', started_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL, command TEXT NOT NULL DEFAULT '',
  command_seq BIGINT NOT NULL DEFAULT 0, command_by TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, task));
CREATE INDEX rollouts_by_environment ON rollouts(environment, phase);
CREATE TABLE measurements (
  run_id TEXT COLLATE "C" NOT NULL, task TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL,
  epoch BIGINT NOT NULL, analysis TEXT NOT NULL, template TEXT NOT NULL, metric TEXT NOT NULL,
  phase TEXT NOT NULL,
  value TEXT NOT NULL, message TEXT NOT NULL, started_us BIGINT NOT NULL,
  finished_us BIGINT NOT NULL, dry_run BIGINT NOT NULL, PRIMARY KEY (run_id, task, seq));
CREATE TABLE releases (
  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, environment TEXT COLLATE "C" NOT NULL,
  slot TEXT NOT NULL, digest TEXT NOT NULL, version TEXT NOT NULL, run_id TEXT NOT NULL,
  task TEXT NOT NULL, actor TEXT NOT NULL, since_us BIGINT NOT NULL,
  until_us BIGINT NOT NULL DEFAULT 0);
CREATE INDEX releases_by_environment ON releases(environment, seq);
)sql";

// PostgreSQL's steps past kPgFirstVersion: kPgUpgrades[v - kPgFirstVersion] takes v to v + 1.
// A new schema version adds its step here as well as to kUpgrades (the size enforces it).
const std::array<const char*, Store::kSchemaVersion - kPgFirstVersion> kPgUpgrades = {
    // 9 -> 10: the work queue and the workers.
    R"sql(
CREATE TABLE work (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, run_id TEXT NOT NULL,
  task TEXT NOT NULL, attempt BIGINT NOT NULL, request TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '[]', cpu_milli BIGINT NOT NULL DEFAULT 0,
  memory_bytes BIGINT NOT NULL DEFAULT 0, gpu_milli BIGINT NOT NULL DEFAULT 0,
  state TEXT NOT NULL, worker TEXT NOT NULL DEFAULT '', lease TEXT NOT NULL DEFAULT '',
  lease_expires_us BIGINT NOT NULL DEFAULT 0, cancel BIGINT NOT NULL DEFAULT 0,
  end_json TEXT NOT NULL DEFAULT '', collected BIGINT NOT NULL DEFAULT 0,
  created_us BIGINT NOT NULL, UNIQUE (run_id, task, attempt));
CREATE INDEX work_by_state ON work(state, id);
CREATE INDEX work_by_lease ON work(lease);
CREATE TABLE workers (
  id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL,
  labels TEXT NOT NULL, slots BIGINT NOT NULL, registered_us BIGINT NOT NULL,
  seen_us BIGINT NOT NULL, user_name TEXT NOT NULL DEFAULT '');
)sql",
    // 10 -> 11: events numbered by the store (Store::Impl::Insert), not by an identity.
    "ALTER TABLE events ALTER COLUMN seq DROP IDENTITY IF EXISTS;",
    // 11 -> 12: the schedules (store_schedules.cc).
    R"sql(
CREATE TABLE schedules (
  namespace TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, file TEXT NOT NULL,
  document TEXT NOT NULL, sources TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}',
  suspended BIGINT NOT NULL DEFAULT 0, watermark_us BIGINT NOT NULL, applied_by TEXT NOT NULL,
  applied_us BIGINT NOT NULL, PRIMARY KEY (namespace, name));
)sql",
    // 12 -> 13: the namespace each run belongs to.
    R"sql(
ALTER TABLE runs ADD COLUMN namespace TEXT COLLATE "C" NOT NULL DEFAULT 'default';
CREATE INDEX runs_by_namespace ON runs(namespace, created_us);
)sql",
    // 13 -> 14: the notifications' outbox and its watermark (store_notifications.cc).
    R"sql(
CREATE TABLE notifications (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, hook TEXT NOT NULL,
  event TEXT NOT NULL, source TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
  last_status BIGINT NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
  created_us BIGINT NOT NULL, next_us BIGINT NOT NULL, delivered_us BIGINT NOT NULL DEFAULT 0,
  UNIQUE (hook, source));
CREATE INDEX notifications_due ON notifications(state, next_us);
CREATE TABLE notify_watermarks (source TEXT COLLATE "C" PRIMARY KEY, seq BIGINT NOT NULL);
)sql",
    // 14 -> 15: the rows to collect indexed, work.ready_us, the ready -> start histogram.
    R"sql(
ALTER TABLE work ADD COLUMN ready_us BIGINT NOT NULL DEFAULT 0;
CREATE INDEX work_to_collect ON work(run_id, id) WHERE collected=0 AND state IN ('ended','lost');
CREATE TABLE ready_to_start (
  bucket BIGINT PRIMARY KEY, samples BIGINT NOT NULL DEFAULT 0, sum_us BIGINT NOT NULL DEFAULT 0);
)sql",
    // 15 -> 16: triggers: the webhook triggers (store_triggers.cc).
    R"sql(
CREATE TABLE triggers (
  namespace TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, file TEXT NOT NULL,
  document TEXT NOT NULL, sources TEXT NOT NULL, token_id TEXT NOT NULL,
  token_hash TEXT NOT NULL, applied_by TEXT NOT NULL, applied_us BIGINT NOT NULL,
  rotated_us BIGINT NOT NULL, PRIMARY KEY (namespace, name));
)sql",
    // 16 -> 17: central pools' holds and queues (store_pools.cc).
    R"sql(
CREATE TABLE pool_holds (
  pool TEXT COLLATE "C" NOT NULL, run_id TEXT COLLATE "C" NOT NULL, task TEXT COLLATE "C" NOT NULL,
  attempt BIGINT NOT NULL, units_milli BIGINT NOT NULL, granted BIGINT NOT NULL DEFAULT 0,
  since_us BIGINT NOT NULL, seen_us BIGINT NOT NULL, PRIMARY KEY (pool, run_id, task));
CREATE INDEX pool_holds_by_run ON pool_holds(run_id);
)sql",
    // 17 -> 18: rollouts, their measurements, and environments' releases (store_rollouts.cc).
    R"sql(
CREATE TABLE rollouts (
  run_id TEXT COLLATE "C" NOT NULL, task TEXT COLLATE "C" NOT NULL,
  environment TEXT COLLATE "C" NOT NULL, phase TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
  step BIGINT NOT NULL DEFAULT 0, data TEXT NOT NULL DEFAULT '{}', started_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL, command TEXT NOT NULL DEFAULT '',
  command_seq BIGINT NOT NULL DEFAULT 0, command_by TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, task));
CREATE INDEX rollouts_by_environment ON rollouts(environment, phase);
CREATE TABLE measurements (
  run_id TEXT COLLATE "C" NOT NULL, task TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL,
  epoch BIGINT NOT NULL, analysis TEXT NOT NULL, template TEXT NOT NULL, metric TEXT NOT NULL,
  phase TEXT NOT NULL,
  value TEXT NOT NULL, message TEXT NOT NULL, started_us BIGINT NOT NULL,
  finished_us BIGINT NOT NULL, dry_run BIGINT NOT NULL, PRIMARY KEY (run_id, task, seq));
CREATE TABLE releases (
  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, environment TEXT COLLATE "C" NOT NULL,
  slot TEXT NOT NULL, digest TEXT NOT NULL, version TEXT NOT NULL, run_id TEXT NOT NULL,
  task TEXT NOT NULL, actor TEXT NOT NULL, since_us BIGINT NOT NULL,
  until_us BIGINT NOT NULL DEFAULT 0);
CREATE INDEX releases_by_environment ON releases(environment, seq);
)sql",
};

}  // namespace sluice
