// Store: the event store, embedded (SQLite in WAL mode) or in a PostgreSQL database. Events are
// appended to one log and applied, in the same transaction, to projections that commands read.
//
// Design block (see docs/store.md for the long form):
//   events(seq, run_id, time_us, kind, task, attempt, status, error_class, exit_code, message,
//          pid, due_us, data)   -- append-only, the truth; replay rebuilds any run
//   runs(id, pipeline, status, created_us, started_us, finished_us, params, spec_path,
//        spec_digest, pid, stats, namespace)   -- one row per run
//   sources(run_id, path, content)      -- the files a run was submitted with, for resume
//   tasks(run_id, name, state, attempts, message, outputs, started_us, finished_us)
//   attempts(run_id, task, attempt, status, error_class, exit_code, message, pid, started_us,
//            finished_us)
//   artifacts(run_id, task, name, path)   -- where each produced artifact lives
//   cache(key, run_id, task, outputs, created_us)
//   breakers(name, data, updated_us)      -- circuit breakers' state, shared by runs
//   breaker_transitions(seq, name, from_state, to_state, reason, who, time_us)
//   audit(seq, time_us, actor, action, run_id, subject, details, prev_hash, hash)
//   decisions(seq, time_us, run_id, stage, task, policy, rule, policy_hash, input_digest,
//             result, message, waiver)
//   schedules(namespace, name, file, document, sources, params, suspended, watermark_us,
//             applied_by, applied_us)   -- what `sluice schedule apply` stored (ScheduleRow)
//   triggers(namespace, name, file, document, sources, token_id, token_hash, applied_by,
//            applied_us, rotated_us)   -- what `sluice trigger apply` stored (TriggerRow)
//   pool_holds(pool, run_id, task, attempt, units_milli, granted, since_us, seen_us)
//            -- central pools' holds and queues (PoolHoldRow)
//   rollouts(run_id, task, environment, phase, message, step, data, started_us, updated_us,
//            command, command_seq, command_by)   -- deploy tasks' state (rollout_rows.h)
//   measurements(run_id, task, seq, analysis, template, metric, phase, value, message,
//                started_us, finished_us, dry_run)   -- every analysis measurement
//   releases(seq, environment, slot, digest, version, run_id, task, actor, since_us, until_us)
//            -- which model each environment serves, and its history (never pruned)
// Why: commands (runs, status, logs) read small projection rows instead of replaying; the
// engine replays the log on resume so the projections can never disagree with what it does.
// Rejected: one row per run holding a JSON document (rewritten on every change: O(n^2) for big
// runs); a file per event (no atomic batches).
//
// Engines: the SQL is written once and runs through a small connection seam (sql.h) with two
// drivers, SQLite (sqlite_conn.cc, the hot path of local runs) and PostgreSQL (pg_conn.cc, libpq
// loaded with dlopen on first use, so SQLite runs never load it). Both have the same tables,
// columns and schema versions (PostgreSQL's from version 8; kPgSchema), and both serialize
// writers (BEGIN IMMEDIATE; a transaction-scoped advisory lock), which the audit chain and the
// run-id check rely on. docs/store.md#postgresql lists the dialect differences.
//
// A Store is used by one thread. Several processes may open the same file (WAL + busy timeout)
// or database.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/event.h"
#include "env/env.h"
#include "store/rollout_rows.h"
#include "store/ready_to_start.h"
#include "store/faulty_vfs.h"
#include "store/work.h"

