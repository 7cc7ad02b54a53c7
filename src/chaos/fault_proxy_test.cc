// FaultProxy over real loopback sockets, against an echo service in this process. Timing is
// checked with lower bounds only (a loaded machine may be slower, never faster); every blocking
// read has a receive timeout so that a broken proxy fails a test instead of hanging it.
#include "chaos/fault_proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "chaos/proxy_command.h"

namespace sluice {
namespace fault_proxy_test {

using SteadyClock = std::chrono::steady_clock;

int64_t MsSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

int CountEntries(const char* dir) {
  int n = 0;
  DIR* d = opendir(dir);
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n - (std::string_view(dir) == "/proc/self/fd");  // opendir's own descriptor
}

int ListenLoopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd, 512) != 0) return -1;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// The service behind the proxy: echoes every byte back, one thread per connection, and counts
// the connections and bytes it saw.
class EchoService {
 public:
  EchoService() {
    listener_ = ListenLoopback(&port_);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~EchoService() { Stop(); }

  void Stop() {
    if (listener_ < 0) return;
    shutdown(listener_, SHUT_RDWR);  // ends the blocked accept
    acceptor_.join();
    close(listener_);
    listener_ = -1;
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  int64_t bytes() const { return bytes_; }

 private:
  void Accept() {
    for (;;) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] { Echo(fd); });
    }
  }

  void Echo(int fd) {
    char buf[65536];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      bytes_ += n;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) goto done;
        off += w;
      }
    }
  done:
    shutdown(fd, SHUT_WR);
    std::lock_guard lock(mu_);
    std::erase(fds_, fd);
    close(fd);
  }

  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::atomic<int> connections_{0};
  std::atomic<int64_t> bytes_{0};
};

