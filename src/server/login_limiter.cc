// Failed web UI logins per client address (login_limiter.h).
#include "server/login_limiter.h"

#include <algorithm>

namespace sluice {

void LoginLimiter::Expire(std::deque<int64_t>& times, int64_t now_us) const {
  while (!times.empty() && times.front() <= now_us - window_us_) times.pop_front();
}

int64_t LoginLimiter::RetryAfterS(const std::string& address, int64_t now_us) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(address);
  if (it == failures_.end()) return 0;
  Expire(it->second, now_us);
  if (static_cast<int>(it->second.size()) < max_failures_) return 0;
  // Free again once the failure that makes the count max_failures_ leaves the window.
  const int64_t free_at = it->second[it->second.size() - max_failures_] + window_us_;
  return std::max<int64_t>(1, (free_at - now_us + 999'999) / 1'000'000);
}

void LoginLimiter::Failed(const std::string& address, int64_t now_us) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& times = failures_[address];
  Expire(times, now_us);
  times.push_back(now_us);
  // Only the newest max_failures_ decide anything.
  while (static_cast<int>(times.size()) > max_failures_) times.pop_front();
  if (failures_.size() > kMaxAddresses) Bound(now_us);
}

void LoginLimiter::Bound(int64_t now_us) {
  for (auto it = failures_.begin(); it != failures_.end();) {
    Expire(it->second, now_us);
    it = it->second.empty() ? failures_.erase(it) : std::next(it);
  }
  while (failures_.size() > kMaxAddresses) {
    auto oldest = std::min_element(
        failures_.begin(), failures_.end(),
        [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
    failures_.erase(oldest);
  }
}

}  // namespace sluice
