// The work queue of `sluice server` (docs/workers.md): one row per attempt of executor: worker,
// from the engine that queued it, through the worker that leases it, to its end, which the
// engine collects. Rows live in the store's work table (store_work.cc); this header holds their
// shape and the pure rule of which queued attempt a worker may take.
//
// Design. A row's state moves one way: queued -> leased -> ended, or queued|leased -> lost (a
// lease that expired), or queued -> ended (cancelled before any worker took it). A lease is
// a random id given with each grant: a worker speaks for an attempt only with the lease it was
// given, so a result for a lease that expired (the row is lost) is refused. The engine reads
// ended and lost rows of its run in one query per poll and marks them collected once their
// ends are committed; rows are never re-queued (a retry is a new attempt, hence a new row).
// Rejected: a queue in the server's memory (an engine is a process of its own, and a restarted
// server must find the leases it gave). Waiters are woken by doorbells on one host and, with
// PostgreSQL, by LISTEN/NOTIFY across hosts (Store::ListenWork, ListenEnds); they also look on
// their own now and then, which is all SQLite's need besides the bells.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

struct WorkRow {
  int64_t id = 0;
  std::string run_id, task;
  int64_t attempt = 0;
  std::string request;  // the AttemptRequest as JSON (exec/work_codec.h)
  std::vector<std::pair<std::string, std::string>> labels;  // sorted; a worker must have each
  int64_t cpu_milli = 0, memory_bytes = 0, gpu_milli = 0;
  std::string state;    // queued, leased, ended, lost
  std::string worker;   // the worker that holds or held it
  std::string lease;    // the lease id, "" while queued
  int64_t lease_expires_us = 0;
  bool cancel = false;  // the engine asked for it to stop
  std::string end;      // ended, lost: the AttemptEnd as JSON
  int64_t created_us = 0;
  int64_t ready_us = 0;  // when its task became ready (the engine's clock); 0: not known
};

// What a worker offers when it asks for work: its labels and what it has free now.
struct WorkerOffer {
  std::string worker;
  std::vector<std::pair<std::string, std::string>> labels;
  int slots = 0;  // free slots: at most this many attempts are granted
  int64_t cpu_milli = 0, memory_bytes = 0, gpu_milli = 0;  // free capacity; < 0: unbounded
};

// Whether a worker with `offer`'s labels and free capacity may run `row`: every label the row
// asks for is one of the worker's with the same value, and cpu, memory and gpu fit what is
// free. Pure; LeaseWork subtracts each grant from the offer before the next.
bool FitsWorker(const WorkRow& row, const WorkerOffer& offer);

// A worker as registered with the server (the handshake).
struct WorkerRow {
  std::string id;
  std::string name;      // its host's name or --name
  std::string version;   // its Sluice version
  std::string labels;    // canonical JSON object
  int64_t slots = 0;
  int64_t registered_us = 0, seen_us = 0;
  std::string user;      // the token's user that registered it: only it may speak for it
};

// What a heartbeat answers: the leases the worker holds that were extended, and those whose
// attempts it must kill (cancelled by the engine, or a lease it no longer holds).
struct HeartbeatAnswer {
  std::vector<std::string> extended;
  std::vector<std::string> kill;
};

}  // namespace sluice
