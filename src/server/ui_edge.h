// The web UI's part of the HTTP edge (docs/ui.md): its embedded files at / and /assets/, and
// the login, logout and session routes under /ui/ that trade an API token for a session cookie
// (ui_session.h). server.cc hands it the requests whose path IsUiPath; it never sees the API's.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "access/access.h"
#include "common/value.h"
#include "server/api.h"
#include "server/login_limiter.h"
#include "server/router.h"
#include "server/ui_session.h"

namespace sluice {

// Whether `path` is the UI's: "/", "/index.html", "/favicon.svg", "/assets/...", "/ui/...".
bool IsUiPath(std::string_view path);

// A request to the UI, as the edge read it.
struct UiRequest {
  std::string method;
  std::string path;
  std::string cookie;        // the Cookie header
  std::string csrf;          // the X-Sluice-CSRF header
  std::string content_type;  // the Content-Type header
  std::string body;
  std::string remote;  // the client's address (failed logins are limited per address)
};

class UiEdge {
 public:
  // `check` says whose a token is (or why it is refused: a 401, or kStore: a 503); `secure`:
  // the server speaks TLS, so the cookie is marked Secure.
  using TokenCheck = std::function<Result<ApiPrincipal>(std::string_view token)>;
  UiEdge(const ApiContext& ctx, UiSessions& sessions, TokenCheck check, bool secure)
      : ctx_(ctx), sessions_(sessions), check_(std::move(check)), secure_(secure) {}
  // The answer to a request whose path IsUiPath:
  // GET / and the embedded files; POST /ui/login {"token"} (sets the cookie, answers
  // {"user", "roles", "may", "csrf"}; after 10 failed logins from one address within a minute,
  // 429 with Retry-After until the oldest leaves the minute: login_limiter.h); GET /ui/session
  // (the same for the cookie's session, 401 without one); POST /ui/logout (needs the CSRF
  // header; ends the session and clears the cookie); GET /ui/position {"seq"}: the store's
  // newest event, read by a page before it loads its documents, so that the event stream it
  // opens after them (?after=seq) misses nothing.
  ApiResponse Answer(const UiRequest& req);

 private:
  ApiResponse Login(const UiRequest& req);
  ApiResponse SessionInfo(const UiRequest& req);
  ApiResponse Logout(const UiRequest& req);
  ApiResponse Position(const UiRequest& req);
  std::string Cookie(const std::string& value, int64_t max_age_s) const;
  const ApiContext& ctx_;
  UiSessions& sessions_;
  TokenCheck check_;
  bool secure_;
  LoginLimiter limiter_{LoginLimiter::kDefaultMaxFailures, LoginLimiter::kDefaultWindowUs};
};

// The embedded file at `path` ("/" is /index.html) with its content type and caching headers,
// or a 404 (a page saying so when the binary was built without the UI).
ApiResponse UiAsset(std::string_view path);

// The principal as the API answers /api/v1/whoami: {"user", "roles": {NS: ROLE}, "may": {NS:
// [ACTION]}} (what each role allows there, access.h's table, so that the web UI shows only the
// buttons the API would honour without a copy of the table), with "csrf" when `csrf` is not
// empty (a session's).
Value PrincipalJson(const ApiPrincipal& who, const std::string& csrf = "");

}  // namespace sluice
