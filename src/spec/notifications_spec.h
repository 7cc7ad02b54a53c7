// `kind: Notifications` (docs/notifications.md): the webhooks `sluice server` calls when a run
// fails or succeeds, an approval is requested or a breaker opens. The file is the server's own
// (STATE/notifications.yaml), never a pipeline's: ParseSpecFile does not know this kind, so no
// pipeline author can add, redirect or silence a hook. Read with the loader's Reader, so errors
// are FILE:LINE:COL as everywhere else.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace sluice {

// The events a hook may ask for, by their names in `on:`.
inline constexpr std::string_view kNotifyEvents[] = {"run.failed", "run.succeeded",
                                                     "approval.requested", "breaker.opened"};

// One header a hook sends; `value` as written until ResolveNotificationEnv expands ${NAME}.
struct HookHeader {
  std::string name;
  std::string value;
  Location loc;  // of the value
};

struct WebhookSpec {
  std::string name;
  Location loc;                         // of the name
  std::string url;                      // http:// or https://; ${NAME} expanded once resolved
  Location url_loc;
  std::vector<std::string> on;          // among kNotifyEvents
  std::vector<std::string> namespaces;  // empty: every namespace
  std::vector<std::string> pipelines;   // empty: every pipeline
  std::vector<HookHeader> headers;
  // Whether this hook wants `event` of a run of `pipeline` in `ns` (a breaker's event has no
  // namespace or pipeline: only hooks without those filters get it).
  bool Wants(std::string_view event, const std::string& ns, const std::string& pipeline) const;
};

// How deliveries are retried (docs/notifications.md, "Delivery"): attempt k (1-based) that
// fails with a 5xx, 429 or no answer is tried again after min(backoff * 2^(k-1), maxBackoff),
// less up to a quarter of it at random (jitter), until `attempts` attempts were made.
struct DeliverySpec {
  int attempts = 8;
  int64_t backoff_ms = 2'000;
  int64_t max_backoff_ms = 300'000;
  int64_t timeout_ms = 10'000;  // of one attempt: connecting, sending and the answer
};

struct NotificationsSpec {
  std::string file;
  std::vector<WebhookSpec> hooks;
  DeliverySpec delivery;
  // The hook named `name`, or null.
  const WebhookSpec* Find(const std::string& name) const;
};

// Parses the text of a Notifications file at `path`. Unknown keys, wrong types, an unknown
// event, a duplicate hook name or a URL that is not http(s):// fail with FILE:LINE:COL.
Result<NotificationsSpec> ParseNotifications(const std::string& path, std::string_view content);

// Expands every ${NAME} in the hooks' URLs and header values with `get(NAME)`. On failure (a
// variable that is not set, a ${ without its name) returns an error at the value's location
// that names the variable, never a value.
Status ResolveNotificationEnv(NotificationsSpec& spec,
                              const std::function<std::optional<std::string>(const std::string&)>& get);

// The delay before attempt `attempt` + 1 after attempt `attempt` failed: min(base * 2^(attempt-1),
// cap), less `jitter` (0..1) times a quarter of it. Pure, for the delivery loop and its tests.
int64_t BackoffMs(const DeliverySpec& d, int attempt, double jitter);

}  // namespace sluice
