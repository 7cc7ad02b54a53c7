// The routes that read a task's logs and act on a run (docs/api.md): logs by byte range (a
// client follows a running attempt by asking again from the offset it was given, or with
// follow=true gets the new bytes streamed until the attempt ends), and cancel.
#include <signal.h>

#include <cstdlib>
#include <memory>

#include "cli/cli_support.h"
#include "common/strings.h"
#include "exec/local_executor.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {

namespace {

constexpr int64_t kMaxLogChunk = 4 << 20;
constexpr int64_t kFollowPollUs = 200'000;
constexpr int64_t kFollowCallUs = 1'000'000;

// Whether attempt `n` of `task` still runs: recorded running, in a run not finished that a
// process executes (holds the run's lock, as `sluice status` probes it). A run whose engine
// died leaves its attempt recorded running, and nothing will write to its log through sluice.
bool AttemptLive(const ApiContext& ctx, const RunRecord& run,
                 const std::vector<AttemptRecord>& attempts, const std::string& task, int n) {
  if (IsFinishedRun(run.status)) return false;
  bool running = false;
  for (const auto& a : attempts) {
    if (a.task == task && a.attempt == n) running = a.status == "running";
  }
  return running && ctx.env.IsLocked(RunDir(ctx.env, ctx.g, run.id) + "/lock", nullptr);
}

// A log that follows its attempt (follow=true): each Step sends the bytes written since the
// last, and the answer ends once the attempt no longer runs (AttemptLive) and its last bytes
// are sent, or when nothing was sent for the server's idle timeout: a client that went away is
// found only by a write that fails, and a log may stay quiet for hours. The client then asks
// again (X-Sluice-Running says whether to). Whether the attempt runs is read once a call
// (about a second), not at every poll of the file, and no store handle is held while waiting.
class LogFollow {
 public:
  LogFollow(const ApiContext& ctx, std::string run_id, std::string task, int attempt,
            std::string file, int64_t offset)
      : ctx_(ctx), run_id_(std::move(run_id)), task_(std::move(task)), attempt_(attempt),
        file_(std::move(file)), offset_(offset), wrote_us_(ctx.env.clock().NowUs()) {}

  bool Step(StreamSink& out) {
    const int64_t until = ctx_.env.clock().NowUs() + kFollowCallUs;
    const bool ended = !Running();  // read before the file: its last bytes come before the end
    ctx_.ReleaseStore();
    for (;;) {
      auto bytes = ctx_.env.files().ReadFileRange(file_, offset_, kMaxLogChunk);
      const int64_t now = ctx_.env.clock().NowUs();
      if (bytes && !bytes->empty()) {
        offset_ += static_cast<int64_t>(bytes->size());
        wrote_us_ = now;
        return out.Write(*bytes);
      }
      if (ended || now - wrote_us_ >= ctx_.idle_us) return false;
      if (now >= until) return true;
      ctx_.env.SleepUs(kFollowPollUs);
    }
  }

 private:
  // Whether the attempt runs; true when that cannot be read now (the store is busy or down):
  // the follow goes on and asks again.
  bool Running() {
    auto store = ctx_.ThreadStore();
    if (!store) return true;
    auto run = (*store)->GetRun(run_id_);
    if (!run) return run.error().code != ErrorCode::kNotFound;
    auto attempts = (*store)->ListAttempts(run_id_);
    if (!attempts) return true;
    return AttemptLive(ctx_, *run, *attempts, task_, attempt_);
  }

