// FaultProxy's loop (proxy_loop.h, the design in fault_proxy.h): one thread, one poll(2) per
// turn. A turn applies a newly set fault, writes every direction's due bytes (within its
// bandwidth tokens), drops finished connections, then polls the sockets that have something to
// do, with a timeout that ends at the next due chunk or token. Nothing here blocks but poll.
#include "chaos/proxy_loop.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace sluice {
namespace {

constexpr size_t kReadSize = 64 * 1024;
// Per direction: past this, the proxy stops reading that side, so a slow or delayed direction
// pushes back on its sender as a slow network would, instead of buffering without end.
constexpr size_t kMaxQueued = 1024 * 1024;
constexpr int kAcceptsPerTurn = 64;
constexpr int64_t kAcceptPauseUs = 100'000;
constexpr int64_t kNever = INT64_MAX;

// The loop's clock: monotonic, since due times must not jump with the wall clock. The proxy
// runs on real sockets and poll timeouts, so no fake clock could drive it anyway.
int64_t MonoUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

bool Acts(ProxyDirection d, bool up) {
  return d == ProxyDirection::kBoth || (d == ProxyDirection::kUpstream) == up;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// SO_LINGER with a zero timeout makes close() send RST instead of FIN: the peer's next read
// or write fails with ECONNRESET, as when a middlebox or a crashed service resets it.
void CloseWithReset(int& fd) {
  if (fd < 0) return;
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  CloseFd(fd);
}

// Small writes are the proxy's own pacing (latency, tokens): Nagle would add its own delay.
void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// The bucket holds 40 ms of the rate, and a capped direction waits for half of it before it
// writes (about 50 writes a second, not a crumb per wake-up). The other half absorbs the loop
// waking late: a bucket that had to be full before each write lost what overflowed while poll
// overslept, and capped 5% below the rate.
double Burst(int64_t rate) { return std::max<double>(1.0, static_cast<double>(rate) / 25.0); }

void Refill(ProxyPipe& p, int64_t rate, int64_t now) {
  if (p.refill_us < 0) {
    p.tokens = Burst(rate);
  } else {
    p.tokens =
        std::min(Burst(rate), p.tokens + static_cast<double>(now - p.refill_us) * rate / 1e6);
  }
  p.refill_us = now;
}

void SetHeld(ProxyPipe& p, bool held, std::atomic<int64_t>& dropped) {
  if (held && !p.held) {  // what was in flight is lost in the hole
    dropped += static_cast<int64_t>(p.queued);
    p.queue.clear();
    p.queued = 0;
  }
  p.held = held;
}

short WantRead(const ProxyPipe& p) {
  return !p.eof && (p.held || p.queued < kMaxQueued) ? POLLIN : 0;
}

}  // namespace

FaultProxy::Impl::~Impl() {
  for (auto& c : conns) Close(*c);
  CloseFd(listener);
  CloseFd(wake);
}

void FaultProxy::Impl::Ring() {
  if (wake < 0) return;
  uint64_t one = 1;
  // A full eventfd counter (EAGAIN) has rung already.
  [[maybe_unused]] ssize_t n = write(wake, &one, sizeof one);
}

void FaultProxy::Impl::Run() {
  ProxyFault f;
  uint64_t seen = 0;
  std::vector<pollfd> fds;
  std::vector<std::pair<ProxyConn*, bool>> owners;  // per pollfd past the first two
  buffer.resize(kReadSize);
  for (;;) {
    if (!Refresh(f, seen)) break;
    int64_t now = MonoUs();
    int64_t next = kNever;
    for (auto& c : conns) Pump(f, *c, now, &next);
    Reap();

    fds.clear();
    owners.clear();
    fds.push_back({wake, POLLIN, 0});
    const bool room = static_cast<int>(conns.size()) < max_connections;
    const bool accepting = room && now >= accept_paused_until;
    if (room && !accepting) next = std::min(next, accept_paused_until);
    fds.push_back({accepting ? listener : -1, POLLIN, 0});
    for (auto& c : conns) {
      short client_events = WantRead(c->up) | (c->down.blocked ? POLLOUT : 0);
      fds.push_back({client_events ? c->client : -1, client_events, 0});
      owners.emplace_back(c.get(), false);
      if (c->service < 0) continue;
      short service_events =
          c->connecting ? POLLOUT : WantRead(c->down) | (c->up.blocked ? POLLOUT : 0);
      fds.push_back({service_events ? c->service : -1, service_events, 0});
      owners.emplace_back(c.get(), true);
    }
    // Rounded up: a timeout that ends a little before a due time would spin.
    const int timeout =
        next == kNever ? -1
                       : static_cast<int>(std::min<int64_t>((next - now + 999) / 1000, INT_MAX));
    if (poll(fds.data(), fds.size(), timeout) < 0) continue;  // EINTR; nothing else is expected
    now = MonoUs();
    if (fds[0].revents) {
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(wake, &count, sizeof count);
      // Before the connections that poll found ready: one dialled right after Set() returned
      // may be among them, and must meet the new fault.
      if (!Refresh(f, seen)) break;
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents)
        Handle(f, *owners[i - 2].first, owners[i - 2].second, fds[i].revents, now);
    }
    if (fds[1].revents) AcceptAll(f, now);
  }
  for (auto& c : conns) Close(*c);
  conns.clear();
  CloseFd(listener);
}

