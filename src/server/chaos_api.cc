// GET /api/v1/chaos/experiments, …/{experiment} and …/{experiment}/report (docs/api.md,
// "Chaos experiments"): the experiments `sluice chaos run` ran on the server's state folder, as
// `sluice chaos ls` lists them, one's journal, and its resilience report as `sluice chaos report`
// writes it (chaos/experiments.h). Read-only; like breakers and waivers they are the server's,
// not a team's, so they are judged in namespace "default" (any reader there may read them).
//
// The report is HTML made from untrusted journal strings (escaped by report.cc). It is served
// with its own Content-Security-Policy: nothing may load or run (inline styles aside), `sandbox`
// gives it an opaque origin (no cookie, no same-origin request even if escaping missed a
// string), and only this server's own pages may frame it (the web UI's experiment page does).
#include <fmt/format.h>

#include "chaos/experiments.h"
#include "common/strings.h"
#include "server/api.h"

namespace sluice {
namespace {

// A journal or report that cannot be made: 404 for an id that names no experiment, else 500
// (a journal on disk of the wrong shape is the server's problem, not the request's).
ApiResponse Failed(const Error& e) {
  return ErrorResponse(e.code == ErrorCode::kNotFound ? 404 : 500, e.message);
}

ApiResponse ListAll(const ApiContext& ctx) {
  return Json(Value(ValueMap{{"items", Value(ListExperiments(ctx.env, ctx.g.state_dir))}}));
}

ApiResponse Journal(const ApiContext& ctx, const ApiRequest& req) {
  auto j = ReadExperimentJournal(ctx.env, ctx.g.state_dir, req.params.at("experiment"));
  if (!j) return Failed(j.error());
  return Json(*j);
}

ApiResponse ServeReport(const ApiContext& ctx, const ApiRequest& req) {
  const std::string format = req.Query("format", "html");
  if (format != "html" && format != "markdown") {
    return ErrorResponse(400,
                         fmt::format("format must be html or markdown, not {}", Quote(format)));
  }
  const bool html = format == "html";
  auto text = ExperimentReport(ctx.env, ctx.g.state_dir, req.params.at("experiment"),
                               html ? ReportFormat::kHtml : ReportFormat::kMarkdown);
  if (!text) return Failed(text.error());
  ApiResponse r;
  r.body = std::move(*text);
  r.content_type = html ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8";
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                         "form-action 'none'; frame-ancestors 'self'; sandbox");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "SAMEORIGIN");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

void AddChaosRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/chaos/experiments", true, Action::kRead,
              [c](const ApiRequest&) { return ListAll(*c); }});
  router.Add({"GET", "/api/v1/chaos/experiments/{experiment}", true, Action::kRead,
              [c](const ApiRequest& r) { return Journal(*c, r); }});
  router.Add({"GET", "/api/v1/chaos/experiments/{experiment}/report", true, Action::kRead,
              [c](const ApiRequest& r) { return ServeReport(*c, r); }});
}

}  // namespace sluice
