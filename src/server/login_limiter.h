// The limit on failed web UI logins per client address (docs/ui.md, "Security"): a login page
// that trades a token for a session would otherwise let a client try tokens as fast as it can
// post them. After `max_failures` failed logins from one address within `window_us`, further
// logins from it are refused (429 with Retry-After) until the oldest of those failures leaves
// the window; successful logins neither count nor clear the failures.
//
// The address is the connection's peer: behind a reverse proxy every client shares the proxy's
// address (X-Forwarded-For is not trusted, since any client can send it). Memory is bounded:
// at most kMaxAddresses addresses are remembered; past that, addresses whose failures all left
// the window are forgotten first, then those whose newest failure is oldest. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

namespace sluice {

class LoginLimiter {
 public:
  LoginLimiter(int max_failures, int64_t window_us)
      : max_failures_(max_failures), window_us_(window_us) {}
  // 0 when `address` may try a login at `now_us`; else the whole seconds (at least 1) until it
  // may, for Retry-After.
  int64_t RetryAfterS(const std::string& address, int64_t now_us);
  // Records a failed login (a refused token) from `address` at `now_us`.
  void Failed(const std::string& address, int64_t now_us);

  static constexpr int kDefaultMaxFailures = 10;
  static constexpr int64_t kDefaultWindowUs = 60'000'000;
  static constexpr size_t kMaxAddresses = 10'000;

 private:
  void Expire(std::deque<int64_t>& times, int64_t now_us) const;
  void Bound(int64_t now_us);
  const int max_failures_;
  const int64_t window_us_;
  std::mutex mu_;
  std::map<std::string, std::deque<int64_t>> failures_;  // the failures' times in the window
};

}  // namespace sluice
