// The API's routes as data: a method, a path pattern with {named} segments, the name metrics
// use, and what the route asks of the caller's role. Pure, so the table docs/server.md shows is
// the one tested, and 404 (no such path) and 405 (a path without that method) are told apart
// before any handler runs.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "access/access.h"

namespace sluice {

// A request as the handlers see it, after routing and authentication.
struct ApiRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;  // the {named} segments
  std::multimap<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased (last-event-id, ...)
  std::string body;
  ApiPrincipal who;  // empty user for the routes that need no token
  // The query parameter `name`, or `fallback`.
  std::string Query(const std::string& name, const std::string& fallback = "") const;
};

// Where a streamed answer writes (server.cc adapts the HTTP library's chunked writer). Used by
// the one thread that serves the connection.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Sends `data` at once as a chunk of the answer; false when the client is gone (then the
  // stream should end).
  virtual bool Write(std::string_view data) = 0;
  // Ends the answer as cut short: the connection closes without the last chunk, so that a
  // client sees it incomplete rather than whole (a download whose file cannot be read to its
  // end). The stream's body then returns false.
  virtual void Abort() = 0;
};

// A streamed answer's body (event streams, logs that follow): called again and again on the
// connection's thread, each call writing what is new and returning within about a second (so
// that a stopping server ends it promptly), until it returns false: the answer is complete.
using StreamBody = std::function<bool(StreamSink&)>;

// What a handler answers: a status, a body and its type (JSON unless said otherwise). With
// `stream` set the body is that stream's, sent chunked after the headers.
struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  StreamBody stream;
};
// {"error": {"status": N, "message": "..."}}: every 4xx and 5xx the API answers.
ApiResponse ErrorResponse(int status, std::string_view message);

using Handler = std::function<ApiResponse(const ApiRequest&)>;

struct Route {
  std::string method;   // GET, POST, ...
  std::string pattern;  // "/api/v1/runs/{id}"
  bool needs_token = true;
  Action action = Action::kRead;  // checked in the route's namespace
  Handler handler;
  bool namespaced = true;  // false: any valid token may (whoami)
  // A webhook trigger's route (docs/triggers.md): needs_token is false, and the handler checks
  // the trigger's own token, which the request's headers then carry ("authorization").
  bool trigger_token = false;
};

class Router {
 public:
  void Add(Route r);
  // The route for `method` and `path`, with the path's {named} segments in `params`. When none
  // matches: nullptr with `status` 404 (no route has that path) or 405 (others have it; `allow`
  // lists their methods).
  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    int status = 404;
    std::string allow;
  };
  Match Find(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace sluice
