// GET and POST /api/v1/waivers, DELETE /api/v1/waivers/{name} (docs/api.md): `sluice waiver
// list|grant|revoke` over the API. Waivers lift the state folder's central policies, which hold
// in every namespace, so the routes are judged in namespace "default": any reader lists them, and
// granting or revoking needs the admin role there, the server's counterpart of users.yaml's
// grant-waivers right (docs/server.md). The grantor is always the token's user, never a field
// of the request, and names the grant's document (grantedBy) and its audit record.
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/waivers.h"
#include "common/strings.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {

namespace {

// The grant a POST asks for. Errors name the field (all are 400s).
Result<WaiverGrant> ParseGrant(const std::string& body) {
  auto v = ParseJson(body);
  if (!v) return Fail(ErrorCode::kInvalidInput, "the body is not JSON: {}", v.error().message);
  if (!v->is_map()) return Fail(ErrorCode::kInvalidInput, "the body must be a JSON object");
  WaiverGrant w;
  const std::pair<const char*, std::string*> fields[] = {
      {"name", &w.name},         {"policy", &w.policy},
      {"rule", &w.rule},         {"pipeline", &w.pipeline},
      {"task", &w.task},         {"justification", &w.justification},
      {"expires", &w.expires}};
  for (const auto& [k, val] : v->as_map()) {
    const std::string key = k.as_string();
    std::string* into = nullptr;
    for (const auto& [name, field] : fields) {
      if (key == name) into = field;
    }
    if (!into || !val.is_string()) {
      return Fail(ErrorCode::kInvalidInput, "unknown or mistyped field {} (expected strings: "
                  "name, policy, rule, pipeline, task, justification, expires; the grantor is "
                  "the token's user)", Quote(key));
    }
    *into = val.as_string();
  }
  for (const auto& [name, field] : {std::pair{"name", &w.name}, std::pair{"policy", &w.policy},
                                    std::pair{"justification", &w.justification},
                                    std::pair{"expires", &w.expires}}) {
    if (field->empty()) return Fail(ErrorCode::kInvalidInput, "{} is required", name);
  }
  return w;
}

ApiResponse ListWaivers(const ApiContext& ctx) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto rows = (*store)->ListWaivers();
  if (!rows) return FromError(rows.error());
  return Json(Value(ValueMap{{"items", WaiversJson(*rows, ctx.env.clock().NowUs())}}));
}

ApiResponse Grant(const ApiContext& ctx, const ApiRequest& req) {
  auto w = ParseGrant(req.body);
  if (!w) return ErrorResponse(400, w.error().message);
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto granted = GrantWaiverBy(ctx.env, ctx.g, **store, *w, req.who.user);
  if (!granted) return FromError(granted.error());
  ApiResponse r = Json(Value(ValueMap{{"name", Value(w->name)}, {"policy", Value(w->policy)},
                                      {"rule", Value(w->rule)},
                                      {"expires", Value(Ts(granted->expires_us))},
                                      {"grantedBy", Value(req.who.user)},
                                      {"auditSeq", Value(granted->audit_seq)}}),
                       201);
  return r;
}

ApiResponse Revoke(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  const std::string& name = req.params.at("name");
  auto seq = RevokeWaiverBy(ctx.env, **store, name, req.who.user);
  if (!seq) return FromError(seq.error());
  return Json(Value(ValueMap{{"name", Value(name)}, {"revokedBy", Value(req.who.user)},
                             {"auditSeq", Value(*seq)}}));
}

}  // namespace

void AddWaiverRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/waivers", true, Action::kRead,
              [c](const ApiRequest&) { return ListWaivers(*c); }});
  router.Add({"POST", "/api/v1/waivers", true, Action::kAdmin,
              [c](const ApiRequest& r) { return Grant(*c, r); }});
  router.Add({"DELETE", "/api/v1/waivers/{name}", true, Action::kAdmin,
              [c](const ApiRequest& r) { return Revoke(*c, r); }});
}

}  // namespace sluice
