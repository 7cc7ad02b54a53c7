// The trigger routes (docs/api.md, "Triggers"; docs/triggers.md): what `sluice trigger
// apply|ls|rotate|rm` do, asked over the API (operators; audited as the token's user), and the
// webhook itself, POST /api/v1/namespaces/{ns}/triggers/{name}.
//
// The webhook takes no user token: its bearer token is the trigger's own, checked against the
// SHA-256 the trigger's row holds in a time that does not depend on the secret (SecretMatches),
// and it authorizes that trigger only (the tokens table never holds it, so any other route
// answers it 401). In order: no token or a malformed one is a 401 before anything is looked up;
// an unknown trigger a 404 (its name is not a secret: it is in the sender's configuration, like
// a repository's webhook URL); a token that is not the trigger's a 401. Then the body (JSON) and
// the headers become `body` and `headers` for the trigger's `when` (false: 202, audited as
// trigger.skipped) and params (a failure: 400), and the run is recorded by the path every new
// run takes (AdmitAndCreateRun: central policies, run.submitted by "trigger:NAME", the run's
// labels) and started as a submission's is (StartEngine). An Idempotency-Key makes the run's id
// (triggers.h): a delivery whose run exists answers 200 with it and starts nothing.
#include "access/access.h"
#include "cli/cli_support.h"
#include "cli/schedule_runs.h"
#include "cli/secrets.h"
#include "cli/triggers.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "env/confined_fs.h"
#include "server/api.h"
#include "spec/plan.h"
#include "store/store.h"

