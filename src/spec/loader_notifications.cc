// Reading `kind: Notifications` files (notifications_spec.h) with the loader's Reader.
#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "spec/notifications_spec.h"
#include "spec/text_checks.h"
#include "spec/yaml_reader.h"

namespace sluice {

namespace {

// A list of plain strings (`on:`, `namespaces:`, `pipelines:`).
Result<std::vector<std::string>> Strings(const Reader& r, const YNode& n, std::string_view what) {
  SLUICE_TRY_STATUS(r.ExpectList(n, what));
  std::vector<std::string> out;
  for (const auto& e : n) {
    SLUICE_TRY(s, r.Str(e, what));
    out.push_back(*s);
  }
  return out;
}

Status ReadOn(const Reader& r, const YNode& n, WebhookSpec* h) {
  SLUICE_TRY_STATUS(r.ExpectList(n, "on"));
  const std::vector<std::string> names(std::begin(kNotifyEvents), std::end(kNotifyEvents));
  for (const auto& e : n) {
    SLUICE_TRY(s, r.Str(e, "an event of on"));
    if (std::find(names.begin(), names.end(), *s) == names.end()) {
      return FailAt(r.Loc(e), "unknown event {}; expected {}{}", Quote(*s), Join(names, ", "),
                    DidYouMean(*s, names));
    }
    h->on.push_back(*s);
  }
  if (h->on.empty()) return FailAt(r.Loc(n), "on lists no event: the hook would never be called");
  return {};
}

Status ReadHeaders(const Reader& r, const YNode& n, WebhookSpec* h) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "headers"));
  for (auto it = n.begin(); it != n.end(); ++it) {
    SLUICE_TRY(name, r.Str(it->first, "a header name"));
    SLUICE_TRY(value, r.Str(it->second, "a header value"));
    const bool token = !name->empty() && std::all_of(name->begin(), name->end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    if (!token) return FailAt(r.Loc(it->first), "header name {} is not a token", Quote(*name));
    if (value->find_first_of("\r\n") != std::string::npos) {
      return FailAt(r.Loc(it->second), "header {}: a value is one line", Quote(*name));
    }
    h->headers.push_back(HookHeader{*name, *value, r.Loc(it->second)});
  }
  return {};
}

Result<WebhookSpec> ReadHook(const Reader& r, const YNode& n) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "a hook"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"name", "url", "on", "namespaces", "pipelines", "headers"},
                                "a hook"));
  if (!n["name"] || !n["url"] || !n["on"]) {
    return FailAt(r.Loc(n), "a hook needs name, url and on (the events it is called for)");
  }
  WebhookSpec h;
  SLUICE_TRY(name, r.Name(n["name"], "hook name"));
  h.name = *name;
  h.loc = r.Loc(n["name"]);
  SLUICE_TRY(url, r.Str(n["url"], "url"));
  h.url = *url;
  h.url_loc = r.Loc(n["url"]);
  if (!(url->starts_with("http://") || url->starts_with("https://")) ||
      url->size() <= (url->starts_with("https://") ? 8u : 7u)) {
    return FailAt(h.url_loc, "url must be http://HOST[:PORT]/PATH or https://...");
  }
  SLUICE_TRY_STATUS(ReadOn(r, n["on"], &h));
  if (const auto& ns = n["namespaces"]) {
    SLUICE_TRY(v, Strings(r, ns, "namespaces"));
    h.namespaces = std::move(*v);
  }
  if (const auto& ps = n["pipelines"]) {
    SLUICE_TRY(v, Strings(r, ps, "pipelines"));
    h.pipelines = std::move(*v);
  }
  if (const auto& hs = n["headers"]) SLUICE_TRY_STATUS(ReadHeaders(r, hs, &h));
  return h;
}

