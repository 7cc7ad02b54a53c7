// POST /api/v1/runs/{id}/retry and /rerun (docs/api.md): what `sluice retry|rerun` do, asked
// over the API by an operator of the run's namespace, for the token's user.
//
// A retry takes the local command's steps before execution (cli/rerun.h): the same refusals
// (CheckRetryable, 409), its tasks checked against the stored events (PlanRetry: 400 for a task
// that did not fail), admission judged again with the central policies (a denial is 403 with its
// decisions, audited as run.denied), then run.retried audited by the token's user. Under the
// run's lock (ClaimRun: of two requests at once, one wins and the other gets 409 with nothing
// recorded) the request records the run's run.retried event itself, so that the run is no longer
// finished, and starts its engine as a resume does (`sluice resume RUN`, its output in the run
// folder's engine.log): the engine replays the retry and executes the tasks it started over, and
// the leader keeps the run going should that engine stop (leader.h). Rejected: an engine process
// that records the retry itself (`sluice retry RUN`), which would judge admission and audit it
// a second time as the server's account, and leave nothing to keep going if it died first.
//
// A rerun creates a new run in the original's namespace through the path every new run takes
// (AdmitAndCreateRun: admission, run.submitted by the token's user with rerunOf), with the old
// run's params and the body's changes, and the tasks upstream of `from` recorded as reused, then
// starts its engine as a submission does.
//
// GET /api/v1/runs/{id}/graph serves what `sluice graph RUN` draws, for `graph RUN --server`.
#include <algorithm>

#include "cli/cli_support.h"
#include "cli/policy_cmds.h"
#include "cli/rerun.h"
#include "cli/schedule_runs.h"
#include "cli/secrets.h"
#include "common/strings.h"
#include "server/api.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