namespace sluice {

struct RunRecord {
  std::string id;
  std::string pipeline;
  std::string status;  // pending, running, succeeded, failed, cancelled
  int64_t created_us = 0;
  int64_t started_us = 0;
  int64_t finished_us = 0;
  std::string params;  // JSON
  std::string spec_path;
  std::string spec_digest;
  int64_t pid = 0;
  std::string stats;  // JSON
  std::string ns = "default";  // the namespace (team) it belongs to; local runs are in "default"
};

struct TaskRecord {
  std::string name;
  std::string state;
  int attempts = 0;
  std::string message;
  std::string outputs;  // JSON
  int64_t started_us = 0;
  int64_t finished_us = 0;
};

struct AttemptRecord {
  std::string task;
  int attempt = 0;
  std::string status;
  std::string error_class;
  int exit_code = 0;
  std::string message;
  int64_t pid = 0;
  int64_t started_us = 0;
  int64_t finished_us = 0;
};

struct CacheRecord {
  std::string key;
  std::string run_id;
  std::string task;
  std::string outputs;
  int64_t created_us = 0;
};

struct BreakerRow {
  std::string name;
  std::string data;  // JSON, owned by engine/breaker.h
  int64_t updated_us = 0;
};

struct BreakerTransitionRow {
  std::string name;
  std::string from;
  std::string to;
  std::string reason;
  std::string who;  // RUN/TASK#ATTEMPT, or operator
  int64_t time_us = 0;
};

// One record of the audit log: who did what to which run, chained by SHA-256.
struct AuditRecord {
  int64_t seq = 0;           // 1, 2, ... assigned by the store
  int64_t time_us = 0;
  std::string actor;         // who: a user name, or "sluice" for the engine's own decisions
  std::string action;        // run.submitted, run.cancelled, breaker.open, ...
  std::string run_id;        // "" when not about a run
  std::string subject;       // what it is about within the run: a task, a breaker, a policy
  std::string details;       // canonical JSON object
  std::string prev_hash;     // hex SHA-256 of the record before ("0" x 64 for the first)
  std::string hash;          // hex SHA-256 of prev_hash + "\n" + AuditPayload(record)
};
// The canonical JSON that a record's hash covers (every field but the hashes).
std::string AuditPayload(const AuditRecord& r);

// A policy decision (policy/policy.h), as stored.
struct DecisionRow {
  int64_t time_us = 0;
  std::string run_id;
  std::string stage;  // admission | gate
  std::string task;
  std::string policy, rule, policy_hash, input_digest, result, message, waiver;
};

// An approval a task waits for, as `sluice approvals` lists it.
struct ApprovalRequestRow {
  std::string run_id;
  std::string task;
  int64_t requested_us = 0;
  int64_t deadline_us = 0;  // 0 = none
  std::string request;      // JSON: approvers, quorum, forbidSelfApproval, instructions
  std::string state;        // pending | approved | rejected
  int64_t round = 1;        // 1, then one more each time the task asks again (a group retry)
};
// A vote on one round of an approval.
struct VoteRow {
  std::string user;         // the name voted as
  std::string account;      // the operating-system account that cast it: the real principal
  bool approve = false;
  std::string comment;
  int64_t time_us = 0;
  int64_t round = 0;
  int64_t audit_seq = 0;    // its audit record (approval.approved|rejected)
};

// A waiver granted with `sluice waiver grant` (store_waivers.cc).
struct WaiverRow {
  std::string name;
  std::string document;    // canonical JSON of the Waiver document (the loader reads it back)
  std::string granted_by;  // the audit actor who granted it ("carol", "carol (by root)")
  int64_t granted_us = 0;
  int64_t revoked_us = 0;  // 0 = in force (until it expires); -1 = revoked by its audit record
  int64_t audit_seq = 0;   // its waiver.granted audit record
  bool verified = false;   // ListWaivers: that record exists, records this grant, and chains
};

// An API token of `sluice server` (store_tokens.cc): only the SHA-256 of its secret is kept.
struct TokenRow {
  std::string id;           // the public part of the token, "tok_" + 16 hex digits
  std::string secret_hash;  // hex SHA-256 of the secret part
  std::string user;         // who the token speaks for
  std::string roles;        // canonical JSON: {"NAMESPACE": "viewer|operator|approver|admin"}
  std::string created_by;   // the audit actor who created it
  int64_t created_us = 0;
  int64_t expires_us = 0;   // 0 = never
  int64_t revoked_us = 0;   // 0 = in force
};

// A schedule as `sluice schedule apply` stored it (store_schedules.cc). The schedule file and
// its pipeline's files are a snapshot taken at apply: editing the files later changes nothing
// until the schedule is applied again. Which runs it started is not kept here: each of its
// runs records the schedule in its run.created event (docs/schedules.md).
struct ScheduleRow {
  std::string ns = "default";  // its namespace
  std::string name;
  std::string file;        // the schedule file's path, where `sources` put it
  std::string document;    // the schedule file's text
  std::string sources;     // JSON {path: text}: the pipeline's files and what it imports
  std::string params;      // JSON {name: text}: the schedule's params as -p texts
  bool suspended = false;
  int64_t watermark_us = 0;  // every fire at or before it has been handled (schedule.h)
  std::string applied_by;  // the audit actor who applied it
  int64_t applied_us = 0;
};

// --- triggers (docs/triggers.md; store_triggers.cc)
// A webhook trigger as `sluice trigger apply` stored it: a snapshot of its file and its
// pipeline's files, as a schedule's, and its token: only the token's id and the SHA-256 of its
// secret (access.h), so that the store never holds what fires it.
struct TriggerRow {
  std::string ns = "default";
  std::string name;
  std::string file;        // the trigger file's path, where `sources` put it
  std::string document;    // the trigger file's text
  std::string sources;     // JSON {path: text}: the pipeline's files and what it imports
  std::string token_id;    // 16 hex digits
  std::string token_hash;  // SHA-256 (hex) of the token's secret
  std::string applied_by;  // the audit actor who applied it last
  int64_t applied_us = 0;
  int64_t rotated_us = 0;  // when its token was made (first apply or rotate)
};
// --- end of triggers
// --- central pools (store_pools.cc; docs/pools.md). One row per pool, run and task: a hold
// (granted) or a place in the pool's queue. Units are counted in thousandths.
struct PoolHoldRow {
  std::string pool;  // CentralPool::Key(): "NAME", or "NS/NAME" for a namespace's own
  std::string run_id;
  std::string task;
  int attempt = 0;
  int64_t units_milli = 0;
  bool granted = false;
  int64_t since_us = 0;  // waiting since: the queue's order
  int64_t seen_us = 0;   // last asked; a waiting row not asked for kPoolWaitForgetUs is dropped
};
struct PoolAsk {
  std::string pool;  // as PoolHoldRow::pool
  int64_t capacity_milli = 0;
  int64_t units_milli = 0;
};
// --- end of central pools

struct AuditCheck {
  int64_t records = 0;
  int64_t broken_at = 0;  // the first record that does not verify, 0 = none
  std::string why;
  std::string head;       // the last record's hash
};

// --- Notifications (issue 13; store_notifications.cc, docs/notifications.md): the outbox of
// the webhooks `sluice server` calls.
// One delivery of one event to one hook, and what became of its attempts.
struct NotificationRow {
  int64_t id = 0;             // assigned by the store, increasing
  std::string hook;           // the hook's name in notifications.yaml (its URL is not stored)
  std::string event;          // run.failed | run.succeeded | approval.requested | breaker.opened
  std::string source;         // "event:SEQ" or "breaker:SEQ": what it tells of (unique per hook)
  std::string run_id;         // "" for a breaker's
  std::string payload;        // the JSON body POSTed
  std::string state = "pending";  // pending | delivered | failed
  int64_t attempts = 0;
  int64_t last_status = 0;    // the HTTP status of the last attempt; 0: none came
  std::string last_error;     // why the last attempt failed; "" when it did not
  int64_t created_us = 0;
  int64_t next_us = 0;        // pending: when the next attempt is due
  int64_t delivered_us = 0;   // delivered: when
};
// How far the leader has read the event log and the breaker transitions for notifications.
struct NotifyWatermark {
  int64_t event_seq = 0;
  int64_t breaker_seq = 0;
  bool operator==(const NotifyWatermark&) const = default;
};
// --- end of notifications

// Changes a breaker's data in place and returns the transitions to record.
using BreakerUpdate = std::function<Result<std::vector<BreakerTransitionRow>>(std::string& data)>;

class Store : public EventSink {
 public:
  // Opens (creating and migrating as needed) the store at `path`: a SQLite file, or a
  // postgresql:// (postgres://) libpq URI of an existing database. On failure (unreadable file,
  // unreachable server, libpq missing, a schema newer than this build) returns an error and
  // nothing is changed.
  // `faults` are injected under a SQLite store: an fsync that fails, a full disk (faulty_vfs.h).
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const StoreFaults& faults = {});
  ~Store() override;

