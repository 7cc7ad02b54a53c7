// Live event streams (docs/api.md, "Event streams"): Server-Sent Events of one run
// (GET /api/v1/runs/{id}/events/stream) and of every run the token may read
// (GET /api/v1/events/stream).
//
// Protocol: each event is one SSE message, `id:` its sequence number in the store (global and
// committed in order, so it is a position in the stream of one run and of all runs alike),
// `event:` its kind and `data:` the event as `sluice events -o json` shows it plus its "run". A
// client resumes with the Last-Event-ID header (or ?after=SEQ): it gets every event after that
// one. A comment line (": keep-alive") goes out when nothing else did for `stream_keepalive_us`,
// so proxies and clients tell a quiet stream from a dead one, and a client that went away is
// found at the latest then. The one-run stream ends after the run's run.finished event, or at
// once when the run has finished and nothing after the position is left.
//
// The newest events are read from the store and encoded once for every stream (EventFeed), in
// a window that begins at the newest event when the server first serves a stream: a stream
// within the window takes its messages from it, one behind it (a resume from before) reads the
// store itself until it catches up. A one-run stream's position moves past the other runs'
// events it was shown, so it keeps asking the feed for what is new. The first version read and encoded per stream:
// with 50 streams of all runs beside a 10,000-task run the status reads' p99 went from 30 ms to
// seconds (bench/RESULTS.md), the server encoding every event 50 times.
#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cli/cli_support.h"
#include "cli/views.h"
#include "common/strings.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {

namespace {

constexpr int64_t kPollUs = 200'000;
constexpr int64_t kCallUs = 1'000'000;  // a StreamBody call returns within about this
constexpr int kPage = 500;
constexpr size_t kKept = 20'000;         // events the feed keeps (a few MB)

// One event, ready to send.
struct FeedItem {
  int64_t seq = 0;
  std::string run_id;
  bool run_finished = false;
  std::string message;  // "id: ...\nevent: ...\ndata: ...\n\n"
};
using Items = std::vector<std::shared_ptr<const FeedItem>>;

// What a stream gets: its events, and the position up to which events were looked at (those of
// other runs included), where its next request starts.
struct Batch {
  Items items;
  int64_t scanned = 0;
};

std::shared_ptr<const FeedItem> Encode(const Event& e) {
  ValueMap data{{"run", Value(e.run_id)}};
  const Value event = EventJson(e);  // named: a temporary would end before the loop
  for (const auto& [k, v] : event.as_map()) data.emplace_back(k, v);
  auto item = std::make_shared<FeedItem>();
  item->seq = e.seq;
  item->run_id = e.run_id;
  item->run_finished = e.kind == EventKind::kRunFinished;
  item->message = fmt::format("id: {}\nevent: {}\ndata: {}\n\n", e.seq, EventKindName(e.kind),
                              Value(std::move(data)).ToJson());
  return item;
}

// The newest events of every run, read from the store and encoded once for all streams.
// Invariant: `items_` holds every event with start_ < seq <= end_, in order. Thread-safe.
class EventFeed {
 public:
  explicit EventFeed(const ApiContext& ctx) : ctx_(ctx) {}

  // At most kPage events after `pos` (of run `run_id`; "" = all), in order; none when there
  // are none yet.
  Result<Batch> After(int64_t pos, const std::string& run_id) {
    std::unique_lock<std::mutex> l(mu_);
    if (!started_) {  // the window begins at the newest event: history is read per stream
      SLUICE_TRY(store, ctx_.ThreadStore());
      SLUICE_TRY(last, (*store)->LastEventSeq());
      start_ = end_ = *last;
      started_ = true;
    }
    if (pos < start_) {  // behind the window: this stream reads the store itself
      l.unlock();
      return Direct(pos, run_id);
    }
    if (pos >= end_) SLUICE_TRY_STATUS(Refresh());
    Batch out{{}, std::max(pos, end_)};
    auto it = std::upper_bound(items_.begin(), items_.end(), pos,
                               [](int64_t p, const auto& item) { return p < item->seq; });
    for (; it != items_.end(); ++it) {
      if (out.items.size() == kPage) {
        out.scanned = out.items.back()->seq;
        break;
      }
      if (run_id.empty() || (*it)->run_id == run_id) out.items.push_back(*it);
    }
    return out;
  }

