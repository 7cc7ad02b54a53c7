// FaultProxy's public side (fault_proxy.h): faults checked and described, the listener bound
// and the upstream resolved at Start, and Set/Stop, which only touch shared state and ring the
// loop (proxy_loop.cc).
#include "chaos/fault_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "chaos/proxy_loop.h"
#include "common/strings.h"

namespace sluice {
namespace {

const char* DirectionName(ProxyDirection d) {
  switch (d) {
    case ProxyDirection::kUpstream:
      return "upstream";
    case ProxyDirection::kDownstream:
      return "downstream";
    case ProxyDirection::kBoth:
      break;
  }
  return "both";
}

const char* CutName(ProxyCut c) {
  switch (c) {
    case ProxyCut::kReset:
      return "reset";
    case ProxyCut::kBlackhole:
      return "blackhole";
    case ProxyCut::kRefuse:
      return "refuse";
    case ProxyCut::kNone:
      break;
  }
  return "none";
}

struct HostPort {
  std::string host;
  std::string port;
};

// "HOST:PORT" or "[IPV6]:PORT".
Result<HostPort> SplitHostPort(std::string_view what, std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || !AllDigits(text.substr(colon + 1)) ||
      text.size() - colon - 1 > 5 || std::stoi(std::string(text.substr(colon + 1))) > 65535) {
    return Fail(ErrorCode::kInvalidInput, "chaos proxy: {} {} is not HOST:PORT", what, Quote(text));
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return HostPort{std::string(host), std::string(text.substr(colon + 1))};
}

// The first address of `hp`, an IPv4 one when the name has one (a service on "localhost" most
// often listens on 127.0.0.1 only).
Result<sockaddr_storage> Resolve(std::string_view what, std::string_view text, socklen_t* len) {
  SLUICE_TRY(hp, SplitHostPort(what, text));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(hp->host.c_str(), hp->port.c_str(), &hints, &found); rc != 0) {
    return Fail(ErrorCode::kInvalidInput, "chaos proxy: cannot resolve {} {}: {}", what,
                Quote(text), gai_strerror(rc));
  }
  const addrinfo* pick = found;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  sockaddr_storage out{};
  std::memcpy(&out, pick->ai_addr, pick->ai_addrlen);
  *len = pick->ai_addrlen;
  freeaddrinfo(found);
  return out;
}

bool IsLoopback(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr) >> 24) == 127;
  }
  return a.ss_family == AF_INET6 &&
         IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr);
}

std::string FormatAddress(const sockaddr_storage& a, int* port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    *port = ntohs(in6.sin6_port);
    return fmt::format("[{}]:{}", text, *port);
  }
  const auto& in = reinterpret_cast<const sockaddr_in&>(a);
  inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
  *port = ntohs(in.sin_port);
  return fmt::format("{}:{}", text, *port);
}

