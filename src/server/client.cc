// The API client on cpp-httplib (client.h).
#include "server/client.h"

#include <httplib.h>

#include "common/strings.h"
#include "common/value.h"

namespace sluice {

namespace {

constexpr int kTimeoutS = 30;

}  // namespace

std::string ApiAnswer::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

class ApiClient::Impl {
 public:
  Impl(const std::string& server, const std::string& token) : client_(server) {
    client_.set_connection_timeout(kTimeoutS, 0);
    client_.set_read_timeout(kTimeoutS, 0);
    client_.set_write_timeout(kTimeoutS, 0);
    client_.set_keep_alive(false);
    client_.set_default_headers({{"Authorization", "Bearer " + token},
                                 {"User-Agent", "sluice-cli"}});
  }
  httplib::Client client_;
};

ApiClient::ApiClient(std::string server, std::string token)
    : server_(std::move(server)), token_(std::move(token)),
      impl_(std::make_unique<Impl>(server_, token_)) {}

std::unique_ptr<ApiClient> ApiClient::Another() const {
  return std::make_unique<ApiClient>(server_, token_);
}

ApiClient::~ApiClient() = default;

static Result<ApiAnswer> AnswerOf(const std::string& server, httplib::Result r) {
  if (!r) {
    return Fail(ErrorCode::kIo, "cannot reach the server at {}: {}", server,
                httplib::to_string(r.error()));
  }
  ApiAnswer a;
  a.status = r->status;
  a.body = std::move(r->body);
  for (const auto& [name, value] : r->headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    a.headers[lower] = value;
  }
  return a;
}

Result<ApiAnswer> ApiClient::Get(const std::string& path) {
  return AnswerOf(server_, impl_->client_.Get(path));
}

Result<ApiAnswer> ApiClient::Post(const std::string& path, const std::string& json_body) {
  return AnswerOf(server_, impl_->client_.Post(path, json_body, "application/json"));
}

Result<ApiAnswer> ApiClient::Put(const std::string& path, const std::string& json_body) {
  return AnswerOf(server_, impl_->client_.Put(path, json_body, "application/json"));
}

Result<ApiAnswer> ApiClient::Delete(const std::string& path) {
  return AnswerOf(server_, impl_->client_.Delete(path));
}

Result<ApiAnswer> ApiClient::GetStream(const std::string& path,
                                       const std::map<std::string, std::string>& headers,
                                       const std::function<bool(std::string_view)>& on_data) {
  httplib::Headers h(headers.begin(), headers.end());
  bool ok_status = false;
  std::string refused;  // the body of an answer that is not 2xx, for ErrorOfAnswer
  auto r = impl_->client_.Get(
      path, h,
      [&](const httplib::Response& res) {
        ok_status = res.status >= 200 && res.status < 300;
        return true;
      },
      [&](const char* data, size_t n) {
        if (!ok_status) {
          refused.append(data, n);
          return true;
        }
        return on_data(std::string_view(data, n));
      });
  SLUICE_TRY(a, AnswerOf(server_, std::move(r)));
  if (!ok_status) a->body = std::move(refused);
  return std::move(*a);
}

void ApiClient::Stop() { impl_->client_.stop(); }

Result<std::string> ServerUrl(const std::string& url) {
  std::string u = url;
  while (u.ends_with("/")) u.pop_back();
  const bool tls = u.starts_with("https://");
  if (!tls && !u.starts_with("http://")) {
    return Fail(ErrorCode::kInvalidInput, "server {}: expected http://HOST[:PORT] or "
                "https://HOST[:PORT]", Quote(url));
  }
  const std::string rest = u.substr(tls ? 8 : 7);
  if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string::npos) {
    return Fail(ErrorCode::kInvalidInput, "server {}: expected http://HOST[:PORT] or "
                "https://HOST[:PORT], without a path or credentials", Quote(url));
  }
  return u;
}

Error ErrorOfAnswer(const std::string& server, const ApiAnswer& a) {
  std::string message;
  if (auto v = ParseJson(a.body); v && v->is_map()) {
    const Value* err = v->Find("error");
    const Value* m = err && err->is_map() ? err->Find("message") : nullptr;
    if (m && m->is_string()) message = m->as_string();
  }
  if (message.empty()) message = fmt::format("the server answered {}", a.status);
  switch (a.status) {
    case 401:
      return Error(ErrorCode::kInvalidInput,
                   fmt::format("sluice: {} refused the token ({}): log in again with `sluice login "
                               "--server {}`, or set SLUICE_TOKEN", server, message, server));
    case 403:
      return Error(ErrorCode::kInvalidInput, fmt::format("sluice: {}", message));
    case 400:
    case 413: return Error(ErrorCode::kInvalidInput, message);
    case 404: return Error(ErrorCode::kNotFound, message);
    case 409: return Error(ErrorCode::kConflict, message);
    default: return Error(ErrorCode::kIo, fmt::format("{} answered {}: {}", server, a.status, message));
  }
}

std::string PathEscape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace sluice