 private:
  // Reads what followed end_: at once after a full page, else at most every kPollUs / 4 (every
  // caught-up stream asks, and one read answers them all).
  Status Refresh() {
    const int64_t now = ctx_.env.clock().NowUs();
    if (!more_ && now - read_us_ < kPollUs / 4) return {};
    read_us_ = now;
    SLUICE_TRY(store, ctx_.ThreadStore());
    SLUICE_TRY(events, (*store)->LoadEventsAfter(end_, "", kPage));
    more_ = events->size() == static_cast<size_t>(kPage);
    for (const Event& e : *events) items_.push_back(Encode(e));
    if (!events->empty()) end_ = events->back().seq;
    while (items_.size() > kKept) {
      start_ = items_.front()->seq;
      items_.pop_front();
    }
    return {};
  }

  Result<Batch> Direct(int64_t pos, const std::string& run_id) {
    SLUICE_TRY(store, ctx_.ThreadStore());
    SLUICE_TRY(events, (*store)->LoadEventsAfter(pos, run_id, kPage));
    Batch out{{}, events->empty() ? pos : events->back().seq};
    for (const Event& e : *events) out.items.push_back(Encode(e));
    return out;
  }

  const ApiContext& ctx_;
  std::mutex mu_;
  std::deque<std::shared_ptr<const FeedItem>> items_;
  bool started_ = false;
  int64_t start_ = 0, end_ = 0;
  int64_t read_us_ = INT64_MIN / 2;
  bool more_ = false;  // the last read filled a page: more may follow at once
};

// One open stream's position and what it may show. Used by its connection's thread only.
class EventStream {
 public:
  EventStream(const ApiContext& ctx, EventFeed& feed, ApiPrincipal who, std::string run_id,
              int64_t after)
      : ctx_(ctx), feed_(feed), who_(std::move(who)), run_id_(std::move(run_id)), pos_(after),
        last_write_us_(ctx.env.clock().NowUs()) {}

  // Writes what is new, waiting up to kCallUs for it; false once the stream is complete or the
  // client is gone.
  bool Step(StreamSink& out) {
    const int64_t until = ctx_.env.clock().NowUs() + kCallUs;
    for (;;) {
      auto events = feed_.After(pos_, run_id_);
      if (!events) {
        // The client learns why the stream ends, then may resume from its last id.
        out.Write(fmt::format("event: error\ndata: {}\n\n",
                              Value(ValueMap{{"message", Value(events.error().message)}}).ToJson()));
        return false;
      }
      if (!events->items.empty()) return Send(*events, out);
      pos_ = std::max(pos_, events->scanned);  // past other runs' events
      if (!run_id_.empty() && !checked_end_) {
        // Caught up: a run that already ended (its run.finished before the position) ends here.
        checked_end_ = true;
        auto store = ctx_.ThreadStore();
        auto run = store ? (*store)->GetRun(run_id_) : Result<RunRecord>(std::unexpected(store.error()));
        if (run && IsFinishedRun(run->status)) return false;
      }
      if (ctx_.env.clock().NowUs() >= until) break;
      ctx_.ReleaseStore();  // a waiting stream holds no store handle (store_pool.h)
      ctx_.env.SleepUs(kPollUs);
    }
    if (ctx_.env.clock().NowUs() - last_write_us_ >= ctx_.stream_keepalive_us) {
      if (!out.Write(": keep-alive\n\n")) return false;
      last_write_us_ = ctx_.env.clock().NowUs();
    }
    return true;
  }

