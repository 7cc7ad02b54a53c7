// AnalysisTemplate documents (loader_analysis.cc): what they hold, Argo's defaults, and every
// refusal as one FILE:LINE:COL line.
#include <gtest/gtest.h>

#include "spec/analysis_spec.h"

namespace sluice {
namespace analysis_spec_test {

constexpr const char* kGood = R"yaml(apiVersion: sluice/v1
kind: AnalysisTemplate
metadata: {name: error-rate}
spec:
  args: [{name: version}, {name: threshold, value: "0.05"}]
  metrics:
    - name: error-ratio
      interval: 2s
      initialDelay: 1s
      count: 5
      failureLimit: 1
      successCondition: "result[0] < double(args.threshold)"
      failureCondition: "result[0] >= 2.0 * double(args.threshold)"
      provider:
        prometheus:
          address: http://127.0.0.1:9090
          query: 'sum(rate(x{version="${{ args.version }}"}[10s]))'
          timeout: 5s
    - name: up
      dryRun: true
      provider:
        web:
          url: "http://127.0.0.1:8080/${{ args.version }}/stats"
          method: POST
          headers: {X-Version: "${{ args.version }}"}
          body: '{"v": "${{ args.version }}"}'
          jsonPath: "{$.data.items[0]['up']}"
---
apiVersion: sluice/v1
kind: AnalysisTemplate
metadata: {name: smoke}
spec:
  metrics:
    - name: probe
      interval: 1s
      successCondition: result.ok == true
      provider: {command: {run: [sh, -c, "echo '{\"ok\": true}'"]}}
    - name: e2e
      provider: {job: {run: [sh, -c, "exit 0"], timeout: 90s}}
)yaml";

// A template holding one metric whose body (indented by 6) is `metric`.
std::string WithMetric(const std::string& metric, const std::string& args = "[{name: version}]") {
  return "apiVersion: sluice/v1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  args: " +
         args + "\n  metrics:\n    - name: m\n" + metric;
}

std::string ErrorOf(const std::string& text) {
  auto t = ParseAnalysisTemplates("/c/analysis.yaml", text);
  return t ? "" : t.error().message;
}

constexpr const char* kCommand = "      provider: {command: {run: [probe]}}\n";

TEST(AnalysisSpec, ReadsTemplatesWithArgoDefaults) {
  auto ts = ParseAnalysisTemplates("/c/analysis.yaml", kGood);
  ASSERT_TRUE(ts) << ts.error().message;
  ASSERT_EQ(ts->size(), 2u);
  const AnalysisTemplate& t = (*ts)[0];
  EXPECT_EQ(t.name, "error-rate");
  ASSERT_EQ(t.args.size(), 2u);
  EXPECT_FALSE(t.args[0].value) << "no value: required";
  EXPECT_EQ(*t.args[1].value, "0.05");
  const AnalysisMetric& m = t.metrics[0];
  EXPECT_EQ(m.interval_ms, 2000);
  EXPECT_EQ(m.initial_delay_ms, 1000);
  EXPECT_EQ(*m.EffectiveCount(), 5);
  EXPECT_EQ(m.failure_limit, 1);
  EXPECT_EQ(m.inconclusive_limit, 0);
  EXPECT_EQ(m.consecutive_error_limit, 4) << "Argo's default";
  EXPECT_EQ(m.provider.kind, AnalysisProvider::Kind::kPrometheus);
  EXPECT_EQ(m.provider.timeout_ms, 5000);
  EXPECT_TRUE(m.provider.query.tmpl.has_placeholders());
  EXPECT_EQ(m.success_condition->text(), "result[0] < double(args.threshold)");
  const AnalysisMetric& web = t.metrics[1];
  EXPECT_TRUE(web.dry_run);
  EXPECT_EQ(*web.EffectiveCount(), 1) << "no interval: one measurement";
  EXPECT_EQ(web.provider.method, "POST");
  ASSERT_EQ(web.provider.headers.size(), 1u);
  EXPECT_EQ(web.provider.headers[0].first, "X-Version");
  EXPECT_EQ(web.provider.timeout_ms, kDefaultWebTimeoutMs);
  auto steps = ParseJsonPath(web.provider.json_path);
  ASSERT_TRUE(steps);
  ASSERT_EQ(steps->size(), 4u);
  EXPECT_EQ((*steps)[2].index, 0);
  EXPECT_EQ((*steps)[3].key, "up");
  const AnalysisTemplate& smoke = (*ts)[1];
  EXPECT_FALSE(smoke.metrics[0].EffectiveCount()) << "interval and no count: until terminated";
  EXPECT_EQ(smoke.metrics[0].provider.kind, AnalysisProvider::Kind::kCommand);
  EXPECT_EQ(smoke.metrics[0].provider.timeout_ms, kDefaultCommandTimeoutMs);
  EXPECT_EQ(smoke.metrics[1].provider.kind, AnalysisProvider::Kind::kJob);
  EXPECT_EQ(smoke.metrics[1].provider.timeout_ms, 90'000);
  EXPECT_EQ(smoke.metrics[1].provider.run.size(), 3u);
}

TEST(AnalysisSpec, ParsesTheJsonPathSubset) {
  EXPECT_EQ(ParseJsonPath("$")->size(), 0u);
  EXPECT_EQ(ParseJsonPath("$.a.b[12][\"c d\"]")->size(), 4u);
  EXPECT_EQ((*ParseJsonPath("$.a.b[12]"))[2].index, 12);
  EXPECT_EQ(ParseJsonPath("a.b").error().message, "must start with $");
  EXPECT_EQ(ParseJsonPath("$..a").error().message, "empty name at offset 2");
  EXPECT_EQ(ParseJsonPath("$.a[*]").error().message,
            "[*] is not an index or a quoted name (this subset has $.a.b, $.a[0] and $['a b'])");
  EXPECT_EQ(ParseJsonPath("$.a[0").error().message, "unclosed [ at offset 3");
}

struct Bad {
  std::string text;
  std::string error;
};

TEST(AnalysisSpec, RefusesEachMistakeAtItsPlace) {
  const std::vector<Bad> cases = {
      {WithMetric("      provider: {}\n"),
       "/c/analysis.yaml:8:17: provider needs one of prometheus, web, command or job"},
      {WithMetric("      provider: {command: {run: [a]}, job: {run: [b]}}\n"),
       "/c/analysis.yaml:8:39: a metric has one provider, not both command and job"},
      {WithMetric("      provider: {kafka: {}}\n"),
       "/c/analysis.yaml:8:18: unknown key \"kafka\" in provider"},
      {WithMetric("      sucessCondition: result > 1\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:7: unknown key \"sucessCondition\" in a metric (did you mean "
       "\"successCondition\"?)"},
      {WithMetric("      interval: soon\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:17: interval must be a positive duration such as 30s, 5m or 1h30m"},
      {WithMetric("      count: 3\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:14: count 3 needs an interval between the measurements"},
      {WithMetric("      count: many\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:14: count must be a whole number from 1 to 1000000"},
      {WithMetric("      interval: 1s\n      count: 3\n      failureLimit: 3\n" +
                  std::string(kCommand)),
       "/c/analysis.yaml:10:21: failureLimit 3 lets all 3 measurements fail, so the metric could "
       "never fail; lower it, or use dryRun: true to only report"},
      {WithMetric("      inconclusiveLimit: 1\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:26: inconclusiveLimit 1 is not below the 1 measurement, so the metric "
       "could never be inconclusive"},
      {WithMetric("      consecutiveErrorLimit: -1\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:30: consecutiveErrorLimit must be a whole number from 0 to 1000000"},
      {WithMetric("      dryRun: maybe\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:15: dryRun must be true or false"},
      {WithMetric("      successCondition: \"result[0] <\"\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:25: successCondition: expression ends too early (in the "
       "expression, column 12)"},
      {WithMetric("      successCondition: \"result < args.version + 1\"\n" +
                  std::string(kCommand)),
       "/c/analysis.yaml:8:25: no such overload: string + int (in the expression, column 23)"},
      {WithMetric("      successCondition: \"result < double(args.versoin)\"\n" +
                  std::string(kCommand)),
       "/c/analysis.yaml:8:25: unknown arg \"versoin\": spec.args declares version (did you mean "
       "\"version\"?) (in the expression, column 17)"},
      {WithMetric("      failureCondition: \"metrics.x > 1\"\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:25: unknown name \"metrics\": conditions see result and args (in the "
       "expression, column 1)"},
      {WithMetric("      successCondition: \"${{ result > 1 }}\"\n" + std::string(kCommand)),
       "/c/analysis.yaml:8:25: successCondition is a CEL expression itself; write it without "
       "${{ }}"},
      {WithMetric("      provider: {command: {run: [probe, \"${{ args.vesion }}\"]}}\n"),
       "/c/analysis.yaml:8:41: unknown arg \"vesion\": spec.args declares version (did you mean "
       "\"version\"?) (in the placeholder, column 5)"},
      {WithMetric("      provider: {command: {run: [probe, \"${{ params.x }}\"]}}\n"),
       "/c/analysis.yaml:8:41: unknown name \"params\": placeholders of an AnalysisTemplate see "
       "args only (in the placeholder, column 5)"},
      {WithMetric("      provider: {prometheus: {address: \"http://p\", query: \"up{v='{{args.version}}'}\"}}\n"),
       "/c/analysis.yaml:8:66: {{args.version}} is Argo's placeholder; Sluice's is "
       "\"${{ args.version }}\""},
      {WithMetric("      provider: {prometheus: {address: \"127.0.0.1:9090\", query: up}}\n"),
       "/c/analysis.yaml:8:40: address \"127.0.0.1:9090\" must start with http:// or https://"},
      {WithMetric("      provider: {prometheus: {query: up}}\n"),
       "/c/analysis.yaml:8:30: prometheus needs address (e.g. http://127.0.0.1:9090) and query"},
      {WithMetric("      provider: {web: {url: \"http://x\", method: DELETE}}\n"),
       "/c/analysis.yaml:8:49: method must be GET, POST or PUT, not \"DELETE\""},
      {WithMetric("      provider: {web: {url: \"http://x\", body: \"{}\"}}\n"),
       "/c/analysis.yaml:8:47: a body needs method: POST or PUT"},
      {WithMetric("      provider: {web: {url: \"http://x\", jsonPath: \"$.a[*]\"}}\n"),
       "/c/analysis.yaml:8:51: jsonPath \"$.a[*]\": [*] is not an index or a quoted name (this "
       "subset has $.a.b, $.a[0] and $['a b'])"},
      {WithMetric("      provider: {command: {run: []}}\n"),
       "/c/analysis.yaml:8:33: run must be a non-empty list (the program and its arguments), not "
       "an empty list"},
      {WithMetric("      provider: {command: {timeout: 5s}}\n"),
       "/c/analysis.yaml:8:27: command needs run: the command as a list, e.g. [sh, -c, \"...\"]"},
      {WithMetric("      provider: {job: {run: [x], timeout: 0s}}\n"),
       "/c/analysis.yaml:8:43: timeout must be a positive duration such as 30s, 5m or 1h30m"},
      {WithMetric("      successCondition: \"result == 0\"\n      provider: {job: {run: [x]}}\n"),
       "/c/analysis.yaml:8:25: a job metric is decided by its exit status (0: Successful, else "
       "Failed); use command: for a result that conditions read"},
      {WithMetric(kCommand, "[{name: service-name}]"),
       "/c/analysis.yaml:5:17: arg name \"service-name\" must start with a letter or '_' and hold "
       "only letters, digits and '_' (conditions read it as args.NAME, where '-' subtracts)"},
      {WithMetric(kCommand, "[{name: a}, {name: a, value: x}]"),
       "/c/analysis.yaml:5:28: duplicate arg \"a\" (also at /c/analysis.yaml:5:17)"},
      {WithMetric(kCommand + std::string("    - name: m\n") + kCommand),
       "/c/analysis.yaml:9:13: duplicate metric \"m\" (also at /c/analysis.yaml:7:13)"},
      {"apiVersion: sluice/v1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec: {metrics: []}\n",
       "/c/analysis.yaml:4:17: an AnalysisTemplate needs at least one metric"},
      {"apiVersion: sluice/v1\nkind: AnalysisTemplate\nmetadata: {}\nspec: {}\n",
       "/c/analysis.yaml:3:11: an AnalysisTemplate needs metadata.name"},
      {"apiVersion: sluice/v1\nkind: Analysis\nmetadata: {name: t}\nspec: {}\n",
       "/c/analysis.yaml:2:7: kind must be AnalysisTemplate, not \"Analysis\""},
      {"apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec: {}\n",
       "/c/analysis.yaml:1:13: unsupported apiVersion \"argoproj.io/v1alpha1\"; expected sluice/v1"},
      {"apiVersion: sluice/v1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec: {dryRun: []}\n",
       "/c/analysis.yaml:4:8: unknown key \"dryRun\" in an AnalysisTemplate spec"},
      {std::string(kGood) + "---\n" + std::string(kGood).substr(0, std::string(kGood).find("---")),
       "/c/analysis.yaml:43:18: duplicate AnalysisTemplate \"error-rate\" (also at "
       "/c/analysis.yaml:3:18)"},
  };
  for (const auto& c : cases) EXPECT_EQ(ErrorOf(c.text), c.error) << c.text;
}

}  // namespace analysis_spec_test
}  // namespace sluice