namespace {

// What a retry or rerun request may carry. Errors name the field (all are 400s).
struct AgainRequest {
  std::vector<std::string> tasks;             // retry: only these failed tasks
  std::string from;                           // rerun: reuse what is upstream of this task
  std::map<std::string, std::string> params;  // rerun: params that change, as -p texts
};

Result<AgainRequest> ParseAgain(const std::string& body, bool rerun) {
  AgainRequest r;
  if (body.empty()) return r;
  auto v = ParseJson(body);
  if (!v) return Fail(ErrorCode::kInvalidInput, "the body is not JSON: {}", v.error().message);
  if (!v->is_map()) return Fail(ErrorCode::kInvalidInput, "the body must be a JSON object");
  const char* expected = rerun ? "from: string, params: object" : "tasks: list of strings";
  for (const auto& [k, val] : v->as_map()) {
    const std::string key = k.as_string();
    if (!rerun && key == "tasks" && val.is_list()) {
      for (const Value& t : val.as_list()) {
        if (!t.is_string()) return Fail(ErrorCode::kInvalidInput, "tasks: each must be a string");
        r.tasks.push_back(t.as_string());
      }
    } else if (rerun && key == "from" && val.is_string()) {
      r.from = val.as_string();
    } else if (rerun && key == "params" && val.is_map()) {
      for (const auto& [name, p] : val.as_map()) r.params[name.as_string()] = p.ToText();
    } else {
      return Fail(ErrorCode::kInvalidInput, "unknown or mistyped field {} (expected {})",
                  Quote(key), expected);
    }
  }
  return r;
}

// The 400 for a run with secret params: their values are never stored, and would have to travel
// in the request. Nullopt when the plan has none.
std::optional<ApiResponse> SecretParamsRefused(const Plan& plan, const std::string& run_id,
                                               const char* verb) {
  for (const auto& p : plan.pipeline->params) {
    if (p.secret) {
      return ErrorResponse(400, fmt::format("run {} has secret param {}: {} it with the CLI on "
                                            "the server's host, which asks for it again",
                                            run_id, Quote(p.name), verb));
    }
  }
  return std::nullopt;
}

// The decisions that did not allow, as the API lists them (printed by the CLI as a local
// retry or rerun prints them).
Value NotAllowed(const std::vector<Decision>& decisions) {
  ValueList out;
  for (const auto& d : decisions) {
    if (d.result != "allow") out.push_back(DecisionToValue(d));
  }
  return Value(std::move(out));
}

// Under the run's lock: the run is read again (another retry or a resume may have come between),
// the retry planned and admitted, audited, and its event recorded. On a denial `denied` is set
// and an error returned, so that nothing is claimed.
Status RecordRetry(const ApiContext& ctx, Store& store, const std::string& run_id,
                   const std::shared_ptr<const Plan>& plan, const Value& params,
                   const AgainRequest& asked, const std::string& user,
                   std::optional<ApiResponse>& denied, Value& reset, Value& notable) {
  SLUICE_TRY(run, store.GetRun(run_id));
  if (!IsFinishedRun(run->status)) {
    return Fail(ErrorCode::kConflict, "run {} is {} again: another request retried or resumed it",
                run->id, run->status);
  }
  SLUICE_TRY(planned, PlanRetry(store, plan, *run, asked.tasks, user));
  SLUICE_TRY(admitted, AdmitAgain(ctx.env, ctx.g, store, *plan, params, user, run->id,
                                  ValueMap{{"retryOf", Value(run->id)}}, false));
  if (admitted->denied) {
    denied = DeniedResponse(admitted->decisions);
    return Fail(ErrorCode::kInvalidInput, "admission denied");
  }
  notable = NotAllowed(admitted->decisions);
  auto data = ParseJson(planned->data);
  const Value* tasks = data && data->is_map() ? data->Find("tasks") : nullptr;
  reset = tasks ? *tasks : Value(ValueList{});
  ValueList requested;
  for (const auto& t : asked.tasks) requested.push_back(Value(t));
  Value details(ValueMap{{"status", Value(run->status)},
                         {"requested", Value(std::move(requested))},
                         {"tasks", reset},
                         {"admission", AdmissionSummary(admitted->decisions)}});
  SLUICE_TRY_STATUS(store.AppendAudit(
      AuditOf(ctx.env, user, "run.retried", run->id, run->pipeline, details)));
  Event e = std::move(*planned);
  e.run_id = run->id;
  e.time_us = ctx.env.clock().NowUs();
  store.Append(e);
  return store.Commit();
}

ApiResponse Retry(const ApiContext& ctx, const ApiRequest& req) {
  auto asked = ParseAgain(req.body, false);
  if (!asked) return ErrorResponse(400, asked.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  if (auto ok = CheckRetryable(ctx.env, ctx.g, *run); !ok) return FromError(ok.error());
  auto loaded = LoadStoredRun(**store, *run);
  if (!loaded) return FromError(loaded.error());
  if (auto refused = SecretParamsRefused(*loaded->first, run->id, "retry")) return *refused;
  std::optional<ApiResponse> denied;
  Value reset, notable;
  auto claimed = ClaimRun(ctx, run->id, [&]() -> Status {
    return RecordRetry(ctx, **store, run->id, loaded->first, loaded->second, *asked, req.who.user,
                       denied, reset, notable);
  });
  if (denied) return *denied;
  if (!claimed) return FromError(claimed.error());
  if (auto s = StartEngine(ctx, run->id, "resume"); !s) return ErrorResponse(500, s.error().message);
  return Json(Value(ValueMap{{"id", Value(run->id)}, {"action", Value("retry")},
                             {"by", Value(req.who.user)}, {"tasks", reset},
                             {"decisions", notable}}),
              202);
}

// The largest sequence number of run `id`'s events: where following a new rerun starts, past the
// events that record what it reuses (a local rerun shows none of them).
Result<int64_t> LastSeqOf(Store& store, const std::string& id) {
  SLUICE_TRY(events, store.LoadEvents(id));
  int64_t last = 0;
  for (const auto& e : *events) last = std::max(last, e.seq);
  return last;
}

ApiResponse Rerun(const ApiContext& ctx, const ApiRequest& req) {
  auto asked = ParseAgain(req.body, true);
  if (!asked) return ErrorResponse(400, asked.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto old = (*store)->GetRun(req.params.at("id"));
  if (!old) return FromError(old.error());
  PublishLeftJournal(ctx.env, ctx.g, **store, *old);  // what a killed run committed last counts
  auto loaded = LoadStoredRun(**store, *old);
  if (!loaded) return FromError(loaded.error());
  const Plan& plan = *loaded->first;
  if (auto refused = SecretParamsRefused(plan, old->id, "rerun")) return *refused;
  auto raw = RerunParams(ctx.env, plan, loaded->second, asked->params);
  if (!raw) return FromError(raw.error());
  auto bound = BindRunParams(ctx.env, plan, *raw);
  if (!bound) return FromError(bound.error());
  auto reused = ReusedTasks(**store, loaded->first, *old, asked->from);
  if (!reused) return FromError(reused.error());
  RunOrigin origin{old->ns, old->id, asked->from, std::move(*reused), Value(), Value()};
  const int64_t n_reused = static_cast<int64_t>(origin.reused.size());
  auto made = AdmitAndCreateRun(ctx.env, ctx.g, **store, plan, *bound, req.who.user, "", &origin);
  if (!made) return FromError(made.error());
  if (made->denied) return DeniedResponse(made->decisions);
  const RunRecord& run = *made->run;
  auto after = LastSeqOf(**store, run.id);
  if (!after) return FromError(after.error());
  if (auto s = StartEngine(ctx, run.id); !s) return ErrorResponse(500, s.error().message);
  ApiResponse r = Json(Value(ValueMap{{"id", Value(run.id)}, {"pipeline", Value(run.pipeline)},
                                      {"rerunOf", Value(old->id)}, {"reused", Value(n_reused)},
                                      {"after", Value(*after)},
                                      {"submittedBy", Value(req.who.user)},
                                      {"decisions", NotAllowed(made->decisions)}}),
                       201);
  r.headers.emplace_back("Location", "/api/v1/runs/" + run.id);
  return r;
}

// GET /api/v1/runs/{id}/graph: the run's DAG colored by state, as DOT (`sluice graph RUN`'s,
// drawn by the same code from the same store).
ApiResponse RunGraph(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  const std::string format = req.Query("format", "dot");
  if (format != "dot" && format != "json") return ErrorResponse(400, "format: expected dot or json");
  auto dot = RunGraphDot(ctx.env, ctx.g, **store, req.params.at("id"), format == "json");
  if (!dot) return FromError(dot.error());
  ApiResponse r;
  r.content_type = format == "json" ? "application/json" : "text/vnd.graphviz; charset=utf-8";
  r.body = std::move(*dot);
  return r;
}

}  // namespace

void AddRerunRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"POST", "/api/v1/runs/{id}/retry", true, Action::kOperate,
              [c](const ApiRequest& r) { return Retry(*c, r); }});
  router.Add({"POST", "/api/v1/runs/{id}/rerun", true, Action::kOperate,
              [c](const ApiRequest& r) { return Rerun(*c, r); }});
  router.Add({"GET", "/api/v1/runs/{id}/graph", true, Action::kRead,
              [c](const ApiRequest& r) { return RunGraph(*c, r); }});
}

}  // namespace sluice
