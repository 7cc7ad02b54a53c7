// Browser sessions of the web UI (docs/ui.md, "Security"). A browser cannot send a bearer header
// on an EventSource or a download link, and a token kept in page script would be open to any
// script injected into the page; so the login page posts the token once, and the server keeps
// it here, keyed by a random session id that the browser holds as an HttpOnly, SameSite=Strict
// cookie. Every request with the cookie is then authenticated as that token, checked again on
// each request (a revoked or expired token ends its sessions at once). Writes also need the
// session's CSRF token in the X-Sluice-CSRF header: a value the page reads from /ui/session and
// no other site can read.
//
// Sessions live in the server's memory only: a restart logs every browser out, and a session
// is known only to the server that made it (behind a load balancer, pin browsers to one
// server). Rejected: storing them in the store, which would put a usable credential in
// every backup and in PostgreSQL's logs. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "env/env.h"

namespace sluice {

// The cookie that holds a session's id.
inline constexpr const char* kSessionCookie = "sluice_session";
// The header that must carry a session's CSRF token on every request that is not a read.
inline constexpr const char* kCsrfHeader = "x-sluice-csrf";

class UiSessions {
 public:
  struct Session {
    std::string token;  // the API token the session acts as
    std::string csrf;   // 64 hex digits
    int64_t created_us = 0;
    int64_t seen_us = 0;
  };
  // A session ends `max_age_us` after its login, or `idle_us` after its last request.
  UiSessions(Env& env, int64_t max_age_us, int64_t idle_us)
      : env_(env), max_age_us_(max_age_us), idle_us_(idle_us) {}
  // A new session for `token` (already checked by the caller): its id (64 hex digits, 256
  // random bits) and the session. Ended sessions are dropped first; past kMaxSessions the
  // oldest is dropped.
  std::pair<std::string, Session> Create(const std::string& token);
  // The live session `id` names, marked seen now; nullopt when there is none or it ended.
  std::optional<Session> Find(const std::string& id);
  // Ends session `id` (logout); a no-op when there is none.
  void Remove(const std::string& id);
  int64_t max_age_us() const { return max_age_us_; }

  static constexpr size_t kMaxSessions = 10'000;

 private:
  bool Ended(const Session& s, int64_t now) const;
  Env& env_;
  const int64_t max_age_us_, idle_us_;
  std::mutex mu_;
  std::map<std::string, Session> sessions_;
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string CookieValue(const std::string& header, const std::string& name);
// Whether `a` equals `b`, in time that does not depend on where they differ.
bool SameSecret(const std::string& a, const std::string& b);

}  // namespace sluice
