// Following a run on a server (remote_cli.h): `sluice run --server`, `resume` and `rollback`
// show the run's events as they come with the ProgressPrinter of a local run, then its report,
// and exit as the local command would.
//
// The events come from the run's Server-Sent Events stream (GET /api/v1/runs/{id}/events/stream,
// docs/api.md), one connection held open, not from polling. A stream that drops (the server
// restarts, a proxy or the network cuts it) is opened again with Last-Event-ID set to the last
// event shown, so the server sends every later event once: none is missing and none shown twice
// (events at or before the position are also skipped here, should a server send them).
// Reconnecting waits 0.2 s, doubling up to 2 s, and gives up (exit 3, the run goes on) when no
// connection succeeds for 60 s.
//
// The request blocks the loop while the stream is quiet, so a watcher thread (StreamWatch) ends
// it (ApiClient::Stop) when Ctrl-C is pressed (the command detaches, exit 130) or when no event
// came for 5 s; the loop then asks the run's status, to end the follow of a run whose engine on
// the server stopped for good (exit 3: it would never finish), and reconnects. Only a CLI run's
// interruption is final: a run the server started (X-Sluice-Served) is followed on while the
// leader starts its engine again (leader.h). After a resume or a
// rollback the status still tells of the run before it (interrupted, or finished) until the
// engine the server starts records its first event, so it is believed only from then on (or
// after 30 s without one). Rejected: a short read
// timeout instead of the thread, which would delay Ctrl-C by that timeout.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <set>
#include <thread>

#include "cli/cli_support.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "cli/run_report.h"
#include "common/strings.h"
#include "common/value.h"
#include "server/remote_cli.h"
#include "server/sse.h"

namespace sluice {

namespace {

constexpr int64_t kQuietUs = 5'000'000;
constexpr int64_t kWatchUs = 50'000;
constexpr int64_t kRetryFirstUs = 200'000;
constexpr int64_t kRetryMaxUs = 2'000'000;
constexpr int64_t kGiveUpUs = 60'000'000;
constexpr int64_t kEngineStartUs = 30'000'000;

// Set by SIGINT while a run is followed. This is the client's edge, like the server's signal
// handling in server.cc: a flag, read by the follow loop and its watcher.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnInterrupt(int) { g_interrupted = 1; }

// An event as the API serves it (EventJson), back into an Event for the progress printer.
Event EventOfJson(const std::string& run_id, const Value& v) {
  auto str = [&](const char* k) {
    const Value* f = v.Find(k);
    return f && f->is_string() ? f->as_string() : std::string();
  };
  auto num = [&](const char* k) -> int64_t {
    const Value* f = v.Find(k);
    return f && f->is_int() ? f->as_int() : 0;
  };
  Event e;
  e.run_id = run_id;
  e.seq = num("seq");
  e.time_us = ViewTimeMs(str("time")).value_or(0) * 1000;
  (void)ParseEventKind(str("kind"), &e.kind);
  e.task = str("task");
  e.attempt = static_cast<int>(num("attempt"));
  e.status = str("status");
  e.error_class = str("errorClass");
  e.message = str("message");
  e.pid = num("pid");
  e.due_us = ViewTimeMs(str("due")).value_or(0) * 1000;
  if (const Value* d = v.Find("data")) e.data = d->ToJson();
  return e;
}

// Whether the task instance `name` is a handler (its owner's catch, fallback or compensate:
// "deploy.catch", "register[2].fallback"), and whether it is no forEach item ("train[2]",
// "sweep[0].train"): a local run's report counts the tasks that are no items (template members
// included), and every handler apart.
bool IsHandler(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string role = name.substr(dot + 1);
  return role.starts_with("catch") || role == "fallback" || role == "compensate";
}
bool IsTopLevel(const std::string& name) { return name.find('[') == std::string::npos; }

// What the status line of a terminal shows, from the events seen so far.
struct Tracker {
  std::set<std::string> tasks, running;
  int finished = 0;
  RunObserver::Progress Update(const Event& e) {
    if (!e.task.empty() && !IsHandler(e.task)) tasks.insert(e.task);
    if (e.kind == EventKind::kAttemptSpawned) running.insert(e.task);
    if (e.kind == EventKind::kAttemptFinished) running.erase(e.task);
    if (e.kind == EventKind::kTaskFinished || e.kind == EventKind::kTaskSkipped) ++finished;
    return {static_cast<int>(tasks.size()), finished, {running.begin(), running.end()}};
  }
};

// Ends the follow loop's request from a thread of its own when Ctrl-C was pressed or the stream
// was quiet for kQuietUs (see the top of the file). Owned by the follow; Saw() is called from
// the follow's thread, the rest of the state is the watcher's.
class StreamWatch {
 public:
  StreamWatch(Env& env, ApiClient& api) : env_(env), api_(api) {
    last_us_ = env_.clock().NowUs();
    thread_ = std::thread([this] { Loop(); });
  }
  ~StreamWatch() {
    done_ = true;
    thread_.join();
  }
  // An event came, or the loop checked the run: the quiet time starts again.
  void Saw() { last_us_ = env_.clock().NowUs(); }
  bool Quiet() const { return env_.clock().NowUs() - last_us_ >= kQuietUs; }

