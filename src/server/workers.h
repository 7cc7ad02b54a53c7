// The routes of `sluice worker`s (docs/workers.md, docs/api.md "Workers"): the handshake, long-
// polled leases, heartbeats and ends (workers.cc), log chunks, blobs and bundles
// (worker_files.cc); and the sweeper that makes expired leases lost.
//
// Protocol. A worker registers (its version must be the server's: 409 otherwise) and gets an id,
// the lease time and the heartbeat period. It asks for work with what it has free; the answer
// (held up to `waitSeconds` while nothing fits) is up to N leases, each with its attempt's
// request. Each heartbeat lists the leases it holds: those it still holds are extended by a
// lease time, and the answer names those it must kill (cancelled, or no longer its own). Logs
// go up in chunks at byte offsets (a chunk sent twice is not appended twice), artifacts as
// blobs by content digest (HEAD first: nothing the server holds is sent again), and the end,
// with output params and artifact digests, last. A lease that expired was made lost: what the
// worker sends for it is refused (409), and it kills the attempt.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "server/api.h"

namespace sluice {

// Register, lease, heartbeat and end (workers.cc); logs, blobs and bundles (worker_files.cc).
void AddWorkerRoutes(Router& router, const ApiContext& ctx);
void AddWorkerFileRoutes(Router& router, const ApiContext& ctx);

// The thread that, once a second (a tenth of the lease time when shorter), makes leases that
// expired lost, while this server leads (ctx.leading; leader.h). Its first act as leader gives
// every open lease one full lease time (a server that starts, or takes over, never expires work
// that ran while no server timed it). Stopped and joined by its destructor; `ctx` must outlive
// it.
class LeaseSweeper {
 public:
  explicit LeaseSweeper(const ApiContext& ctx);
  ~LeaseSweeper();

 private:
  void Loop();
  const ApiContext& ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// nullopt when the caller may speak for the worker of the route's {worker}: the token's user that
// registered it (or an admin); else the answer: 404 for an unknown worker, 403 for another's.
std::optional<ApiResponse> NotThisWorker(const ApiContext& ctx, const ApiRequest& req);

// The workers' gauges of /metrics, in Prometheus text: the lease queue's depth
// (sluice_work_queue_depth) and the workers connected (sluice_workers_connected); the store's
// error when it fails.
Result<std::string> WorkerGauges(const ApiContext& ctx);

// Where the server's artifact store keeps the blob `digest` named `name`
// (STATE/artifacts/sha256/XX/DIGEST/NAME, as LocalExecutor::StoreArtifact stores it).
std::string BlobPath(const ApiContext& ctx, const std::string& digest, const std::string& name);

}  // namespace sluice
