// The inside of FaultProxy (fault_proxy.h): the state its loop thread owns and the state it
// shares with Set() and Stop(). Only fault_proxy.cc and proxy_loop.cc include this.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chaos/fault_proxy.h"

namespace sluice {

// Bytes read from one socket and not yet written to the other, with the time they may go.
struct ProxyChunk {
  std::string bytes;
  size_t sent = 0;
  // Monotonic. The queue is written from its front only, so a chunk whose jitter made it due
  // before the one ahead of it waits for that one: bytes never reorder.
  int64_t due_us = 0;
};

// One direction of a connection.
struct ProxyPipe {
  std::deque<ProxyChunk> queue;
  size_t queued = 0;     // bytes in `queue` not yet written
  bool eof = false;      // the reading side ended its stream (read returned 0)
  bool shut = false;     // the writing side was shut down (SHUT_WR) once the queue drained
  bool blocked = false;  // the last write would block: wait for POLLOUT
  bool held = false;     // a blackhole holds this direction: what is read is dropped
  double tokens = 0;     // the bandwidth bucket, in bytes
  int64_t refill_us = -1;
};

struct ProxyConn {
  int client = -1;   // the accepted socket
  int service = -1;  // the socket to the upstream; -1 until dialled
  bool connecting = false;
  bool dead = false;  // both sockets closed; removed at the end of the turn
  double draw = 0;    // uniform [0, 1): the fault holds this connection while draw < probability
  ProxyPipe up;       // client -> service
  ProxyPipe down;     // service -> client
};

struct ProxyAtomicCounters {
  std::atomic<int64_t> accepted{0}, open{0}, bytes_upstream{0}, bytes_downstream{0},
      bytes_dropped{0}, reset{0}, blackholed{0}, refused{0}, upstream_failed{0};
};

struct FaultProxy::Impl {
  // Set by Start, then read-only.
  int listener = -1;
  sockaddr_storage upstream{};
  socklen_t upstream_len = 0;
  std::string address;
  int port = 0;
  int max_connections = 1000;

  // Shared with Set() and Stop(), under `mu`. `wake` is an eventfd that they ring so that the
  // loop leaves poll; it is closed by Stop once the loop has ended.
  mutable std::mutex mu;
  ProxyFault fault;
  uint64_t generation = 0;  // bumped by each Set, so the loop applies a fault once
  bool stopping = false;
  int wake = -1;
  std::mutex stop_mu;  // serializes Stop() callers around the join
  std::thread thread;

  ProxyAtomicCounters counts;

  // The loop thread's own.
  std::mt19937_64 rng;
  std::vector<std::unique_ptr<ProxyConn>> conns;
  int64_t accept_paused_until = 0;  // after EMFILE: accepting again would spin
  std::vector<char> buffer;

  ~Impl();
  void Ring();  // REQUIRES: mu held
  void Run();   // the loop thread's body; returns once `stopping` is seen, all sockets closed

 private:
  bool Refresh(ProxyFault& f, uint64_t& seen);
  bool Holds(const ProxyFault& f, const ProxyConn& c) const;
  void Apply(const ProxyFault& f, ProxyConn& c, bool is_new);
  void Connect(ProxyConn& c);
  void AcceptAll(const ProxyFault& f, int64_t now);
  void Handle(const ProxyFault& f, ProxyConn& c, bool service_side, short revents, int64_t now);
  void Read(const ProxyFault& f, ProxyConn& c, bool service_side, int64_t now);
  void Pump(const ProxyFault& f, ProxyConn& c, int64_t now, int64_t* next);
  void Flush(const ProxyFault& f, ProxyConn& c, bool up, int64_t now, int64_t* next);
  int64_t Delay(const ProxyFault& f, const ProxyConn& c, bool up);
  void End(ProxyConn& c, bool reset_client, bool reset_service);
  void Close(ProxyConn& c);
  void Reset(ProxyConn& c);
  void Abort(ProxyConn& c, bool service_failed);
  void UpstreamFailed(ProxyConn& c);
  void Reap();
};

}  // namespace sluice