  static constexpr int kSchemaVersion = 18;

  // Records a new run with its sources, its run.created event and (when given) its audit
  // record, in one transaction. Fails with kConflict, recording nothing, when a run with that
  // id exists already. `then` are events that follow run.created in the same transaction (the
  // tasks a rerun reuses).
  Status CreateRun(const RunRecord& run, const std::map<std::string, std::string>& sources,
                   const Event& created, const AuditRecord* audit = nullptr,
                   const std::vector<DecisionRow>& decisions = {},
                   const std::vector<Event>& then = {});
  // Retention (store_prune.cc, docs/store.md "Retention"). The finished runs (IsFinished) that
  // ended before `before_us`, oldest first, at most `limit`; only namespace `ns`'s unless "".
  Result<std::vector<RunRecord>> FinishedRunsBefore(int64_t before_us, int limit,
                                                    const std::string& ns = "");
  // The namespaces that hold runs, in order.
  Result<std::vector<std::string>> RunNamespaces();
  // Deletes run `run_id`'s events, projections, sources, cache entries, decisions, approvals
  // and work rows, leaving `tombstone` (a run.pruned event, numbered after every event so far)
  // as its one event and appending `audit`, in one transaction. The audit chain keeps every
  // record. Fails with kConflict, deleting nothing, when the run is not finished (re-read under
  // the write lock: a retry may have reopened it) and kNotFound when there is no such run.
  Result<AuditRecord> PruneRun(const std::string& run_id, const Event& tombstone,
                               AuditRecord audit);
  // Every artifact path a stored run or cache entry refers to (what retention must keep), and
  // "/sha256/XX/DIGEST" for each blob a worker's end not collected yet names.
  Result<std::vector<std::string>> ReferencedArtifacts();
  // A pruned run's tombstone (its run.pruned event), or nullopt.
  Result<std::optional<Event>> FindTombstone(const std::string& run_id);
  // Approvals: requests (a projection of approval.requested/decided events) and votes.
  Result<std::vector<ApprovalRequestRow>> ListApprovalRequests(bool pending_only);
  Result<std::optional<ApprovalRequestRow>> GetApprovalRequest(const std::string& run_id,
                                                               const std::string& task);
  // Casts `vote` on round `vote.round` of the task's approval, with its audit record `audit`, in
  // one transaction: both are stored or neither. On success returns the audit record as
  // appended. Refused (kConflict, nothing stored) when that round is no longer pending, when
  // `vote.time_us` is at or past its deadline, or when `vote.account` already voted in it.
  Result<AuditRecord> CastVote(const std::string& run_id, const std::string& task,
                               const VoteRow& vote, AuditRecord audit);
  // The votes of the approval's current round that count: those whose audit record exists,
  // records the same vote, and chains from the first record of the log. A vote row written
  // around `CastVote` (straight into SQLite) is not among them. In the order cast.
  Result<std::vector<VoteRow>> ListVotes(const std::string& run_id, const std::string& task);
  // Who submitted the run: the actor of its run.submitted audit record, "" when unknown.
  Result<std::string> RunSubmitter(const std::string& run_id);
  // The run's run.submitted audit record, when it exists and the chain holds up to it; nullopt
  // when there is none, an error when the chain is broken before or at it.
  Result<std::optional<AuditRecord>> SubmittedRecord(const std::string& run_id);
  // The newest audit record about run `run_id`, nullopt when there is none.
  Result<std::optional<AuditRecord>> LastAuditRecord(const std::string& run_id);
  // Waivers: GrantWaiver stores `w` (name, document, granted_by, granted_us) with its
  // waiver.granted audit record in one transaction, and returns the record; refused
  // (kConflict) when a waiver of that name is in force. RevokeWaiver records waiver.revoked
  // and marks the row, in one transaction (kNotFound when none is in force). ListWaivers
  // gives every row with `verified` set only when its audit record chains (a row written
  // straight into SQLite is not verified, and must lift nothing).
  Result<AuditRecord> GrantWaiver(const WaiverRow& w, AuditRecord audit);
  Result<AuditRecord> RevokeWaiver(const std::string& name, int64_t now_us, AuditRecord audit);
  Result<std::vector<WaiverRow>> ListWaivers();
  // API tokens: CreateToken stores `t` with its token.created audit record in one transaction
  // (kConflict when the id exists); RevokeToken records token.revoked and marks the row (kNotFound
  // when no token of that id is in force). FindToken gives the row of an id, in force or not.
  Result<AuditRecord> CreateToken(const TokenRow& t, AuditRecord audit);
  Result<AuditRecord> RevokeToken(const std::string& id, int64_t now_us, AuditRecord audit);
  Result<std::optional<TokenRow>> FindToken(const std::string& id);
  Result<std::vector<TokenRow>> ListTokens();

