// The worker's HTTP client on cpp-httplib (worker_client.h).
#include "server/worker_client.h"

#include <httplib.h>

#include <vector>

#include "common/strings.h"
#include "common/value.h"

namespace sluice {

namespace {

class HttplibClient : public WorkerClient {
 public:
  HttplibClient(const std::string& url, const std::string& token) : client_(url), token_(token) {
    client_.set_connection_timeout(5, 0);
    client_.set_keep_alive(true);
    client_.set_tcp_nodelay(true);  // a request is headers then body: no 40 ms Nagle wait
  }

  Response Send(const std::string& method, const std::string& path, const std::string& body,
                const std::string& content_type, int timeout_s) override {
    client_.set_read_timeout(timeout_s, 0);
    client_.set_write_timeout(timeout_s, 0);
    httplib::Headers headers{{"Authorization", "Bearer " + token_}};
    httplib::Result r = method == "GET"    ? client_.Get(path, headers)
                        : method == "HEAD" ? client_.Head(path, headers)
                        : method == "PUT"  ? client_.Put(path, headers, body, content_type)
                                           : client_.Post(path, headers, body, content_type);
    Response out;
    if (!r) return out;  // unreachable: status 0
    out.status = r->status;
    out.body = r->body;
    return out;
  }

 private:
  httplib::Client client_;
  std::string token_;
};

// Several servers sharing one store: any of them serves a worker's routes (its registration,
// leases and ends are in the store). A request that cannot reach the server in use goes to the
// next ones in turn, and the first that answers is used from then on, so a worker keeps its
// leases alive while one server is down.
class FailoverClient : public WorkerClient {
 public:
  explicit FailoverClient(std::vector<std::unique_ptr<WorkerClient>> servers)
      : servers_(std::move(servers)) {}

  Response Send(const std::string& method, const std::string& path, const std::string& body,
                const std::string& content_type, int timeout_s) override {
    Response r;
    for (size_t tried = 0; tried < servers_.size(); ++tried) {
      r = servers_[current_]->Send(method, path, body, content_type, timeout_s);
      if (r.reached()) return r;
      current_ = (current_ + 1) % servers_.size();
    }
    return r;
  }

 private:
  std::vector<std::unique_ptr<WorkerClient>> servers_;
  size_t current_ = 0;
};

}  // namespace

std::string WorkerClient::Response::Message() const {
  if (!reached()) return "the server cannot be reached";
  if (auto v = ParseJson(body); v && v->is_map()) {
    if (const Value* e = v->Find("error"); e && e->is_map()) {
      if (const Value* m = e->Find("message"); m && m->is_string()) return m->as_string();
    }
  }
  return fmt::format("HTTP {}: {}", status, body.substr(0, 200));
}

Result<std::unique_ptr<WorkerClient>> WorkerClient::Connect(const std::string& urls,
                                                            const std::string& token) {
  std::vector<std::unique_ptr<WorkerClient>> servers;
  for (const auto& part : Split(urls, ',')) {
    const std::string url(Trim(part));
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return Fail(ErrorCode::kInvalidInput, "--server {}: expected http://HOST:PORT or "
                  "https://HOST:PORT, or several of them separated by commas", Quote(url));
    }
    servers.push_back(std::make_unique<HttplibClient>(url, token));
  }
  if (servers.size() == 1) return std::move(servers[0]);
  return std::unique_ptr<WorkerClient>(std::make_unique<FailoverClient>(std::move(servers)));
}

}  // namespace sluice