// A blocking client socket with 10 s send and receive timeouts.
int Dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads exactly `n` bytes; fewer when the stream ends or fails first (errno then tells).
std::string RecvBytes(int fd, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(fd, out.data() + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

// What a read that expects the end of the connection gets: 0 for EOF, else the errno.
int ReadEnd(int fd) {
  char c;
  ssize_t r = recv(fd, &c, 1, 0);
  if (r == 0) return 0;
  return r < 0 ? errno : -1;  // -1: a byte came
}

bool QuietFor(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, ms) == 0;
}

// Sends `msg` and waits for its echo; the round trip in ms, or -1 when the echo differs.
int64_t RoundTrip(int fd, const std::string& msg) {
  auto start = SteadyClock::now();
  if (!SendAll(fd, msg) || RecvBytes(fd, msg.size()) != msg) return -1;
  return MsSince(start);
}

struct Fixture {
  EchoService service;
  std::unique_ptr<FaultProxy> proxy;

  explicit Fixture(ProxyFault fault = {}, uint64_t seed = 7) {
    FaultProxyOptions o;
    o.upstream = service.address();
    o.fault = fault;
    o.seed = seed;
    auto started = FaultProxy::Start(o);
    EXPECT_TRUE(started.has_value()) << started.error().message;
    proxy = std::move(*started);
  }
  int Dial() const { return fault_proxy_test::Dial(proxy->port()); }
};

ProxyFault Cut(ProxyCut cut, double probability = 1.0) {
  ProxyFault f;
  f.cut = cut;
  f.probability = probability;
  return f;
}

TEST(FaultProxyTest, PassesLargePayloadByteExactBothWays) {
  Fixture fx;
  std::string payload(4 << 20, '\0');
  std::mt19937 gen(1);
  for (char& c : payload) c = static_cast<char>(gen());
  int fd = fx.Dial();
  ASSERT_GE(fd, 0);
  std::thread sender([&] {
    SendAll(fd, payload);
    shutdown(fd, SHUT_WR);
  });
  std::string back = RecvBytes(fd, payload.size());
  sender.join();
  EXPECT_TRUE(back == payload) << "got " << back.size() << " of " << payload.size() << " bytes";
  EXPECT_EQ(ReadEnd(fd), 0) << "the service's end of stream is passed on";
  close(fd);
  fx.proxy->Stop();
  ProxyCounters c = fx.proxy->counters();
  EXPECT_EQ(c.accepted, 1);
  EXPECT_EQ(c.bytes_upstream, static_cast<int64_t>(payload.size()));
  EXPECT_EQ(c.bytes_downstream, static_cast<int64_t>(payload.size()));
  EXPECT_EQ(fx.service.bytes(), static_cast<int64_t>(payload.size()));
}

TEST(FaultProxyTest, LatencyDelaysEachDirection) {
  ProxyFault f;
  f.latency_ms = 150;
  Fixture fx(f);
  int fd = fx.Dial();
  EXPECT_GE(RoundTrip(fd, "ping"), 300) << "150 ms each way";
  f.direction = ProxyDirection::kDownstream;
  ASSERT_TRUE(fx.proxy->Set(f));
  EXPECT_GE(RoundTrip(fd, "pong"), 150) << "150 ms on the answers only";
  close(fd);
}

TEST(FaultProxyTest, JitterDelaysAtLeastLatencyMinusJitter) {
  ProxyFault f;
  f.latency_ms = 200;
  f.jitter_ms = 50;
  f.direction = ProxyDirection::kUpstream;
  Fixture fx(f);
  int fd = fx.Dial();
  for (int i = 0; i < 3; ++i) EXPECT_GE(RoundTrip(fd, "tick" + std::to_string(i)), 150);
  close(fd);
}

TEST(FaultProxyTest, JitterNeverReordersBytes) {
  ProxyFault f;
  f.latency_ms = 10;
  f.jitter_ms = 10;  // chunks drawing 0 to 20 ms: a later one must still wait for the earlier
  Fixture fx(f);
  int fd = fx.Dial();
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string all;
  for (int i = 0; i < 300; ++i) all += fmt::format("{:08}", i);
  std::thread sender([&] {
    for (size_t off = 0; off < all.size(); off += 8) SendAll(fd, all.substr(off, 8));
  });
  EXPECT_TRUE(RecvBytes(fd, all.size()) == all);
  sender.join();
  close(fd);
}

TEST(FaultProxyTest, BandwidthCapsTheRate) {
  ProxyFault f;
  f.bandwidth = 64 * 1024;  // bytes per second
  f.direction = ProxyDirection::kUpstream;
  Fixture fx(f);
  const std::string payload(64 * 1024, 'b');
  int fd = fx.Dial();
  auto start = SteadyClock::now();
  std::thread sender([&] { SendAll(fd, payload); });
  EXPECT_EQ(RecvBytes(fd, payload.size()).size(), payload.size());
  const int64_t ms = MsSince(start);
  sender.join();
  // 64 KiB at 64 KiB/s is 1 s; the bucket may start full, with 40 ms of the rate.
  EXPECT_GE(ms, 900);
  close(fd);
}

TEST(FaultProxyTest, ResetClosesOpenAndNewConnectionsWithRst) {
  Fixture fx;
  int open = fx.Dial();
  ASSERT_GE(RoundTrip(open, "before"), 0);
  ASSERT_TRUE(fx.proxy->Set(Cut(ProxyCut::kReset)));
  EXPECT_EQ(ReadEnd(open), ECONNRESET);
  // Counted before the RST left: a journal that reads the counters once its client saw the
  // reset finds it there.
  EXPECT_EQ(fx.proxy->counters().reset, 1);
  EXPECT_EQ(fx.proxy->counters().open, 0);
  int fresh = fx.Dial();
  ASSERT_GE(fresh, 0) << "the kernel accepts; the proxy resets";
  EXPECT_EQ(ReadEnd(fresh), ECONNRESET);
  close(open);
  close(fresh);
  fx.proxy->Stop();
  EXPECT_EQ(fx.proxy->counters().reset, 2);
  EXPECT_EQ(fx.service.connections(), 1) << "a reset connection is never dialled";
}

TEST(FaultProxyTest, BlackholeAnswersNothingUntilLifted) {
  Fixture fx(Cut(ProxyCut::kBlackhole));
  int held = fx.Dial();
  ASSERT_TRUE(SendAll(held, "lost"));
  EXPECT_TRUE(QuietFor(held, 300)) << "no byte comes back";
  EXPECT_EQ(fx.service.connections(), 0) << "the service saw nothing";
  EXPECT_EQ(fx.service.bytes(), 0);
  ASSERT_TRUE(fx.proxy->Set(ProxyFault{}));
  int fresh = fx.Dial();
  EXPECT_GE(RoundTrip(fresh, "through"), 0) << "new connections pass once lifted";
  EXPECT_GE(RoundTrip(held, "found"), 0) << "the held one is dialled; its dropped bytes are gone";
  close(held);
  close(fresh);
  fx.proxy->Stop();
  ProxyCounters c = fx.proxy->counters();
  EXPECT_EQ(c.blackholed, 1);
  EXPECT_EQ(c.bytes_dropped, 4);
  EXPECT_EQ(fx.service.bytes(), 12);  // "through" and "found"
}

TEST(FaultProxyTest, BlackholeOnOpenConnectionDropsBothWays) {
  Fixture fx;
  int fd = fx.Dial();
  ASSERT_GE(RoundTrip(fd, "hello"), 0);
  ASSERT_TRUE(fx.proxy->Set(Cut(ProxyCut::kBlackhole)));
  ASSERT_TRUE(SendAll(fd, "dropped"));
  EXPECT_TRUE(QuietFor(fd, 300));
  EXPECT_EQ(fx.service.bytes(), 5) << "only what passed before the blackhole";
  close(fd);
}

TEST(FaultProxyTest, RefuseClosesNewConnectionsAndKeepsOpenOnes) {
  Fixture fx;
  int open = fx.Dial();
  ASSERT_GE(RoundTrip(open, "up"), 0);
  ASSERT_TRUE(fx.proxy->Set(Cut(ProxyCut::kRefuse)));
  int refused = fx.Dial();
  ASSERT_GE(refused, 0);
  EXPECT_EQ(ReadEnd(refused), 0) << "closed at once";
  EXPECT_GE(RoundTrip(open, "still"), 0) << "refuse acts on new connections only";
  close(open);
  close(refused);
  fx.proxy->Stop();
  EXPECT_EQ(fx.proxy->counters().refused, 1);
  EXPECT_EQ(fx.service.connections(), 1);
}

TEST(FaultProxyTest, UnreachableServiceClosesTheClient) {
  int port = 0;
  int unused = ListenLoopback(&port);
  close(unused);  // nothing listens there now
  FaultProxyOptions o;
  o.upstream = "127.0.0.1:" + std::to_string(port);
  auto proxy = FaultProxy::Start(o);
  ASSERT_TRUE(proxy.has_value()) << proxy.error().message;
  int fd = Dial((*proxy)->port());
  EXPECT_EQ(ReadEnd(fd), 0);
  close(fd);
  (*proxy)->Stop();
  EXPECT_EQ((*proxy)->counters().upstream_failed, 1);
}

// Dials `n` connections and counts those that echo and those that do not.
std::pair<int, int> EchoedAndReset(const Fixture& fx, int n) {
  int echoed = 0, reset = 0;
  for (int i = 0; i < n; ++i) {
    int fd = fx.Dial();
    ++(RoundTrip(fd, "p") >= 0 ? echoed : reset);  // the counters tell that it was a reset
    close(fd);
  }
  return {echoed, reset};
}

TEST(FaultProxyTest, ProbabilityIsTheShareOfConnectionsHeld) {
  {
    Fixture fx(Cut(ProxyCut::kReset, 0.0));
    EXPECT_EQ(EchoedAndReset(fx, 20), std::make_pair(20, 0));
  }
  {
    Fixture fx(Cut(ProxyCut::kReset, 1.0));
    EXPECT_EQ(EchoedAndReset(fx, 20), std::make_pair(0, 20));
    fx.proxy->Stop();
    EXPECT_EQ(fx.proxy->counters().reset, 20);
  }
  {
    Fixture fx(Cut(ProxyCut::kReset, 0.5), 42);  // a fixed seed: the same draws every run
    auto [echoed, reset] = EchoedAndReset(fx, 40);
    EXPECT_EQ(echoed + reset, 40);
    EXPECT_GT(echoed, 0);
    EXPECT_GT(reset, 0);
    fx.proxy->Stop();
    EXPECT_EQ(fx.proxy->counters().reset, reset);
  }
}

TEST(FaultProxyTest, ChangingTheFaultActsOnOpenConnections) {
  Fixture fx;
  int fd = fx.Dial();
  ASSERT_GE(RoundTrip(fd, "a"), 0);
  ProxyFault slow;
  slow.latency_ms = 200;
  ASSERT_TRUE(fx.proxy->Set(slow));
  EXPECT_GE(RoundTrip(fd, "b"), 400);
  EXPECT_EQ(DescribeFault(fx.proxy->fault()), "latency 200ms");
  ASSERT_TRUE(fx.proxy->Set(Cut(ProxyCut::kReset)));
  EXPECT_EQ(ReadEnd(fd), ECONNRESET);
  close(fd);
}

TEST(FaultProxyTest, ServesHundredsOfConnectionsAtOnce) {
  Fixture fx;
  std::vector<int> fds;
  for (int i = 0; i < 300; ++i) fds.push_back(fx.Dial());
  int echoed = 0;
  for (size_t i = 0; i < fds.size(); ++i) echoed += RoundTrip(fds[i], "c" + std::to_string(i)) >= 0;
  EXPECT_EQ(echoed, 300);
  EXPECT_EQ(fx.proxy->counters().open, 300);
  for (int fd : fds) close(fd);
}

TEST(FaultProxyTest, ConnectionsBeyondTheMaximumWaitInTheBacklog) {
  EchoService service;
  FaultProxyOptions o;
  o.upstream = service.address();
  o.max_connections = 2;
  auto proxy = FaultProxy::Start(o);
  ASSERT_TRUE(proxy.has_value()) << proxy.error().message;
  int first = Dial((*proxy)->port()), second = Dial((*proxy)->port());
  ASSERT_GE(RoundTrip(first, "1"), 0);
  ASSERT_GE(RoundTrip(second, "2"), 0);
  int third = Dial((*proxy)->port());
  ASSERT_GE(third, 0) << "the kernel's backlog takes it";
  ASSERT_TRUE(SendAll(third, "3"));
  EXPECT_TRUE(QuietFor(third, 200)) << "not served while two are open";
  close(first);
  EXPECT_EQ(RecvBytes(third, 1), "3") << "served once one closed";
  close(second);
  close(third);
}

TEST(FaultProxyTest, ListensOnIpv6Loopback) {
  FaultProxyOptions o;
  EchoService service;
  o.upstream = service.address();
  o.listen = "[::1]:0";
  auto proxy = FaultProxy::Start(o);
  if (!proxy && proxy.error().message.find("cannot listen") != std::string::npos) {
    GTEST_SKIP() << "no IPv6 loopback here: " << proxy.error().message;
  }
  ASSERT_TRUE(proxy.has_value()) << proxy.error().message;
  EXPECT_EQ((*proxy)->address(), fmt::format("[::1]:{}", (*proxy)->port()));
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  a.sin6_port = htons(static_cast<uint16_t>((*proxy)->port()));
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_GE(RoundTrip(fd, "six"), 0);
  close(fd);
}

TEST(FaultProxyTest, StopClosesEveryConnectionAndLeavesNoThreadOrFd) {
  const int fds_before = CountEntries("/proc/self/fd");
  const int threads_before = CountEntries("/proc/self/task");
  {
    Fixture fx;
    std::vector<int> clients;
    for (int i = 0; i < 20; ++i) {
      clients.push_back(fx.Dial());
      ASSERT_GE(RoundTrip(clients.back(), "x"), 0);
    }
    ProxyFault slow;
    slow.latency_ms = 5000;  // bytes in flight when it stops
    ASSERT_TRUE(fx.proxy->Set(slow));
    ASSERT_TRUE(SendAll(clients[0], "pending"));
    fx.proxy->Stop();
    fx.proxy->Stop();  // idempotent
    // The first may see RST: closing a socket with unread bytes ("pending", if the loop had
    // not read them yet) resets.
    const int first = ReadEnd(clients[0]);
    EXPECT_TRUE(first == 0 || first == ECONNRESET) << first;
    for (size_t i = 1; i < clients.size(); ++i) EXPECT_EQ(ReadEnd(clients[i]), 0) << "closed";
    for (int fd : clients) close(fd);
    EXPECT_FALSE(fx.proxy->Set(Cut(ProxyCut::kRefuse, 2.0)));
    EXPECT_TRUE(fx.proxy->Set(ProxyFault{})) << "harmless after Stop";
    fx.service.Stop();
  }
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds_before);
  EXPECT_EQ(CountEntries("/proc/self/task"), threads_before);
}