  // The work queue (store/work.h, store_work.cc). EnqueueWork inserts queued rows (run, task
  // and attempt unique: kConflict) in one transaction and returns their ids. EndedWork gives the
  // ended and lost rows of a run not yet collected, CollectWork marks rows collected. CancelWork
  // ends a queued row as cancelled, or flags a leased one for its worker to kill. FindWork gives
  // the row of an attempt, if any.
  Result<std::vector<int64_t>> EnqueueWork(const std::vector<WorkRow>& rows);
  Result<std::vector<WorkRow>> EndedWork(const std::string& run_id);
  Status CollectWork(const std::vector<int64_t>& ids);
  Status CancelWork(int64_t id, const std::string& end_json);
  Result<std::optional<WorkRow>> FindWork(const std::string& run_id, const std::string& task,
                                          int64_t attempt);
  // The worker's side. LeaseWork grants up to offer.slots queued rows that FitsWorker, oldest
  // first, each under a new lease id from `new_lease` expiring at `expires_us`, and adds each
  // grant's ready -> start (`now_us` - its ready_us) to the histogram. Heartbeat
  // extends the leases in `held` that `worker` still holds and names those to kill.
  // EndWork records the end of a lease `worker` holds (kConflict when it holds it no more).
  Result<std::vector<WorkRow>> LeaseWork(WorkerOffer offer, int64_t now_us, int64_t expires_us,
                                         const std::function<std::string()>& new_lease);
  Result<HeartbeatAnswer> Heartbeat(const std::string& worker,
                                    const std::vector<std::string>& held, int64_t expires_us);
  Result<WorkRow> EndWork(const std::string& worker, const std::string& lease,
                          const std::string& end_json);
  // EndWork for each (lease, end JSON) of `ends` in one transaction (one commit for a batch of
  // a worker's ends); one result per item, in order: its row (its request left out), or
  // kConflict for a lease `worker` no longer holds (the others are recorded all the same). An
  // error only when the store fails.
  Result<std::vector<Result<WorkRow>>> EndWorks(
      const std::string& worker, const std::vector<std::pair<std::string, std::string>>& ends);
  // The work row of lease `lease` held by `worker` (kConflict when it holds it no more).
  Result<WorkRow> LeasedWork(const std::string& worker, const std::string& lease);
  // The server's sweeper: leased rows whose lease expired before `now_us` become lost (their
  // end says why); returns how many. GraceLeases gives every lease that would expire before
  // `until_us` until then (a server that starts).
  Result<int64_t> ExpireLeases(int64_t now_us, const std::string& lost_end_json);
  Status GraceLeases(int64_t until_us);
  // Queued rows (the lease queue's depth), and registered workers seen since `since_us`.
  Result<int64_t> QueuedWork();
  Status RegisterWorker(const WorkerRow& w);
  // The registered worker `id`, if any; TouchWorker records that it was seen at `now_us`.
  Result<std::optional<WorkerRow>> FindWorker(const std::string& id);
  Status TouchWorker(const std::string& id, int64_t now_us);
  Result<int64_t> CountWorkers(int64_t since_us);
  // The histogram of ready -> start (ready_to_start.h, store_metrics.cc). ObserveReadyToStart
  // (EventSink) keeps an engine's sample in memory until its next commit or publish of events
  // writes it; AddReadyToStart adds samples in a transaction of their own; ReadyToStart reads
  // the sums of every writer so far, for /metrics.
  void ObserveReadyToStart(int64_t latency_us) override;
  Status AddReadyToStart(const ReadyToStartHistogram& h);
  Result<ReadyToStartHistogram> ReadyToStart();
  // How many runs have each status, and tasks each state (as recorded), for /metrics.
  Result<std::vector<std::pair<std::string, int64_t>>> CountRunsByStatus();
  Result<std::vector<std::pair<std::string, int64_t>>> CountTasksByState();
  // The ids of runs not finished (pending, running, compensating...), oldest first: those a
  // server's leader keeps an engine for (server/leader.h).
  Result<std::vector<std::string>> UnfinishedRunIds();
  // Takes, or confirms that this store's connection still holds, the PostgreSQL store's leader
  // lock (one per database): true while it does, false while another connection holds it. The
  // lock ends with the connection. Fails with kInvalidInput on a SQLite store (its servers
  // elect with a file lock beside it) and with kStore when the database cannot be reached.
  Result<bool> HoldLeadership();
  // Schedules (store_schedules.cc). ApplySchedule stores `row` with its schedule.applied
  // audit record in one transaction; applied again, a schedule keeps its watermark (the
  // fires it handled are not fired again) and takes the new document, sources, params and
  // suspend flag. SuspendSchedule sets the flag with its schedule.suspended|resumed record
  // (kNotFound when there is no such schedule). ListSchedules gives those of namespace `ns`
  // ("" = all), by namespace and name. AdvanceWatermark raises the watermark to
  // `watermark_us` (never lowers it: a leader that lost the lead cannot undo the new one's
  // work). ScheduledRuns gives {run id, run.created data} of the unfinished runs whose id
  // starts with "sched-" (the runs schedules started), by id.
  Result<AuditRecord> ApplySchedule(const ScheduleRow& row, AuditRecord audit);
  Result<AuditRecord> SuspendSchedule(const std::string& ns, const std::string& name,
                                      bool suspend, AuditRecord audit);
  Result<std::vector<ScheduleRow>> ListSchedules(const std::string& ns);
  Status AdvanceWatermark(const std::string& ns, const std::string& name, int64_t watermark_us);
  Result<std::vector<std::pair<std::string, std::string>>> ScheduledRuns();
  // --- Notifications (store_notifications.cc). NotificationWatermark gives the outbox's
  // watermark; a store that has none yet starts it at the newest event and transition (a new
  // outbox does not tell of the past). NotableEvents gives the run.finished and
  // approval.requested events with after < seq <= upto, at most `limit`, by seq;
  // OpeningTransitions the breaker transitions to open or forced-open likewise, with their seq.
  // EnqueueNotifications moves the watermark from `from` to `to` and adds `rows` (one per hook
  // and source; a repeated one is ignored), in one transaction: kConflict, nothing stored, when
  // the watermark is no longer `from` (another leader moved it). DueNotifications gives the
  // pending rows due at `now_us`, oldest first. RecordAttempt stores a pending row's attempts,
  // status, error, state and times. ListNotifications gives the newest `limit` rows (only the
  // failed ones with `failed_only`), newest first.
  Result<NotifyWatermark> NotificationWatermark();
  Result<std::vector<Event>> NotableEvents(int64_t after, int64_t upto, int limit);
  Result<std::vector<std::pair<int64_t, BreakerTransitionRow>>> OpeningTransitions(
      int64_t after, int64_t upto, int limit);
  Result<int64_t> LastBreakerTransitionSeq();
  Status EnqueueNotifications(const NotifyWatermark& from, const NotifyWatermark& to,
                              const std::vector<NotificationRow>& rows);
  Result<std::vector<NotificationRow>> DueNotifications(int64_t now_us, int limit);
  Status RecordAttempt(const NotificationRow& row);
  Result<std::vector<NotificationRow>> ListNotifications(bool failed_only, int limit);
  // --- end of notifications
  // --- triggers (store_triggers.cc). ApplyTrigger stores `row` with its trigger.applied audit
  // record in one transaction and says whether it was new: applied again, a trigger keeps its
  // token (row's token_id and token_hash are used only for a new one) and takes the new file,
  // sources and applier. RotateTrigger gives it a new token and RemoveTrigger deletes it, each
  // with its audit record (kNotFound, nothing written, when there is no such trigger).
  // FindTrigger gives the row of `ns`/`name` if any; ListTriggers those of `ns` ("" = all), by
  // namespace and name.
  Result<bool> ApplyTrigger(const TriggerRow& row, AuditRecord audit);
  Status RotateTrigger(const std::string& ns, const std::string& name, const std::string& token_id,
                       const std::string& token_hash, int64_t now_us, AuditRecord audit);
  Status RemoveTrigger(const std::string& ns, const std::string& name, AuditRecord audit);
  Result<std::optional<TriggerRow>> FindTrigger(const std::string& ns, const std::string& name);
  Result<std::vector<TriggerRow>> ListTriggers(const std::string& ns);
  // --- end of triggers
  // --- central pools (store_pools.cc). AcquirePools takes `units` of every pool of `asks` for
  // task `task` (attempt `attempt`) of `run_id`, or none, in one transaction: a pool grants
  // when its held units, plus those of rows waiting since before `since_us` (first come, first
  // served), plus these fit its capacity. Returns true when granted; false when not, the task's
  // rows then keeping their place in the queues (asked at `now_us`). Waiting rows not asked for
  // kPoolWaitForgetUs are dropped. ReleasePools deletes `run_id`'s rows of `task` ("" = all of
  // the run's); SetPoolHolds makes the run hold exactly `held` (granted), in one transaction.
  // ListPoolHolds gives every row, by pool, holds first, then by place in the queue.
  Result<bool> AcquirePools(const std::string& run_id, const std::string& task, int attempt,
                            int64_t since_us, const std::vector<PoolAsk>& asks, int64_t now_us);
  Status ReleasePools(const std::string& run_id, const std::string& task);
  Status SetPoolHolds(const std::string& run_id, const std::vector<PoolHoldRow>& held);
  Result<std::vector<PoolHoldRow>> ListPoolHolds();
  static constexpr int64_t kPoolWaitForgetUs = 30'000'000;
  // --- end of central pools
  // --- parity (issue 13; store_parity.cc): the ids of runs that start with `prefix`, in
  // namespace `ns` ("" = any), in id order, at most `limit`: the server resolves a run prefix
  // among the runs a token may read only.
  Result<std::vector<std::string>> RunIdsWithPrefix(const std::string& prefix,
                                                    const std::string& ns, int limit);
  // --- end of parity
  // --- rollouts (issue 14; store_rollouts.cc, rollout_rows.h, docs/rollouts.md).
  // Creates or rewrites a rollout's state (never its command). `claim`: in the same transaction,
  // refuses when another rollout of the environment is active (not Waiting, Healthy or
  // Degraded), returning that one; only one rollout acts on an environment at a time.
  Result<std::optional<RolloutRow>> PutRollout(const RolloutRow& r, bool claim);
  Result<std::optional<RolloutRow>> GetRollout(const std::string& run_id, const std::string& task);
  // Every rollout, newest first; of one environment when `environment` is not empty.
  Result<std::vector<RolloutRow>> ListRollouts(const std::string& environment);
  // Gives rollout (run, task) a command, audited as `actor`'s `action`, in one transaction.
  Result<AuditRecord> CommandRollout(const std::string& run_id, const std::string& task,
                                     const std::string& command, AuditRecord audit);
  Status AddMeasurement(const MeasurementRow& m);  // seq is the next of its rollout
  Result<std::vector<MeasurementRow>> Measurements(const std::string& run_id,
                                                   const std::string& task);
  // Makes `r` the environment's current release (ending the one before) and audits it.
  Status RecordRelease(const ReleaseRow& r, AuditRecord audit);
  // An environment's releases, newest first ("" = every environment's), at most `limit`.
  Result<std::vector<ReleaseRow>> Releases(const std::string& environment, int limit);
  // --- end of rollouts
  // Policy decisions of a run, in the order made (admission's, then gates').
  Result<std::vector<DecisionRow>> ListDecisions(const std::string& run_id);

