// The handlers of the API under /api/v1 and of /healthz, /readyz and /metrics, registered on a
// Router. They take what they need from an ApiContext and return ApiResponses, so tests call
// them without a socket. docs/api.md and docs/openapi.yaml describe every route added here.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "common/value.h"
#include "env/env.h"
#include "server/metrics.h"
#include "server/router.h"

namespace sluice {

class Store;
class StorePool;
class Notifier;  // notifications (issue 13; notifier.h)
struct Decision;

// What every handler shares. A request's store handle comes from the server's pool (store_pool.h)
// at its first store read, and goes back when the request's StoreScope ends.
struct ApiContext {
  Env& env;
  GlobalOptions g;  // state_dir: the store's folder
  RequestMetrics& metrics;
  // Whether this server leads the servers that share its store (leader.h); null in tests.
  const std::atomic<bool>* leading = nullptr;
  bool json_logs = false;  // --log-format json
  // An event stream with nothing to send writes a comment this often (streams.cc).
  int64_t stream_keepalive_us = 15'000'000;
  // A streamed log that sent nothing for this long ends (--idle-timeout; actions.cc).
  int64_t idle_us = 60'000'000;
  int64_t lease_us = 30'000'000;  // how long a worker's lease lasts unrenewed (--lease-time)
  int64_t retention_us = 0;       // --retention: the leader prunes older finished runs (0: never)
  std::map<std::string, int64_t> retention_by_ns = {};  // --retention NS=D (0: never)
  // The handles requests check out (server.cc makes it); null: each thread opens its own.
  StorePool* pool = nullptr;
  // The webhooks' outbox (notifier.h): its leader step, its counters; null in tests.
  Notifier* notifier = nullptr;
  // The calling thread's store. Within a StoreScope (a request, a stream's step) with a pool:
  // the scope's handle, checked out of the pool at the first call (this may wait, and fails
  // when the pool stays busy: the scope is then busy()). Elsewhere (the leader's and the lease
  // sweeper's threads, tests): a handle of the thread's own, opened at the first call. An
  // error when it cannot be opened.
  Result<Store*> ThreadStore() const;
  // Gives the calling scope's handle back to the pool now (a stream about to wait idle); the
  // next ThreadStore() checks one out again. A no-op outside a StoreScope.
  void ReleaseStore() const;
  // One line of the server's log on stderr, besides the request lines: "TIME sluice server: MSG"
  // or, with json_logs, {"time","level":"info","msg"} with `fields` added.
  void Log(const std::string& msg, ValueMap fields = {}) const;
};

// The span of a request (or of one step of a streamed answer) on the thread that serves it: the
// store handle ThreadStore() checks out within it goes back to the pool when it ends. Not
// nested; used by the thread that made it.
class StoreScope {
 public:
  explicit StoreScope(const ApiContext& ctx);
  ~StoreScope();
  StoreScope(const StoreScope&) = delete;
  StoreScope& operator=(const StoreScope&) = delete;
  // Whether a ThreadStore() within it found every handle in use for too long.
  bool busy() const { return busy_; }