namespace sluice {

namespace {

constexpr size_t kMaxKeyBytes = 256;  // an Idempotency-Key longer than this is refused

ApiResponse List(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto rows = (*store)->ListTriggers(req.params.at("ns"));
  if (!rows) return FromError(rows.error());
  ValueList items;
  for (const auto& row : *rows) {
    auto t = LoadStoredTrigger(row);
    if (!t) return FromError(t.error());
    items.push_back(TriggerJson(*t));
  }
  return Json(Value(ValueMap{{"items", Value(std::move(items))}}));
}

// The files of an apply's body, {"trigger": PATH, "files": {PATH: TEXT}}, written as a bundle:
// the trigger file's absolute path there.
Result<std::string> UploadedTriggerFile(const ApiContext& ctx, const std::string& body,
                                        std::string* bundle) {
  auto v = ParseJson(body);
  const Value* file = v && v->is_map() ? v->Find("trigger") : nullptr;
  const Value* files = v && v->is_map() ? v->Find("files") : nullptr;
  if (!file || !file->is_string() || !files || !files->is_map() || files->as_map().empty()) {
    return Fail(ErrorCode::kInvalidInput, "the body must be {{\"trigger\": PATH, \"files\": "
                "{{PATH: TEXT}}}}, the trigger file among its pipeline's files");
  }
  std::map<std::string, std::string> texts;
  for (const auto& [path, text] : files->as_map()) {
    const std::string p = path.as_string();
    if (!text.is_string() || p.empty() || p.front() == '/' || p.find("..") != std::string::npos) {
      return Fail(ErrorCode::kInvalidInput, "files: {} must be a relative path without .. mapped "
                  "to the file's text", Quote(p));
    }
    texts[p] = text.as_string();
  }
  if (!texts.count(file->as_string())) {
    return Fail(ErrorCode::kInvalidInput, "trigger: {} is not one of the files",
                Quote(file->as_string()));
  }
  SLUICE_TRY(dir, WriteBundle(ctx.env, ctx.g.state_dir, texts));
  *bundle = *dir;
  return PathJoin(*dir, file->as_string());
}

// PUT: the triggers of the uploaded file; a new one's token is in the answer, once.
ApiResponse Apply(const ApiContext& ctx, const ApiRequest& req) {
  std::string bundle;
  auto path = UploadedTriggerFile(ctx, req.body, &bundle);
  if (!path) return FromError(path.error());
  auto confined = NewConfinedReader(ctx.env.files(), bundle);  // as a submission's (submit.cc)
  auto rows = SnapshotTriggers(*confined, *path, req.params.at("ns"), req.who.user,
                               ctx.env.clock().NowUs());
  if (!rows) {  // with the paths as the client sent them: the server's folders are its own
    std::string message = rows.error().message;
    for (size_t at; (at = message.find(bundle + "/")) != std::string::npos;) {
      message.erase(at, bundle.size() + 1);
    }
    return ErrorResponse(400, message);
  }
  for (const TriggerRow& row : *rows) {
    // Its pipeline and what that imports must be among the files uploaded with it.
    auto sources = ParseJson(row.sources);
    std::map<std::string, std::string> paths;
    if (sources && sources->is_map()) {
      for (const auto& [p, text] : sources->as_map()) paths[p.as_string()] = "";
    }
    if (auto in = WithinBundle(paths, bundle); !in) return ErrorResponse(400, in.error().message);
  }
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  ValueList applied;
  for (TriggerRow& row : *rows) {
    const NewToken token = MakeToken(ctx.env.RandomBytes(40));
    row.token_id = token.id;
    row.token_hash = token.secret_hash;
    auto audit = AuditOf(ctx.env, req.who.user, "trigger.applied", "", row.name,
                         Value(ValueMap{{"namespace", Value(row.ns)}}));
    auto created = (*store)->ApplyTrigger(row, std::move(audit));
    if (!created) return FromError(created.error());
    applied.push_back(TriggerTokenItem(row.name, *created, token, *created));
  }
  return Json(Value(ValueMap{{"applied", Value(std::move(applied))}, {"by", Value(req.who.user)}}));
}

ApiResponse Rotate(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  const std::string& name = req.params.at("name");
  const NewToken token = MakeToken(ctx.env.RandomBytes(40));
  auto audit = AuditOf(ctx.env, req.who.user, "trigger.rotated", "", name,
                       Value(ValueMap{{"namespace", Value(req.params.at("ns"))},
                                      {"tokenId", Value(token.id)}}));
  auto done = (*store)->RotateTrigger(req.params.at("ns"), name, token.id, token.secret_hash,
                                      ctx.env.clock().NowUs(), std::move(audit));
  if (!done) return FromError(done.error());
  ValueList applied;
  applied.push_back(TriggerTokenItem(name, false, token, true));
  return Json(Value(ValueMap{{"applied", Value(std::move(applied))}, {"by", Value(req.who.user)}}));
}

ApiResponse Remove(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  const std::string& name = req.params.at("name");
  auto audit = AuditOf(ctx.env, req.who.user, "trigger.removed", "", name,
                       Value(ValueMap{{"namespace", Value(req.params.at("ns"))}}));
  auto done = (*store)->RemoveTrigger(req.params.at("ns"), name, std::move(audit));
  if (!done) return FromError(done.error());
  return Json(Value(ValueMap{{"removed", Value(name)}, {"by", Value(req.who.user)}}));
}

ApiResponse Unauthorized(const std::string& why) {
  ApiResponse r = ErrorResponse(401, why);
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice-trigger\"");
  return r;
}

// Whether `token` (a token's text) is the trigger's, both parts compared whatever the first
// gives, so that the time says nothing of which differed.
bool IsTriggersToken(std::string_view token, const TriggerRow& row) {
  auto parts = SplitToken(token);
  if (!parts) return false;
  const bool id_ok = SecretMatches(parts->first, Sha256Hex(row.token_id));
  const bool secret_ok = SecretMatches(parts->second, row.token_hash);
  return id_ok && secret_ok;
}

// The credential a request shows: a bearer token, or a sender's own header (GitHub's signature
// of the body, GitLab's token); "" when none.
std::string CredentialOf(const ApiRequest& req, std::string* value) {
  for (const char* name : {"authorization", "x-hub-signature-256", "x-gitlab-token"}) {
    auto h = req.headers.find(name);
    if (h == req.headers.end()) continue;
    *value = h->second;
    return name;
  }
  return "";
}

// The trigger the request's credential fires, or the answer that refuses it (see above). A
// signature or GitLab token counts only for a trigger whose `signature:` names that sender.
std::expected<TriggerRow, ApiResponse> Authenticate(const ApiContext& ctx, Store& store,
                                                    const ApiRequest& req) {
  std::string value;
  const std::string kind = CredentialOf(req, &value);
  if (kind.empty() || (kind == "authorization" && !value.starts_with("Bearer "))) {
    return std::unexpected(Unauthorized("no bearer token (Authorization: Bearer TRIGGER-TOKEN)"));
  }
  if (kind == "authorization" && !SplitToken(std::string_view(value).substr(7))) {
    return std::unexpected(Unauthorized("the bearer token is malformed"));
  }
  auto row = store.FindTrigger(req.params.at("ns"), req.params.at("name"));
  if (!row) return std::unexpected(ErrorResponse(503, "the server cannot check triggers now"));
  if (!*row) {
    return std::unexpected(ErrorResponse(404, fmt::format("no trigger {} in namespace {}",
                                                          Quote(req.params.at("name")),
                                                          Quote(req.params.at("ns")))));
  }
  if (kind == "authorization") {
    if (!IsTriggersToken(std::string_view(value).substr(7), **row)) {
      return std::unexpected(Unauthorized("not this trigger's token"));
    }
    return std::move(**row);
  }
  auto t = LoadStoredTrigger(**row);
  if (!t) return std::unexpected(FromError(t.error()));
  const std::string wants = kind == "x-hub-signature-256" ? "github" : "gitlab";
  if (t->spec.signature != wants) {
    return std::unexpected(Unauthorized(fmt::format(
        "trigger {} does not take {} (its file sets no signature: {})", Quote((*row)->name),
        kind == "x-hub-signature-256" ? "X-Hub-Signature-256" : "X-Gitlab-Token", wants)));
  }
  const bool ok = wants == "gitlab"
                      ? IsTriggersToken(value, **row)
                      : SecretMatches(value, Sha256Hex("sha256=" + HmacSha256Hex(
                                                        (*row)->token_hash, req.body)));
  if (!ok) {
    return std::unexpected(Unauthorized(wants == "gitlab" ? "not this trigger's token"
                                                          : "the body's signature does not match"));
  }
  return std::move(**row);
}

// The request as the trigger's expressions read it; a 400 when its body is not JSON.
std::expected<TriggerRequest, ApiResponse> RequestOf(const ApiRequest& req) {
  TriggerRequest out;
  if (!Trim(req.body).empty()) {
    auto body = ParseJson(req.body);
    if (!body) return std::unexpected(ErrorResponse(400, "the body is not JSON: " + body.error().message));
    out.body = std::move(*body);
  }
  ValueMap headers;
  for (const auto& [name, value] : req.headers) {
    if (name != "authorization") headers.emplace_back(Value(name), Value(value));
  }
  out.headers = Value(std::move(headers));
  return out;
}

ApiResponse Started(const RunRecord& run, const std::string& trigger, int status) {
  ApiResponse r = Json(Value(ValueMap{{"run", Value(run.id)}, {"pipeline", Value(run.pipeline)},
                                      {"trigger", Value(trigger)},
                                      {"submittedBy", Value(TriggerActor(trigger))}}),
                       status);
  r.headers.emplace_back("Location", "/api/v1/runs/" + run.id);
  return r;
}

// Evaluates the trigger on the request and records and starts its run under `run_id`.
ApiResponse Fire(const ApiContext& ctx, Store& store, const LoadedTrigger& t,
                 const TriggerRequest& request, const std::string& run_id) {
  const std::string actor = TriggerActor(t.row.name);
  auto skip = TriggerSkipReason(t.spec, request, ctx.env.time_zones());
  if (!skip) return ErrorResponse(400, skip.error().message);
  if (*skip) {
    auto audit = AuditOf(ctx.env, actor, "trigger.skipped", "", t.row.name,
                         Value(ValueMap{{"namespace", Value(t.row.ns)}, {"reason", Value(**skip)}}));
    if (auto a = store.AppendAudit(std::move(audit)); !a) return FromError(a.error());
    return Json(Value(ValueMap{{"skipped", Value(**skip)}, {"trigger", Value(t.row.name)}}), 202);
  }
  auto texts = TriggerParamTexts(t.spec, *t.plan, &request, ctx.env.time_zones());
  if (!texts) return ErrorResponse(400, texts.error().message);
  auto bound = BindRunParams(ctx.env, *t.plan, *texts);
  if (!bound) return ErrorResponse(400, bound.error().message);
  RunOrigin again;
  again.ns = t.row.ns;
  again.labels = TriggerRunLabels(t.spec);
  auto made = AdmitAndCreateRun(ctx.env, ctx.g, store, *t.plan, *bound, actor, run_id, &again);
  if (!made && made.error().code == ErrorCode::kConflict && !run_id.empty()) {
    auto existing = store.GetRun(run_id);  // the same delivery, at the same moment
    if (existing) return Started(*existing, t.row.name, 200);
  }
  if (!made) return ErrorResponse(500, made.error().message);
  if (made->denied) return DeniedResponse(made->decisions);
  if (auto s = StartEngine(ctx, made->run->id); !s) return ErrorResponse(500, s.error().message);
  return Started(*made->run, t.row.name, 201);
}

// POST /api/v1/namespaces/{ns}/triggers/{name}: the webhook.
ApiResponse Webhook(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto row = Authenticate(ctx, **store, req);
  if (!row) return row.error();
  auto request = RequestOf(req);
  if (!request) return request.error();
  std::string run_id;
  if (auto key = req.headers.find("idempotency-key"); key != req.headers.end()) {
    if (key->second.empty() || key->second.size() > kMaxKeyBytes) {
      return ErrorResponse(400, fmt::format("Idempotency-Key: 1 to {} bytes", kMaxKeyBytes));
    }
    run_id = TriggerRunId(row->ns, row->name, key->second);
    if (auto existing = (*store)->GetRun(run_id); existing && existing->id == run_id) {
      return Started(*existing, row->name, 200);
    }
  }
  auto t = LoadStoredTrigger(*row);
  if (!t) return FromError(t.error());
  return Fire(ctx, **store, *t, *request, run_id);
}

}  // namespace

void AddTriggerRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  const std::string base = "/api/v1/namespaces/{ns}/triggers";
  router.Add({"GET", base, true, Action::kRead, [c](const ApiRequest& r) { return List(*c, r); }});
  router.Add({"PUT", base, true, Action::kOperate,
              [c](const ApiRequest& r) { return Apply(*c, r); }});
  router.Add({"POST", base + "/{name}/rotate", true, Action::kOperate,
              [c](const ApiRequest& r) { return Rotate(*c, r); }});
  router.Add({"DELETE", base + "/{name}", true, Action::kOperate,
              [c](const ApiRequest& r) { return Remove(*c, r); }});
  Route webhook{"POST", base + "/{name}", false, Action::kSubmit,
                [c](const ApiRequest& r) { return Webhook(*c, r); }};
  webhook.trigger_token = true;
  router.Add(std::move(webhook));
}

}  // namespace sluice
