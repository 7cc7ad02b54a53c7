// Event: one state change of a run, the unit of the event-sourced store. The engine emits
// events and rebuilds its state by applying them (replay is recovery); the store appends them
// and keeps its projections (runs, tasks, attempts, artifacts, cache) in step.
//
// Design: one flat record with a kind and a few typed columns, plus a JSON `data` field for the
// kind-specific rest (outputs, forEach items, cache keys). Flat columns keep the hot path (an
// attempt starting and finishing) free of JSON parsing; rejected alternative: one JSON blob per
// event, which made every projection update parse text. Kinds are stored by name, not number,
// so the log reads well in SQL and survives reordering of this enum.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace sluice {

enum class EventKind {
  kRunCreated,      // status "pending"; data: {"params": {...}}
  kRunStarted,      // a process began (or resumed) executing the run; pid
  kTaskSkipped,     // message says why
  kTaskExpanded,    // forEach: data = JSON list of items
  kAttemptStarted,  // written before the process is spawned; data: {"cache_key": ...}
  kAttemptSpawned,  // pid
  kAttemptFinished, // status succeeded|failed; error_class, exit_code, message
  kRetryScheduled,  // attempt = the next attempt; due_us
  kTaskFinished,    // status succeeded|cached|failed|upstream-failed|cancelled; data: outputs
  kRunFinished,     // status succeeded|failed|cancelled|compensated|...; data: stats
  kHandlerStarted,  // task = the handler instance; data: {"owner", "plan", "error"}
  kRunPhase,        // status compensating|finalizing; data: {"status", "rollback", "instances"}
  kGroupRetry,      // a group's members are reset; data: {"group", "round", "failed"}; due_us
  kPolicyDecision,  // a task's gate was evaluated; data: {"stage", "decisions": [...]}
  kApprovalRequested,  // the task waits for a sign-off; due_us = deadline (0 none); data: the request
  kApprovalDecided,    // status approved|rejected; message says by whom or why
  kRunRetried,  // `sluice retry`: a finished run's failed tasks and what depends on them start
                // over; data: {"tasks": [...], "retired": [...], "requested": [...]}, message: by whom
  kRunPruned,   // `sluice prune` deleted the run's records: the only event of it left (its
                // tombstone); message: by whom, when; data: {"by", "pipeline", "status", ...}
};

std::string_view EventKindName(EventKind k);
// Returns false when `name` is not a kind.
bool ParseEventKind(std::string_view name, EventKind* out);

struct Event {
  int64_t seq = 0;  // assigned by the store
  std::string run_id;
  int64_t time_us = 0;
  EventKind kind = EventKind::kRunCreated;
  std::string task;  // instance name, e.g. "train" or "train[2]"; empty for run events
  int attempt = 0;   // 1-based; 0 when not about an attempt
  std::string status;
  std::string error_class;  // exit, signal, timeout, spawn-error, lost, cancelled, ...
  int exit_code = 0;        // exit status, or the signal number for class "signal"
  std::string message;
  int64_t pid = 0;
  int64_t due_us = 0;
  std::string data;  // JSON, "" when none
};

// Durable, ordered event log of one run. Append() buffers; Commit() makes everything appended
// since the last commit durable at once (all or none).
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Append(const Event& e) = 0;
  // On success all appended events are durable. On failure none of them are, and the run must
  // stop: a later `resume` continues from the last committed event.
  virtual Status Commit() = 0;
  // A sink may make committed events visible to other readers (the store's tables) later than
  // Commit, in batches. PublishDueUs() is when it must publish at the latest (engine clock; -1:
  // nothing waits), and Publish() publishes everything committed now. A failure is like a failed
  // Commit: the run must stop.
  virtual int64_t PublishDueUs() const { return -1; }
  virtual Status Publish() { return {}; }
  // One attempt started `latency_us` after its task became ready (a local attempt, spawned):
  // a sample of the ready -> start histogram that /metrics serves, which the sink writes with
  // what it commits or publishes next (store/ready_to_start.h). A sink may ignore it.
  virtual void ObserveReadyToStart(int64_t latency_us) { (void)latency_us; }
};

}  // namespace sluice
