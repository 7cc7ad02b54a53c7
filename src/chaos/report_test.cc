// Tests of the resilience report: figures recomputed from the fixture journal's own data,
// journals with missing parts, malformed journals, and hostile strings that must never reach
// the HTML unescaped.
#include "chaos/report.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "chaos/report_model.h"
#include "common/strings.h"

namespace sluice {
namespace report_test {

using resilience::Experiment;

// The fixture folder, found from this file's path (absolute, or relative to the build folder
// when ccache rewrites it) or from the working directory.
std::string Fixture(const std::string& name) {
  std::filesystem::path here = std::filesystem::path(__FILE__).parent_path();
  for (const std::filesystem::path& base :
       {here / "../../tests/chaos/fixtures", std::filesystem::path("tests/chaos/fixtures"),
        std::filesystem::path("../tests/chaos/fixtures")}) {
    std::ifstream f(base / name);
    if (!f) continue;
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  ADD_FAILURE() << "fixture not found: " << name;
  return "";
}

Value Parse(std::string_view text) {
  Result<Value> v = ParseJson(text);
  EXPECT_TRUE(v.has_value()) << v.error().message;
  return v ? *v : Value();
}

Experiment Read(const Value& v) {
  Result<Experiment> e = resilience::ReadJournal(v, "fixture.json");
  EXPECT_TRUE(e.has_value()) << e.error().message;
  return e ? *e : Experiment();
}

const Value& At(const Value& v, std::initializer_list<const char*> path) {
  const Value* cur = &v;
  for (const char* key : path) cur = cur->Find(key);
  return *cur;
}

// Seconds since the epoch of a journal time, by a different route from the report's parser:
// only the fixture's "2026-12-07T08:MM:SS.ffffffZ" shape.
double FixtureSeconds(const Value& t) {
  const std::string& s = t.as_string();
  return std::stoi(s.substr(14, 2)) * 60 + std::stod(s.substr(17, 9));
}

TEST(ResilienceReport, SuccessRatesMatchTheFixtureRuns) {
  Value j = Parse(Fixture("flaky-register.json"));
  Experiment e = Read(j);
  for (const char* phase : {"before", "during", "after"}) {
    int ok = 0, all = 0;
    for (const Value& run : At(j, {"sluice", "runs"}).as_list()) {
      if (run.Find("phase")->as_string() != phase) continue;
      ++all;
      ok += run.Find("status")->as_string() == "succeeded";
    }
    resilience::Rate rate = resilience::PhaseSuccessRate(e, phase);
    EXPECT_EQ(rate.succeeded, ok) << phase;
    EXPECT_EQ(rate.total, all) << phase;
  }
  // And by hand: 2 of 2 before, 2 of 5 during, 2 of 3 after.
  EXPECT_DOUBLE_EQ(resilience::PhaseSuccessRate(e, "during").Value(), 0.4);
  EXPECT_EQ(resilience::PhaseSuccessRate(e, "after").succeeded, 2);
}

TEST(ResilienceReport, MttrIsFaultEndToEndOfFirstSuccessfulRunStartedAfterIt) {
  Value j = Parse(Fixture("flaky-register.json"));
  Experiment e = Read(j);
  double fault_end = FixtureSeconds(*At(j, {"sluice", "faults"}).as_list()[0].Find("end"));
  std::optional<double> expected;
  double best_start = 1e18;
  for (const Value& run : At(j, {"sluice", "runs"}).as_list()) {
    double start = FixtureSeconds(*run.Find("start"));
    if (start >= fault_end && run.Find("status")->as_string() == "succeeded" &&
        start < best_start) {
      best_start = start;
      expected = FixtureSeconds(*run.Find("end")) - fault_end;
    }
  }
  std::vector<resilience::Recovery> rec = resilience::Recoveries(e);
  ASSERT_EQ(rec.size(), 1u);
  ASSERT_TRUE(rec[0].mttr && expected);
  EXPECT_NEAR(static_cast<double>(*rec[0].mttr) / 1e6, *expected, 1e-6);
  EXPECT_EQ(rec[0].run->id, "a2");  // a1 started after the fault but failed
  EXPECT_NEAR(*expected, 8.25, 1e-6);
}

TEST(ResilienceReport, NotRecoveredWhenNoSuccessfulRunStartsAfterTheFault) {
  Experiment e = Read(Parse(R"({"sluice": {"name": "x",
    "faults": [{"name": "f", "kind": "task", "start": "2026-12-07T08:00:00Z", "end": "2026-12-07T08:00:10Z"}],
    "runs": [{"run": "r1", "phase": "during", "status": "succeeded",
              "start": "2026-12-07T08:00:01Z", "end": "2026-12-07T08:00:05Z"},
             {"run": "r2", "phase": "after", "status": "failed",
              "start": "2026-12-07T08:00:11Z", "end": "2026-12-07T08:00:12Z"}]}})"));
  std::vector<resilience::Recovery> rec = resilience::Recoveries(e);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_FALSE(rec[0].mttr.has_value());
  Result<std::string> md = ResilienceMarkdown({Parse(R"({"sluice": {"name": "x",
    "faults": [{"name": "f", "kind": "task", "start": "2026-12-07T08:00:00Z", "end": "2026-12-07T08:00:10Z"}]}})")},
                                              {});
  ASSERT_TRUE(md.has_value()) << md.error().message;
  EXPECT_NE(md->find("not recovered"), std::string::npos) << *md;
}

// The share of probe runs that succeeded (tolerance met), counted from the raw journal.
double RawProbeSuccess(const Value& j) {
  int ok = 0, all = 0;
  auto count = [&](const Value& run) {
    ++all;
    const Value* met = run.Find("tolerance_met");
    ok += run.Find("status")->as_string() == "succeeded" && (!met || met->as_bool());
  };
  const Value& ss = *j.Find("steady_states");
  for (const Value& p : ss.Find("before")->Find("probes")->as_list()) count(p);
  for (const Value& d : ss.Find("during")->as_list())
    for (const Value& p : d.Find("probes")->as_list()) count(p);
  for (const Value& p : ss.Find("after")->Find("probes")->as_list()) count(p);
  for (const Value& r : j.Find("run")->as_list())
    if (r.Find("activity")->Find("type")->as_string() == "probe") count(r);
  return 100.0 * ok / all;
}

constexpr std::string_view kAllHeld = R"({"status": "completed", "deviated": false,
  "steady_states": {"before": {"steady_state_met": true, "probes": [
      {"activity": {"type": "probe", "name": "ok"}, "status": "succeeded", "output": 1, "tolerance_met": true}]},
    "during": [], "after": {"steady_state_met": true, "probes": [
      {"activity": {"type": "probe", "name": "ok"}, "status": "succeeded", "output": 1, "tolerance_met": true}]}},
  "run": [], "sluice": {"name": "all-held", "weight": 5}})";
