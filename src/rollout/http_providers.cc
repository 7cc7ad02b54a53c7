// The prometheus and web providers (providers.h): one HTTP request each on cpp-httplib, which is
// why src/rollout links only into sluice-net (the `sluice` binary never loads the library).
#include <httplib.h>

#include <cmath>
#include <cstdlib>

#include "common/strings.h"
#include "rollout/providers.h"

namespace sluice {

namespace {

// "http://host:port/a/b?c" -> {"http://host:port", "/a/b?c"}.
Result<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  const bool tls = StartsWith(url, "https://");
  if (!tls && !StartsWith(url, "http://")) {
    return Fail(ErrorCode::kInvalidInput, "{} is not an http:// or https:// URL", Quote(url));
  }
  const size_t host_at = tls ? 8 : 7;
  const size_t slash = url.find('/', host_at);
  if (slash == host_at) return Fail(ErrorCode::kInvalidInput, "{} has no host", Quote(url));
  if (slash == std::string::npos) return std::make_pair(url, std::string("/"));
  return std::make_pair(url.substr(0, slash), url.substr(slash));
}

// One metric value of Prometheus ([time, "text"]): a finite number, else "no data".
Result<double> SampleValue(const Value& sample) {
  if (!sample.is_list() || sample.as_list().size() != 2 || !sample.as_list()[1].is_string()) {
    return Fail(ErrorCode::kInvalidInput, "a sample is not [time, \"value\"]: {}", sample.ToJson());
  }
  const std::string& text = sample.as_list()[1].as_string();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0') {
    return Fail(ErrorCode::kInvalidInput, "a sample's value {} is not a number", Quote(text));
  }
  if (!std::isfinite(v)) {
    return Fail(ErrorCode::kInvalidInput, "no data: the query gave {} (NaN is 0/0, e.g. a rate "
                "over no requests; an infinity is x/0)", text);
  }
  return v;
}

}  // namespace

Result<HttpAnswer> HttpRequest(const std::string& method, const std::string& url,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, int64_t timeout_us) {
  SLUICE_TRY(parts, SplitUrl(url));
  httplib::Client client(parts->first);
  if (!client.is_valid()) return Fail(ErrorCode::kInvalidInput, "{} is not a valid URL", Quote(url));
  const time_t sec = static_cast<time_t>(timeout_us / 1'000'000);
  const time_t usec = static_cast<time_t>(timeout_us % 1'000'000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  client.set_keep_alive(false);
  httplib::Request req;
  req.method = method;
  req.path = parts->second;
  for (const auto& [name, value] : headers) req.headers.emplace(name, value);
  if (!req.headers.count("User-Agent")) req.headers.emplace("User-Agent", "sluice-analysis");
  if (!body.empty()) {
    req.body = body;
    if (!req.headers.count("Content-Type")) req.headers.emplace("Content-Type", "application/json");
  }
  auto res = client.send(req);
  if (!res) {
    return Fail(ErrorCode::kIo, "{} {}: {}", method, url, httplib::to_string(res.error()));
  }
  return HttpAnswer{res->status, std::move(res->body)};
}

Result<Value> PrometheusResult(std::string_view body) {
  auto doc = ParseJson(body);
  if (!doc || !doc->is_map()) {
    return Fail(ErrorCode::kInvalidInput, "Prometheus's answer is not a JSON object{}",
                doc ? "" : ": " + doc.error().message);
  }
  const Value* status = doc->Find("status");
  if (!status || !status->is_string() || status->as_string() != "success") {
    const Value* type = doc->Find("errorType");
    const Value* error = doc->Find("error");
    return Fail(ErrorCode::kInvalidInput, "Prometheus refused the query: {}: {}",
                type ? type->ToText() : "?", error ? error->ToText() : body);
  }
  const Value* data = doc->Find("data");
  const Value* type = data && data->is_map() ? data->Find("resultType") : nullptr;
  const Value* result = data && data->is_map() ? data->Find("result") : nullptr;
  if (!type || !type->is_string() || !result) {
    return Fail(ErrorCode::kInvalidInput, "Prometheus's answer has no data.resultType and data.result");
  }
  const std::string& t = type->as_string();
  if (t == "scalar") {
    SLUICE_TRY(v, SampleValue(*result));
    return Value(*v);
  }
  if (t == "string") {
    if (!result->is_list() || result->as_list().size() != 2) {
      return Fail(ErrorCode::kInvalidInput, "a string result is not [time, \"text\"]");
    }
    return result->as_list()[1];
  }
  if (t != "vector") {
    return Fail(ErrorCode::kInvalidInput, "the query gave a {}; analysis needs an instant vector "
                "or a scalar (no [range] outside a function such as rate())", t);
  }
  if (!result->is_list() || result->as_list().empty()) {
    return Fail(ErrorCode::kInvalidInput, "no data: the query matched no series (an empty "
                "vector: a version with no traffic, a counter not yet created, a wrong label)");
  }
  ValueList out;
  for (const auto& series : result->as_list()) {
    const Value* sample = series.is_map() ? series.Find("value") : nullptr;
    if (!sample) return Fail(ErrorCode::kInvalidInput, "a series has no value: {}", series.ToJson());
    SLUICE_TRY(v, SampleValue(*sample));
    out.push_back(Value(*v));
  }
  return Value(std::move(out));
}

Result<Value> SelectJsonPath(const Value& v, const std::vector<JsonPathStep>& path) {
  const Value* at = &v;
  std::string where = "$";
  for (const auto& step : path) {
    if (step.index >= 0) {
      where += fmt::format("[{}]", step.index);
      if (!at->is_list() || static_cast<size_t>(step.index) >= at->as_list().size()) {
        return Fail(ErrorCode::kInvalidInput, "no data: {} is not in the answer", where);
      }
      at = &at->as_list()[static_cast<size_t>(step.index)];
    } else {
      where += "." + step.key;
      const Value* next = at->is_map() ? at->Find(step.key) : nullptr;
      if (!next) return Fail(ErrorCode::kInvalidInput, "no data: {} is not in the answer", where);
      at = next;
    }
  }
  if (at->is_null()) return Fail(ErrorCode::kInvalidInput, "no data: {} is null", where);
  return *at;
}

Result<Value> MeasurePrometheus(const ResolvedProvider& p) {
  std::string address = p.address;
  while (address.ends_with("/")) address.pop_back();
  const std::string url = address + "/api/v1/query?" +
                          httplib::detail::params_to_query_str({{"query", p.query}});
  SLUICE_TRY(answer, HttpRequest("GET", url, {}, "", p.timeout_us));
  // Prometheus answers 400 and 422 with a JSON error that says what is wrong with the query.
  if (answer->status != 200 && answer->status != 400 && answer->status != 422) {
    return Fail(ErrorCode::kIo, "Prometheus at {} answered HTTP {}", address, answer->status);
  }
  return PrometheusResult(answer->body);
}

Result<Value> MeasureWeb(const ResolvedProvider& p) {
  SLUICE_TRY(answer, HttpRequest(p.method, p.url, p.headers, p.body, p.timeout_us));
  if (answer->status < 200 || answer->status >= 300) {
    return Fail(ErrorCode::kIo, "{} {} answered HTTP {}", p.method, p.url, answer->status);
  }
  auto doc = ParseJson(answer->body);
  if (!doc) {
    return Fail(ErrorCode::kInvalidInput, "the answer of {} is not JSON: {}", p.url,
                doc.error().message);
  }
  return SelectJsonPath(*doc, p.json_path);
}

}  // namespace sluice
