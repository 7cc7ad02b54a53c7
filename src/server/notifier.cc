// Notifications: the outbox's two duties and the payloads (notifier.h).
#include "server/notifier.h"

#include <httplib.h>

#include "cli/cli_support.h"
#include "cli/schedule_runs.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "common/value.h"

namespace sluice {

namespace {

constexpr int kBatch = 200;                // events or transitions read per step
constexpr int64_t kPollUs = 200'000;       // between two looks for due deliveries
constexpr size_t kErrorBytes = 300;        // of an answer's body kept as the error

// The run's facts for its payload: pipeline (from the store; "" once pruned), namespace, and for
// a failure the first failed task with its message.
RunFacts FactsOf(Store& store, const std::string& run_id, bool failed) {
  RunFacts f;
  f.ns = kDefaultNamespace;  // a run pruned since: its namespace is gone with it
  if (auto run = store.GetRun(run_id)) {
    f.pipeline = run->pipeline;
    f.ns = run->ns;
  }
  if (!failed) return f;
  if (auto tasks = store.ListTasks(run_id)) {
    for (const TaskRecord& t : *tasks) {
      if (t.state == "failed") {
        f.task = t.name;
        f.error = t.message;
        break;
      }
    }
  }
  return f;
}

// A jitter in [0, 1) that differs between deliveries and attempts, without a random source:
// what spreads retries is that they differ, not that they are unpredictable.
double JitterOf(int64_t id, int64_t attempt) {
  const std::string h = Sha256Hex(fmt::format("{}/{}", id, attempt));
  return static_cast<double>(std::stoul(h.substr(0, 6), nullptr, 16)) / double(1 << 24);
}

std::string Payload(std::string text, ValueMap fields) {
  return Value(ValueMap{{"text", Value(std::move(text))}, {"sluice", Value(std::move(fields))}})
      .ToJson();
}

// "https://host:port" and "/path?query" of a hook's URL.
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  const size_t scheme_end = url.find("://") + 3;
  const size_t slash = url.find('/', scheme_end);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

}  // namespace

std::string_view RunFinishedEvent(std::string_view status) {
  if (status == "succeeded") return "run.succeeded";
  if (status == "failed" || status == "compensated" || status == "compensation-failed") {
    return "run.failed";
  }
  return "";
}

std::string RunPayload(const Event& e, std::string_view event, const RunFacts& f) {
  std::string text = fmt::format("run {} ({}) {}", e.run_id, f.pipeline.empty() ? "?" : f.pipeline,
                                 e.status);
  if (!f.task.empty()) text += fmt::format(": task {}: {}", f.task, f.error);
  return Payload(std::move(text),
                 ValueMap{{"event", Value(std::string(event))}, {"run", Value(e.run_id)},
                          {"pipeline", Value(f.pipeline)}, {"namespace", Value(f.ns)},
                          {"status", Value(e.status)}, {"task", Value(f.task)},
                          {"error", Value(f.error)}, {"time", Value(UtcOfUs(e.time_us))},
                          {"id", Value(fmt::format("event:{}", e.seq))},
                          {"api", Value("/api/v1/runs/" + e.run_id)}});
}

std::string ApprovalPayload(const Event& e, const RunFacts& f) {
  Value request = ParseJson(e.data).value_or(Value(ValueMap{}));
  std::vector<std::string> who;
  ValueList approvers;
  if (const Value* a = request.is_map() ? request.Find("approvers") : nullptr; a && a->is_list()) {
    for (const Value& v : a->as_list()) {
      if (v.is_string()) who.push_back(v.as_string());
      approvers.push_back(v);
    }
  }
  const Value* quorum = request.is_map() ? request.Find("quorum") : nullptr;
  const int64_t q = quorum && quorum->is_int() ? quorum->as_int() : 1;
  std::string text = fmt::format("run {} ({}) waits for approval of task {}: {} may approve{}",
                                 e.run_id, f.pipeline.empty() ? "?" : f.pipeline, e.task,
                                 who.empty() ? "an approver of namespace " + f.ns : Join(who, ", "),
                                 q > 1 ? fmt::format(" (quorum {})", q) : "");
  if (!e.message.empty()) text += ": " + e.message;
  return Payload(std::move(text),
                 ValueMap{{"event", Value("approval.requested")}, {"run", Value(e.run_id)},
                          {"pipeline", Value(f.pipeline)}, {"namespace", Value(f.ns)},
                          {"task", Value(e.task)}, {"approvers", Value(std::move(approvers))},
                          {"quorum", Value(q)}, {"instructions", Value(e.message)},
                          {"deadline", e.due_us > 0 ? Value(UtcOfUs(e.due_us)) : Value()},
                          {"time", Value(UtcOfUs(e.time_us))},
                          {"id", Value(fmt::format("event:{}", e.seq))},
                          {"api", Value("/api/v1/runs/" + e.run_id + "/approvals")}});
}

std::string BreakerPayload(int64_t seq, const BreakerTransitionRow& t) {
  return Payload(fmt::format("breaker {} opened ({} -> {}): {}", t.name, t.from, t.to, t.reason),
                 ValueMap{{"event", Value("breaker.opened")}, {"breaker", Value(t.name)},
                          {"from", Value(t.from)}, {"state", Value(t.to)},
                          {"reason", Value(t.reason)}, {"by", Value(t.who)},
                          {"time", Value(UtcOfUs(t.time_us))},
                          {"id", Value(fmt::format("breaker:{}", seq))},
                          {"api", Value("/api/v1/breakers")}});
}

AttemptOutcome OutcomeOf(int status, int64_t attempts, int max) {
  if (status >= 200 && status < 300) return AttemptOutcome::kDelivered;
  const bool transient = status == 0 || status == 429 || status >= 500;
  return transient && attempts < max ? AttemptOutcome::kRetry : AttemptOutcome::kFailed;
}

std::vector<NotificationRow> Notifier::RowsOf(
    Store& store, const std::vector<Event>& events,
    const std::vector<std::pair<int64_t, BreakerTransitionRow>>& opened) {
  std::vector<NotificationRow> rows;
  const auto spec = this->spec();
  if (spec->hooks.empty()) return rows;  // the watermark moves on all the same
  const int64_t now = ctx_.env.clock().NowUs();
  auto add = [&](const std::string& event, const std::string& source, const std::string& run,
                 const std::string& ns, const std::string& pipeline, const auto& payload) {
    std::string body;
    for (const WebhookSpec& h : spec->hooks) {
      if (!h.Wants(event, ns, pipeline)) continue;
      if (body.empty()) body = payload();
      rows.push_back(NotificationRow{0, h.name, event, source, run, body, "pending", 0, 0, "",
                                     now, now, 0});
    }
  };
  for (const Event& e : events) {
    const std::string event(e.kind == EventKind::kRunFinished ? RunFinishedEvent(e.status)
                                                              : "approval.requested");
    if (event.empty()) continue;
    const RunFacts f = FactsOf(store, e.run_id, event == "run.failed");
    add(event, fmt::format("event:{}", e.seq), e.run_id, f.ns, f.pipeline, [&] {
      return e.kind == EventKind::kRunFinished ? RunPayload(e, event, f) : ApprovalPayload(e, f);
    });
  }
  for (const auto& [seq, t] : opened) {
    add("breaker.opened", fmt::format("breaker:{}", seq), "", "", "",
        [&] { return BreakerPayload(seq, t); });
  }
  return rows;
}

Notifier::Notifier(const ApiContext& ctx, NotificationsSpec spec)
    : ctx_(ctx),
      spec_(std::make_shared<const NotificationsSpec>(std::move(spec))),
      read_(ctx.env.files().Stat(PathJoin(ctx.g.state_dir, "notifications.yaml"))) {}

std::shared_ptr<const NotificationsSpec> Notifier::spec() const {
  std::lock_guard<std::mutex> l(spec_mu_);
  return spec_;
}

void Notifier::Reload() {
  const FileInfo now = ctx_.env.files().Stat(PathJoin(ctx_.g.state_dir, "notifications.yaml"));
  if (now.exists == read_.exists && now.size == read_.size && now.mtime_us == read_.mtime_us) {
    return;
  }
  read_ = now;  // a bad file is told of once, not every step
  auto spec = LoadNotifications(ctx_.env, ctx_.g.state_dir);
  if (!spec) {
    ctx_.Log("notifications: " + spec.error().message + " (the hooks read before stay in force)");
    return;
  }
  ctx_.Log(fmt::format("notifications: read {} hooks from notifications.yaml", spec->hooks.size()));
  std::lock_guard<std::mutex> l(spec_mu_);
  spec_ = std::make_shared<const NotificationsSpec>(std::move(*spec));
}

void Notifier::Enqueue(Store& store) {
  Reload();
  auto fail = [&](const Error& e) { ctx_.Log("notifications: " + e.message); };
  auto from = store.NotificationWatermark();
  if (!from) return fail(from.error());
  auto last_event = store.LastEventSeq();
  if (!last_event) return fail(last_event.error());
  auto last_transition = store.LastBreakerTransitionSeq();
  if (!last_transition) return fail(last_transition.error());
  NotifyWatermark to{*last_event, *last_transition};
  if (to == *from) return;
  auto events = store.NotableEvents(from->event_seq, to.event_seq, kBatch);
  if (!events) return fail(events.error());
  if (events->size() == static_cast<size_t>(kBatch)) to.event_seq = events->back().seq;
  auto opened = store.OpeningTransitions(from->breaker_seq, to.breaker_seq, kBatch);
  if (!opened) return fail(opened.error());
  if (opened->size() == static_cast<size_t>(kBatch)) to.breaker_seq = opened->back().first;
  const std::vector<NotificationRow> rows = RowsOf(store, *events, *opened);
  if (auto s = store.EnqueueNotifications(*from, to, rows); !s) return fail(s.error());
  if (!rows.empty()) wake_.notify_all();
}

void Notifier::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Notifier::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Notifier::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    l.unlock();
    // Only the leader delivers: the leader of many servers, or a server alone (no flag: tests).
    if (!ctx_.leading || ctx_.leading->load()) {
      if (auto store = ctx_.ThreadStore()) {
        auto due = (*store)->DueNotifications(ctx_.env.clock().NowUs(), kBatch);
        if (!due) ctx_.Log("notifications: " + due.error().message);
        std::vector<NotificationRow> rows = due ? std::move(*due) : std::vector<NotificationRow>{};
        for (NotificationRow& row : rows) {
          {
            std::lock_guard<std::mutex> g(mu_);
            if (stop_) break;
          }
          Deliver(**store, std::move(row));
        }
      }
    }
    l.lock();
    wake_.wait_for(l, std::chrono::microseconds(kPollUs), [this] { return stop_; });
  }
}