  // The audit log: append-only, each record chained to the one before by SHA-256.
  // Append fills seq, prev_hash and hash. Verify recomputes the chain and names the first
  // record that was changed, removed, inserted or moved; `expect_head` (a hash exported
  // earlier) also catches records removed from the end.
  Result<AuditRecord> AppendAudit(AuditRecord r);
  Result<std::vector<AuditRecord>> ListAudit(int64_t after_seq = 0);
  Result<AuditCheck> VerifyAudit(const std::string& expect_head = "");

  // EventSink: Append() buffers in memory. Commit() makes the batch durable: without a journal
  // by writing it in one transaction (so no write lock is held between commits); with one by
  // appending it to the journal, publishing into the tables later (journal.h).
  void Append(const Event& e) override;
  Status Commit() override;
  int64_t PublishDueUs() const override;
  Status Publish() override;

  // The journal of `run_id`, which this process executes (holding the run's lock): first
  // publishes what an earlier process left unpublished in it, then starts it afresh. From then on
  // committed events are published at the latest kPublishAfterUs after their time, at once for
  // those other processes act on (run-level events, gates, approvals), and before any other
  // statement of this Store, so its own reads always see them.
  Status OpenJournal(FileSystem& fs, const std::string& path, const std::string& run_id);
  // Publishes everything and removes the journal.
  Status CloseJournal();
  static constexpr int64_t kPublishAfterUs = 25'000;
  static constexpr size_t kPublishEvents = 4096;