 private:
  void Loop() {
    // Stop is asked again every kWatchUs while its reason holds: one that came while no request
    // was under way (between two) would otherwise be lost.
    while (!done_) {
      if (g_interrupted || Quiet()) api_.Stop();
      env_.SleepUs(kWatchUs);
    }
  }

  Env& env_;
  ApiClient& api_;
  std::atomic<int64_t> last_us_{0};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Ctrl-C while following: the run goes on.
int Detach(const std::string& id, const std::string& server) {
  std::fprintf(stderr, "\nsluice: detached from run %s; it goes on on %s\n"
               "  follow it: sluice status %s --server %s\n"
               "  cancel it: sluice cancel %s --server %s\n",
               id.c_str(), server.c_str(), id.c_str(), server.c_str(), id.c_str(), server.c_str());
  return 130;
}

// The report a local run prints at its end (run_report.h), from the run's status document:
// failed tasks with the last lines of their stderr, then the counts of tasks by state.
void ReportRemoteRun(RemoteContext& c, const Value& status) {
  const std::string id = status.Find("id") ? status.Find("id")->ToText() : "";
  std::map<std::string, int> tasks, handlers;
  const Value* list = status.Find("tasks");
  int shown = 0;
  for (const Value& t : list && list->is_list() ? list->as_list() : ValueList{}) {
    const std::string name = t.Find("name") ? t.Find("name")->ToText() : "";
    const std::string state = t.Find("state") ? t.Find("state")->ToText() : "";
    const bool handler = IsHandler(name);
    const Value* attempts = t.Find("attempts");
    if (state == "failed" && !handler && attempts && attempts->is_int() && attempts->as_int() > 0 &&
        shown++ < 20) {
      const Value* message = t.Find("message");
      std::string line = fmt::format("  {} failed: {}", name, message ? message->ToText() : "");
      auto err = c.api.Get(fmt::format("/api/v1/runs/{}/tasks/{}/logs?stream=stderr&limit={}",
                                       PathEscape(id), PathEscape(name), 4 << 20));
      if (err && err->status == 200) {
        for (const auto& l : LastLines(err->body, 3, nullptr)) line += "\n    | " + l;
      }
      std::fprintf(stderr, "%s\n    logs: sluice logs %s %s\n", line.c_str(), id.c_str(),
                   ShellWord(name).c_str());
    }
    if (handler || IsTopLevel(name)) ++(handler ? handlers : tasks)[state];
  }
  auto text = [](const std::map<std::string, int>& m) {
    std::vector<std::string> parts;
    for (const auto& [s, n] : m) parts.push_back(fmt::format("{} {}", n, s));
    return Join(parts, ", ");
  };
  std::string counts = text(tasks);
  if (!handlers.empty()) counts += "; handlers: " + text(handlers);
  std::fprintf(stderr, "run %s %s (%s)\n  on the server %s\n", id.c_str(),
               status.Find("status")->ToText().c_str(), counts.c_str(), c.api.server().c_str());
}

// The run's status document; an error when it cannot be had. `served` (when given) is set when
// the server keeps the run going (X-Sluice-Served: it restarts an engine that stops).
Result<Value> RunStatus(RemoteContext& c, const std::string& id, bool* served = nullptr) {
  SLUICE_TRY(a, Expect2xx(c.api.Get("/api/v1/runs/" + PathEscape(id)), c.api.server()));
  if (served) *served = a->Header("x-sluice-served") == "true";
  SLUICE_TRY(v, ParseJson(a->body));
  if (!v->is_map() || !v->Find("status") || !v->Find("id")) {
    return Fail(ErrorCode::kIo, "the server's answer is not a run");
  }
  return std::move(*v);
}

// One follow of a run: its position, what it has shown, and the printer.
class RunFollow {
 public:
  // `fresh`: the run was just resumed or rolled back (see the top of the file).
  RunFollow(Env& env, RemoteContext& c, std::string id, int64_t after, bool fresh)
      : env_(env), c_(c), id_(std::move(id)), after_(after), fresh_(fresh),
        start_us_(env.clock().NowUs()),
        progress_(stderr, env.IsTty(2), env.IsTty(2) && !NoColor(env), env.clock()) {}

  // Follows until the run finishes; returns the exit code (`success` is the status that exits 0).
  int Run(const std::string& success) {
    if (int rc = FollowUntilFinished(); rc >= 0) return rc;
    progress_.Finish();
    auto st = RunStatus(c_, id_);
    if (!st) return Report(st.error());
    ReportRemoteRun(c_, *st);
    return st->Find("status")->ToText() == success ? 0 : 1;
  }