TEST(FaultProxyTest, RefusesNonLoopbackListenAndBadFaults) {
  FaultProxyOptions o;
  o.upstream = "127.0.0.1:9";
  o.listen = "0.0.0.0:0";
  auto p = FaultProxy::Start(o);
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message.find("not a loopback address"), std::string::npos)
      << p.error().message;
  o.listen = "127.0.0.1:0";
  o.upstream = "no-port";
  EXPECT_FALSE(FaultProxy::Start(o).has_value());
  ProxyFault f;
  f.cut = ProxyCut::kReset;
  f.latency_ms = 10;
  EXPECT_FALSE(CheckFault(f));
  f = {};
  f.probability = 1.5;
  EXPECT_FALSE(CheckFault(f));
}

TEST(FaultProxyTest, DescribesFaults) {
  ProxyFault f;
  EXPECT_EQ(DescribeFault(f), "none");
  f.latency_ms = 100;
  f.jitter_ms = 20;
  f.direction = ProxyDirection::kDownstream;
  EXPECT_EQ(DescribeFault(f), "latency 100ms jitter 20ms downstream");
  EXPECT_EQ(DescribeFault(Cut(ProxyCut::kReset, 0.5)), "reset probability 0.5");
}

TEST(ChaosProxyCommandTest, ParsesFlags) {
  auto o = ParseChaosProxyArgs({"--upstream", "127.0.0.1:8080", "--latency", "100ms",
                                "--jitter=20ms", "--bandwidth", "10k", "--direction", "downstream",
                                "--probability", "0.25", "--seed", "3"});
  ASSERT_TRUE(o.has_value()) << o.error().message;
  EXPECT_EQ(o->listen, "127.0.0.1:0");
  EXPECT_EQ(o->upstream, "127.0.0.1:8080");
  EXPECT_EQ(o->fault.latency_ms, 100);
  EXPECT_EQ(o->fault.jitter_ms, 20);
  EXPECT_EQ(o->fault.bandwidth, 10000);
  EXPECT_EQ(o->fault.direction, ProxyDirection::kDownstream);
  EXPECT_EQ(o->fault.probability, 0.25);
  EXPECT_EQ(o->seed, 3u);
  auto b = ParseChaosProxyArgs({"--upstream", "h:1", "--blackhole"});
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->fault.cut, ProxyCut::kBlackhole);
}

