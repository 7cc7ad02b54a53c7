// Notifications (docs/notifications.md): the webhooks of STATE/notifications.yaml, told of runs
// that failed or succeeded, approvals requested and breakers that opened, in Slack-compatible
// JSON ({"text": ..., "sluice": {...}}).
//
// Design: an outbox in the store (store_notifications.cc). Two duties, both only while this
// server leads (leader.h), so that hooks hear from one server:
// - Enqueue, a step of the leader's loop: reads the notable events and breaker transitions past
//   the stored watermark and stores one delivery per matching hook with the new watermark, in
//   one transaction. A leader that dies in between enqueued nothing and lost nothing.
// - The delivery loop, a thread of its own with a store handle of its own (a slow hook never
//   holds up the leader's loop or a request): every 200 ms it POSTs the due deliveries, one at a
//   time, each with the delivery timeout, and records each attempt. 2xx delivers; a 5xx, 429 or
//   no answer is tried again after BackoffMs (notifications_spec.h) until `attempts` were made;
//   any other answer (4xx, 3xx: redirects are not followed) fails the delivery at once.
// The hooks are those of the file as last read: the leader's step reads it again when it changed
// (Reload), and a file made invalid keeps the hooks read before (alerting is never silenced by a
// typo). Delivery is at least once: a leader that dies between a hook's 2xx and recording it sends that
// one again. Receivers that must not see one twice deduplicate on sluice.id.
//
// Thread-safe: Enqueue runs on the leader's thread, the loop on its own, Render on requests'.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/api.h"
#include "spec/notifications_spec.h"
#include "store/store.h"

namespace sluice {

// What a run's notification says beside its event: its pipeline, its namespace, and for a failed
// run the first failed task and why.
struct RunFacts {
  std::string pipeline, ns, task, error;
};
// The event a run.finished with `status` is ("" for one no hook hears of: cancelled).
std::string_view RunFinishedEvent(std::string_view status);
// The payloads, as JSON: {"text": one line for a chat, "sluice": the same as fields}.
std::string RunPayload(const Event& e, std::string_view event, const RunFacts& f);
std::string ApprovalPayload(const Event& e, const RunFacts& f);
std::string BreakerPayload(int64_t seq, const BreakerTransitionRow& t);

// What an attempt that got `status` (0: no answer) means, after `attempts` attempts of `max`.
enum class AttemptOutcome { kDelivered, kRetry, kFailed };
AttemptOutcome OutcomeOf(int status, int64_t attempts, int max);

class Notifier {
 public:
  // `spec` is STATE/notifications.yaml as the server read it at start.
  Notifier(const ApiContext& ctx, NotificationsSpec spec);
  ~Notifier() { Stop(); }
  // The leader's step: reads the file again when it changed (Reload), then enqueues what
  // happened since the watermark. Failures are logged and the next step tries again from the
  // same watermark.
  void Enqueue(Store& store);
  // Reads STATE/notifications.yaml again when its size, time or presence changed since the last
  // read: the hooks change without a restart. A file that became invalid is logged once (with
  // its FILE:LINE:COL) and the hooks read last stay in force; a removed file means no hooks.
  void Reload();
  // Starts and ends the delivery loop.
  void Start();
  void Stop();
  // sluice_notification_deliveries_total{hook,result}: attempts by hook and what they came to
  // (delivered, retried, failed), in Prometheus text format.
  std::string Render() const;
  // The hooks in force (Reload may replace them; a caller keeps the ones it was given).
  std::shared_ptr<const NotificationsSpec> spec() const;

 private:
  void Loop();
  // POSTs one due delivery and records what came of it.
  void Deliver(Store& store, NotificationRow row);
  // The deliveries of the notable events and transitions in `events` and `opened`.
  std::vector<NotificationRow> RowsOf(Store& store, const std::vector<Event>& events,
                                      const std::vector<std::pair<int64_t, BreakerTransitionRow>>& opened);
  void Count(const std::string& hook, const char* result);

  const ApiContext& ctx_;
  mutable std::mutex spec_mu_;
  std::shared_ptr<const NotificationsSpec> spec_;  // guarded by spec_mu_
  FileInfo read_;  // the file as it was when last read (Reload)
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  mutable std::mutex counts_mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> counts_;  // (hook, result)
};

// STATE/notifications.yaml, read and with its ${NAME}s resolved from the server's environment;
// an empty spec when the file does not exist. On failure (unreadable, invalid, a variable not
// set) the error to report, FILE:LINE:COL where there is one.
Result<NotificationsSpec> LoadNotifications(Env& env, const std::string& state_dir);

}  // namespace sluice
