// The API's handlers (api.h). Runs are read through the same views as `sluice ... -o json`
// (cli/views.h), so the API and the CLI show the same documents.
#include "server/api.h"
#include "server/notifier.h"
#include "server/store_pool.h"
#include "server/ui_edge.h"
#include "server/workers.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <mutex>
#include <set>
#include <unordered_map>

#include "cli/cli_support.h"
#include "cli/components.h"
#include "cli/views.h"
#include "common/strings.h"
#include "store/store.h"

namespace sluice {

namespace {
thread_local StoreScope* t_scope = nullptr;  // the calling thread's request, if any
}  // namespace

StoreScope::StoreScope(const ApiContext& ctx) : ctx_(ctx), outer_(t_scope) { t_scope = this; }

StoreScope::~StoreScope() {
  ctx_.ReleaseStore();
  t_scope = outer_;
}

void ApiContext::ReleaseStore() const {
  if (t_scope && t_scope->held_ && pool) {
    pool->Return(t_scope->held_);
    t_scope->held_ = nullptr;
  }
}

Result<Store*> ApiContext::ThreadStore() const {
  if (pool && t_scope) {
    if (!t_scope->held_) {
      bool busy = false;
      auto s = pool->Checkout(&busy);
      if (!s) {
        t_scope->busy_ = t_scope->busy_ || busy;
        return std::unexpected(s.error());
      }
      t_scope->held_ = *s;
    }
    return t_scope->held_;
  }
  thread_local std::unique_ptr<Store> store;
  thread_local std::string opened_for;
  if (!store || opened_for != g.state_dir) {
    auto s = OpenStore(env, g, false);
    if (!s) return std::unexpected(s.error());
    store = std::move(*s);
    opened_for = g.state_dir;
  }
  return store.get();
}

namespace {

// The namespaces of runs by full id, as NamespaceOfRun found them: a run never changes namespace
// and its id is never reused. Shared by the request threads, under its mutex.
struct KnownNamespaces {
  std::mutex mu;
  std::unordered_map<std::string, std::string> by_key;  // state folder \0 run id -> ns
};
KnownNamespaces& Known() {
  static KnownNamespaces known;
  return known;
}

// The namespace of run `run_id` when it is a full id NamespaceOfRun met before.
std::optional<std::string> KnownNamespace(const ApiContext& ctx, const std::string& run_id) {
  KnownNamespaces& k = Known();
  std::lock_guard lock(k.mu);
  auto it = k.by_key.find(ctx.g.state_dir + '\0' + run_id);
  if (it == k.by_key.end()) return std::nullopt;
  return it->second;
}

}  // namespace

Result<std::optional<std::string>> NamespaceOfRun(const ApiContext& ctx,
                                                  const std::string& run_id) {
  if (auto ns = KnownNamespace(ctx, run_id)) return ns;
  auto store = ctx.ThreadStore();
  if (!store) return std::unexpected(store.error());
  auto run = (*store)->GetRun(run_id);
  if (!run) {
    if (run.error().code != ErrorCode::kNotFound) return std::unexpected(run.error());
    // A pruned run is still judged in its namespace, by its tombstone's word: who pruned
    // which pipeline's run when is not for other namespaces to read.
    auto tomb = (*store)->FindTombstone(run_id);
    if (!tomb) return std::unexpected(tomb.error());
    if (!*tomb) return std::nullopt;
    auto data = ParseJson((*tomb)->data);
    const Value* ns = data && data->is_map() ? data->Find("namespace") : nullptr;
    return ns && ns->is_string() ? ns->as_string() : std::string(kDefaultNamespace);
  }
  if (run->id == run_id) {
    KnownNamespaces& k = Known();
    std::lock_guard lock(k.mu);
    if (k.by_key.size() >= 100'000) k.by_key.clear();  // a bound, not a policy: it fills again
    k.by_key.emplace(ctx.g.state_dir + '\0' + run_id, run->ns);
  }
  return run->ns;
}

Result<std::optional<std::string>> ReadableRunId(const ApiContext& ctx, const ApiPrincipal& who,
                                                 const std::string& ref) {
  if (ref.empty()) return std::nullopt;
  // A full id seen before, in a readable namespace (a status polled again and again): no query.
  if (auto ns = KnownNamespace(ctx, ref); ns && who.Can(Action::kRead, *ns)) return ref;
  SLUICE_TRY(store, ctx.ThreadStore());
  std::vector<std::string> namespaces;  // where to look: "" = every namespace
  for (const auto& [ns, role] : who.roles) {
    if (!who.Can(Action::kRead, ns)) continue;
    if (ns == "*") {
      namespaces.assign(1, "");
      break;
    }
    namespaces.push_back(ns);
  }
  std::set<std::string> found;
  for (const auto& ns : namespaces) {
    SLUICE_TRY(ids, (*store)->RunIdsWithPrefix(ref, ns, 2));
    for (auto& id : *ids) {
      if (id == ref) return id;
      found.insert(std::move(id));
    }
  }
  if (found.size() > 1) return Fail(ErrorCode::kInvalidInput, "run prefix {} is ambiguous", Quote(ref));
  if (found.empty()) return std::nullopt;
  return *found.begin();
}

bool MayReadRun(const ApiContext& ctx, const ApiPrincipal& who, const std::string& run_id) {
  auto ns = NamespaceOfRun(ctx, run_id);
  return ns && *ns && who.Can(Action::kRead, **ns);
}

bool ServedRun(const ApiContext& ctx, const std::string& run_id) {
  return ctx.env.files().Stat(PathJoin(RunDir(ctx.env, ctx.g, run_id), kEngineLog)).exists;
}

void ApiContext::Log(const std::string& msg, ValueMap fields) const {
  const std::string time = Ts(env.clock().NowUs());
  if (!json_logs) {
    std::fprintf(stderr, "%s sluice server: %s\n", time.c_str(), msg.c_str());
    return;
  }
  ValueMap line{{"time", Value(time)}, {"level", Value("info")}, {"msg", Value(msg)}};
  for (auto& f : fields) line.push_back(std::move(f));
  std::fprintf(stderr, "%s\n", Value(std::move(line)).ToJson().c_str());
}

// The HTTP status of a failed store read: a missing run is 404, bad input 400, a conflict 409,
// the rest 500.
ApiResponse FromError(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNotFound: return ErrorResponse(404, e.message);
    case ErrorCode::kInvalidInput: return ErrorResponse(400, e.message);
    case ErrorCode::kConflict: return ErrorResponse(409, e.message);
    default: return ErrorResponse(500, e.message);
  }
}

std::optional<int64_t> QueryInt(const ApiRequest& req, const std::string& name, int64_t fallback,
                                int64_t max) {
  const std::string text = req.Query(name);
  if (text.empty()) return fallback;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) return std::nullopt;
  return std::min(v, max);
}

