// The schedule routes (docs/api.md, "Schedules"): what `sluice schedule apply|ls|suspend|resume|
// trigger` and `sluice backfill` do, asked over the API. Every change is audited as the token's
// user. A schedule applied over the API arrives as its file and its pipeline's files (as a
// submission does), kept as a bundle in the state folder so that the pipeline's folder exists
// on the server; what fires is the snapshot stored at apply (store.h, ScheduleRow). Runs that
// trigger and backfill start get their engines as submitted runs do (StartEngine), and the
// leader keeps them going; firing at the schedule's times is the leader's (scheduler.h).
#include "cli/cli_support.h"
#include "cli/schedule_runs.h"
#include "common/strings.h"
#include "env/confined_fs.h"
#include "server/api.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

namespace {

constexpr size_t kMaxBackfill = 100;  // runs one request starts, each an engine process

ApiResponse ListSchedules(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto rows = (*store)->ListSchedules(req.params.at("ns"));
  if (!rows) return FromError(rows.error());
  auto scheduled = (*store)->ScheduledRuns();
  if (!scheduled) return FromError(scheduled.error());
  ValueList items;
  for (const auto& row : *rows) {
    auto s = LoadStoredSchedule(ctx.env, row);
    if (!s) return FromError(s.error());
    items.push_back(ScheduleJson(*s, *scheduled, ctx.env.clock().NowUs()));
  }
  return Json(Value(ValueMap{{"items", Value(std::move(items))}}));
}

// PUT: {"schedule": PATH, "files": {PATH: TEXT}}: the schedule file among its pipeline's files.
ApiResponse PutSchedules(const ApiContext& ctx, const ApiRequest& req) {
  auto body = ParseJson(req.body);
  const Value* file = body && body->is_map() ? body->Find("schedule") : nullptr;
  const Value* files = body && body->is_map() ? body->Find("files") : nullptr;
  if (!file || !file->is_string() || !files || !files->is_map() || files->as_map().empty()) {
    return ErrorResponse(400, "the body must be {\"schedule\": PATH, \"files\": {PATH: TEXT}}, "
                              "the schedule file among its pipeline's files");
  }
  std::map<std::string, std::string> texts;
  for (const auto& [path, text] : files->as_map()) {
    const std::string p = path.as_string();
    if (!text.is_string() || p.empty() || p.front() == '/' || p.find("..") != std::string::npos) {
      return ErrorResponse(400, fmt::format("files: {} must be a relative path without .. mapped "
                                            "to the file's text", Quote(p)));
    }
    texts[p] = text.as_string();
  }
  if (!texts.count(file->as_string())) {
    return ErrorResponse(400, fmt::format("schedule: {} is not one of the files", Quote(file->as_string())));
  }
  auto bundle = WriteBundle(ctx.env, ctx.g.state_dir, texts);
  if (!bundle) return FromError(bundle.error());
  auto confined = NewConfinedReader(ctx.env.files(), *bundle);  // as a submission's (submit.cc)
  auto rows = SnapshotSchedules(ctx.env, *confined, PathJoin(*bundle, file->as_string()),
                                req.params.at("ns"), req.who.user, ctx.env.clock().NowUs());
  if (!rows) return ErrorResponse(400, rows.error().message);
  for (const ScheduleRow& row : *rows) {
    // Its pipeline and what that imports must be among the files uploaded with it (as for a
    // submission): `pipeline: /etc/...` or `../` would snapshot the server's files.
    auto sources = ParseJson(row.sources);
    std::map<std::string, std::string> paths;
    if (sources && sources->is_map()) {
      for (const auto& [path, text] : sources->as_map()) paths[path.as_string()] = "";
    }
    if (auto in = WithinBundle(paths, *bundle); !in) return ErrorResponse(400, in.error().message);
  }
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  ValueList applied;
  for (const ScheduleRow& row : *rows) {
    auto audit = AuditOf(ctx.env, req.who.user, "schedule.applied", "", row.name,
                         Value(ValueMap{{"namespace", Value(row.ns)},
                                        {"suspended", Value(row.suspended)}}));
    if (auto a = (*store)->ApplySchedule(row, std::move(audit)); !a) return FromError(a.error());
    applied.push_back(Value(row.name));
  }
  return Json(Value(ValueMap{{"applied", Value(std::move(applied))}, {"by", Value(req.who.user)}}));
}

ApiResponse SuspendSchedule(const ApiContext& ctx, const ApiRequest& req, bool suspend) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  const std::string& name = req.params.at("name");
  auto audit = AuditOf(ctx.env, req.who.user, suspend ? "schedule.suspended" : "schedule.resumed",
                       "", name, Value(ValueMap{{"namespace", Value(req.params.at("ns"))}}));
  auto done = (*store)->SuspendSchedule(req.params.at("ns"), name, suspend, std::move(audit));
  if (!done) return FromError(done.error());
  return Json(Value(ValueMap{{"name", Value(name)}, {"suspended", Value(suspend)},
                             {"by", Value(req.who.user)}}));
}