constexpr std::string_view kWeightZero = R"({"deviated": true,
  "steady_states": {"before": {"steady_state_met": false, "probes": [
      {"activity": {"type": "probe", "name": "bad"}, "status": "failed", "tolerance_met": false}]}},
  "sluice": {"name": "ignored", "weight": 0}})";

TEST(ResilienceReport, ScoreIsLitmusWeightedMeanOfProbeSuccess) {
  Value flaky = Parse(Fixture("flaky-register.json"));
  std::vector<Experiment> es = {Read(flaky), Read(Parse(kAllHeld)), Read(Parse(kWeightZero))};
  double p = RawProbeSuccess(flaky);
  EXPECT_NEAR(*resilience::ProbeSuccessPercent(es[0]), p, 1e-9);
  EXPECT_NEAR(p, 500.0 / 7, 1e-9);  // 5 of 7 probe runs: the success rate failed during and after
  double w = At(flaky, {"sluice", "weight"}).to_double();
  // The weight-0 experiment is shown but does not count.
  EXPECT_NEAR(*resilience::ResilienceScore(es), (w * p + 5 * 100.0) / (w + 5), 1e-9);
  EXPECT_NEAR(*resilience::ResilienceScore({es[0]}), p, 1e-9);
  EXPECT_FALSE(resilience::ResilienceScore({es[2]}).has_value());
  Result<std::string> html = ResilienceHtml({flaky, Parse(kAllHeld), Parse(kWeightZero)}, {});
  ASSERT_TRUE(html.has_value());
  EXPECT_NE(html->find(fmt::format("<strong>{:.1f}</strong>", (w * p + 500) / (w + 5))),
            std::string::npos);
}

