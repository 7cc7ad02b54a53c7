// `sluice server`: the control plane's HTTP/1.1 JSON API (docs/server.md, docs/api.md) on
// cpp-httplib, with TLS from OpenSSL when given a certificate. This file is the edge: it turns
// HTTP requests into ApiRequests (routing, bearer tokens, roles) and ApiResponses back, and
// counts and logs every request. The handlers are in api.cc.
//
// Threads: one per open connection, up to `max_connections` (then accepting waits for one to
// end). A fixed pool would be held by long polls and event streams and starve the short
// requests; a thread per connection costs a stack while it lives, and the cap bounds that.
#pragma once

#include <cstddef>
#include <string>

#include "env/env.h"

namespace sluice {

struct ServerOptions {
  std::string listen = "127.0.0.1:8460";  // HOST:PORT; port 0 picks a free one
  std::string state_dir;                  // the store's folder (--store sqlite:DIR)
  std::string tls_cert, tls_key;          // PEM files; both or neither
  bool json_logs = false;                 // --log-format json: one JSON object a line on stderr
  size_t max_body_bytes = 16u << 20;
  int idle_timeout_s = 60;                // keep-alive, read and write timeouts
  int max_connections = 1024;
  int lease_s = 30;  // --lease-time: how long a worker's lease lasts without a heartbeat
};

// Parses --store: "sqlite:DIR" (a state folder, as --state-dir) into `state_dir`. Other schemes
// are refused with a message naming the ones this build serves.
Status ParseStoreUrl(const std::string& url, std::string* state_dir);

// Serves until SIGINT or SIGTERM. Prints "sluice server listening on URL" on stdout once the
// port is bound. Returns the process exit code: 0 after a signal, 2 for bad options, 3 when the
// port cannot be bound or the store cannot be opened.
int RunServer(Env& env, const ServerOptions& o);

}  // namespace sluice