// Records and starts the run of `s` for `t` under `id`, by the token's user.
Result<RunRecord> StartRun(const ApiContext& ctx, Store& store, const LoadedSchedule& s,
                           const ScheduleTimes& t, const std::string& user, const std::string& id) {
  SLUICE_TRY(run, CreateScheduledRun(ctx.env, ctx.g, store, s, t, user, id));
  SLUICE_TRY_STATUS(StartEngine(ctx, run->id));
  return run;
}

ApiResponse TriggerSchedule(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto s = FindSchedule(ctx.env, **store, req.params.at("ns"), req.params.at("name"));
  if (!s) return FromError(s.error());
  const ScheduleTimes t = TriggerTimes(*s->cron, ctx.env.clock().NowUs());
  auto run = StartRun(ctx, **store, *s, t, req.who.user, ManualRunId(**store, s->row, t.time_us));
  if (!run) return FromError(run.error());
  ApiResponse r = Json(Value(ValueMap{{"id", Value(run->id)}, {"time", Value(UtcOfUs(t.time_us))},
                                      {"submittedBy", Value(req.who.user)}}), 201);
  r.headers.emplace_back("Location", "/api/v1/runs/" + run->id);
  return r;
}

// POST {"from": TIME, "to": TIME}: the fires between, at most kMaxBackfill a request.
ApiResponse BackfillRuns(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto s = FindSchedule(ctx.env, **store, req.params.at("ns"), req.params.at("name"));
  if (!s) return FromError(s.error());
  auto body = ParseJson(req.body);
  const Value* from = body && body->is_map() ? body->Find("from") : nullptr;
  const Value* to = body && body->is_map() ? body->Find("to") : nullptr;
  if (!from || !from->is_string() || !to || !to->is_string()) {
    return ErrorResponse(400, "the body must be {\"from\": TIME, \"to\": TIME}");
  }
  auto from_s = ParseInstant(from->as_string(), *s->cron);
  if (!from_s) return ErrorResponse(400, "from: " + from_s.error().message);
  auto to_s = ParseInstant(to->as_string(), *s->cron);
  if (!to_s) return ErrorResponse(400, "to: " + to_s.error().message);
  auto fires = PastFires(*s->cron, *from_s * kSecondUs, *to_s * kSecondUs, ctx.env.clock().NowUs(), kMaxBackfill);
  if (!fires) return ErrorResponse(400, fires.error().message);
  ValueList started, existing;
  for (const ScheduleTimes& t : *fires) {
    const std::string id = ScheduledRunId(s->row, t.time_us, false);
    auto run = StartRun(ctx, **store, *s, t, req.who.user, id);
    if (!run && run.error().code == ErrorCode::kConflict) {
      existing.push_back(Value(id));
      continue;
    }
    if (!run) return FromError(run.error());
    started.push_back(Value(id));
  }
  return Json(Value(ValueMap{{"started", Value(std::move(started))},
                             {"existing", Value(std::move(existing))},
                             {"submittedBy", Value(req.who.user)}}), 201);
}

}  // namespace

void AddScheduleRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  const std::string base = "/api/v1/namespaces/{ns}/schedules";
  router.Add({"GET", base, true, Action::kRead, [c](const ApiRequest& r) { return ListSchedules(*c, r); }});
  router.Add({"PUT", base, true, Action::kOperate,
              [c](const ApiRequest& r) { return PutSchedules(*c, r); }});
  router.Add({"POST", base + "/{name}/suspend", true, Action::kOperate,
              [c](const ApiRequest& r) { return SuspendSchedule(*c, r, true); }});
  router.Add({"POST", base + "/{name}/resume", true, Action::kOperate,
              [c](const ApiRequest& r) { return SuspendSchedule(*c, r, false); }});
  router.Add({"POST", base + "/{name}/trigger", true, Action::kSubmit,
              [c](const ApiRequest& r) { return TriggerSchedule(*c, r); }});
  router.Add({"POST", base + "/{name}/backfill", true, Action::kSubmit,
              [c](const ApiRequest& r) { return BackfillRuns(*c, r); }});
}

}  // namespace sluice