ApiResponse Json(const Value& v, int status) {
  ApiResponse r;
  r.status = status;
  r.body = v.ToJson();
  return r;
}

ApiResponse BadQueryInt(const std::string& name) {
  return ErrorResponse(400, fmt::format("query parameter {} must be a non-negative integer", name));
}

namespace {

// The newest runs the token may read: of namespace {ns} (the route under a namespace, or the
// ?namespace= query), else of every namespace it holds a readable role in ("*": all).
ApiResponse ListRuns(const ApiContext& ctx, const ApiRequest& req) {
  auto limit = QueryInt(req, "limit", 50, 500);
  if (!limit) return BadQueryInt("limit");
  std::vector<std::string> namespaces;  // "" = every namespace
  std::string one = req.params.count("ns") ? req.params.at("ns") : req.Query("namespace");
  if (!one.empty()) {
    if (!req.who.Can(Action::kRead, one)) {
      return ErrorResponse(403, fmt::format("{} may not read namespace {}", req.who.user, Quote(one)));
    }
    namespaces.push_back(one);
  } else if (req.who.Can(Action::kRead, "*")) {
    namespaces.push_back("");
  } else {
    for (const auto& [ns, role] : req.who.roles) {
      if (Allows(role, Action::kRead)) namespaces.push_back(ns);
    }
  }
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  std::vector<RunRecord> runs;
  for (const auto& ns : namespaces) {
    auto some = (*store)->ListRuns(static_cast<int>(*limit), ns);
    if (!some) return FromError(some.error());
    runs.insert(runs.end(), some->begin(), some->end());
  }
  // The store's order (newest first, then by id), across namespaces, cut at the limit.
  std::sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.created_us != b.created_us ? a.created_us > b.created_us : a.id > b.id;
  });
  if (runs.size() > static_cast<size_t>(*limit)) runs.resize(static_cast<size_t>(*limit));
  ValueList items;
  for (const auto& r : runs) items.push_back(RunSummaryJson(r, ShownStatus(ctx.env, ctx.g, r)));
  return Json(Value(ValueMap{{"items", Value(std::move(items))}}));
}