 private:
  // Sends `events` (those the token may read); false when the run's stream ends with them or
  // the client is gone.
  bool Send(const Batch& batch, StreamSink& out) {
    std::string chunk;
    bool ended = false;
    for (const auto& item : batch.items) {
      pos_ = item->seq;
      if (!MayRead(item->run_id)) continue;
      chunk += item->message;
      if (!run_id_.empty() && item->run_finished) {
        ended = true;
        break;
      }
    }
    if (!chunk.empty()) {
      if (!out.Write(chunk)) return false;
      last_write_us_ = ctx_.env.clock().NowUs();
    }
    if (!ended) pos_ = std::max(pos_, batch.scanned);
    return !ended;
  }

  // Whether the stream's token may read run `run_id` (MayReadRun), asked once per run: a run
  // never changes namespace, nor a stream its token, and asking for every event took a shared
  // mutex 600,000 times a second across 50 streams of a 10,000-task run.
  bool MayRead(const std::string& run_id) {
    if (run_id == last_run_) return last_may_;
    auto it = may_read_.find(run_id);
    if (it == may_read_.end()) {
      auto ns = NamespaceOfRun(ctx_, run_id);
      if (!ns) return false;  // the store failed: not remembered, the next event asks again
      if (may_read_.size() >= kRunsKnown) may_read_.clear();
      it = may_read_.emplace(run_id, *ns && who_.Can(Action::kRead, **ns)).first;
    }
    last_run_ = run_id;
    last_may_ = it->second;
    return last_may_;
  }

  static constexpr size_t kRunsKnown = 4096;
  const ApiContext& ctx_;
  EventFeed& feed_;
  const ApiPrincipal who_;
  std::unordered_map<std::string, bool> may_read_;  // at most kRunsKnown runs
  std::string last_run_;                            // the run of the last event, as a shortcut
  bool last_may_ = false;
  const std::string run_id_;  // "" = every run
  int64_t pos_;               // the last sequence number looked at
  int64_t last_write_us_;
  bool checked_end_ = false;
};

// The position to resume after: Last-Event-ID, else ?after=, else 0 (everything).
std::optional<int64_t> ResumeAfter(const ApiRequest& req) {
  auto it = req.headers.find("last-event-id");
  if (it != req.headers.end() && !it->second.empty()) {
    ApiRequest only;
    only.query.emplace("after", it->second);
    return QueryInt(only, "after", 0, INT64_MAX);
  }
  return QueryInt(req, "after", 0, INT64_MAX);
}

ApiResponse StreamOf(const ApiContext& ctx, const std::shared_ptr<EventFeed>& feed,
                     const ApiRequest& req, const std::string& run_id) {
  auto after = ResumeAfter(req);
  if (!after) return ErrorResponse(400, "Last-Event-ID (or after) must be a non-negative integer");
  auto stream = std::make_shared<EventStream>(ctx, *feed, req.who, run_id, *after);
  ApiResponse r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.stream = [stream, feed](StreamSink& out) { return stream->Step(out); };
  return r;
}

ApiResponse RunStream(const ApiContext& ctx, const std::shared_ptr<EventFeed>& feed,
                      const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  return StreamOf(ctx, feed, req, run->id);
}

}  // namespace

void AddStreamRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  auto feed = std::make_shared<EventFeed>(ctx);  // shared by the routes' streams
  router.Add({"GET", "/api/v1/runs/{id}/events/stream", true, Action::kRead,
              [c, feed](const ApiRequest& r) { return RunStream(*c, feed, r); }});
  // Every run the token may read: the namespaces are checked per event, so a token that reads
  // nowhere gets a stream that stays empty rather than a 403.
  router.Add({"GET", "/api/v1/events/stream", true, Action::kRead,
              [c, feed](const ApiRequest& r) { return StreamOf(*c, feed, r, ""); }, /*namespaced=*/false});
}

}  // namespace sluice
