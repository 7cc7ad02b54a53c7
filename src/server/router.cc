// Routing (router.h).
#include "server/router.h"

#include "common/value.h"

namespace sluice {

std::string ApiRequest::Query(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

ApiResponse ErrorResponse(int status, std::string_view message) {
  ApiResponse r;
  r.status = status;
  r.body = Value(ValueMap{{"error", Value(ValueMap{{"status", Value(status)},
                                                   {"message", Value(std::string(message))}})}})
               .ToJson();
  return r;
}

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < path.size()) {
    if (path[at] == '/') {
      ++at;
      continue;
    }
    size_t end = path.find('/', at);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(at, end - at));
    at = end;
  }
  return out;
}

// Whether `path` fits `pattern`, filling `params` with its {named} segments.
bool Fits(std::string_view pattern, std::string_view path,
          std::map<std::string, std::string>& params) {
  auto want = Segments(pattern), got = Segments(path);
  if (want.size() != got.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].size() > 2 && want[i].front() == '{' && want[i].back() == '}') {
      found[std::string(want[i].substr(1, want[i].size() - 2))] = std::string(got[i]);
    } else if (want[i] != got[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

}  // namespace

void Router::Add(Route r) { routes_.push_back(std::move(r)); }

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match m;
  for (const Route& r : routes_) {
    std::map<std::string, std::string> params;
    if (!Fits(r.pattern, path, params)) continue;
    if (r.method == method) {
      m.route = &r;
      m.params = std::move(params);
      m.status = 200;
      m.allow.clear();
      return m;
    }
    m.status = 405;
    if (m.allow.find(r.method) == std::string::npos) {
      m.allow += (m.allow.empty() ? "" : ", ") + r.method;
    }
  }
  return m;
}

}  // namespace sluice
