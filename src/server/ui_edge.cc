// The web UI's files and its login, logout and session routes (ui_edge.h).
#include "server/ui_edge.h"

#include <fmt/format.h>

#include "common/value.h"
#include "server/ui_files.h"
#include "store/store.h"

namespace sluice {
namespace {

// Headers of every UI answer. The page loads nothing from elsewhere (scripts, styles and fonts
// are bundled), so the policy allows only this origin; no page may frame it.
void AddPageHeaders(ApiResponse& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self' "
                         "'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; "
                         "base-uri 'none'; form-action 'self'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
}

std::string_view ContentType(std::string_view path) {
  struct Ext {
    const char* ext;
    const char* type;
  };
  static constexpr Ext kTypes[] = {
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},     {".svg", "image/svg+xml"},
      {".png", "image/png"},                   {".json", "application/json"},
      {".woff2", "font/woff2"},                {".txt", "text/plain; charset=utf-8"},
      {".ico", "image/x-icon"},
  };
  for (const Ext& e : kTypes) {
    if (path.ends_with(e.ext)) return e.type;
  }
  return "application/octet-stream";
}

}  // namespace

bool IsUiPath(std::string_view path) {
  return path == "/" || path == "/index.html" || path == "/favicon.svg" ||
         path.starts_with("/assets/") || path.starts_with("/ui/");
}

ApiResponse UiAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const UiFile& f : UiFiles()) {
    if (path != f.path) continue;
    ApiResponse r;
    r.content_type = std::string(ContentType(path));
    r.body.assign(reinterpret_cast<const char*>(f.data), f.size);
    // vite names assets by their content's hash: they never change under their name.
    r.headers.emplace_back("Cache-Control", path.starts_with("/assets/")
                                                ? "public, max-age=31536000, immutable"
                                                : "no-cache");
    AddPageHeaders(r);
    return r;
  }
  if (UiFiles().empty() && path == "/index.html") {
    ApiResponse r;
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "This sluice server was built without its web UI (-DSLUICE_UI=OFF); the API is "
             "at /api/v1.\n";
    return r;
  }
  return ErrorResponse(404, fmt::format("no file {}", path));
}

Value PrincipalJson(const ApiPrincipal& who, const std::string& csrf) {
  ValueMap roles, may;
  for (const auto& [ns, r] : who.roles) {
    roles.emplace_back(Value(ns), Value(std::string(RoleName(r))));
    ValueList actions;
    for (Action a : {Action::kRead, Action::kSubmit, Action::kOperate, Action::kApprove,
                     Action::kAdmin, Action::kWork}) {
      if (Allows(r, a)) actions.emplace_back(std::string(ActionName(a)));
    }
    may.emplace_back(Value(ns), Value(std::move(actions)));
  }
  ValueMap out{{"user", Value(who.user)}, {"roles", Value(std::move(roles))},
               {"may", Value(std::move(may))}};
  if (!csrf.empty()) out.emplace_back("csrf", Value(csrf));
  return Value(std::move(out));
}

std::string UiEdge::Cookie(const std::string& value, int64_t max_age_s) const {
  return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", kSessionCookie,
                     value, max_age_s, secure_ ? "; Secure" : "");
}

ApiResponse UiEdge::Answer(const UiRequest& req) {
  if (req.path == "/ui/login") {
    if (req.method != "POST") return ErrorResponse(405, "use POST /ui/login");
    return Login(req);
  }
  if (req.path == "/ui/logout") {
    if (req.method != "POST") return ErrorResponse(405, "use POST /ui/logout");
    return Logout(req);
  }
  if (req.path == "/ui/session") {
    if (req.method != "GET") return ErrorResponse(405, "use GET /ui/session");
    return SessionInfo(req);
  }
  if (req.path == "/ui/position") {
    if (req.method != "GET") return ErrorResponse(405, "use GET /ui/position");
    return Position(req);
  }
  if (req.path.starts_with("/ui/")) return ErrorResponse(404, fmt::format("no route {}", req.path));
  if (req.method != "GET" && req.method != "HEAD") {
    ApiResponse r =
        ErrorResponse(405, fmt::format("{} is not allowed here; allowed: GET", req.method));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  return UiAsset(req.path);
}

ApiResponse UiEdge::Login(const UiRequest& req) {
  // A form of another site can post text/plain or form data without asking, never JSON.
  if (!req.content_type.starts_with("application/json")) {
    return ErrorResponse(415, "POST /ui/login takes a JSON body {\"token\": \"...\"}");
  }
  auto body = ParseJson(req.body);
  const Value* token = body && body->is_map() ? body->Find("token") : nullptr;
  if (!token || !token->is_string()) {
    return ErrorResponse(400, "POST /ui/login takes a JSON body {\"token\": \"...\"}");
  }
  const int64_t now = ctx_.env.clock().NowUs();
  if (const int64_t wait_s = limiter_.RetryAfterS(req.remote, now)) {
    ApiResponse r = ErrorResponse(
        429, fmt::format("too many failed logins from this address; try again in {} s", wait_s));
    r.headers.emplace_back("Retry-After", std::to_string(wait_s));
    return r;
  }
  auto who = check_(token->as_string());
  if (!who && who.error().code == ErrorCode::kStore) return ErrorResponse(503, who.error().message);
  if (!who) {
    limiter_.Failed(req.remote, now);
    return ErrorResponse(401, who.error().message);
  }
  auto [id, session] = sessions_.Create(token->as_string());
  ApiResponse r;
  r.body = PrincipalJson(*who, session.csrf).ToJson();
  r.headers.emplace_back("Set-Cookie", Cookie(id, sessions_.max_age_us() / 1'000'000));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

ApiResponse UiEdge::SessionInfo(const UiRequest& req) {
  auto session = sessions_.Find(CookieValue(req.cookie, kSessionCookie));
  if (!session) return ErrorResponse(401, "no session: log in");
  auto who = check_(session->token);
  if (!who && who.error().code == ErrorCode::kStore) return ErrorResponse(503, who.error().message);
  if (!who) return ErrorResponse(401, who.error().message);
  ApiResponse r;
  r.body = PrincipalJson(*who, session->csrf).ToJson();
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

ApiResponse UiEdge::Logout(const UiRequest& req) {
  const std::string id = CookieValue(req.cookie, kSessionCookie);
  auto session = sessions_.Find(id);
  if (!session) return ErrorResponse(401, "no session: log in");
  if (!SameSecret(req.csrf, session->csrf)) {
    return ErrorResponse(403, "a write with the session cookie needs its X-Sluice-CSRF header");
  }
  sessions_.Remove(id);
  ApiResponse r;
  r.body = R"({"loggedOut":true})";
  r.headers.emplace_back("Set-Cookie", Cookie("", 0));
  return r;
}

ApiResponse UiEdge::Position(const UiRequest& req) {
  auto session = sessions_.Find(CookieValue(req.cookie, kSessionCookie));
  if (!session) return ErrorResponse(401, "no session: log in");
  if (auto who = check_(session->token); !who) return ErrorResponse(401, who.error().message);
  auto store = ctx_.ThreadStore();
  if (!store) return FromError(store.error());
  auto seq = (*store)->LastEventSeq();
  if (!seq) return FromError(seq.error());
  return Json(Value(ValueMap{{"seq", Value(*seq)}}));
}

}  // namespace sluice