TEST(ResilienceReport, MitigationCountsRunsOneRetryWouldHaveSaved) {
  Experiment e = Read(Parse(Fixture("flaky-register.json")));
  std::vector<const resilience::RunRecord*> during;
  for (const auto& r : e.runs)
    if (r.phase == "during") during.push_back(&r);
  // d1 and d3 failed only in register, once, with exit 75; d4 failed in two tasks; d2 and d5
  // succeeded. register's attempts in these runs: 2 of 6 succeeded.
  EXPECT_EQ(resilience::MitigationNote(during),
            "a retry on exit(75) of register (retry: {on: [exit(75)]}) would have saved 2 of 3 "
            "failed runs (register succeeded on 2 of its 6 attempts in these runs)");
  std::vector<resilience::Finding> findings = resilience::Findings(e);
  auto during_rate =
      std::find_if(findings.begin(), findings.end(), [](const resilience::Finding& f) {
        return f.title == "hypothesis probe \"success-rate\" (during)";
      });
  ASSERT_NE(during_rate, findings.end());
  EXPECT_FALSE(during_rate->held);
  EXPECT_EQ(during_rate->mitigation, resilience::MitigationNote(during));
  ASSERT_FALSE(during_rate->evidence.empty());
  EXPECT_EQ(during_rate->evidence[0].run, "d1");  // failed runs first
  EXPECT_EQ(during_rate->evidence[0].text, "failed; register: #1 failed exit(75)");
}

TEST(ResilienceReport, MitigationAfterExhaustedRetriesAsksForMoreAttempts) {
  Experiment e = Read(Parse(R"({"sluice": {"name": "x", "runs": [
    {"run": "r1", "phase": "during", "status": "failed", "tasks": [{"name": "push", "attempts": [
      {"attempt": 1, "status": "failed", "errorClass": "timeout"},
      {"attempt": 2, "status": "failed", "errorClass": "timeout"}]}]},
    {"run": "r2", "phase": "during", "status": "failed", "tasks": [{"name": "push", "attempts": [
      {"attempt": 1, "status": "failed", "exitCode": 3}]}, {"name": "other", "attempts": [
      {"attempt": 1, "status": "failed", "exitCode": 3}]}]}]}})"));
  std::vector<const resilience::RunRecord*> runs = {&e.runs[0], &e.runs[1]};
  EXPECT_EQ(resilience::MitigationNote(runs),
            "push failed with timeout on every attempt in 1 of 2 failed runs: more attempts or a "
            "longer backoff on timeout may save them (but push succeeded on none of its 3 "
            "attempts in these runs: the failure may not be transient)");
  EXPECT_EQ(resilience::MitigationNote({&e.runs[1]}),
            "no single cause: none of the 1 failed runs failed in one task with one exit code or "
            "error class");
}

TEST(ResilienceReport, MitigationForAHungTaskIsATimeout) {
  Experiment e = Read(Parse(R"({"sluice": {"name": "x", "runs": [
    {"run": "r1", "phase": "during", "status": "cancelled", "tasks": [{"name": "train", "attempts": [
      {"attempt": 1, "status": "failed", "errorClass": "cancelled"}]}]}]}})"));
  EXPECT_EQ(resilience::MitigationNote({&e.runs[0]}),
            "train was still running when its run was cancelled in 1 of 1 failed runs: a timeout "
            "on train with retry: {on: [timeout]} would end a hang and try again (train "
            "succeeded on 0 of its 1 attempts in these runs)");
}

TEST(ResilienceReport, MitigationNeverSuggestsRetryingWhatIsNeverRetried) {
  Experiment e = Read(Parse(R"({"sluice": {"name": "x", "runs": [
    {"run": "r1", "phase": "during", "status": "failed", "tasks": [{"name": "deploy", "attempts": [
      {"attempt": 1, "status": "failed", "errorClass": "policy-denied", "exitCode": 0}]}]},
    {"run": "r2", "phase": "during", "status": "failed", "tasks": [{"name": "train", "attempts": [
      {"attempt": 1, "status": "failed", "errorClass": "signal", "exitCode": 9}]}]},
    {"run": "r3", "phase": "during", "status": "failed", "tasks": [{"name": "deploy", "attempts": [
      {"attempt": 1, "status": "failed", "errorClass": "policy-denied", "exitCode": 0}]}]}]}})"));
  EXPECT_EQ(resilience::MitigationNote({&e.runs[0], &e.runs[1], &e.runs[2]}),
            "deploy failed with policy-denied, which is never retried, in 2 of 3 failed runs: a "
            "retry cannot save them, only removing the cause can (deploy succeeded on 0 of its 2 "
            "attempts in these runs); 1 other single cause");
  // A signal is named as retry's on: writes it.
  EXPECT_NE(resilience::MitigationNote({&e.runs[1]}).find("a retry on signal(9) of train"),
            std::string::npos);
}

