// POST /api/v1/prune (docs/api.md): `sluice prune --older-than D [--dry-run]` over the API.
// Pruning deletes the records of every namespace's runs, so it is judged in namespace "default"
// and needs the admin role there, the server's counterpart of users.yaml's prune right
// (docs/server.md). The pass is PruneRuns, the one the local command and the leader's
// --retention make; its audit records and tombstones name the token's user.
#include "cli/cli_support.h"
#include "cli/prune.h"
#include "common/strings.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {

namespace {

// The request: {"olderThan": "30d", "dryRun": false}. Errors name the field (400s).
Result<PruneOptions> ParsePrune(const std::string& body, std::string* older_than) {
  auto v = ParseJson(body.empty() ? "{}" : body);
  if (!v) return Fail(ErrorCode::kInvalidInput, "the body is not JSON: {}", v.error().message);
  if (!v->is_map()) return Fail(ErrorCode::kInvalidInput, "the body must be a JSON object");
  PruneOptions o;
  for (const auto& [k, val] : v->as_map()) {
    const std::string key = k.as_string();
    if (key == "olderThan" && val.is_string()) {
      *older_than = val.as_string();
    } else if (key == "dryRun" && val.is_bool()) {
      o.dry_run = val.as_bool();
    } else {
      return Fail(ErrorCode::kInvalidInput, "unknown or mistyped field {} (expected olderThan: "
                  "string, dryRun: boolean)", Quote(key));
    }
  }
  auto ms = ParseDurationMs(*older_than);
  if (older_than->empty() || !ms || *ms < 0) {
    return Fail(ErrorCode::kInvalidInput, "olderThan {}: not a duration (30d, 12h, 90m)",
                Quote(*older_than));
  }
  o.older_than_us = *ms * 1000;
  return o;
}

ApiResponse Prune(const ApiContext& ctx, const ApiRequest& req) {
  std::string older_than;
  auto o = ParsePrune(req.body, &older_than);
  if (!o) return ErrorResponse(400, o.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  o->actor = req.who.user;
  o->reason = "prune --older-than " + older_than + " (API)";
  auto report = PruneRuns(ctx.env, ctx.g, **store, *o);
  if (!report) return FromError(report.error());
  return Json(PruneAnswer(*report, o->dry_run));
}

}  // namespace

void AddPruneRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"POST", "/api/v1/prune", true, Action::kAdmin,
              [c](const ApiRequest& r) { return Prune(*c, r); }});
}

}  // namespace sluice
