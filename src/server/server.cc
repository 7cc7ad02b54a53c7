// The HTTP edge of `sluice server` (server.h).
#include "server/server.h"

#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "access/access.h"
#include "cli/cli_support.h"
#include "common/strings.h"
#include "common/value.h"
#include "server/api.h"
#include "server/leader.h"
#include "server/notifier.h"
#include "server/store_pool.h"
#include "server/ui_edge.h"
#include "server/workers.h"
#include "store/store.h"

namespace sluice {

Status ParseStoreUrl(const std::string& url, ServerOptions& o) {
  if (url.starts_with("sqlite:") && url.size() > 7) {
    o.state_dir = url.substr(7);
    return {};
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    o.store = url;
    return {};
  }
  return Fail(ErrorCode::kInvalidInput,
              "--store {}: expected sqlite:DIR (a state folder) or postgresql://...", Quote(url));
}

Status ParseRetention(const std::vector<std::string>& values, ServerOptions& o) {
  for (const auto& v : values) {
    const size_t eq = v.find('=');
    const std::string ns = eq == std::string::npos ? "" : v.substr(0, eq);
    const std::string age = eq == std::string::npos ? v : v.substr(eq + 1);
    auto ms = age == "never" && !ns.empty() ? std::optional<int64_t>(0) : ParseDurationMs(age);
    if ((!ns.empty() && !IsNamespaceName(ns)) || !ms || *ms < 0 || (ns.empty() && *ms == 0)) {
      return Fail(ErrorCode::kInvalidInput, "--retention {}: expected a duration (30d, 12h) or "
                  "NAMESPACE=DURATION (or NAMESPACE=never)", Quote(v));
    }
    (ns.empty() ? o.retention_us : o.retention_by_ns[ns]) = *ms * 1000;
  }
  return {};
}

namespace {

// A thread per connection, at most `max` at once: enqueue waits for a free one.
class ThreadPerConnection : public httplib::TaskQueue {
 public:
  explicit ThreadPerConnection(int max) : max_(max) {}
  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return live_ < max_; });
    ++live_;
    lock.unlock();
    try {
      std::thread([this, fn] {
        fn();
        Done();
      }).detach();
    } catch (const std::system_error&) {
      // No thread to be had (a process or memory limit): serve it here, holding up accepting
      // rather than dropping the connection or ending the server.
      fn();
      Done();
    }
  }
  void Done() {
    std::lock_guard done(mu_);
    --live_;
    cv_.notify_all();
  }
  void shutdown() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return live_ == 0; });
  }

 private:
  const int max_;
  int live_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
};

// Requests one kept-alive connection serves before the server closes it (the library's default,
// 5, made a worker connect anew every other task).
constexpr size_t kKeepAliveMaxRequests = 100'000;

// How much nicer (setpriority) a connection's thread runs while it sends a streamed answer:
// streams are bulk work, and under load their threads (50 streams of a 10,000-task run's
// events) took the cores the short requests needed (bench/api_load.py). A nicer thread still
// gets its share of an idle or lightly loaded machine.
constexpr int kStreamNice = 10;

// Lowers the calling thread's priority by kStreamNice for its life, and puts it back when
// destroyed, so that the connection's next requests run as before. Putting it back needs
// privilege (root, CAP_SYS_NICE or RLIMIT_NICE); without it the thread stays nicer for the rest
// of its connection, which a stream's client rarely reuses. Linux applies the nice value of
// PRIO_PROCESS with a thread id to that thread alone.
class NicerThread {
 public:
  NicerThread() : tid_(gettid()) {
    errno = 0;
    const int now = getpriority(PRIO_PROCESS, tid_);
    if (errno == 0 && setpriority(PRIO_PROCESS, tid_, std::min(19, now + kStreamNice)) == 0) {
      before_ = now;
    }
  }
  ~NicerThread() {
    if (before_) (void)setpriority(PRIO_PROCESS, tid_, *before_);
  }
  NicerThread(const NicerThread&) = delete;
  NicerThread& operator=(const NicerThread&) = delete;

