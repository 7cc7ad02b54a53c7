// `kind: AnalysisTemplate` (docs/rollouts.md, "kind: AnalysisTemplate"): the metrics a rollout measures to decide whether a
// candidate is healthy, with Argo Rollouts' fields and defaults. Like Environments, templates are
// central configuration (the state folder's, later the server's), never read from the pipeline
// being promoted. Reading only: src/rollout/analysis.h runs them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "expr/expr.h"

namespace sluice {

class Reader;
class YNode;

// A text of a provider that may hold `${{ args.NAME }}` placeholders, rendered when the analysis
// starts; `loc` is where it was written.
struct AnalysisText {
  Template tmpl;
  Location loc;
};

// Argo's `args`: every value is a string. No `value` = the rollout must give one.
struct AnalysisArg {
  std::string name;
  std::optional<std::string> value;
  Location loc;
};

// Where a metric's result comes from; exactly one provider per metric.
struct AnalysisProvider {
  enum class Kind { kPrometheus, kWeb, kCommand, kJob };
  Kind kind = Kind::kCommand;
  // prometheus: an instant query (GET ADDRESS/api/v1/query).
  AnalysisText address, query;
  // web: an HTTP request whose JSON answer, or the part json_path selects, is the result.
  AnalysisText url;
  std::string method = "GET";
  std::vector<std::pair<std::string, AnalysisText>> headers;
  std::optional<AnalysisText> body;
  std::string json_path;  // "$.data.ratio"; "" = the whole answer
  // command (its standard output is JSON, the result) and job (its exit status decides).
  std::vector<AnalysisText> run;
  int64_t timeout_ms = 0;
};

// The defaults when a metric does not say: Argo Rollouts'.
constexpr int kDefaultConsecutiveErrorLimit = 4;
constexpr int64_t kDefaultPrometheusTimeoutMs = 10'000;
constexpr int64_t kDefaultWebTimeoutMs = 10'000;
constexpr int64_t kDefaultCommandTimeoutMs = 30'000;
constexpr int64_t kDefaultJobTimeoutMs = 600'000;

struct AnalysisMetric {
  std::string name;
  Location loc;                  // of its name
  int64_t interval_ms = 0;       // 0: not given
  int64_t initial_delay_ms = 0;  // 0: none
  std::optional<int> count;
  int failure_limit = 0;
  int inconclusive_limit = 0;
  int consecutive_error_limit = kDefaultConsecutiveErrorLimit;
  // CEL over `result` and `args`; null when not given. A job metric has neither.
  std::shared_ptr<const Expression> success_condition, failure_condition;
  bool dry_run = false;
  AnalysisProvider provider;

  // How many measurements end the metric (Argo's EffectiveCount): `count`, else 1 when there is
  // no interval; nullopt (a metric with an interval and no count) runs until terminated.
  std::optional<int> EffectiveCount() const {
    if (count) return count;
    if (interval_ms == 0) return 1;
    return std::nullopt;
  }
};

struct AnalysisTemplate {
  std::string name;
  Location loc;  // of metadata.name
  std::vector<AnalysisArg> args;
  std::vector<AnalysisMetric> metrics;
};

// One step of a JSON path: a member `key`, or the item at `index` (>= 0) of a list.
struct JsonPathStep {
  std::string key;
  int64_t index = -1;
};

// The JSONPath subset a web metric's jsonPath may use: `$`, `.name`, `['name']`, `[0]`, with
// Argo's optional braces (`{$.data.ratio}`). Fails with what is wrong and where.
Result<std::vector<JsonPathStep>> ParseJsonPath(std::string_view path);

// A `provider:` block as AnalysisTemplates write it, whose placeholders see `args` (chaos
// experiments' metric probes read theirs so).
Status ReadAnalysisProvider(const Reader& r, const YNode& n, const std::vector<std::string>& args,
                            AnalysisProvider* p);

// Reads one parsed document of kind AnalysisTemplate with `r` (its source set, for locations).
// Unknown keys, wrong types, a provider missing or doubled, a condition that does not parse or
// type-check as CEL over `result` and `args`, a placeholder that names an undeclared arg, and
// limits that can never be reached fail with one FILE:LINE:COL line.
Result<AnalysisTemplate> ReadAnalysisTemplate(const Reader& r, const YNode& doc);

// Parses the text of a file at `path` holding one or more AnalysisTemplate documents (each of
// that kind, names unique). Errors as ReadAnalysisTemplate's.
Result<std::vector<AnalysisTemplate>> ParseAnalysisTemplates(const std::string& path,
                                                             std::string_view text);

}  // namespace sluice