TEST(ResilienceReport, ReportShowsVerdictsGovernanceAndChart) {
  Value flaky = Parse(Fixture("flaky-register.json"));
  Result<std::string> html = ResilienceHtml({flaky}, {.sources = {"flaky.json"}});
  ASSERT_TRUE(html.has_value()) << html.error().message;
  for (const char* want :
       {"<svg class=\"timeline\"", "class=\"fault\"", "class=\"retry\"", "class=\"breaker open\"",
        "class=\"comp\"", "8.25 s", "w-accuracy-q4", "alice", "9f86d081884c7d659a2feaa0c55ad015",
        "verified", "40.0 % (2 of 5 runs)", "a retry on exit(75) of register"}) {
    EXPECT_NE(html->find(want), std::string::npos) << want;
  }
  // The runner writes exitCode 0 and errorClass "" for attempts that succeeded: not a failure.
  EXPECT_EQ(html->find("exit(0)"), std::string::npos);
  EXPECT_NE(html->find("d2</code>: succeeded, 1 retry; register: #1 failed exit(75), #2 succeeded"),
            std::string::npos);
  Result<std::string> md = ResilienceMarkdown({flaky}, {.sources = {"flaky.json"}});
  ASSERT_TRUE(md.has_value());
  EXPECT_NE(md->find("| during | deviated | 40.0 % (2 of 5 runs) |"), std::string::npos) << *md;
  EXPECT_NE(md->find("alice approved"), std::string::npos) << *md;
}

// A journal the runner wrote (main's `sluice chaos run examples/chaos/flaky-publish.yaml`): the
// report reads its shape as the runner writes it (exitCode 0 and errorClass "" on success, run
// status "compensated").
TEST(ResilienceReport, ReadsAJournalTheRunnerWrote) {
  Result<Value> v = ParseResilienceJournal(Fixture("runner-flaky-publish.json"), "runner.json");
  ASSERT_TRUE(v.has_value()) << v.error().message;
  Experiment e = Read(*v);
  EXPECT_EQ(resilience::PhaseSuccessRate(e, "during").succeeded, 0);
  EXPECT_EQ(resilience::PhaseSuccessRate(e, "during").total, 3);
  EXPECT_EQ(resilience::PhaseSuccessRate(e, "after").succeeded, 3);
  std::vector<resilience::Recovery> rec = resilience::Recoveries(e);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_TRUE(rec[0].mttr.has_value());
  EXPECT_TRUE(e.audit.verified);
  std::vector<const resilience::RunRecord*> during;
  for (const auto& r : e.runs)
    if (r.phase == "during") during.push_back(&r);
  EXPECT_TRUE(resilience::MitigationNote(during).starts_with(
      "a retry on exit(75) of publish (retry: {on: [exit(75)]}) would have saved 3 of 3"));
  EXPECT_TRUE(ResilienceHtml({*v}, {}).has_value());
}

TEST(ResilienceReport, JournalWithoutOptionalPartsSaysNoData) {
  for (std::string_view text :
       {R"({})", R"({"sluice": {"name": "bare"}})",
        R"({"steady_states": {"before": null, "during": [], "after": null}, "run": [],
                                    "sluice": {"name": "no-runs", "phases": [], "faults": [], "runs": [],
                                               "governance": null}})"}) {
    Result<std::string> html = ResilienceHtml({Parse(text)}, {});
    ASSERT_TRUE(html.has_value()) << html.error().message;
    EXPECT_NE(html->find("<strong>no data</strong>"), std::string::npos) << text;
    EXPECT_NE(html->find("timeline: no data"), std::string::npos);
    EXPECT_EQ(html->find("nan %"), std::string::npos);
    EXPECT_EQ(html->find("inf %"), std::string::npos);
    Result<std::string> md = ResilienceMarkdown({Parse(text)}, {});
    ASSERT_TRUE(md.has_value());
    EXPECT_NE(md->find("| during | not checked | no data |"), std::string::npos) << *md;
  }
  // No during phase, but runs before and after.
  Result<std::string> md = ResilienceMarkdown({Parse(R"({"sluice": {"name": "x", "runs": [
    {"run": "r", "phase": "before", "status": "succeeded"}]}})")},
                                              {});
  ASSERT_TRUE(md.has_value());
  EXPECT_NE(md->find("| before | not checked | 100.0 % (1 of 1 runs) |"), std::string::npos) << *md;
  EXPECT_TRUE(ResilienceHtml({}, {}).has_value());
}