  // The newest `limit` runs, of namespace `ns` only unless it is "".
  Result<std::vector<RunRecord>> ListRuns(int limit, const std::string& ns = "");
  // Finds a run by id or unique id prefix.
  Result<RunRecord> GetRun(const std::string& id_or_prefix);
  Result<std::vector<Event>> LoadEvents(const std::string& run_id);
  // At most `limit` events with a sequence number above `after_seq`, in order: of the run
  // `run_id`, or of every run when it is "" (sequence numbers are global and committed in
  // order, so a reader that saw N never later sees a new event below N). The server's event
  // streams (src/server/streams.cc) resume from a position this way.
  // The sequence number of the newest event of any run (0 when there is none).
  Result<int64_t> LastEventSeq();
  Result<std::vector<Event>> LoadEventsAfter(int64_t after_seq, const std::string& run_id,
                                             int limit);
  Result<std::vector<TaskRecord>> ListTasks(const std::string& run_id);
  // Artifacts of top-level tasks: {task, name, path}.
  Result<std::vector<std::array<std::string, 3>>> ListArtifacts(const std::string& run_id);
  // Every recorded artifact stored under content digest `digest` (64 hex digits; the caller
  // checks): {run_id, task, path}, of any task (forEach items too), oldest first. Scans the
  // artifacts table (no index on paths): for the API's downloads, not for hot paths.
  Result<std::vector<std::array<std::string, 3>>> FindArtifactRefs(const std::string& digest);
  Result<std::vector<AttemptRecord>> ListAttempts(const std::string& run_id);
  Result<std::map<std::string, std::string>> LoadSources(const std::string& run_id);