  const ApiContext& ctx_;
  const std::string run_id_, task_;
  const int attempt_;
  const std::string file_;
  int64_t offset_;
  int64_t wrote_us_;  // when bytes were last sent (or the follow began)
};

// GET /api/v1/runs/{id}/tasks/{task}/logs?attempt=N&stream=stdout|stderr&offset=B&limit=B
ApiResponse Logs(const ApiContext& ctx, const ApiRequest& req) {
  const std::string stream = req.Query("stream", "stdout");
  if (stream != "stdout" && stream != "stderr") {
    return ErrorResponse(400, "query parameter stream must be stdout or stderr");
  }
  auto attempt = QueryInt(req, "attempt", 0, INT32_MAX);
  if (!attempt) return BadQueryInt("attempt");
  auto offset = QueryInt(req, "offset", 0, INT64_MAX);
  if (!offset) return BadQueryInt("offset");
  auto limit = QueryInt(req, "limit", 1 << 20, kMaxLogChunk);
  if (!limit) return BadQueryInt("limit");
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  auto attempts = (*store)->ListAttempts(run->id);
  if (!attempts) return FromError(attempts.error());
  const std::string& task = req.params.at("task");
  int last = 0;
  for (const auto& a : *attempts) {
    if (a.task != task) continue;
    last = std::max(last, a.attempt);
  }
  if (last == 0) return ErrorResponse(404, fmt::format("task {} of run {} has no attempts", Quote(task), run->id));
  const int n = *attempt == 0 ? last : static_cast<int>(*attempt);
  if (n > last) return ErrorResponse(404, fmt::format("task {} has {} attempts", Quote(task), last));
  const bool running = AttemptLive(ctx, *run, *attempts, task, n);
  const AttemptPaths paths = AttemptPathsFor(RunDir(ctx.env, ctx.g, run->id), task, n);
  const std::string& file = stream == "stdout" ? paths.stdout_log : paths.stderr_log;
  const std::string follow = req.Query("follow", "false");
  if (follow != "true" && follow != "false") {
    return ErrorResponse(400, "query parameter follow must be true or false");
  }
  if (follow == "true") {
    // Bytes as written, chunk by chunk: application/octet-stream, which the HTTP library never
    // compresses (a compressed text/plain answer would be held back until the stream ended).
    auto f = std::make_shared<LogFollow>(ctx, run->id, task, n, file, *offset);
    ApiResponse r;
    r.content_type = "application/octet-stream";
    r.headers.emplace_back("X-Sluice-Attempt", std::to_string(n));
    r.stream = [f](StreamSink& out) { return f->Step(out); };
    return r;
  }
  auto content = ctx.env.files().ReadFileRange(file, *offset, *limit);
  std::string text = content ? std::move(*content) : std::string();  // no log yet: nothing
  ApiResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("X-Sluice-Attempt", std::to_string(n));
  r.headers.emplace_back("X-Sluice-Next-Offset", std::to_string(*offset + static_cast<int64_t>(text.size())));
  r.headers.emplace_back("X-Sluice-Running", running ? "true" : "false");
  r.body = std::move(text);
  return r;
}

// POST /api/v1/runs/{id}/cancel: the process executing the run is asked to cancel it (SIGTERM, as
// `sluice cancel` does), audited as the token's user. A run no process executes is refused:
// cancelling it means executing its cancellation here, which `sluice cancel` does.
ApiResponse Cancel(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  if (IsFinishedRun(run->status)) {
    return ErrorResponse(409, fmt::format("run {} already finished ({})", run->id, run->status));
  }
  std::string owner;
  if (!ctx.env.IsLocked(RunDir(ctx.env, ctx.g, run->id) + "/lock", &owner)) {
    return ErrorResponse(409, fmt::format("no process executes run {}: cancel it with `sluice "
                                          "cancel {}` on the server's host", run->id, run->id));
  }
  auto audit = AuditOf(ctx.env, req.who.user, "run.cancelled", run->id, run->pipeline,
                       Value(ValueMap{}));
  if (auto a = (*store)->AppendAudit(std::move(audit)); !a) return ErrorResponse(500, a.error().message);
  const int pid = std::atoi(owner.c_str());
  if (pid <= 0 || !ctx.env.SignalProcess(pid, SIGTERM)) {
    return ErrorResponse(500, fmt::format("cannot signal the process of run {}", run->id));
  }
  ApiResponse r;
  r.status = 202;
  r.body = Value(ValueMap{{"id", Value(run->id)}, {"cancelling", Value(true)}}).ToJson();
  return r;
}

}  // namespace

void AddActionRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/runs/{id}/tasks/{task}/logs", true, Action::kRead,
              [c](const ApiRequest& r) { return Logs(*c, r); }});
  router.Add({"POST", "/api/v1/runs/{id}/cancel", true, Action::kOperate,
              [c](const ApiRequest& r) { return Cancel(*c, r); }});
}

}  // namespace sluice