// Binds and listens on `where`, a loopback address: the experiment's guard allows only ports
// it owns on this machine (issue 15), and a proxy on 0.0.0.0 would open the service to others.
Status Listen(FaultProxy::Impl& impl, const std::string& where) {
  socklen_t len = 0;
  SLUICE_TRY(addr, Resolve("--listen", where, &len));
  if (!IsLoopback(*addr)) {
    return Fail(ErrorCode::kInvalidInput,
                "chaos proxy: --listen {} is not a loopback address (127.0.0.0/8 or ::1)",
                Quote(where));
  }
  impl.listener = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (impl.listener < 0 ||
      setsockopt(impl.listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(impl.listener, reinterpret_cast<const sockaddr*>(&*addr), len) < 0 ||
      ::listen(impl.listener, SOMAXCONN) < 0) {
    return Fail(ErrorCode::kIo, "chaos proxy: cannot listen on {}: {}", where,
                std::strerror(errno));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  getsockname(impl.listener, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  impl.address = FormatAddress(bound, &impl.port);
  return {};
}

}  // namespace

Status CheckFault(const ProxyFault& f) {
  if (f.latency_ms < 0 || f.jitter_ms < 0 || f.bandwidth < 0) {
    return Fail(ErrorCode::kInvalidInput,
                "chaos proxy: latency, jitter and bandwidth cannot be negative");
  }
  if (!(f.probability >= 0.0 && f.probability <= 1.0)) {
    return Fail(ErrorCode::kInvalidInput, "chaos proxy: probability {} is not between 0 and 1",
                f.probability);
  }
  if (f.cut != ProxyCut::kNone && (f.latency_ms || f.jitter_ms || f.bandwidth)) {
    return Fail(ErrorCode::kInvalidInput,
                "chaos proxy: a {} fault takes no latency, jitter or bandwidth", CutName(f.cut));
  }
  return {};
}

std::string DescribeFault(const ProxyFault& f) {
  if (f.IsNone()) return "none";
  std::string out = f.cut != ProxyCut::kNone ? CutName(f.cut) : "";
  auto add = [&out](std::string part) {
    if (!out.empty()) out += ' ';
    out += part;
  };
  if (f.latency_ms) add("latency " + FormatDurationMs(f.latency_ms));
  if (f.jitter_ms) add("jitter " + FormatDurationMs(f.jitter_ms));
  if (f.bandwidth) add(fmt::format("bandwidth {}B/s", f.bandwidth));
  const bool directed = f.cut == ProxyCut::kNone || f.cut == ProxyCut::kBlackhole;
  if (directed && f.direction != ProxyDirection::kBoth) add(DirectionName(f.direction));
  if (f.probability < 1.0) add(fmt::format("probability {}", f.probability));
  return out;
}

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(const FaultProxyOptions& options) {
  SLUICE_TRY_STATUS(CheckFault(options.fault));
  if (options.max_connections < 1) {
    return Fail(ErrorCode::kInvalidInput, "chaos proxy: max_connections must be at least 1");
  }
  auto impl = std::make_unique<Impl>();  // its destructor closes what a failure left open
  SLUICE_TRY(upstream, Resolve("--upstream", options.upstream, &impl->upstream_len));
  impl->upstream = *upstream;
  SLUICE_TRY_STATUS(Listen(*impl, options.listen));
  impl->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake < 0) {
    return Fail(ErrorCode::kIo, "chaos proxy: eventfd: {}", std::strerror(errno));
  }
  impl->fault = options.fault;
  impl->generation = 1;
  impl->max_connections = options.max_connections;
  impl->rng.seed(options.seed != 0 ? options.seed : std::random_device{}());
  Impl* loop = impl.get();
  impl->thread = std::thread([loop] { loop->Run(); });
  return std::unique_ptr<FaultProxy>(new FaultProxy(std::move(impl)));
}

FaultProxy::FaultProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FaultProxy::~FaultProxy() { Stop(); }

std::string FaultProxy::address() const { return impl_->address; }
int FaultProxy::port() const { return impl_->port; }

Status FaultProxy::Set(const ProxyFault& fault) {
  SLUICE_TRY_STATUS(CheckFault(fault));
  std::lock_guard lock(impl_->mu);
  impl_->fault = fault;
  ++impl_->generation;
  impl_->Ring();
  return {};
}

ProxyFault FaultProxy::fault() const {
  std::lock_guard lock(impl_->mu);
  return impl_->fault;
}

ProxyCounters FaultProxy::counters() const {
  const ProxyAtomicCounters& c = impl_->counts;
  return ProxyCounters{c.accepted,         c.open,          c.bytes_upstream,
                       c.bytes_downstream, c.bytes_dropped, c.reset,
                       c.blackholed,       c.refused,       c.upstream_failed};
}

void FaultProxy::Stop() {
  std::lock_guard stop_lock(impl_->stop_mu);
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->Ring();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard lock(impl_->mu);
  if (impl_->wake >= 0) close(impl_->wake);
  impl_->wake = -1;
}

}  // namespace sluice
