// Browser sessions of the web UI (ui_session.h).
#include "server/ui_session.h"

#include <algorithm>

namespace sluice {
namespace {

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace

bool UiSessions::Ended(const Session& s, int64_t now) const {
  return now - s.created_us >= max_age_us_ || now - s.seen_us >= idle_us_;
}

std::pair<std::string, UiSessions::Session> UiSessions::Create(const std::string& token) {
  const int64_t now = env_.clock().NowUs();
  Session s{token, Hex(env_.RandomBytes(32)), now, now};
  std::string id = Hex(env_.RandomBytes(32));
  std::lock_guard lock(mu_);
  std::erase_if(sessions_, [&](const auto& kv) { return Ended(kv.second, now); });
  if (sessions_.size() >= kMaxSessions) {
    auto oldest = std::min_element(
        sessions_.begin(), sessions_.end(),
        [](const auto& a, const auto& b) { return a.second.created_us < b.second.created_us; });
    sessions_.erase(oldest);
  }
  sessions_[id] = s;
  return {std::move(id), std::move(s)};
}

std::optional<UiSessions::Session> UiSessions::Find(const std::string& id) {
  if (id.empty()) return std::nullopt;
  const int64_t now = env_.clock().NowUs();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (Ended(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.seen_us = now;
  return it->second;
}

void UiSessions::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

std::string CookieValue(const std::string& header, const std::string& name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    size_t b = header.find_first_not_of(' ', pos);
    if (b < end) {
      const size_t eq = header.find('=', b);
      if (eq < end && header.compare(b, eq - b, name) == 0 && eq - b == name.size()) {
        return header.substr(eq + 1, end - eq - 1);
      }
    }
    pos = end + 1;
  }
  return "";
}

bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace sluice
