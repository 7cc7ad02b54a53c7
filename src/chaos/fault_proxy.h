// The dependency fault proxy of chaos experiments (issue 15, docs/chaos-proxy.md): a TCP proxy
// on a loopback port, placed between a pipeline and a service it calls, that adds latency and
// jitter, caps bandwidth, resets, blackholes or refuses connections while an experiment's fault
// is in force. Debian has no toxiproxy; the faults follow its model (toxics, toxicity) without
// its HTTP API: the experiment drives a FaultProxy in its own process, or runs
// `sluice-net chaos-proxy` (proxy_command.h).
//
// Design: one thread runs a poll(2) loop over the listener, every connection's two sockets and
// an eventfd that Set() and Stop() ring. Each direction of a connection is a queue of chunks
// with the time each is due (latency) and a token bucket (bandwidth), so a delayed or throttled
// byte never holds the thread: the loop sleeps in poll until the next socket event or the next
// due time. Rejected: a thread per connection (a few hundred connections are asked for, and
// changing the fault would have to reach every thread), and toxiproxy's chain of goroutines per
// toxic (a chain is only needed for stacking many toxics; a fault here is one set of knobs).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"

namespace sluice {

// Which bytes a latency, bandwidth or blackhole fault acts on. Upstream is the client's bytes
// towards the service, downstream the service's answers (toxiproxy's words).
enum class ProxyDirection { kBoth, kUpstream, kDownstream };

// What a fault does to the connections it holds beyond shaping their bytes.
enum class ProxyCut {
  kNone,
  kReset,      // open and new connections are closed with RST (SO_LINGER 0), both sides
  kBlackhole,  // bytes are read and dropped, nothing answered, until lifted or closed
  kRefuse,     // new connections are closed at once, the service never dialled
};

// The fault in force. The default value is no fault. Shaping (latency, jitter, bandwidth) and a
// cut do not combine (CheckFault).
struct ProxyFault {
  int64_t latency_ms = 0;  // added to each chunk of bytes read, in `direction`
  int64_t jitter_ms = 0;   // each chunk's delay is latency_ms + uniform(-jitter_ms, +jitter_ms)
  int64_t bandwidth = 0;   // bytes per second in `direction`, a token bucket; 0: no cap
  ProxyDirection direction = ProxyDirection::kBoth;
  ProxyCut cut = ProxyCut::kNone;
  // The share of connections the fault holds (toxiproxy's toxicity). Each connection draws a
  // number u in [0, 1) when it is accepted and the fault holds it while u < probability, so a
  // new fault with the same probability holds the same connections, and 0.5 holds about half
  // of the new ones.
  double probability = 1.0;

  bool IsNone() const {
    return latency_ms == 0 && jitter_ms == 0 && bandwidth == 0 && cut == ProxyCut::kNone;
  }
};

// On success nothing; on failure an kInvalidInput error naming the bad field (negative values,
// a probability outside [0, 1], a cut combined with latency or bandwidth).
Status CheckFault(const ProxyFault& f);

// One line for journals and logs: "none", "latency 100ms jitter 20ms downstream",
// "bandwidth 10000B/s", "reset probability 0.5".
std::string DescribeFault(const ProxyFault& f);

// What the proxy has done since it started; a snapshot (FaultProxy::counters).
struct ProxyCounters {
  int64_t accepted = 0;          // connections accepted on the listener
  int64_t open = 0;              // connections open now
  int64_t bytes_upstream = 0;    // bytes forwarded client -> service
  int64_t bytes_downstream = 0;  // bytes forwarded service -> client
  int64_t bytes_dropped = 0;     // bytes read and discarded by a blackhole
  int64_t reset = 0;             // connections closed with RST by a reset fault
  int64_t blackholed = 0;        // connections a blackhole took hold of (each once per fault)
  int64_t refused = 0;           // connections closed at once by a refuse fault
  int64_t upstream_failed = 0;   // connections closed because the service could not be reached
};

struct FaultProxyOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT on a loopback address; port 0: any free one
  std::string upstream;                // HOST:PORT of the service, resolved once at Start
  ProxyFault fault;                    // in force from the start
  uint64_t seed = 0;                   // of the probability draws and jitter; 0: from the OS
  int max_connections = 1000;          // beyond, new connections wait in the listen backlog
};

// A running proxy. Owned by whoever started it; every method is thread-safe, and none waits
// for network I/O (Stop waits for the loop thread to end its turn).
class FaultProxy {
 public:
  // Binds the listener, resolves the upstream and starts the loop thread. On failure (a
  // listen address that is not loopback, a port in use, an upstream that does not resolve, a
  // bad fault) an error, and nothing is left open.
  static Result<std::unique_ptr<FaultProxy>> Start(const FaultProxyOptions& options);

  ~FaultProxy();  // Stop()
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // The bound listen address, "127.0.0.1:41234" ("[::1]:41234" for IPv6), and its port.
  std::string address() const;
  int port() const;

  // Puts `fault` in force for open and new connections from the loop's next turn. On a bad
  // fault an error, and the fault in force stays.
  Status Set(const ProxyFault& fault);
  ProxyFault fault() const;
  ProxyCounters counters() const;

  // Closes the listener and every connection and joins the loop thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit FaultProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
