// Breakers, policy evaluation and the audit log over the API (docs/api.md, "Governance"): the
// documents of `sluice breakers -o json`, `sluice policy eval -o json` (against the server's
// central policies and waivers) and `sluice audit verify|export`, with each breaker order
// audited as the token's user. Roles: reading breakers and evaluating policies is read,
// ordering a breaker is operate, the audit log is admin (docs/server.md).
#include "cli/breakers.h"
#include "cli/cli_support.h"
#include "cli/policy_cmds.h"
#include "cli/views.h"
#include "common/strings.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {

namespace {

// GET /api/v1/breakers
ApiResponse ListBreakers(const ApiContext& ctx) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto rows = (*store)->ListBreakers();
  if (!rows) return FromError(rows.error());
  ValueList items;
  for (const auto& row : *rows) {
    auto v = BreakerJson(**store, row, ctx.env.clock().NowUs());
    if (!v) return FromError(v.error());
    items.push_back(std::move(*v));
  }
  return Json(Value(ValueMap{{"items", Value(std::move(items))}}));
}

// POST /api/v1/breakers/{name}/{order}: open, close, reset or disable, as the token's user.
ApiResponse OrderABreaker(const ApiContext& ctx, const ApiRequest& req, const std::string& order) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  const std::string& name = req.params.at("name");
  auto audit = AuditOf(ctx.env, req.who.user, "breaker." + order, "", name, Value(ValueMap{}));
  auto r = OrderBreaker(ctx.env, **store, order, name, audit);
  if (!r) return FromError(r.error());
  return Json(BreakerOrderJson(name, order, req.who.user, *r));
}

// POST /api/v1/policy/eval: the body is the input (an object with "object"), judged by the
// server's central policies with their waivers.
ApiResponse PolicyEval(const ApiContext& ctx, const ApiRequest& req) {
  auto input = ParseJson(req.body);
  if (!input || !input->is_map() || !input->Find("object")) {
    return ErrorResponse(400, fmt::format("the body is the policy input: a JSON object with an "
                                          "\"object\" field{}",
                                          input ? "" : ": " + input.error().message));
  }
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto central = CentralPolicies(ctx.env, ctx.g, *store);
  if (!central) return ErrorResponse(500, central.error().message);
  const std::vector<Decision> all = EvaluateInput(ctx.env, *central, *input);
  ValueList ds;
  for (const auto& d : all) ds.push_back(DecisionToValue(d));
  return Json(Value(ValueMap{{"denied", Value(AnyDenied(all))}, {"decisions", Value(std::move(ds))}}));
}

// GET /api/v1/audit/verify?head=HASH
ApiResponse AuditVerify(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto c = (*store)->VerifyAudit(req.Query("head"));
  if (!c) return FromError(c.error());
  return Json(AuditCheckJson(*c));
}

// GET /api/v1/audit/export?after=SEQ: JSON Lines, as `sluice audit export`.
ApiResponse AuditExport(const ApiContext& ctx, const ApiRequest& req) {
  auto after = QueryInt(req, "after", 0, INT64_MAX);
  if (!after) return BadQueryInt("after");
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto records = (*store)->ListAudit(*after);
  if (!records) return FromError(records.error());
  ApiResponse r;
  r.content_type = "application/x-ndjson";
  for (const auto& rec : *records) r.body += AuditRecordJson(rec).ToJson() + "\n";
  return r;
}

}  // namespace

void AddGovernanceRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/breakers", true, Action::kRead,
              [c](const ApiRequest&) { return ListBreakers(*c); }});
  for (const char* order : {"open", "close", "reset", "disable"}) {
    router.Add({"POST", fmt::format("/api/v1/breakers/{{name}}/{}", order), true, Action::kOperate,
                [c, o = std::string(order)](const ApiRequest& r) { return OrderABreaker(*c, r, o); }});
  }
  router.Add({"POST", "/api/v1/policy/eval", true, Action::kRead,
              [c](const ApiRequest& r) { return PolicyEval(*c, r); }});
  router.Add({"GET", "/api/v1/audit/verify", true, Action::kAdmin,
              [c](const ApiRequest& r) { return AuditVerify(*c, r); }});
  router.Add({"GET", "/api/v1/audit/export", true, Action::kAdmin,
              [c](const ApiRequest& r) { return AuditExport(*c, r); }});
}

}  // namespace sluice
