// The worker's HTTP client on cpp-httplib (worker_client.h).
#include "server/worker_client.h"

#include <httplib.h>

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

Result<std::unique_ptr<WorkerClient>> WorkerClient::Connect(const std::string& url,
                                                            const std::string& token) {
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return Fail(ErrorCode::kInvalidInput, "--server {}: expected http://HOST:PORT or "
                "https://HOST:PORT", Quote(url));
  }
  return std::unique_ptr<WorkerClient>(std::make_unique<HttplibClient>(url, token));
}

}  // namespace sluice
