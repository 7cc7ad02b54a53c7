// `sluice server`: the control plane's HTTP/1.1 JSON API (docs/server.md, docs/api.md) on
// cpp-httplib, with TLS from OpenSSL when given a certificate. This file is the edge: it turns
// HTTP requests into ApiRequests (routing, bearer tokens, roles) and ApiResponses back, and
// counts and logs every request. The handlers are in api.cc.
//
// Threads: one per open connection, up to `max_connections` (then accepting waits for one to
// end). A fixed pool would be held by long polls and event streams and starve the short
// requests; a thread per connection costs a stack while it lives, and the cap bounds that.
// Streamed answers (event streams, logs that follow) hold their connection's thread for as long
// as they last, so at most `max_streams` of them are open at once (one more is a 503 with
// Retry-After): `max_streams` < `max_connections`, and the rest always serve requests.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "env/env.h"

namespace sluice {

struct ServerOptions {
  std::string listen = "127.0.0.1:8460";  // HOST:PORT; port 0 picks a free one
  std::string state_dir;                  // runs' folders, bundles, artifacts; the SQLite store
  std::string store;                      // a PostgreSQL store's URL; "" = the state folder's
  std::string tls_cert, tls_key;          // PEM files; both or neither
  bool json_logs = false;                 // --log-format json: one JSON object a line on stderr
  size_t max_body_bytes = 16u << 20;
  int idle_timeout_s = 60;                // keep-alive, read and write timeouts
  int max_connections = 1024;
  int max_streams = 256;  // streamed answers open at once; fewer than max_connections
  // Store handles the requests share (store_pool.h): at most this many are open, and a request
  // that waits longer than store_wait_s for one gets 503 with Retry-After.
  int store_handles = 8;
  int store_wait_s = 5;
  int ui_session_hours = 12;  // --ui-session-hours: how long a web UI login lasts (docs/ui.md)
  int lease_s = 30;  // --lease-time: how long a worker's lease lasts without a heartbeat
  int64_t retention_us = 0;  // --retention: the leader prunes runs finished longer ago; 0 = never
  std::map<std::string, int64_t> retention_by_ns;  // --retention NS=D: a namespace's own (0: never)
};

// Parses --store: "sqlite:DIR" (a state folder, as --state-dir) into `o.state_dir`, a
// postgresql:// (postgres://) URL into `o.store`. Other schemes are refused with a message
// naming those this build serves.
Status ParseStoreUrl(const std::string& url, ServerOptions& o);
// Parses the --retention values: "D" (a duration, 30d) into `o.retention_us`, "NS=D" into
// `o.retention_by_ns` (D "never": that namespace's runs are kept). kInvalidInput naming a bad one.
Status ParseRetention(const std::vector<std::string>& values, ServerOptions& o);

// Serves until SIGINT or SIGTERM. Prints "sluice server listening on URL" on stdout once the
// port is bound. Returns the process exit code: 0 after a signal, 2 for bad options, 3 when the
// port cannot be bound or the store cannot be opened.
int RunServer(Env& env, const ServerOptions& o);

// `sluice server --routes`: prints the API's route table as JSON, [{"method", "path", "needs"}],
// where needs is "none", "any token" (each item is checked against the token's namespaces) or
// the action the token's role must allow (read, submit, operate, approve, admin). Returns 0.
int PrintRoutes(Env& env);

}  // namespace sluice