TEST(ResilienceReport, MalformedJournalGivesOneLineNamingTheFile) {
  struct Case {
    std::string_view text, want;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"not json", "bad.json: not a JSON journal: invalid JSON at offset"},
           {"[1, 2]", "bad.json: the journal: expected a JSON object, got list"},
           {R"({"sluice": {"runs": "x"}})", "bad.json: sluice.runs: expected a list, got \"x\""},
           {R"({"sluice": {"runs": [{"start": 12}]}})",
            "bad.json: sluice.runs[0].start: expected a UTC time like "
            "\"2026-12-07T08:00:00.123456Z\", got int"},
           {R"({"sluice": {"runs": [{"tasks": [{"attempts": [{"exitCode": "seventy"}]}]}]}})",
            "bad.json: sluice.runs[0].tasks[0].attempts[0].exitCode: expected an integer, got "
            "\"seventy\""},
           {R"({"deviated": "no"})", "bad.json: deviated: expected true or false, got \"no\""},
           {R"({"sluice": {"weight": 11}})", "bad.json: sluice.weight: expected 0..10, got 11"},
           {R"({"steady_states": {"during": [{"probes": [{"activity": 3}]}]}})",
            "bad.json: steady_states.during[0].probes[0].activity: expected an object, got int"},
           {R"({"sluice": {"name": "x\n<b>"}, "status": ["a\nb"]})",
            "bad.json: status: expected a string, got list"},
       }) {
    Result<Value> v = ParseResilienceJournal(c.text, "bad.json");
    ASSERT_FALSE(v.has_value()) << c.text;
    EXPECT_EQ(v.error().message.find('\n'), std::string::npos) << v.error().message;
    EXPECT_TRUE(v.error().message.starts_with(c.want)) << v.error().message;
  }
  Result<std::string> html =
      ResilienceHtml({Parse("{}"), Parse(R"({"run": 1})")}, {.sources = {"a.json", "b.json"}});
  ASSERT_FALSE(html.has_value());
  EXPECT_EQ(html.error().message, "b.json: run: expected a list, got int");
  EXPECT_TRUE(ParseResilienceJournal(Fixture("flaky-register.json"), "flaky.json").has_value());
}