 private:
  const pid_t tid_;
  std::optional<int> before_;
};

// Per request, on the thread that serves it: the route pattern metrics count it under.
thread_local std::string t_route;

// A StreamSink on the HTTP library's chunked writer.
class ChunkSink : public StreamSink {
 public:
  explicit ChunkSink(httplib::DataSink& sink) : sink_(sink) {}
  bool Write(std::string_view data) override {
    // An empty chunk would end the answer: never written.
    if (ok_ && !data.empty()) ok_ = sink_.write(data.data(), data.size());
    return ok_;
  }
  void Abort() override { ok_ = false; }
  bool ok() const { return ok_; }

 private:
  httplib::DataSink& sink_;
  bool ok_ = true;
};

class HttpEdge {
 public:
  HttpEdge(Env& env, const ServerOptions& o, const ApiContext& ctx, RequestMetrics& metrics)
      : env_(env), o_(o), ctx_(ctx), metrics_(metrics),
        sessions_(env, int64_t{o.ui_session_hours} * 3'600'000'000, int64_t{2} * 3'600'000'000),
        ui_(ctx, sessions_, [this](std::string_view token) { return CheckBearer(token); },
            !o.tls_cert.empty()) {
    AddApiRoutes(router_, ctx_);
  }

  void Install(httplib::Server& svr) {
    svr.new_task_queue = [n = o_.max_connections] { return new ThreadPerConnection(n); };
    svr.set_payload_max_length(o_.max_body_bytes);
    svr.set_keep_alive_timeout(o_.idle_timeout_s);
    // The library's default closes a kept-alive connection after its 5th request: a worker
    // (three requests a task: logs, ends, lease) then connected anew every other task, and the
    // new connection's thread was started on the path of a lease; a connection is instead kept
    // until it idles out (each holds a thread either way).
    svr.set_keep_alive_max_count(kKeepAliveMaxRequests);
    svr.set_tcp_nodelay(true);  // headers and body are two writes: no 40 ms Nagle wait between
    svr.set_read_timeout(o_.idle_timeout_s, 0);
    svr.set_write_timeout(o_.idle_timeout_s, 0);
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      Serve(req, res, nullptr);
    };
    svr.Get(R"(/.*)", handle);
    svr.Options(R"(/.*)", handle);
    // A body is kept only once the route, the token and the role allow the request; a refused
    // one is read (up to --max-body) and dropped, so that it is not taken for the next request.
    auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) { Serve(req, res, &reader); };
    using WithBody = httplib::Server& (httplib::Server::*)(const std::string&,
                                                           httplib::Server::HandlerWithContentReader);
    for (WithBody add : {static_cast<WithBody>(&httplib::Server::Post),
                         static_cast<WithBody>(&httplib::Server::Put),
                         static_cast<WithBody>(&httplib::Server::Patch),
                         static_cast<WithBody>(&httplib::Server::Delete)}) {
      (svr.*add)(R"(/.*)", with_body);
    }
    // What httplib answers itself (a body over the limit, a malformed request line) gets the
    // same JSON error body.
    svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      const char* what = res.status == 413 ? "the request body is too large" : "bad request";
      Send(ErrorResponse(res.status, what), res);
    });
    svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      Send(ErrorResponse(500, "internal error"), res);
    });
    svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      Log(req, res);
    });
  }

 private:
  static void Send(const ApiResponse& r, httplib::Response& res) {
    res.status = r.status;
    for (const auto& [k, v] : r.headers) res.set_header(k, v);
    res.set_content(r.body, r.content_type);
  }

  // A 503 with Retry-After: the server has no room for the request now.
  static ApiResponse Busy(const std::string& why, const char* retry_after_s = "1") {
    ApiResponse busy = ErrorResponse(503, why + "; try again later");
    busy.headers.emplace_back("Retry-After", retry_after_s);
    return busy;
  }

  // Sends a streamed answer, or a 503 when --max-streams are open already: the threads the
  // streams hold are never more than that, and the other connections keep theirs.
  void SendStream(ApiResponse& r, httplib::Response& res) {
    if (open_streams_.fetch_add(1) >= o_.max_streams) {
      --open_streams_;
      Send(Busy(fmt::format("{} streams are open, the most this server serves (--max-streams)",
                            o_.max_streams), "5"),
           res);
      return;
    }
    metrics_.StreamOpened();
    res.status = r.status;
    for (const auto& [k, v] : r.headers) res.set_header(k, v);
    // Made on the connection's thread by the first call of the provider, ended by the
    // releaser (on the same thread, once the answer ends).
    auto nicer = std::make_shared<std::unique_ptr<NicerThread>>();
    res.set_chunked_content_provider(
        r.content_type,
        [this, nicer, body = std::move(r.stream)](size_t, httplib::DataSink& sink) {
          if (!*nicer) *nicer = std::make_unique<NicerThread>();
          ChunkSink out(sink);
          // A stream holds a store handle only during a step, never while it waits between
          // them.
          bool more = false;
          {
            StoreScope scope(ctx_);
            more = body(out);
          }
          if (!out.ok()) return false;  // the client is gone, or the answer was cut short
          if (!more) sink.done();
          return true;
        },
        // Called once the answer ends, however it ends (or is never sent).
        [this, nicer](bool) {
          nicer->reset();
          --open_streams_;
          metrics_.StreamClosed();
        });
  }

  void Serve(const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader* reader) {
    const int64_t start = env_.clock().NowUs();
    if (IsUiPath(req.path)) return ServeUi(req, res, reader, start);
    Router::Match m = router_.Find(req.method, req.path);
    t_route = m.route ? m.route->pattern : "unmatched";
    body_read_ = false;
    ApiResponse out;
    {
      StoreScope scope(ctx_);  // the request's store handle goes back to the pool at its end
      out = Answer(req, m, reader);
      if (scope.busy()) out = Busy("every store handle of this server is in use (--store-handles)");
    }
    if (reader && !body_read_ && out.status != 413) {
      // Refused before its body was read (404, 405, 401, 403): read it now and drop it, so that
      // it is not taken for the connection's next request.
      std::string ignored;
      if (!ReadBody(*reader, ignored)) out.headers.emplace_back("Connection", "close");
    }
    if (out.stream) {
      SendStream(out, res);
    } else {
      Send(out, res);
    }
    metrics_.Observe(t_route, req.method, out.status,
                     static_cast<double>(env_.clock().NowUs() - start) / 1e6);
  }

  ApiResponse Answer(const httplib::Request& req, const Router::Match& m,
                     const httplib::ContentReader* reader) {
    if (!m.route) {
      if (m.status == 405) {
        ApiResponse r = ErrorResponse(405, fmt::format("{} is not allowed here; allowed: {}",
                                                       req.method, m.allow));
        r.headers.emplace_back("Allow", m.allow);
        return r;
      }
      return ErrorResponse(404, fmt::format("no route {}", Quote(req.path)));
    }
    ApiRequest ar;
    ar.method = req.method;
    ar.path = req.path;
    ar.params = m.params;
    for (const auto& [k, v] : req.params) ar.query.emplace(k, v);
    for (const auto& [k, v] : req.headers) {
      std::string name = k;
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      // Credentials reach a handler only on a trigger's route, which checks its own token.
      if (name != "authorization" || m.route->trigger_token) ar.headers[name] = v;
    }
    if (m.route->needs_token) {
      if (auto refused = CsrfRefused(req)) return *refused;
      auto who = Authenticate(req);
      if (!who && who.error().code == ErrorCode::kStore) return ErrorResponse(503, who.error().message);
      if (!who) {
        ApiResponse r = ErrorResponse(401, who.error().message);
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
        return r;
      }
      ar.who = std::move(*who);
      if (m.route->namespaced) {
        if (auto refused = Refused(*m.route, ar.params, ar.who)) return *refused;
      }
    }
    if (reader) {
      ctx_.ReleaseStore();  // no store handle is held while a slow client sends its body
      // A declared length over the limit is refused before reading (httplib would answer a
      // reader stopped midway with a 400 of its own).
      const std::string length = req.get_header_value("Content-Length");
      uint64_t declared = 0;
      std::from_chars(length.data(), length.data() + length.size(), declared);
      const bool too_long = declared > o_.max_body_bytes;
      if (too_long || !ReadBody(*reader, ar.body)) {
        ApiResponse r = ErrorResponse(413, fmt::format("the request body is larger than {} bytes",
                                                       o_.max_body_bytes));
        r.headers.emplace_back("Connection", "close");
        return r;
      }
    }
    return m.route->handler(ar);
  }

  // Why `who` may not call `route` with `params`, if it may not. A route under a run is in the
  // run's namespace, one under /namespaces/{ns} in that one, any other in "default". A run that
  // does not exist is judged in "default" (then the handler answers 404), and so is a run in a
  // namespace the token may not read, with the same answers: other teams' run ids cannot be
  // told from wrong ones. A run prefix is resolved among the runs the token may read
  // (ReadableRunId), and `params`' id set to the full id the handler then reads.
  std::optional<ApiResponse> Refused(const Route& route, std::map<std::string, std::string>& params,
                                     const ApiPrincipal& who) {
    std::string ns = kDefaultNamespace;
    if (auto it = params.find("ns"); it != params.end()) {
      ns = it->second;
      if (!IsNamespaceName(ns)) {
        return ErrorResponse(400, fmt::format("{} is not a namespace name (a-z, 0-9 and '-', at "
                                              "most 63)", Quote(ns)));
      }
    } else if (auto id = params.find("id"); id != params.end()) {
      auto readable = ReadableRunId(ctx_, who, id->second);
      if (!readable) return FromError(readable.error());
      if (*readable) id->second = **readable;
      auto found = NamespaceOfRun(ctx_, id->second);
      // A prefix that only runs the token may not read share is judged as one such run.
      const bool hidden = !found && !*readable && found.error().code == ErrorCode::kInvalidInput;
      if (!found && !hidden) return FromError(found.error());
      if (!hidden && *found && who.Can(Action::kRead, **found)) {
        ns = **found;
      } else if ((hidden || *found) && who.Can(route.action, ns)) {  // as the handler answers none
        return ErrorResponse(404, fmt::format("no run {}", Quote(id->second)));
      }
    }
    if (who.Can(route.action, ns)) return std::nullopt;
    auto role = who.RoleIn(ns);
    return ErrorResponse(403, fmt::format("{} ({} in namespace {}) may not {} here", who.user,
                                          role ? RoleName(*role) : "no role", Quote(ns),
                                          ActionName(route.action)));
  }

  // Reads the request's body into `body`; false when it is larger than the limit.
  bool ReadBody(const httplib::ContentReader& reader, std::string& body) {
    body_read_ = true;
    bool fits = true;
    reader([&](const char* data, size_t n) {
      if (body.size() + n > o_.max_body_bytes) {
        fits = false;
        return false;
      }
      body.append(data, n);
      return true;
    });
    return fits;
  }

  // The web UI (ui_edge.h): its files, login, logout and session; not the API's routes.
  void ServeUi(const httplib::Request& req, httplib::Response& res,
               const httplib::ContentReader* reader, int64_t start) {
    t_route = "ui";
    UiRequest ur{req.method, req.path, req.get_header_value("Cookie"),
                 req.get_header_value("X-Sluice-CSRF"), req.get_header_value("Content-Type"), "",
                 req.remote_addr};
    ApiResponse out = ErrorResponse(413, "the request body is too large");
    out.headers.emplace_back("Connection", "close");
    if (!reader || ReadBody(*reader, ur.body)) {
      StoreScope scope(ctx_);
      out = ui_.Answer(ur);
      if (scope.busy()) out = Busy("every store handle of this server is in use (--store-handles)");
    }
    Send(out, res);
    metrics_.Observe(t_route, req.method, out.status,
                     static_cast<double>(env_.clock().NowUs() - start) / 1e6);
  }

  // 403 for a cookie-borne write (not GET, HEAD, OPTIONS) without its session's X-Sluice-CSRF.
  std::optional<ApiResponse> CsrfRefused(const httplib::Request& req) {
    const std::string& m = req.method;
    if (req.has_header("Authorization") || m == "GET" || m == "HEAD" || m == "OPTIONS") return {};
    auto session = sessions_.Find(CookieValue(req.get_header_value("Cookie"), kSessionCookie));
    if (!session || SameSecret(req.get_header_value("X-Sluice-CSRF"), session->csrf)) return {};
    return ErrorResponse(403, "a write with the session cookie needs its X-Sluice-CSRF header");
  }

  // The principal of the bearer token or UI session cookie, or why none (each reason a 401).
  Result<ApiPrincipal> Authenticate(const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    if (header.empty() && req.has_header("Cookie")) {
      auto session = sessions_.Find(CookieValue(req.get_header_value("Cookie"), kSessionCookie));
      if (session) return CheckBearer(session->token);
    }
    if (header.empty()) return Fail(ErrorCode::kInvalidInput, "no bearer token (Authorization: Bearer TOKEN)");
    if (!header.starts_with("Bearer ")) return Fail(ErrorCode::kInvalidInput, "the Authorization header is not a bearer token");
    return CheckBearer(std::string_view(header).substr(7));
  }

  // The principal of `token`'s text, or why it is refused (kStore: the store cannot say).
  Result<ApiPrincipal> CheckBearer(std::string_view token) {
    auto parts = SplitToken(token);
    if (!parts) return Fail(ErrorCode::kInvalidInput, "the bearer token is malformed");
    // The store's own failures are the server's (a 503 naming nothing of its insides), not the
    // client's credentials.
    auto store = ctx_.ThreadStore();
    if (!store) return Fail(ErrorCode::kStore, "the server cannot check tokens now");
    auto row = (*store)->FindToken(parts->first);
    if (!row) return Fail(ErrorCode::kStore, "the server cannot check tokens now");
    if (!*row) return Fail(ErrorCode::kInvalidInput, "unknown token");
    return CheckToken(**row, parts->second, env_.clock().NowUs());
  }

  void Log(const httplib::Request& req, const httplib::Response& res) {
    if (t_route.empty()) {  // answered by httplib itself, not by Serve
      metrics_.Observe("unmatched", req.method, res.status, 0);
    }
    const std::string route = t_route.empty() ? "unmatched" : t_route;
    t_route.clear();
    if (o_.json_logs) {
      Value line(ValueMap{{"time", Value(Ts(env_.clock().NowUs()))}, {"level", Value("info")},
                          {"msg", Value("request")}, {"method", Value(req.method)},
                          {"path", Value(req.path)}, {"route", Value(route)},
                          {"status", Value(res.status)}, {"remote", Value(req.remote_addr)}});
      std::fprintf(stderr, "%s\n", line.ToJson().c_str());
    } else {
      std::fprintf(stderr, "%s %s %s %d\n", Ts(env_.clock().NowUs()).c_str(), req.method.c_str(),
                   req.path.c_str(), res.status);
    }
  }

  Env& env_;
  const ServerOptions& o_;
  const ApiContext& ctx_;
  RequestMetrics& metrics_;
  Router router_;
  UiSessions sessions_;  // the web UI's browser sessions
  UiEdge ui_;
  std::atomic<int> open_streams_{0};
  static thread_local bool body_read_;  // Serve: whether the request's body was read
};