ApiResponse GetRun(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  Store& s = **store;
  auto run = s.GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  auto tasks = s.ListTasks(run->id);
  if (!tasks) return FromError(tasks.error());
  auto attempts = s.ListAttempts(run->id);
  if (!attempts) return FromError(attempts.error());
  auto decisions = s.ListDecisions(run->id);
  if (!decisions) return FromError(decisions.error());
  ApiResponse r = Json(StatusJson(*run, ShownStatus(ctx.env, ctx.g, *run), *tasks, *attempts,
                                  *decisions, StoredComponentUses(s, *run), StoredLabels(s, run->id)));
  r.headers.emplace_back("X-Sluice-Served", ServedRun(ctx, run->id) ? "true" : "false");
  return r;
}

// Events after sequence number `after`, at most `limit`, with the cursor of the next page.
ApiResponse ListEvents(const ApiContext& ctx, const ApiRequest& req) {
  auto after = QueryInt(req, "after", 0, INT64_MAX);
  if (!after) return BadQueryInt("after");
  auto limit = QueryInt(req, "limit", 1000, 10000);
  if (!limit) return BadQueryInt("limit");
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  auto events = (*store)->LoadEvents(run->id);
  if (!events) return FromError(events.error());
  ValueList items;
  int64_t last = *after;
  bool more = false;
  for (const auto& e : *events) {
    if (e.seq <= *after) continue;
    if (static_cast<int64_t>(items.size()) == *limit) {
      more = true;
      break;
    }
    items.push_back(EventJson(e));
    last = e.seq;
  }
  ValueMap out{{"items", Value(std::move(items))}};
  out.emplace_back("next", more ? Value(last) : Value());
  return Json(Value(std::move(out)));
}

// {"user", "roles", "may"}: the same document the web UI's login and session answer.
ApiResponse WhoAmI(const ApiRequest& req) { return Json(PrincipalJson(req.who)); }

ApiResponse ListTokens(const ApiContext& ctx) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto tokens = (*store)->ListTokens();
  if (!tokens) return FromError(tokens.error());
  ValueList items;
  const int64_t now = ctx.env.clock().NowUs();
  for (const auto& t : *tokens) items.push_back(TokenJson(t, now));
  return Json(Value(ValueMap{{"items", Value(std::move(items))}}));
}

ApiResponse Ready(const ApiContext& ctx) {
  // Anyone may ask (no token): the store's error, which may name its URL, goes to the log only.
  auto store = ctx.ThreadStore();
  if (!store) {
    ctx.Log("not ready: " + store.error().message);
    return ErrorResponse(503, "the store cannot be opened");
  }
  if (auto runs = (*store)->ListRuns(1); !runs) {
    ctx.Log("not ready: " + runs.error().message);
    return ErrorResponse(503, "the store does not answer");
  }
  ValueMap body{{"status", Value("ready")}};
  if (ctx.leading) body.emplace_back("leader", Value(ctx.leading->load()));
  return Json(Value(std::move(body)));
}

