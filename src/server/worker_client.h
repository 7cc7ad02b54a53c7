// The HTTP side of `sluice worker` (worker_agent.h): calls to a server's worker routes with the
// worker's bearer token. Keeps httplib out of every other file. Used by one thread.
#pragma once

#include <memory>
#include <string>

#include "common/error.h"

namespace sluice {

class WorkerClient {
 public:
  // `url`: http://HOST:PORT or https://HOST:PORT, or several of them separated by commas: the
  // servers of one store (docs/server.md), tried in turn when the one in use cannot be reached.
  // On failure (an unknown scheme) an error.
  static Result<std::unique_ptr<WorkerClient>> Connect(const std::string& url,
                                                       const std::string& token);
  virtual ~WorkerClient() = default;

  // An answer; status 0 when the server could not be reached (connection refused, timeout).
  struct Response {
    int status = 0;
    std::string body;
    bool reached() const { return status != 0; }
    // The error message of a JSON error body, or the body itself.
    std::string Message() const;
  };
  virtual Response Send(const std::string& method, const std::string& path,
                        const std::string& body = "",
                        const std::string& content_type = "application/json",
                        int timeout_s = 10) = 0;
};

}  // namespace sluice