void Notifier::Deliver(Store& store, NotificationRow row) {
  ++row.attempts;
  const auto spec = this->spec();
  const WebhookSpec* hook = spec->Find(row.hook);
  int status = 0;
  std::string error;
  if (!hook) {
    error = "no hook of this name in notifications.yaml any more";
  } else {
    const auto [base, path] = SplitUrl(hook->url);
    httplib::Client client(base);
    const int64_t t = spec->delivery.timeout_ms;
    client.set_connection_timeout(t / 1000, (t % 1000) * 1000);
    client.set_read_timeout(t / 1000, (t % 1000) * 1000);
    client.set_write_timeout(t / 1000, (t % 1000) * 1000);
    httplib::Headers headers{{"User-Agent", "sluice-notifications"}};
    for (const HookHeader& h : hook->headers) headers.emplace(h.name, h.value);
    auto r = client.Post(path, headers, row.payload, "application/json");
    if (!r) {
      error = "no answer: " + httplib::to_string(r.error());
    } else {
      status = r->status;
      if (status < 200 || status >= 300) {
        error = fmt::format("the hook answered {}: {}", status,
                            r->body.substr(0, std::min(r->body.size(), kErrorBytes)));
      }
    }
  }
  const AttemptOutcome outcome =
      hook ? OutcomeOf(status, row.attempts, spec->delivery.attempts) : AttemptOutcome::kFailed;
  const int64_t now = ctx_.env.clock().NowUs();
  row.last_status = status;
  row.last_error = error;
  const char* result = "delivered";
  if (outcome == AttemptOutcome::kDelivered) {
    row.state = "delivered";
    row.delivered_us = now;
  } else if (outcome == AttemptOutcome::kRetry) {
    result = "retried";
    row.next_us = now + BackoffMs(spec->delivery, static_cast<int>(row.attempts),
                                  JitterOf(row.id, row.attempts)) * 1000;
  } else {
    result = "failed";
    row.state = "failed";
  }
  Count(row.hook, result);
  if (outcome != AttemptOutcome::kDelivered) {
    ctx_.Log(fmt::format("notification {} ({} of {}) to hook {}: attempt {}: {}{}", row.id,
                         row.event, row.source, row.hook, row.attempts, error,
                         outcome == AttemptOutcome::kRetry ? "; trying again" : "; given up"),
             {{"hook", Value(row.hook)}, {"notification", Value(row.id)}});
  }
  if (auto s = store.RecordAttempt(row); !s) ctx_.Log("notifications: " + s.error().message);
}