 private:
  // Returns -1 once the run has finished, else the exit code that ends the follow. The watcher
  // lives as long as this loop: the report's requests after it are never stopped.
  int FollowUntilFinished() {
    StreamWatch watch(env_, c_.api);
    int64_t retry_us = kRetryFirstUs, failing_since = 0;
    while (!finished_) {
      const bool got = Stream(watch);
      const bool quiet = watch.Quiet();  // the watcher ended the request: not a failure
      watch.Saw();  // before asking the status, which the watcher would otherwise stop too
      if (g_interrupted) return Detach(id_, c_.api.server());
      if (finished_) break;
      if (stream_error_ && last_error_.code != ErrorCode::kIo) {  // refused (4xx): for good
        progress_.Finish();
        return Report(last_error_);
      }
      // Quiet, or the stream ended without the run's end: is the run still executed?
      bool served = false;
      auto st = RunStatus(c_, id_, &served);
      if (fresh_ && env_.clock().NowUs() - start_us_ >= kEngineStartUs) fresh_ = false;
      if (st && !fresh_) {
        const std::string status = st->Find("status")->ToText();
        // Only a CLI run's interruption is final: the server starts a served run's engine again.
        if (status == "interrupted" && !served) return Stopped();
        if (status == "interrupted" && !told_restart_) {
          told_restart_ = true;
          std::fprintf(stderr, "sluice: the engine of %s stopped; the server starts it again "
                       "(Ctrl-C detaches)\n", id_.c_str());
        }
        if (IsFinishedRun(status) && stream_ended_) break;  // its end was before our position
      }
      const bool worked = st && (!stream_error_ || got || quiet);
      if (worked && (got || quiet)) {  // reconnect at once
        failing_since = 0, retry_us = kRetryFirstUs;
        continue;
      }
      const int64_t now = env_.clock().NowUs();
      if (worked) failing_since = 0;
      else if (!failing_since) failing_since = now;
      if (failing_since && now - failing_since >= kGiveUpUs) {
        return Unreachable(st ? last_error_ : st.error());
      }
      env_.SleepUs(retry_us);
      retry_us = std::min(retry_us * 2, kRetryMaxUs);
    }
    return -1;
  }

  static bool NoColor(Env& env) {
    auto v = env.GetVar("NO_COLOR");
    return v && !v->empty();
  }

  // One connection of the stream from the position on. Returns whether it delivered an event;
  // sets stream_ended_ (the server ended it) or stream_error_ with last_error_.
  bool Stream(StreamWatch& watch) {
    SseParser parser;
    const int64_t before = after_;
    stream_ended_ = stream_error_ = false;
    auto a = c_.api.GetStream(
        fmt::format("/api/v1/runs/{}/events/stream", PathEscape(id_)),
        {{"Last-Event-ID", std::to_string(after_)}, {"Accept", "text/event-stream"}},
        [&](std::string_view bytes) {
          for (const SseMessage& m : parser.Feed(bytes)) Show(m, watch);
          progress_.Committed();
          progress_.Flush();
          return !finished_;
        });
    if (finished_) return true;
    const bool got = after_ > before;
    if (a && a->status >= 200 && a->status < 300) {
      stream_ended_ = true;
    } else {
      stream_error_ = true;
      last_error_ = a ? ErrorOfAnswer(c_.api.server(), *a) : a.error();
    }
    return got;
  }

  void Show(const SseMessage& m, StreamWatch& watch) {
    if (m.event == "error") return;  // the server's store failed: the stream ends, reconnect
    auto v = ParseJson(m.data);
    if (!v || !v->is_map()) return;
    Event e = EventOfJson(id_, *v);
    if (e.seq <= after_) return;
    after_ = e.seq;
    fresh_ = false;
    watch.Saw();
    progress_.OnEvent(e, tracker_.Update(e));
    finished_ = finished_ || e.kind == EventKind::kRunFinished;
  }

  int Stopped() {
    progress_.Finish();
    std::fprintf(stderr, "sluice: the server's process running %s stopped; the run is "
                 "interrupted\n", id_.c_str());
    return 3;
  }

  int Unreachable(const Error& e) {
    progress_.Finish();
    Report(e);
    std::fprintf(stderr, "the run goes on; follow it with: sluice status %s --server %s\n",
                 id_.c_str(), c_.api.server().c_str());
    return 3;
  }

  Env& env_;
  RemoteContext& c_;
  const std::string id_;
  int64_t after_;
  bool fresh_;
  const int64_t start_us_;
  ProgressPrinter progress_;
  Tracker tracker_;
  bool finished_ = false, stream_ended_ = false, stream_error_ = false;
  bool told_restart_ = false;  // said once that the server restarts the run's engine
  Error last_error_{ErrorCode::kIo, ""};
};

}  // namespace

void DetachOnInterrupt() {
  // No SA_RESTART, so that a request under way returns at once.
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
}

int FollowRemoteRun(Env& env, RemoteContext& c, const std::string& id, int64_t after,
                    const std::string& success, bool resumed) {
  RunFollow follow(env, c, id, after, resumed);
  return follow.Run(success);
}

}  // namespace sluice