ApiResponse Metrics(const ApiContext& ctx) {
  ApiResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = ctx.metrics.Render();
  auto store = ctx.ThreadStore();
  if (!store) {
    ctx.Log("metrics: " + store.error().message);
    return ErrorResponse(503, "the store cannot be opened");
  }
  auto runs = (*store)->CountRunsByStatus();
  if (!runs) return FromError(runs.error());
  auto tasks = (*store)->CountTasksByState();
  if (!tasks) return FromError(tasks.error());
  r.body += GaugeFamily("sluice_runs", "Runs in the store, by recorded status.", "status", *runs);
  r.body += GaugeFamily("sluice_tasks", "Tasks in the store, by recorded state.", "state", *tasks);
  auto ready_to_start = (*store)->ReadyToStart();
  if (!ready_to_start) return FromError(ready_to_start.error());
  r.body += ReadyToStartFamily(*ready_to_start);
  auto work = WorkerGauges(ctx);  // workers.cc
  if (!work) return FromError(work.error());
  r.body += *work;
  if (ctx.notifier) r.body += ctx.notifier->Render();  // notifications (issue 13)
  auto pools = PoolGauges(ctx);  // central pools (pools_api.cc)
  if (!pools) return FromError(pools.error());
  r.body += *pools;
  if (ctx.leading) {
    r.body += "# HELP sluice_server_leader Whether this server leads the servers that share its store.\n"
              "# TYPE sluice_server_leader gauge\n";
    r.body += fmt::format("sluice_server_leader {}\n", ctx.leading->load() ? 1 : 0);
  }
  return r;
}

}  // namespace

void AddApiRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;  // outlives the router: both live as long as the server
  router.Add({"GET", "/healthz", false, Action::kRead, [](const ApiRequest&) {
                return Json(Value(ValueMap{{"status", Value("ok")}}));
              }});
  router.Add({"GET", "/readyz", false, Action::kRead, [c](const ApiRequest&) { return Ready(*c); }});
  router.Add({"GET", "/metrics", false, Action::kRead, [c](const ApiRequest&) { return Metrics(*c); }});
  router.Add({"GET", "/api/v1/whoami", true, Action::kRead, WhoAmI, /*namespaced=*/false});
  // Every namespace's the token may read: checked by ListRuns (namespaced=false).
  router.Add({"GET", "/api/v1/runs", true, Action::kRead,
              [c](const ApiRequest& r) { return ListRuns(*c, r); }, /*namespaced=*/false});
  router.Add({"GET", "/api/v1/namespaces/{ns}/runs", true, Action::kRead,
              [c](const ApiRequest& r) { return ListRuns(*c, r); }});
  router.Add({"GET", "/api/v1/runs/{id}", true, Action::kRead,
              [c](const ApiRequest& r) { return GetRun(*c, r); }});
  router.Add({"GET", "/api/v1/runs/{id}/events", true, Action::kRead,
              [c](const ApiRequest& r) { return ListEvents(*c, r); }});
  router.Add({"GET", "/api/v1/tokens", true, Action::kAdmin,
              [c](const ApiRequest&) { return ListTokens(*c); }});
  AddSubmitRoutes(router, ctx);
  AddActionRoutes(router, ctx);
  AddStreamRoutes(router, ctx);
  AddRunActionRoutes(router, ctx);
  AddApprovalRoutes(router, ctx);
  AddGovernanceRoutes(router, ctx);
  AddArtifactRoutes(router, ctx);
  AddScheduleRoutes(router, ctx);  // schedules (issue 13)
  AddNotificationRoutes(router, ctx);  // notifications (issue 13)
  AddPoolRoutes(router, ctx);  // central pools (docs/pools.md)
  AddRerunRoutes(router, ctx);   // retry and rerun (issue 13, parity)
  AddWaiverRoutes(router, ctx);  // waivers (issue 13, parity)
  AddPruneRoutes(router, ctx);   // prune (issue 13, parity)
  AddTriggerRoutes(router, ctx);   // webhook triggers (docs/triggers.md)
  AddWorkerRoutes(router, ctx);  // workers.cc, worker_files.cc
  AddRolloutRoutes(router, ctx);  // rollouts and environments (issue 14)
  AddChaosRoutes(router, ctx);    // chaos journals and reports (chaos_api.cc)
}

}  // namespace sluice
