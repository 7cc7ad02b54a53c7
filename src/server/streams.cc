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
// Each stream reads the store itself, on the thread of its connection, every kPollUs while it
// has nothing to send (an indexed range read; no state is shared between streams).
// Rejected: a shared poller fanning events out to subscribers, which saves those reads but holds
// a window of events in memory and still needs this path for resumes older than the window.
#include <memory>

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

// One open stream's position and what it may show. Used by its connection's thread only.
class EventStream {
 public:
  EventStream(const ApiContext& ctx, ApiPrincipal who, std::string run_id, int64_t after)
      : ctx_(ctx), who_(std::move(who)), run_id_(std::move(run_id)), pos_(after),
        last_write_us_(ctx.env.clock().NowUs()) {}

  // Writes what is new, waiting up to kCallUs for it; false once the stream is complete or the
  // client is gone.
  bool Step(StreamSink& out) {
    const int64_t until = ctx_.env.clock().NowUs() + kCallUs;
    for (;;) {
      auto store = ctx_.ThreadStore();
      auto events = store ? (*store)->LoadEventsAfter(pos_, run_id_, kPage)
                          : Result<std::vector<Event>>(std::unexpected(store.error()));
      if (!events) {
        // The client learns why the stream ends, then may resume from its last id.
        out.Write(fmt::format("event: error\ndata: {}\n\n",
                              Value(ValueMap{{"message", Value(events.error().message)}}).ToJson()));
        return false;
      }
      if (!events->empty()) return Send(*events, out);
      if (!run_id_.empty() && !checked_end_) {
        // Caught up: a run that already ended (its run.finished before the position) ends here.
        checked_end_ = true;
        auto run = (*store)->GetRun(run_id_);
        if (run && IsFinishedRun(run->status)) return false;
      }
      if (ctx_.env.clock().NowUs() >= until) break;
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
  bool Send(const std::vector<Event>& events, StreamSink& out) {
    std::string chunk;
    bool ended = false;
    for (const Event& e : events) {
      pos_ = e.seq;
      if (!who_.Can(Action::kRead, NamespaceOfRun(e.run_id))) continue;
      ValueMap data{{"run", Value(e.run_id)}};
      const Value event = EventJson(e);  // named: a temporary would end before the loop
      for (const auto& [k, v] : event.as_map()) data.emplace_back(k, v);
      chunk += fmt::format("id: {}\nevent: {}\ndata: {}\n\n", e.seq, EventKindName(e.kind),
                           Value(std::move(data)).ToJson());
      if (!run_id_.empty() && e.kind == EventKind::kRunFinished) {
        ended = true;
        break;
      }
    }
    if (!chunk.empty()) {
      if (!out.Write(chunk)) return false;
      last_write_us_ = ctx_.env.clock().NowUs();
    }
    return !ended;
  }

  const ApiContext& ctx_;
  const ApiPrincipal who_;
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

ApiResponse StreamOf(const ApiContext& ctx, const ApiRequest& req, const std::string& run_id) {
  auto after = ResumeAfter(req);
  if (!after) return ErrorResponse(400, "Last-Event-ID (or after) must be a non-negative integer");
  auto stream = std::make_shared<EventStream>(ctx, req.who, run_id, *after);
  ApiResponse r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.stream = [stream](StreamSink& out) { return stream->Step(out); };
  return r;
}

ApiResponse RunStream(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  return StreamOf(ctx, req, run->id);
}

}  // namespace

void AddStreamRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/runs/{id}/events/stream", true, Action::kRead,
              [c](const ApiRequest& r) { return RunStream(*c, r); }});
  // Every run the token may read: the namespaces are checked per event, so a token that reads
  // nowhere gets a stream that stays empty rather than a 403.
  router.Add({"GET", "/api/v1/events/stream", true, Action::kRead,
              [c](const ApiRequest& r) { return StreamOf(*c, r, ""); }, /*namespaced=*/false});
}

}  // namespace sluice
