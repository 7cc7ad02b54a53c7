// The workers' handshake, leases, heartbeats and ends, and the lease sweeper (workers.h).
#include "server/workers.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>

#include "cli/work_queue.h"
#include "common/strings.h"
#include "exec/work_codec.h"
#include "store/store.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice {

namespace {

constexpr int64_t kLeasePollUs = 5'000;     // without a bell, a waiting lease request looks this often
constexpr int64_t kBellFallbackUs = 50'000;  // with one, it also looks on its own this often
constexpr int64_t kMaxWaitUs = 30'000'000;  // the longest a lease request is held
constexpr int kMaxGrant = 256;

// The request's body as a JSON object, or the 400 that says why not.
Result<Value> Body(const ApiRequest& req) {
  auto v = ParseJson(req.body);
  if (!v || !v->is_map()) return Fail(ErrorCode::kInvalidInput, "the body must be a JSON object");
  return v;
}

double Number(const Value& body, const char* key, double fallback) {
  const Value* v = body.Find(key);
  return v && v->is_number() ? v->to_double() : fallback;
}

// {"k": "v", ...} as sorted pairs; nullopt when a value is not text.
std::optional<std::vector<std::pair<std::string, std::string>>> Labels(const Value& body) {
  std::vector<std::pair<std::string, std::string>> out;
  const Value* l = body.Find("labels");
  if (!l || l->is_null()) return out;
  if (!l->is_map()) return std::nullopt;
  for (const auto& [k, v] : l->as_map()) {
    if (!k.is_string() || !v.is_string()) return std::nullopt;
    out.emplace_back(k.as_string(), v.as_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string RandomHex(Env& env) { return fmt::format("{:016x}", env.Random64()); }

// POST /api/v1/workers: the handshake. A worker of another version is refused (409): requests
// and ends cross between the two as this version writes them.
ApiResponse Register(const ApiContext& ctx, const ApiRequest& req) {
  auto body = Body(req);
  if (!body) return ErrorResponse(400, body.error().message);
  const Value* version = body->Find("version");
  if (!version || !version->is_string()) return ErrorResponse(400, "version: the worker's Sluice version is required");
  if (version->as_string() != SLUICE_VERSION) {
    return ErrorResponse(409, fmt::format("this server runs Sluice {} and the worker {}: run a "
                                          "worker of the server's version", SLUICE_VERSION,
                                          version->as_string()));
  }
  auto labels = Labels(*body);
  if (!labels) return ErrorResponse(400, "labels must be an object of text values");
  const double slots = Number(*body, "slots", 1);
  if (slots < 1 || slots > 10000) return ErrorResponse(400, "slots must be 1 to 10000");
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  WorkerRow w;
  w.id = "w-" + RandomHex(ctx.env);
  const Value* name = body->Find("name");
  w.name = name && name->is_string() ? name->as_string() : "";
  w.version = version->as_string();
  ValueMap lm;
  for (const auto& [k, v] : *labels) lm.emplace_back(Value(k), Value(v));
  w.labels = Value(std::move(lm)).ToJson();
  w.slots = static_cast<int64_t>(slots);
  w.registered_us = w.seen_us = ctx.env.clock().NowUs();
  w.user = req.who.user;
  if (auto s = (*store)->RegisterWorker(w); !s) return FromError(s.error());
  // Heartbeats come a third of a lease apart, and at least every 2 s: a cancelled attempt is
  // killed at its worker's next heartbeat.
  const double lease_s = static_cast<double>(ctx.lease_us) / 1e6;
  return Json(Value(ValueMap{{"worker", Value(w.id)}, {"version", Value(SLUICE_VERSION)},
                             {"leaseSeconds", Value(lease_s)},
                             {"heartbeatSeconds", Value(std::min(lease_s / 3, 2.0))}}));
}

// One lease in a lease answer: its id and its attempt's request.
Value LeaseItem(const WorkRow& w) {
  auto request = ParseJson(w.request);
  return Value(ValueMap{{"lease", Value(w.lease)}, {"id", Value(w.id)},
                        {"request", request ? *request : Value(ValueMap{})}});
}

// The server's doorbells (docs/workers.md): engines ring them after they queue work (the
// state folder's bell socket on this host; with a PostgreSQL store also a NOTIFY, which
// reaches a server on another host), and a thread per bell turns each ring into a new
// generation that wakes the lease requests waiting for work. Without a bell (a state folder
// whose path is too long for a socket, and no PostgreSQL) `listening()` is false and waiters
// poll. Thread-safe; its threads are joined by the destructor.
class WorkBell {
 public:
  explicit WorkBell(std::vector<std::unique_ptr<Doorbell>> bells) : bells_(std::move(bells)) {
    for (auto& b : bells_) threads_.emplace_back([this, bell = b.get()] { Loop(*bell); });
  }
  ~WorkBell() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  bool listening() const { return !bells_.empty(); }
  uint64_t generation() {
    std::lock_guard lock(mu_);
    return generation_;
  }
  // Waits until a ring after generation `seen`, or `timeout_us`.
  void WaitPast(uint64_t seen, int64_t timeout_us) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::microseconds(timeout_us), [&] { return generation_ != seen; });
  }

 private:
  void Loop(Doorbell& bell) {
    while (!stop_) {
      if (!bell.Wait(200'000)) continue;  // a timeout only looks at stop_
      std::lock_guard lock(mu_);
      ++generation_;
      cv_.notify_all();
    }
  }
  std::vector<std::unique_ptr<Doorbell>> bells_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  std::atomic<bool> stop_ = false;
  std::vector<std::thread> threads_;
};

// Rings the bell of each run in `runs` (its engine then reads the ends at once).
void RingEngines(const ApiContext& ctx, const std::set<std::string>& runs) {
  for (const std::string& run : runs) ctx.env.RingBell(RunBellPath(ctx.env, ctx.g, run));
}

// POST /api/v1/workers/{worker}/lease: up to `max` attempts that fit the worker, held open up
// to `waitSeconds` while none does (woken by the server's bell when an engine queues work).
ApiResponse Lease(const ApiContext& ctx, WorkBell* bell, const ApiRequest& req) {
  if (auto refused = NotThisWorker(ctx, req)) return *refused;
  auto body = Body(req);
  if (!body) return ErrorResponse(400, body.error().message);
  auto labels = Labels(*body);
  if (!labels) return ErrorResponse(400, "labels must be an object of text values");
  WorkerOffer offer;
  offer.worker = req.params.at("worker");
  offer.labels = std::move(*labels);
  offer.slots = static_cast<int>(std::clamp(Number(*body, "slots", 1), 0.0, double{kMaxGrant}));
  auto capacity = [&](const char* key, double scale) {
    const double v = Number(*body, key, -1);
    return v < 0 ? int64_t{-1} : std::llround(v * scale);
  };
  offer.cpu_milli = capacity("cpu", 1000);
  offer.memory_bytes = capacity("memory", 1);
  offer.gpu_milli = capacity("gpu", 1000);
  const int64_t wait_us = std::clamp<int64_t>(
      std::llround(Number(*body, "waitSeconds", 0) * 1e6), 0, kMaxWaitUs);
  Clock& clock = ctx.env.clock();
  const int64_t until = clock.NowUs() + wait_us;
  const bool on_bell = bell && bell->listening();
  while (true) {
    const uint64_t seen = on_bell ? bell->generation() : 0;  // read first: no ring is missed
    auto store = ctx.ThreadStore();
    if (!store) return FromError(store.error());
    const int64_t now = clock.NowUs();
    auto granted = (*store)->LeaseWork(offer, now, now + ctx.lease_us,
                                       [&] { return RandomHex(ctx.env); });
    if (!granted) return FromError(granted.error());
    if (!granted->empty() || clock.NowUs() >= until) {
      ValueList items;
      for (const WorkRow& w : *granted) items.push_back(LeaseItem(w));
      return Json(Value(ValueMap{{"items", Value(std::move(items))}}));
    }
    ctx.ReleaseStore();  // a waiting long poll holds no store handle (store_pool.h)
    if (on_bell) {
      bell->WaitPast(seen, std::min(kBellFallbackUs, until - clock.NowUs()));
    } else {
      ctx.env.SleepUs(std::min(kLeasePollUs, until - clock.NowUs()));
    }
  }
}

std::vector<std::string> Strings(const Value& body, const char* key) {
  std::vector<std::string> out;
  const Value* v = body.Find(key);
  if (!v || !v->is_list()) return out;
  for (const Value& s : v->as_list()) {
    if (s.is_string()) out.push_back(s.as_string());
  }
  return out;
}

Value StringList(const std::vector<std::string>& items) {
  ValueList out;
  for (const auto& s : items) out.push_back(Value(s));
  return Value(std::move(out));
}

// POST /api/v1/workers/{worker}/heartbeat: extends the leases the worker still holds; answers
// those whose attempts it must kill.
ApiResponse Heartbeat(const ApiContext& ctx, const ApiRequest& req) {
  if (auto refused = NotThisWorker(ctx, req)) return *refused;
  auto body = Body(req);
  if (!body) return ErrorResponse(400, body.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  const int64_t now = ctx.env.clock().NowUs();
  if (auto s = (*store)->TouchWorker(req.params.at("worker"), now); !s) return FromError(s.error());
  auto answer = (*store)->Heartbeat(req.params.at("worker"), Strings(*body, "leases"),
                                    now + ctx.lease_us);
  if (!answer) return FromError(answer.error());
  return Json(Value(ValueMap{{"extended", StringList(answer->extended)},
                             {"kill", StringList(answer->kill)}}));
}

// The worker's end with each artifact's path moved to the server's artifact store, where its
// blob must already be (PUT .../blobs/...); kInvalidInput naming the first that is not.
Result<Value> ServerSideEnd(const ApiContext& ctx, const Value& end) {
  auto parsed = EndFromValue(end, 0);
  if (!parsed) return std::unexpected(parsed.error());
  if (parsed->outputs && *parsed->outputs) {
    for (ArtifactRef& a : (*parsed->outputs)->artifacts) {
      const std::string base = a.path.substr(a.path.rfind('/') + 1);
      const std::string path = BlobPath(ctx, a.digest, base);
      if (base.empty() || a.digest.size() != 64 || !ctx.env.files().Stat(path).exists) {
        return Fail(ErrorCode::kInvalidInput, "artifact {}: blob {} named {} was not uploaded "
                    "(PUT /api/v1/workers/blobs/DIGEST/NAME first)", Quote(a.name), a.digest,
                    Quote(base));
      }
      a.path = path;
    }
  }
  return EndToValue(*parsed);
}

// POST /api/v1/workers/{worker}/leases/{lease}/end: the attempt's end. Refused (409) when the
// worker no longer holds the lease: the attempt was recorded lost and may run elsewhere.
ApiResponse End(const ApiContext& ctx, const ApiRequest& req) {
  if (auto refused = NotThisWorker(ctx, req)) return *refused;
  auto body = Body(req);
  if (!body) return ErrorResponse(400, body.error().message);
  auto end = ServerSideEnd(ctx, *body);
  if (!end) return ErrorResponse(400, end.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto row = (*store)->EndWork(req.params.at("worker"), req.params.at("lease"), end->ToJson());
  if (!row) return FromError(row.error());
  RingEngines(ctx, {row->run_id});
  return Json(Value(ValueMap{{"recorded", Value(true)}, {"runId", Value(row->run_id)},
                             {"task", Value(row->task)}, {"attempt", Value(row->attempt)}}));
}

// POST /api/v1/workers/{worker}/ends: a batch of ends, {"ends": [{"lease", "end"}]}, recorded
// in one transaction; one result per item, in order: recorded, or why not (a lease the worker
// no longer holds, an artifact blob not uploaded). A worker reports what ended since its last
// report in one request, so a store commit serves a batch of attempts, not one.
ApiResponse Ends(const ApiContext& ctx, const ApiRequest& req) {
  if (auto refused = NotThisWorker(ctx, req)) return *refused;
  auto body = Body(req);
  if (!body) return ErrorResponse(400, body.error().message);
  const Value* list = body->Find("ends");
  if (!list || !list->is_list()) return ErrorResponse(400, "ends must be a list of {lease, end}");
  std::vector<std::pair<std::string, std::string>> valid;
  std::vector<Value> results(list->as_list().size());
  std::vector<size_t> at;
  for (size_t k = 0; k < list->as_list().size(); ++k) {
    const Value& item = list->as_list()[k];
    const Value* lease = item.is_map() ? item.Find("lease") : nullptr;
    const Value* end = item.is_map() ? item.Find("end") : nullptr;
    if (!lease || !lease->is_string() || !end) {
      return ErrorResponse(400, fmt::format("ends[{}] must be an object with lease and end", k));
    }
    auto server_end = ServerSideEnd(ctx, *end);
    if (!server_end) {
      results[k] = Value(ValueMap{{"lease", *lease}, {"recorded", Value(false)},
                                  {"error", Value(server_end.error().message)}});
      continue;
    }
    valid.emplace_back(lease->as_string(), server_end->ToJson());
    at.push_back(k);
  }
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto rows = (*store)->EndWorks(req.params.at("worker"), valid);
  if (!rows) return FromError(rows.error());
  std::set<std::string> runs;
  for (const auto& row : *rows) {
    if (row) runs.insert(row->run_id);
  }
  RingEngines(ctx, runs);
  for (size_t j = 0; j < at.size(); ++j) {
    const auto& row = (*rows)[j];
    ValueMap r{{"lease", Value(valid[j].first)}, {"recorded", Value(static_cast<bool>(row))}};
    if (!row) r.emplace_back(Value("error"), Value(row.error().message));
    results[at[j]] = Value(std::move(r));
  }
  return Json(Value(ValueMap{{"results", Value(ValueList(std::move(results)))}}));
}

}  // namespace

std::optional<ApiResponse> NotThisWorker(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto w = (*store)->FindWorker(req.params.at("worker"));
  if (!w) return FromError(w.error());
  if (!*w) {
    return ErrorResponse(404, fmt::format("no worker {}: register first (POST /api/v1/workers)",
                                          Quote(req.params.at("worker"))));
  }
  const auto role = req.who.RoleIn(kDefaultNamespace);
  if ((*w)->user != req.who.user && role != Role::kAdmin) {
    return ErrorResponse(403, fmt::format("worker {} was registered by {}, not {}",
                                          Quote((*w)->id), (*w)->user, req.who.user));
  }
  return std::nullopt;
}

Result<std::string> WorkerGauges(const ApiContext& ctx) {
  SLUICE_TRY(store, ctx.ThreadStore());
  SLUICE_TRY(queued, (*store)->QueuedWork());
  // Connected: seen (registered, heartbeat) within a lease time; a worker that stopped longer
  // ago has lost its leases.
  SLUICE_TRY(workers, (*store)->CountWorkers(ctx.env.clock().NowUs() - ctx.lease_us));
  return fmt::format(
      "# HELP sluice_work_queue_depth Attempts queued for workers that no worker leased yet.\n"
      "# TYPE sluice_work_queue_depth gauge\nsluice_work_queue_depth {}\n"
      "# HELP sluice_workers_connected Workers seen (handshake or heartbeat) within a lease "
      "time.\n# TYPE sluice_workers_connected gauge\nsluice_workers_connected {}\n",
      *queued, *workers);
}

void AddWorkerRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  auto add = [&](const char* method, const char* pattern,
                 ApiResponse (*f)(const ApiContext&, const ApiRequest&)) {
    router.Add({method, pattern, true, Action::kWork,
                [c, f](const ApiRequest& r) { return f(*c, r); }});
  };
  add("POST", "/api/v1/workers", Register);
  // The bells live as long as the routes that wait on them (the router's); no socket in a
  // server without a state folder (tests). A PostgreSQL listener that cannot connect is left
  // out (its server's log says so): the socket and the waiters' own looks remain.
  std::vector<std::unique_ptr<Doorbell>> bells;
  if (!ctx.g.state_dir.empty()) {
    if (auto b = ctx.env.ListenBell(ServerBellPath(ctx.env, ctx.g))) bells.push_back(std::move(*b));
  }
  if (auto b = Store::ListenWork(ctx.g.store); !b) {
    ctx.Log("not listening for work queued on other hosts: " + b.error().message);
  } else if (*b) {
    bells.push_back(std::move(*b));
  }
  auto bell = std::make_shared<WorkBell>(std::move(bells));
  router.Add({"POST", "/api/v1/workers/{worker}/lease", true, Action::kWork,
              [c, bell](const ApiRequest& r) { return Lease(*c, bell.get(), r); }});
  add("POST", "/api/v1/workers/{worker}/heartbeat", Heartbeat);
  add("POST", "/api/v1/workers/{worker}/leases/{lease}/end", End);
  add("POST", "/api/v1/workers/{worker}/ends", Ends);
  AddWorkerFileRoutes(router, ctx);
}

LeaseSweeper::LeaseSweeper(const ApiContext& ctx) : ctx_(ctx), thread_([this] { Loop(); }) {}

LeaseSweeper::~LeaseSweeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LeaseSweeper::Loop() {
  Clock& clock = ctx_.env.clock();
  AttemptEnd lost;
  lost.message = fmt::format("its worker stopped renewing its lease ({} s without a heartbeat)",
                             static_cast<double>(ctx_.lease_us) / 1e6);
  const std::string lost_json = EndToValue(lost).ToJson();
  const auto period = std::chrono::microseconds(
      std::clamp<int64_t>(ctx_.lease_us / 10, 50'000, 1'000'000));
  bool graced = false;
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    // Only the leader times leases, and a new leader first gives every open lease a full lease
    // time: an outage of the control plane never turns running work into lost work.
    const bool leading = !ctx_.leading || ctx_.leading->load();
    if (!leading) graced = false;
    // A store that fails is asked again on the next round; no lease expires meanwhile.
    if (auto store = leading ? ctx_.ThreadStore() : Result<Store*>(nullptr); store && *store) {
      if (!graced) {
        graced = static_cast<bool>((*store)->GraceLeases(clock.NowUs() + ctx_.lease_us));
      } else {
        (void)(*store)->ExpireLeases(clock.NowUs(), lost_json);
      }
    }
    lock.lock();
    cv_.wait_for(lock, period, [&] { return stop_; });
  }
}

}  // namespace sluice
