// A client of the HTTP API of `sluice server` (docs/api.md), for the CLI against a server
// (remote_cli.h). It sends the bearer token with every request and hands back the answer as it
// came; ErrorOfAnswer turns a refusal into the Error the CLI reports. cpp-httplib stays in
// client.cc, so that only sluice-net includes it.
//
// Not thread-safe, except Stop: one client per thread. Each request opens its connection and
// closes it (the CLI makes few of them; a follow holds one stream open).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace sluice {

// An answer of the server: its status, body and headers (names in lower case).
struct ApiAnswer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  // The header `name` (lower case), "" when absent.
  std::string Header(const std::string& name) const;
};

class ApiClient {
 public:
  // `server` is a URL ServerUrl accepted; `token` is sent as "Authorization: Bearer TOKEN".
  ApiClient(std::string server, std::string token);
  ~ApiClient();
  const std::string& server() const { return server_; }
  // A client of the same server with the same token, for another thread.
  std::unique_ptr<ApiClient> Another() const;
  // GET or POST `path` (with its query). On success returns the answer, whatever its status; on
  // failure (no connection, a timeout, TLS) returns kIo naming the server and why.
  Result<ApiAnswer> Get(const std::string& path);
  Result<ApiAnswer> Post(const std::string& path, const std::string& json_body);
  // PUT `path` with a JSON body (sluice schedule apply), as Post.
  Result<ApiAnswer> Put(const std::string& path, const std::string& json_body);
  // DELETE `path` (sluice trigger rm), as Get.
  Result<ApiAnswer> Delete(const std::string& path);
  // GET `path` with the extra `headers`, handing a 2xx answer's body to `on_data` as it arrives
  // (an event stream, a followed log) instead of keeping it. On success returns the answer once
  // it has ended (its body empty for a 2xx, the whole body otherwise, to report); on failure
  // returns kIo: no connection, the connection dropped before the answer ended, no byte for the
  // read timeout (30 s; the server's keep-alives come every 15 s at most), `on_data` returned
  // false, or Stop was called.
  Result<ApiAnswer> GetStream(const std::string& path,
                              const std::map<std::string, std::string>& headers,
                              const std::function<bool(std::string_view)>& on_data);
  // Ends the request under way, if any, from another thread: its call returns kIo at once.
  // Thread-safe.
  void Stop();

 private:
  class Impl;
  std::string server_, token_;
  std::unique_ptr<Impl> impl_;
};

// `url` as the CLI keeps it: http:// or https://, a host, an optional port, no path, query or
// credentials; a trailing "/" is dropped. On failure returns kInvalidInput saying what is wrong.
Result<std::string> ServerUrl(const std::string& url);

// The error an answer with a status of 300 or more means, for the CLI to report with the exit
// code a local command would have: 401 and 403 are refused credentials or roles (kInvalidInput,
// exit 2, as a local refusal of users.yaml is), 400 and 413 kInvalidInput, 404 kNotFound, 409
// kConflict (exit 2), the rest kIo (exit 3). The message is the server's, and for a 401 says how
// to log in again.
Error ErrorOfAnswer(const std::string& server, const ApiAnswer& a);

// `text` with every byte outside [A-Za-z0-9-._~] percent-encoded: a run id or task name in a path.
std::string PathEscape(const std::string& text);

}  // namespace sluice