thread_local bool HttpEdge::body_read_ = false;

// Host and port of "HOST:PORT".
Result<std::pair<std::string, int>> SplitListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    auto [end, ec] = std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
    if (ec != std::errc() || end != listen.data() + listen.size()) port = -1;
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    return Fail(ErrorCode::kInvalidInput, "--listen {}: expected HOST:PORT", Quote(listen));
  }
  return std::make_pair(listen.substr(0, colon), port);
}

}  // namespace

int PrintRoutes(Env& env) {
  RequestMetrics metrics;
  ApiContext ctx{env, GlobalOptions{}, metrics};
  Router router;
  AddApiRoutes(router, ctx);
  ValueList out;
  for (const Route& r : router.routes()) {
    const std::string needs = r.trigger_token ? "trigger token"
                              : !r.needs_token  ? "none"
                              : !r.namespaced ? "any token"
                                              : std::string(ActionName(r.action));
    out.push_back(Value(ValueMap{{"method", Value(r.method)}, {"path", Value(r.pattern)},
                                 {"needs", Value(needs)}}));
  }
  std::printf("%s\n", Value(std::move(out)).ToJson().c_str());
  return 0;
}

int RunServer(Env& env, const ServerOptions& o) {
  auto hp = SplitListen(o.listen);
  if (!hp) return Report(hp.error());
  if (o.max_streams >= o.max_connections) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("--max-streams {} must be below --max-connections {}: the "
                                    "connections streams do not hold serve the requests",
                                    o.max_streams, o.max_connections)));
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return Report(Error(ErrorCode::kInvalidInput, "--tls-cert and --tls-key go together"));
  }
  GlobalOptions g;
  g.state_dir = o.state_dir;
  g.store = o.store;
  ProtectStateFiles(env, g.state_dir);  // the state folder's modes, as every sluice command keeps
  (void)env.time_zones();               // made before the threads that share it
  if (auto store = OpenStore(env, g, true); !store) return Report(store.error());
  auto notifications = LoadNotifications(env, g.state_dir);  // issue 13: a bad one is exit 2
  if (!notifications) return Report(notifications.error());
  // Signals are taken by one thread (sigwait) before any other starts, so none of the server's
  // threads is interrupted by them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::unique_ptr<httplib::Server> svr;
  if (o.tls_cert.empty()) {
    svr = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!tls->is_valid()) {
      return Report(Error(ErrorCode::kInvalidInput,
                          fmt::format("cannot use --tls-cert {} and --tls-key {}",
                                      Quote(o.tls_cert), Quote(o.tls_key))));
    }
    svr = std::move(tls);
  }
  RequestMetrics metrics;
  ApiContext ctx{env, g, metrics};
  ctx.json_logs = o.json_logs;
  // Streams show a quiet stream is alive well within the idle timeout a proxy may also have.
  ctx.stream_keepalive_us = std::min<int64_t>(15, std::max(1, o.idle_timeout_s / 2)) * 1'000'000;
  ctx.lease_us = int64_t{o.lease_s} * 1'000'000;
  ctx.retention_us = o.retention_us;
  ctx.retention_by_ns = o.retention_by_ns;
  ctx.idle_us = int64_t{o.idle_timeout_s} * 1'000'000;
  // The store handles of the requests (store_pool.h); made before, and so ended after, the
  // HTTP server's threads that use it.
  StorePool pool([&env, &g] { return OpenStore(env, g, false); }, o.store_handles,
                 int64_t{o.store_wait_s} * 1'000'000);
  ctx.pool = &pool;
  Notifier notifier(ctx, std::move(*notifications));  // issue 13: STATE/notifications.yaml
  ctx.notifier = &notifier;
  HttpEdge edge(env, o, ctx, metrics);
  edge.Install(*svr);
  const auto& [host, port] = *hp;
  const int bound = port == 0 ? svr->bind_to_any_port(host) : (svr->bind_to_port(host, port) ? port : -1);
  if (bound < 0) return Report(Error(ErrorCode::kIo, fmt::format("cannot listen on {}", o.listen)));
  std::printf("sluice server listening on %s://%s:%d\n", o.tls_cert.empty() ? "http" : "https",
              host.c_str(), bound);
  std::fflush(stdout);
  Leader leader(ctx);
  ctx.leading = leader.leading_flag();
  leader.Start();
  notifier.Start();  // delivers while this server leads; ends after the leader (declared first)
  LeaseSweeper sweeper(ctx);  // workers.h; times leases while this server leads
  std::atomic<bool> signalled{false};
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    signalled = true;
    svr->stop();
  });
  const bool listened = svr->listen_after_bind();
  if (!signalled) kill(getpid(), SIGTERM);  // listening ended by itself: end the signal thread
  signals.join();
  return listened || signalled ? 0 : 3;
}

}  // namespace sluice
