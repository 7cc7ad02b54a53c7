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
  std::string body;
  ApiPrincipal who;  // empty user for the routes that need no token
  // The query parameter `name`, or `fallback`.
  std::string Query(const std::string& name, const std::string& fallback = "") const;
};

// What a handler answers: a status, a body and its type (JSON unless said otherwise).
struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
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