// Takes a newly set fault into `f` and applies it to the open connections. Returns false once
// Stop() has asked the loop to end.
bool FaultProxy::Impl::Refresh(ProxyFault& f, uint64_t& seen) {
  {
    std::lock_guard lock(mu);
    if (stopping) return false;
    if (generation == seen) return true;
    f = fault;
    seen = generation;
  }
  for (auto& c : conns) Apply(f, *c, false);
  return true;
}

bool FaultProxy::Impl::Holds(const ProxyFault& f, const ProxyConn& c) const {
  return !f.IsNone() && c.draw < f.probability;
}

// Puts fault `f` on connection `c`: at accept (`is_new`) and whenever a new fault is set.
void FaultProxy::Impl::Apply(const ProxyFault& f, ProxyConn& c, bool is_new) {
  // One that failed in the last turn's events is removed only at the end of this turn: it
  // must not be counted as reset, nor dialled again.
  if (c.dead) return;
  const bool holds = Holds(f, c);
  if (holds && f.cut == ProxyCut::kReset) return Reset(c);
  if (holds && f.cut == ProxyCut::kRefuse && is_new) {
    ++counts.refused;
    return End(c, false, false);
  }
  const bool hole = holds && f.cut == ProxyCut::kBlackhole;
  const bool was_held = c.up.held || c.down.held;
  SetHeld(c.up, hole && Acts(f.direction, true), counts.bytes_dropped);
  SetHeld(c.down, hole && Acts(f.direction, false), counts.bytes_dropped);
  if (!was_held && (c.up.held || c.down.held)) ++counts.blackholed;
  // A blackhole that holds the client's bytes keeps the service from being dialled at all
  // (it sees nothing); lifted, the connection is dialled then.
  if (c.service < 0 && !c.up.held) Connect(c);
}

void FaultProxy::Impl::Connect(ProxyConn& c) {
  int fd = socket(upstream.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return UpstreamFailed(c);
  NoDelay(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&upstream), upstream_len) == 0) {
    c.service = fd;
  } else if (errno == EINPROGRESS) {
    c.service = fd;
    c.connecting = true;
  } else {
    close(fd);
    UpstreamFailed(c);
  }
}

void FaultProxy::Impl::AcceptAll(const ProxyFault& f, int64_t now) {
  for (int i = 0; i < kAcceptsPerTurn && static_cast<int>(conns.size()) < max_connections; ++i) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == ECONNABORTED || errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        accept_paused_until = now + kAcceptPauseUs;  // the backlog waits
      }
      break;
    }
    ++counts.accepted;
    ++counts.open;
    NoDelay(fd);
    auto c = std::make_unique<ProxyConn>();
    c->client = fd;
    c->draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    Apply(f, *c, true);
    if (!c->dead) conns.push_back(std::move(c));
  }
}

void FaultProxy::Impl::Handle(const ProxyFault& f, ProxyConn& c, bool service_side, short revents,
                              int64_t now) {
  if (c.dead) return;
  if (service_side && c.connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c.service, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) return UpstreamFailed(c);
    c.connecting = false;
    return;
  }
  ProxyPipe& reading = service_side ? c.down : c.up;
  ProxyPipe& writing = service_side ? c.up : c.down;
  // POLLERR and POLLHUP come without being asked for: the next write or read meets them.
  if (revents & (POLLOUT | POLLERR | POLLHUP)) writing.blocked = false;
  if ((revents & POLLIN) || ((revents & (POLLERR | POLLHUP)) && !reading.eof)) {
    Read(f, c, service_side, now);
  }
}

void FaultProxy::Impl::Read(const ProxyFault& f, ProxyConn& c, bool service_side, int64_t now) {
  ProxyPipe& p = service_side ? c.down : c.up;
  const ssize_t n = recv(service_side ? c.service : c.client, buffer.data(), buffer.size(), 0);
  if (n == 0) {
    p.eof = true;
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) Abort(c, service_side);
    return;
  }
  if (p.held) {
    counts.bytes_dropped += n;
    return;
  }
  p.queue.push_back(
      {std::string(buffer.data(), static_cast<size_t>(n)), 0, now + Delay(f, c, !service_side)});
  p.queued += static_cast<size_t>(n);
}