 private:
  friend struct ApiContext;
  const ApiContext& ctx_;
  Store* held_ = nullptr;
  bool busy_ = false;
  StoreScope* outer_;
};

// Every route of the API, on `router`.
void AddApiRoutes(Router& router, const ApiContext& ctx);
// POST /api/v1/namespaces/{ns}/runs (submit.cc), added by AddApiRoutes.
void AddSubmitRoutes(Router& router, const ApiContext& ctx);
// A task's logs and run actions (actions.cc), added by AddApiRoutes.
void AddActionRoutes(Router& router, const ApiContext& ctx);

// The log of the engine a server started for a run, in the run's folder. Its presence marks a
// run a server started, which the leader keeps going (leader.h).
inline constexpr const char* kEngineLog = "engine.log";
// Whether a server started run `run_id` (its folder has the engine.log): the leader starts its
// engine again should it stop, so its interruption is not final (GET /api/v1/runs/{id} says so
// in X-Sluice-Served).
bool ServedRun(const ApiContext& ctx, const std::string& run_id);
// Starts the engine of run `run_id` as a process of its own (`sluice COMMAND RUN`: resume or
// rollback, detached, its output appended to the run folder's engine.log), with the server's
// state folder and store. From then on the leader keeps the run going (leader.h).
Status StartEngine(const ApiContext& ctx, const std::string& run_id, const char* command = "resume");
// The bundle of `files` (relative path -> text) in the state folder (STATE/bundles/SHA256/,
// written whole or not at all, shared by every request with the same files): its absolute
// folder. kConflict when the bundle on disk no longer holds those files (submit.cc).
// Fails (kInvalidInput, naming the path) when one of `sources` (a loaded pipeline's files and
// imports, by absolute path) lies outside `bundle`, the folder its files were uploaded into: an
// absolute import or one with ../ would read the server's own files for the submitter.
Status WithinBundle(const std::map<std::string, std::string>& sources, const std::string& bundle);
Result<std::string> WriteBundle(Env& env, const std::string& state_dir,
                                const std::map<std::string, std::string>& files);
// The 403 of a run admission denied: {"error": {"status", "message" (naming each denying
// policy and its message), "decisions"}} (submit.cc; a submission's and a trigger's).
ApiResponse DeniedResponse(const std::vector<Decision>& decisions);
// --- triggers: list, apply, rotate, remove, and the webhook that fires one (triggers_api.cc),
// added by AddApiRoutes.
void AddTriggerRoutes(Router& router, const ApiContext& ctx);
// --- end of triggers
// Schedules: list, apply, suspend, resume, trigger, backfill (schedules_api.cc), added by
// AddApiRoutes.
void AddScheduleRoutes(Router& router, const ApiContext& ctx);
// Event streams of one run and of all runs (streams.cc), added by AddApiRoutes.
void AddStreamRoutes(Router& router, const ApiContext& ctx);

// Resume and rollback of a run (run_actions.cc), added by AddApiRoutes.
void AddRunActionRoutes(Router& router, const ApiContext& ctx);

// Approval requests, approve and reject (approvals_api.cc), added by AddApiRoutes.
void AddApprovalRoutes(Router& router, const ApiContext& ctx);

// Breakers, policy eval and the audit log (governance_api.cc), added by AddApiRoutes.
void AddGovernanceRoutes(Router& router, const ApiContext& ctx);
// GET /api/v1/notifications (notifications_api.cc; issue 13), added by AddApiRoutes.
void AddNotificationRoutes(Router& router, const ApiContext& ctx);
// --- central pools (pools_api.cc; docs/pools.md): GET /api/v1/pools, added by AddApiRoutes,
// and the pools' gauges for /metrics ("" when the server declares none).
void AddPoolRoutes(Router& router, const ApiContext& ctx);
Result<std::string> PoolGauges(const ApiContext& ctx);
// --- end of central pools
// Artifacts by digest (artifacts_api.cc), added by AddApiRoutes.
void AddArtifactRoutes(Router& router, const ApiContext& ctx);
// --- parity (issue 13): retry, rerun and the graph of a run (rerun_api.cc), and waivers
// (waivers_api.cc), added by AddApiRoutes.
void AddRerunRoutes(Router& router, const ApiContext& ctx);
void AddWaiverRoutes(Router& router, const ApiContext& ctx);
// Rollouts (their status and promote|pause|resume|abort) and environments with their
// releases (rollouts_api.cc; issue 14), added by AddApiRoutes.
void AddRolloutRoutes(Router& router, const ApiContext& ctx);
// The state folder's chaos experiments, their journals and reports (chaos_api.cc), added by
// AddApiRoutes.
void AddChaosRoutes(Router& router, const ApiContext& ctx);
// POST /api/v1/prune (prune_api.cc), added by AddApiRoutes.
void AddPruneRoutes(Router& router, const ApiContext& ctx);
// Claims run `run_id` for an engine the request starts (run_actions.cc): under the run's lock
// (so that no other claim, and no engine, comes between) checks that no claim younger than 10 s
// is there, runs `under_lock` (when given: what the request records while it holds the run),
// and writes RUN/engine.claim with the time. The lock is let go at once: the engine started
// next takes it, and removes the claim. On failure (kConflict when the lock is held or the run
// was just claimed, else `under_lock`'s error or why the files cannot be used) nothing is
// claimed.
Status ClaimRun(const ApiContext& ctx, const std::string& run_id,
                const std::function<Status()>& under_lock = {});
// The full id of the run `ref` (an id or a prefix) names among the runs `who` may read: `ref`
// when a readable run has that id, else the one readable run whose id starts with it; nullopt
// when no readable run matches (the request is then judged as for a missing run, so runs of
// other namespaces are neither found nor told apart). kInvalidInput when `ref` is the prefix of
// more than one readable run; the store's error when it cannot be read.
Result<std::optional<std::string>> ReadableRunId(const ApiContext& ctx, const ApiPrincipal& who,
                                                 const std::string& ref);
// --- end of parity

// For the handlers of api.cc, submit.cc and actions.cc: the answer to a failed store read or
// command (kNotFound 404, kInvalidInput 400, kConflict 409, else 500); the non-negative integer
// query parameter `name` (`fallback` when absent, at most `max`; nullopt when it is not one) and
// the 400 that says so.
ApiResponse FromError(const Error& e);
// A JSON answer of `v` with `status`.
ApiResponse Json(const Value& v, int status = 200);
std::optional<int64_t> QueryInt(const ApiRequest& req, const std::string& name, int64_t fallback,
                                int64_t max);
ApiResponse BadQueryInt(const std::string& name);

// The namespace of local runs, of older runs, and of tokens' roles given without one.
inline constexpr const char* kDefaultNamespace = "default";
// The namespace run `run_id` (an id or a unique prefix, as GetRun finds it) belongs to; nullopt
// when there is no such run. Remembered per full id: a run never changes namespace and its id is
// never reused, so the event streams and listings ask the store once per run.
Result<std::optional<std::string>> NamespaceOfRun(const ApiContext& ctx, const std::string& run_id);
// Whether `who` may read run `run_id`'s namespace: false also when there is no such run or the
// store cannot say (closed), for the listings that skip what the token may not read.
bool MayReadRun(const ApiContext& ctx, const ApiPrincipal& who, const std::string& run_id);

}  // namespace sluice