TEST(ChaosProxyCommandTest, RejectsBadFlags) {
  auto msg = [](std::vector<std::string> args) {
    auto o = ParseChaosProxyArgs(args);
    return o ? std::string("(parsed)") : o.error().message;
  };
  EXPECT_EQ(msg({"--latency", "1s"}), "chaos-proxy: --upstream HOST:PORT is required");
  EXPECT_EQ(msg({"--upstream", "h:1", "--reset", "--refuse"}),
            "chaos-proxy: --refuse cannot combine with another of --reset, --blackhole, "
            "--refuse");
  EXPECT_EQ(msg({"--upstream", "h:1", "--latncy", "1s"}),
            "chaos-proxy: unknown argument \"--latncy\" (did you mean \"--latency\"?)");
  EXPECT_EQ(msg({"--upstream", "h:1", "--latency", "soon"}),
            "chaos-proxy: --latency \"soon\" is not a duration (100ms, 2s)");
  EXPECT_EQ(msg({"--upstream", "h:1", "--probability", "x"}),
            "chaos-proxy: --probability \"x\" is not a number from 0 to 1");
  EXPECT_EQ(msg({"--upstream", "h:1", "--reset", "--latency", "1s"}),
            "chaos proxy: a reset fault takes no latency, jitter or bandwidth");
  EXPECT_EQ(msg({"--upstream"}), "chaos-proxy: --upstream needs a value");
}

