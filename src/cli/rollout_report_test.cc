// The rollout report page (rollout_report.h): self-contained, a chart per metric with its
// thresholds, the weight steps and decisions on every chart, data escaped, tags balanced.
#include "cli/rollout_report.h"
#include "cli/rollout_views.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "spec/environment_spec.h"

namespace sluice {
namespace rollout_report_test {

constexpr const char* kHostile = "</svg><script>alert(1)</script>";
constexpr int64_t kStart = 1'765'000'000'000'000;  // µs
constexpr int64_t kSecond = 1'000'000;

Value Entry(int64_t s, const char* kind, int64_t weight, const std::string& message) {
  return Value(ValueMap{{"us", Value(kStart + s * kSecond)}, {"kind", Value(kind)},
                        {"weight", Value(weight)}, {"message", Value(message)}});
}

MeasurementRow Measure(int64_t seq, int64_t s, const std::string& tmpl, const std::string& metric,
                       const char* phase, const std::string& value,
                       const std::string& message = "") {
  MeasurementRow m;
  m.run_id = "r1";
  m.task = "deploy";
  m.seq = seq;
  m.analysis = "step 2";
  m.template_name = tmpl;
  m.metric = metric;
  m.phase = phase;
  m.value = value;
  m.message = message;
  m.started_us = kStart + s * kSecond - 200'000;
  m.finished_us = kStart + s * kSecond;
  return m;
}

// An aborted canary: 25 %, an analysis that failed on its second measurement (the third errored
// first), back to 0 %, with `text` in every place data reaches the page.
Value AbortedRollout(const std::string& text = "fine") {
  RolloutRow r;
  r.run_id = "r1";
  r.task = "deploy";
  r.environment = "staging";
  r.phase = "Degraded";
  r.message = "analysis step 2 failed: " + text;
  r.step = 2;
  r.started_us = kStart;
  r.updated_us = kStart + 60 * kSecond;
  ValueList timeline{Entry(2, "weight", 25, "green takes 25 % (generation 2)"),
                     Entry(20, "pause", 25, "paused 10s"),
                     Entry(40, "analysis", 25, "step 2: Failed " + text),
                     Entry(41, "weight", 0, "green takes 0 % (generation 3)"),
                     Entry(41, "abort", 0, "analysis step 2 failed: " + text)};
  r.data = Value(ValueMap{{"version", Value("v2 " + text)}, {"canarySlot", Value("green")},
                          {"digest", Value("ab12cd34ef56ab12cd34")},
                          {"stableVersion", Value("v1")}, {"stableSlot", Value("blue")},
                          {"weight", Value(int64_t{0})}, {"timeline", Value(timeline)}})
               .ToJson();
  std::vector<MeasurementRow> ms{
      Measure(1, 30, "error-rate", "ratio", "Successful", "[0.01]"),
      Measure(2, 33, "error-rate", "ratio", "Error", "null", text),
      Measure(3, 36, "error-rate", "ratio", "Failed", "[0.2]", "successCondition does not hold"),
      Measure(4, 30, "up", "up", "Successful", "1")};
  return RolloutJson(r, ms);
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

// "" when every tag is closed in order (void ones written <x/>), every `<` starts a tag and
// every `&` a reference the page uses; else what is wrong.
std::string CheckWellFormed(const std::string& html) {
  for (size_t i = html.find('&'); i != std::string::npos; i = html.find('&', i + 1)) {
    bool known = false;
    for (const char* ref : {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"}) {
      known = known || html.compare(i, std::string(ref).size(), ref) == 0;
    }
    if (!known) return "a bare & at " + std::to_string(i);
  }
  std::vector<std::string> open;
  for (size_t i = html.find('<'); i != std::string::npos; i = html.find('<', i + 1)) {
    if (html.compare(i, 9, "<!DOCTYPE") == 0) continue;
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return "a tag without its > at " + std::to_string(i);
    const std::string tag = html.substr(i + 1, end - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool empty = !tag.empty() && tag.back() == '/';
    const size_t from = closing ? 1 : 0;
    const size_t stop = tag.find_first_of(" /\n", from);
    const std::string name = tag.substr(from, stop == std::string::npos ? stop : stop - from);
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) {
      return "a stray < at " + std::to_string(i);
    }
    if (closing) {
      if (open.empty() || open.back() != name) {
        return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
      }
      open.pop_back();
    } else if (!empty) {
      open.push_back(name);
    }
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

const ConditionMap kConditions{{"error-rate/ratio", {"result[0] < 0.05", "result[0] >= 0.2"}},
                               {"up/up", {"result == double(args.one)", ""}}};

TEST(RolloutReport, LoadsNothingFromTheNetworkOrAnywhere) {
  const std::string html = RolloutReportHtml(AbortedRollout(), kConditions);
  for (const char* ref : {"http://", "https://", "src=", "href=", "url(", "@import", "<link",
                          "<script", "<iframe", "<img"}) {
    EXPECT_EQ(html.find(ref), std::string::npos) << ref;
  }
  EXPECT_EQ(CheckWellFormed(html), "");
}

TEST(RolloutReport, DrawsAChartForEachMetricBesidesTheWeights) {
  const std::string html = RolloutReportHtml(AbortedRollout(), kConditions);
  EXPECT_EQ(Count(html, "<svg "), 3u);  // weights, error-rate/ratio, up/up
  EXPECT_EQ(Count(html, "</svg>"), 3u);
  EXPECT_NE(html.find("<h3>error-rate/ratio</h3>"), std::string::npos);
  EXPECT_NE(html.find("<h3>up/up</h3>"), std::string::npos);
  // Three measured points and one Error on the axis for ratio, one point for up.
  EXPECT_EQ(Count(html, "<circle cx="), 3u + 2u /* the weight chart's steps */);
  EXPECT_EQ(Count(html, "class=\"novalue\""), 1u);
  // The table lists every measurement, and the timeline every entry.
  EXPECT_NE(html.find("<code>[0.2]</code>"), std::string::npos);
  EXPECT_NE(html.find("<b>Aborted:</b> analysis step 2 failed: fine"), std::string::npos);
}

TEST(RolloutReport, MarksASimpleComparisonAsAThresholdLineAndShowsTheRestAsText) {
  const std::string html = RolloutReportHtml(AbortedRollout(), kConditions);
  EXPECT_EQ(Count(html, "class=\"threshold\""), 2u);
  EXPECT_NE(html.find("stroke-dasharray=\"6 4\"/><text x=\"696.0\" y=\"153.5\" fill=\"#2e7d32\" "
                      "text-anchor=\"end\">success: result[0] &lt; 0.05</text>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find(">failure: result[0] &gt;= 0.2</text>"), std::string::npos);
  EXPECT_NE(html.find("<code>result == double(args.one)</code> (not a comparison"),
            std::string::npos);
  // Without the conditions (a template since removed) the chart says so and draws no line.
  const std::string bare = RolloutReportHtml(AbortedRollout(), {});
  EXPECT_EQ(Count(bare, "class=\"threshold\""), 0u);
  EXPECT_EQ(Count(bare, "no longer in STATE/environments"), 2u);
}

TEST(RolloutReport, PutsTheWeightStepsAndDecisionsOnEveryChart) {
  const std::string html = RolloutReportHtml(AbortedRollout(), kConditions);
  EXPECT_EQ(Count(html, "class=\"weight\""), 3u);
  // 0 % until 2s, 25 % until 41s, then 0 %, over a 60s axis from x=64 to 700.
  EXPECT_NE(html.find("class=\"weight\" d=\"M64.0 206.0H85.2V157.5H498.6V206.0H700.0\""),
            std::string::npos) << html;
  EXPECT_EQ(Count(html, "class=\"decision\""), 3u * 3u);  // pause, analysis, abort on each
  EXPECT_EQ(Count(html, ">#2 pause</text>"), 3u);
  EXPECT_EQ(Count(html, ">#3 analysis</text>"), 3u);
  EXPECT_EQ(Count(html, ">#5 abort</text>"), 3u);
  EXPECT_NE(html.find("stroke=\"#c62828\" stroke-width=\"1.5\" stroke-dasharray=\"2 2\""),
            std::string::npos);  // the failed analysis and the abort in red
}

TEST(RolloutReport, EscapesEveryTextThatComesFromTheData) {
  RolloutRow r;
  r.run_id = kHostile;
  r.task = kHostile;
  r.environment = kHostile;
  r.phase = kHostile;
  r.message = kHostile;
  r.started_us = kStart;
  r.updated_us = kStart + kSecond;
  r.data = Value(ValueMap{{"version", Value(kHostile)}, {"canarySlot", Value(kHostile)},
                          {"timeline", Value(ValueList{Entry(1, "pause", 0, kHostile)})}})
               .ToJson();
  MeasurementRow m =
      Measure(1, 1, kHostile, kHostile, "Failed", "\"\\u003c/svg\\u003e\"", kHostile);
  m.analysis = kHostile;
  const Value doc = RolloutJson(r, {m});
  const std::string html = RolloutReportHtml(doc, {{std::string(kHostile) + "/" + kHostile,
                                                    {"result < 1 && '</svg>' != ''", kHostile}}});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("</svg><"), std::string::npos);
  EXPECT_GT(Count(html, "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), 10u);
  EXPECT_EQ(CheckWellFormed(html), "");
  EXPECT_EQ(CheckWellFormed("<svg><g></svg>"), "</svg> closes <g>");  // the check can fail
  EXPECT_EQ(HtmlEscape("a\x01\"'&b\xff"), "a\xEF\xBF\xBD&quot;&#39;&amp;b\xEF\xBF\xBD");
}

TEST(RolloutReport, ReadsAThresholdOnlyFromAComparisonOfTheResultWithANumber) {
  auto t = ThresholdOf("result[0] < 0.05");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->value, 0.05);
  EXPECT_EQ(t->op, "<");
  t = ThresholdOf(" ( 0.9 <= result ) ");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->value, 0.9);
  EXPECT_EQ(t->op, ">=");
  EXPECT_EQ(ThresholdOf("result[0] == -1e-3")->value, -0.001);
  for (const char* no : {"result[0] < double(args.threshold)", "result[1] < 0.5", "result < 1 && "
                         "result > 0", "result.size() > 0", "results < 1", "result != 0", "1 < 2",
                         "result[0] < 0.05)", ""}) {
    EXPECT_FALSE(ThresholdOf(no)) << no;
  }
}

TEST(RolloutReport, TakesTheConditionsFromTheTemplatesStillDeclared) {
  EnvironmentsSpec envs;
  ASSERT_TRUE(ParseEnvironmentsFile("env.yaml", R"(apiVersion: sluice/v1
kind: AnalysisTemplate
metadata: {name: error-rate}
spec:
  metrics:
    - name: ratio
      successCondition: "result[0] < 0.05"
      provider: {command: {run: [sh, -c, "echo [0.01]"]}}
    - name: unmeasured
      failureCondition: "result > 3"
      provider: {command: {run: [sh, -c, "echo 1"]}}
)", &envs));
  const ConditionMap c = ConditionsFor(AbortedRollout(), envs);
  ASSERT_EQ(c.size(), 1u);  // up/up's template is not declared
  EXPECT_EQ(c.at("error-rate/ratio").success, "result[0] < 0.05");
  EXPECT_EQ(c.at("error-rate/ratio").failure, "");
}

TEST(RolloutReport, WithoutAStateFolderIsNotFoundAndWritesNothing) {
  FakeEnv env;
  GlobalOptions g;
  g.state_dir = "/nowhere";
  testing::internal::CaptureStderr();
  EXPECT_EQ(CmdRolloutReport(env, g, "r1", "deploy", "/out.html"), 2);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("no state in /nowhere"),
            std::string::npos);
  EXPECT_FALSE(env.mem_files.Stat("/out.html").exists);
}

}  // namespace rollout_report_test
}  // namespace sluice