Status ReadDelivery(const Reader& r, const YNode& n, DeliverySpec* d) {
  SLUICE_TRY_STATUS(r.ExpectMap(n, "delivery"));
  SLUICE_TRY_STATUS(r.CheckKeys(n, {"attempts", "backoff", "maxBackoff", "timeout"}, "delivery"));
  if (const auto& a = n["attempts"]) {
    SLUICE_TRY(v, r.Int(a, "attempts", 1, 100));
    d->attempts = static_cast<int>(*v);
  }
  if (const auto& b = n["backoff"]) {
    SLUICE_TRY(v, r.Duration(b, "backoff"));
    d->backoff_ms = *v;
  }
  if (const auto& m = n["maxBackoff"]) {
    SLUICE_TRY(v, r.Duration(m, "maxBackoff"));
    d->max_backoff_ms = *v;
  }
  if (const auto& t = n["timeout"]) {
    SLUICE_TRY(v, r.Duration(t, "timeout"));
    if (*v > 300'000) return FailAt(r.Loc(t), "timeout is at most 5m");
    d->timeout_ms = *v;
  }
  if (d->max_backoff_ms < d->backoff_ms) {
    return FailAt(r.Loc(n), "maxBackoff must not be below backoff");
  }
  return {};
}

// Expands ${NAME} in `text` (at `loc`).
Result<std::string> Expand(const std::string& text, const Location& loc, std::string_view what,
                           const std::function<std::optional<std::string>(const std::string&)>& get) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t at = text.find("${", i);
    if (at == std::string::npos) break;
    out += text.substr(i, at - i);
    const size_t end = text.find('}', at + 2);
    const std::string name = end == std::string::npos ? "" : text.substr(at + 2, end - at - 2);
    const bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                    });
    if (!ok) return FailAt(loc, "{}: ${{ must be followed by an environment variable's name and }}", what);
    auto value = get(name);
    if (!value) {
      return FailAt(loc, "{}: the environment variable {} is not set (the server reads it at "
                    "start)", what, name);
    }
    out += *value;
    i = end + 1;
  }
  out += text.substr(std::min(i, text.size()));
  return out;
}

}  // namespace

bool WebhookSpec::Wants(std::string_view event, const std::string& ns,
                        const std::string& pipeline) const {
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  if (std::find(on.begin(), on.end(), event) == on.end()) return false;
  if (!namespaces.empty() && (ns.empty() || !has(namespaces, ns))) return false;
  return pipelines.empty() || (!pipeline.empty() && has(pipelines, pipeline));
}

const WebhookSpec* NotificationsSpec::Find(const std::string& name) const {
  for (const auto& h : hooks) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

Result<NotificationsSpec> ParseNotifications(const std::string& path, std::string_view content) {
  Reader r(path);
  SLUICE_TRY(file, ParseOwnFile(path, content, r, "Notifications", {"hooks", "delivery"}));
  const YNode& doc = *file->doc;
  NotificationsSpec out;
  out.file = path;
  const auto& spec = doc["spec"];
  if (const auto& d = spec["delivery"]) SLUICE_TRY_STATUS(ReadDelivery(r, d, &out.delivery));
  if (const auto& hooks = spec["hooks"]) {
    SLUICE_TRY_STATUS(r.ExpectList(hooks, "hooks"));
    for (const auto& n : hooks) {
      SLUICE_TRY(h, ReadHook(r, n));
      if (const WebhookSpec* other = out.Find(h->name)) {
        return FailAt(h->loc, "hook {} is declared twice (also at {})", Quote(h->name),
                      other->loc.ToString());
      }
      out.hooks.push_back(std::move(*h));
    }
  }
  return out;
}

Status ResolveNotificationEnv(
    NotificationsSpec& spec,
    const std::function<std::optional<std::string>(const std::string&)>& get) {
  for (auto& h : spec.hooks) {
    SLUICE_TRY(url, Expand(h.url, h.url_loc, "url", get));
    h.url = *url;
    for (auto& hd : h.headers) {
      SLUICE_TRY(v, Expand(hd.value, hd.loc, "header " + hd.name, get));
      if (v->find_first_of("\r\n") != std::string::npos) {
        return FailAt(hd.loc, "header {}: its environment variable holds a line break", hd.name);
      }
      hd.value = *v;
    }
  }
  return {};
}

int64_t BackoffMs(const DeliverySpec& d, int attempt, double jitter) {
  double delay = static_cast<double>(d.backoff_ms) * std::pow(2.0, std::max(0, attempt - 1));
  delay = std::min(delay, static_cast<double>(d.max_backoff_ms));
  delay -= std::clamp(jitter, 0.0, 1.0) * delay / 4;
  return static_cast<int64_t>(delay);
}

}  // namespace sluice