// Every tag of the page is one the report writes, and no tag carries an event handler, a
// script URL or a remote source: what an injected string would need to act.
void ExpectOnlyReportMarkup(const std::string& html) {
  static const std::set<std::string> kTags = {
      "!doctype", "html", "head",    "meta", "title", "style",  "body",  "h1",
      "h2",       "h3",   "h4",      "p",    "table", "tr",     "td",    "th",
      "ul",       "li",   "section", "div",  "span",  "strong", "small", "code",
      "br",       "svg",  "rect",    "line", "text",  "circle", "path",  "polygon"};
  for (size_t i = html.find('<'); i != std::string::npos; i = html.find('<', i + 1)) {
    size_t end = html.find('>', i);
    ASSERT_NE(end, std::string::npos);
    std::string tag = html.substr(i + 1, end - i - 1);
    std::string lower;
    for (char c : tag) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string name = lower.substr(lower[0] == '/' ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \t\n/"));
    EXPECT_TRUE(kTags.count(name)) << "unexpected tag <" << tag << ">";
    for (const char* bad : {" on", "javascript:", "src=", "href=", "@import", "url("})
      EXPECT_EQ(lower.find(bad), std::string::npos) << "in <" << tag << ">";
  }
  // The stylesheet is ours: no remote fonts or images.
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST(ResilienceReport, HostileStringsNeverReachTheHtmlUnescaped) {
  const std::string evil =
      "</script><img src=x onerror=alert(1)>\"'><svg onload=alert(2)>&amp;<!--]]>`|*_\n#";
  Value j = Parse(Fixture("flaky-register.json"));
  // Put the hostile string in every string of the journal, keys and times excepted.
  std::set<std::string> poison_keep;
  std::function<Value(const Value&, const std::string&)> poison =
      [&](const Value& v, const std::string& key) -> Value {
    if (v.is_string()) {
      return poison_keep.count(key) ? v : Value(v.as_string() + evil);
    }
    if (v.is_list()) {
      ValueList out;
      for (const Value& x : v.as_list()) out.push_back(poison(x, key));
      return out;
    }
    if (v.is_map()) {
      ValueMap out;
      for (const auto& [k, x] : v.as_map()) out.emplace_back(k, poison(x, k.as_string()));
      return out;
    }
    return v;
  };
  // Twice: every string poisoned, then all but the ones that steer the report (phases, statuses,
  // kinds), so that runs, findings and evidence are drawn with hostile names too.
  for (bool keep_steering : {false, true}) {
    std::set<std::string> keep = {"start", "end", "time"};
    if (keep_steering) keep.insert({"phase", "status", "type", "to", "from"});
    poison_keep = keep;
    Value hostile = poison(j, "");
    ReportOptions options{.title = "report " + evil, .sources = {"journal " + evil}};
    Result<std::string> html = ResilienceHtml({hostile}, options);
    ASSERT_TRUE(html.has_value()) << html.error().message;
    ExpectOnlyReportMarkup(*html);
    EXPECT_EQ(html->find("<img"), std::string::npos);
    EXPECT_EQ(html->find("<svg onload"), std::string::npos);
    EXPECT_EQ(html->find("<script"), std::string::npos);
    EXPECT_EQ(html->find("<!--"), std::string::npos);
    EXPECT_NE(html->find("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&gt;"),
              std::string::npos);
    EXPECT_NE(html->find("Content-Security-Policy"), std::string::npos);

    Result<std::string> md = ResilienceMarkdown({hostile}, options);
    ASSERT_TRUE(md.has_value());
    EXPECT_EQ(md->find('<'), std::string::npos);  // the Markdown writes no HTML of its own either
    // The newline and '#' in the string started no heading: only the report's own 5 remain.
    int headings = 0;
    std::istringstream lines(*md);
    for (std::string line; std::getline(lines, line);) headings += line.starts_with("#");
    EXPECT_EQ(headings, 5) << *md;
  }
}

// Writes a report for a person to look at when SLUICE_CHAOS_REPORT_SAMPLE names a folder: of
// the journals SLUICE_CHAOS_REPORT_JOURNALS lists (paths separated by ':'), or else of the
// fixtures. tests/chaos/report_screenshot.sh renders the HTML.
TEST(ResilienceReport, WritesSampleReport) {
  const char* dir = std::getenv("SLUICE_CHAOS_REPORT_SAMPLE");
  if (!dir) GTEST_SKIP() << "set SLUICE_CHAOS_REPORT_SAMPLE=DIR to write a sample report";
  std::vector<Value> journals;
  ReportOptions options{.title = "Resilience report (sample)", .sources = {}};
  if (const char* list = std::getenv("SLUICE_CHAOS_REPORT_JOURNALS")) {
    for (const std::string& path : Split(list, ':')) {
      std::ifstream f(path);
      std::stringstream text;
      text << f.rdbuf();
      Result<Value> v = ParseResilienceJournal(text.str(), path);
      ASSERT_TRUE(v.has_value()) << v.error().message;
      journals.push_back(*v);
      options.sources.push_back(path);
    }
  } else {
    journals = {Parse(Fixture("flaky-register.json")), Parse(kAllHeld), Parse(kWeightZero)};
    options.sources = {"flaky-register.json", "all-held.json", "ignored.json"};
  }
  Result<std::string> html = ResilienceHtml(journals, options);
  Result<std::string> md = ResilienceMarkdown(journals, options);
  ASSERT_TRUE(html && md);
  std::ofstream(std::filesystem::path(dir) / "report.html") << *html;
  std::ofstream(std::filesystem::path(dir) / "report.md") << *md;
}

}  // namespace report_test
}  // namespace sluice