  // The outputs JSON of a cache entry younger than ttl_ms (0: any age).
  Result<std::optional<std::string>> FindCache(const std::string& key, int64_t ttl_ms,
                                               int64_t now_us);
  Result<std::vector<CacheRecord>> ListCache();
  Result<int> ClearCache();

  // Circuit breakers. UpdateBreaker reads the breaker's data ("" when new), lets `update`
  // change it and writes it back with the transitions `update` returns, in one transaction:
  // concurrent runs sharing the state directory see each other's calls.
  Result<std::vector<BreakerTransitionRow>> UpdateBreaker(const std::string& name, int64_t now_us,
                                                          const BreakerUpdate& update);
  Result<std::vector<BreakerRow>> ListBreakers();
  // The last `limit` transitions of one breaker ("" = of all), oldest first.
  Result<std::vector<BreakerTransitionRow>> ListBreakerTransitions(const std::string& name,
                                                                   int limit);

  // ---- Notifications across hosts (issue 13, PostgreSQL LISTEN/NOTIFY; pg_listen.cc) ----
  // A doorbell (env.h) rung by every commit that queues work (ListenWork: a server's waiting
  // lease requests) or records ends of run `run_id` (ListenEnds: its engine) in the store at
  // `path` (as Open takes it), from any process on any host, over a connection of its own.
  // Null for a SQLite store, which has no notifications (env's bells link the processes of
  // one host). On failure (the database cannot be reached) an error.
  static Result<std::unique_ptr<Doorbell>> ListenWork(const std::string& path);
  static Result<std::unique_ptr<Doorbell>> ListenEnds(const std::string& path,
                                                      const std::string& run_id);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