TEST(ChaosProxyCommandTest, ControlLinesSetWholeFaults) {
  Fixture fx;
  EXPECT_EQ(ControlLine(*fx.proxy, "--latency 100ms --direction upstream"),
            "ok latency 100ms upstream");
  EXPECT_EQ(fx.proxy->fault().latency_ms, 100);
  EXPECT_EQ(ControlLine(*fx.proxy, "  --reset   --probability 0.5 "), "ok reset probability 0.5");
  EXPECT_EQ(fx.proxy->fault().latency_ms, 0) << "a line is a whole fault";
  EXPECT_EQ(ControlLine(*fx.proxy, "--upstream 127.0.0.1:1"),
            "error chaos-proxy: --upstream cannot change while the proxy runs");
  EXPECT_EQ(fx.proxy->fault().cut, ProxyCut::kReset) << "a bad line changes nothing";
  EXPECT_EQ(ControlLine(*fx.proxy, "none"), "ok none");
  int fd = fx.Dial();
  EXPECT_GE(RoundTrip(fd, "ctl"), 0);
  close(fd);
  fx.proxy->Stop();
  EXPECT_EQ(ControlLine(*fx.proxy, "counters"),
            "{\"accepted\":1,\"open\":0,\"bytes_upstream\":3,\"bytes_downstream\":3,"
            "\"bytes_dropped\":0,\"reset\":0,\"blackholed\":0,\"refused\":0,"
            "\"upstream_failed\":0}");
}

}  // namespace fault_proxy_test
}  // namespace sluice
