// The real metric providers (analysis.h's MetricProvider), one function a kind, and the pure
// parts of reading their answers, which the unit tests call directly. Internal to src/rollout.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "rollout/analysis.h"

namespace sluice {

class Env;

// An HTTP answer: its status and body.
struct HttpAnswer {
  int status = 0;
  std::string body;
};

// Sends one request to `url` (http:// or https://, with an optional path and query) and waits
// at most about `timeout_us` for each of connecting, sending and receiving. Fails when the
// server cannot be reached or does not answer in time, with the reason.
Result<HttpAnswer> HttpRequest(const std::string& method, const std::string& url,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, int64_t timeout_us);

// Prometheus's answer to an instant query as `result`: a vector is a list of numbers (in the
// answer's order), a scalar a number, a string a string. An empty vector, NaN, +Inf and -Inf
// fail as "no data" (docs/rollouts.md, "kind: AnalysisTemplate"), as do an answer with status "error" and a range vector.
Result<Value> PrometheusResult(std::string_view body);

// The part of `v` that `path` selects; fails ("no data") when a step finds nothing.
Result<Value> SelectJsonPath(const Value& v, const std::vector<JsonPathStep>& path);

Result<Value> MeasurePrometheus(const ResolvedProvider& p);
Result<Value> MeasureWeb(const ResolvedProvider& p);
// Runs the command through `env` (RunCommand); its standard output, JSON, is the result.
Result<Value> MeasureCommand(Env& env, const ResolvedProvider& p);
// Runs the job through `env`; the result is {"exitCode": N, "timedOut": B, "signal": N, "output":
// the end of what it printed}.
Result<Value> MeasureJob(Env& env, const ResolvedProvider& p);

}  // namespace sluice