void Notifier::Count(const std::string& hook, const char* result) {
  std::lock_guard<std::mutex> l(counts_mu_);
  ++counts_[{hook, result}];
}

std::string Notifier::Render() const {
  std::lock_guard<std::mutex> l(counts_mu_);
  std::string out =
      "# HELP sluice_notification_deliveries_total Attempts to deliver a notification, by hook "
      "and what they came to (delivered, retried, failed).\n"
      "# TYPE sluice_notification_deliveries_total counter\n";
  for (const auto& [key, n] : counts_) {
    out += fmt::format("sluice_notification_deliveries_total{{hook=\"{}\",result=\"{}\"}} {}\n",
                       EscapeLabel(key.first), key.second, n);
  }
  return out;
}

Result<NotificationsSpec> LoadNotifications(Env& env, const std::string& state_dir) {
  const std::string path = PathJoin(state_dir, "notifications.yaml");
  if (!env.files().Stat(path).exists) return NotificationsSpec{};
  auto text = env.files().ReadFileAtMost(path, 1 << 20);
  if (!text) return std::unexpected(text.error());
  SLUICE_TRY(spec, ParseNotifications(env.files().Absolute(path), *text));
  SLUICE_TRY_STATUS(ResolveNotificationEnv(
      *spec, [&env](const std::string& name) { return env.GetVar(name); }));
  return std::move(*spec);
}

}  // namespace sluice