int64_t FaultProxy::Impl::Delay(const ProxyFault& f, const ProxyConn& c, bool up) {
  if (!Holds(f, c) || !Acts(f.direction, up) || (f.latency_ms == 0 && f.jitter_ms == 0)) return 0;
  double us = static_cast<double>(f.latency_ms) * 1000.0;
  if (f.jitter_ms > 0) {
    const double j = static_cast<double>(f.jitter_ms) * 1000.0;
    us += std::uniform_real_distribution<double>(-j, j)(rng);
  }
  return std::max<int64_t>(0, static_cast<int64_t>(us));
}

// Writes what is due in both directions, then closes the connection once it has ended: both
// directions shut; or, under a blackhole, the client's end of stream, which the hole swallows
// (so a client that gave up does not keep its connection until the fault is lifted); or both
// peers done while the hole holds the answers.
void FaultProxy::Impl::Pump(const ProxyFault& f, ProxyConn& c, int64_t now, int64_t* next) {
  if (c.dead) return;
  Flush(f, c, true, now, next);
  if (c.dead) return;
  Flush(f, c, false, now, next);
  if (c.dead) return;
  const bool client_gone_into_hole = c.up.eof && (c.up.held || c.service < 0);
  const bool answers_gone_into_hole = c.up.shut && c.down.eof && c.down.held;
  if ((c.up.shut && c.down.shut) || client_gone_into_hole || answers_gone_into_hole) Close(c);
}

void FaultProxy::Impl::Flush(const ProxyFault& f, ProxyConn& c, bool up, int64_t now,
                             int64_t* next) {
  ProxyPipe& p = up ? c.up : c.down;
  const int to = up ? c.service : c.client;
  if (p.held || to < 0 || (up && c.connecting)) return;
  const bool capped = f.bandwidth > 0 && Holds(f, c) && Acts(f.direction, up);
  while (!p.queue.empty() && !p.blocked) {
    ProxyChunk& chunk = p.queue.front();
    if (chunk.due_us > now) {
      *next = std::min(*next, chunk.due_us);
      break;
    }
    size_t len = chunk.bytes.size() - chunk.sent;
    if (capped) {
      Refill(p, f.bandwidth, now);
      const double need = std::min(static_cast<double>(len), std::max(1.0, Burst(f.bandwidth) / 2));
      if (p.tokens < need) {  // wait for the bucket rather than write crumbs
        *next = std::min(*next, now + 1 +
                                    static_cast<int64_t>((need - p.tokens) * 1e6 /
                                                         static_cast<double>(f.bandwidth)));
        break;
      }
      len = std::min(len, static_cast<size_t>(p.tokens));
    }
    const ssize_t n = send(to, chunk.bytes.data() + chunk.sent, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        p.blocked = true;
        break;
      }
      return Abort(c, up);
    }
    chunk.sent += static_cast<size_t>(n);
    p.queued -= static_cast<size_t>(n);
    (up ? counts.bytes_upstream : counts.bytes_downstream) += n;
    if (capped) p.tokens -= static_cast<double>(n);
    if (chunk.sent == chunk.bytes.size()) p.queue.pop_front();
  }
  if (p.queue.empty() && p.eof && !p.shut) {
    shutdown(to, SHUT_WR);  // the peer's end of stream, passed on once its bytes are
    p.shut = true;
  }
}

// Every connection ends here, once. The counters move first: a peer that sees its connection
// end and asks for the counters finds the end counted.
void FaultProxy::Impl::End(ProxyConn& c, bool reset_client, bool reset_service) {
  if (c.dead) return;
  c.dead = true;
  --counts.open;
  reset_client ? CloseWithReset(c.client) : CloseFd(c.client);
  reset_service ? CloseWithReset(c.service) : CloseFd(c.service);
}

void FaultProxy::Impl::Close(ProxyConn& c) { End(c, false, false); }

void FaultProxy::Impl::Reset(ProxyConn& c) {
  if (c.dead) return;
  ++counts.reset;
  End(c, true, true);
}

// A socket failed (a reset, a broken pipe): the other peer is reset too, as a middlebox that
// loses one side would, rather than shown a clean end of stream it would take for success.
void FaultProxy::Impl::Abort(ProxyConn& c, bool service_failed) {
  End(c, service_failed, !service_failed);
}

// The service cannot be reached: the client sees its connection closed, as through any proxy
// whose backend is down.
void FaultProxy::Impl::UpstreamFailed(ProxyConn& c) {
  if (c.dead) return;
  ++counts.upstream_failed;
  End(c, false, false);
}

void FaultProxy::Impl::Reap() {
  std::erase_if(conns, [](const std::unique_ptr<ProxyConn>& c) { return c->dead; });
}

}  // namespace sluice
