// The real providers against real things: commands and jobs as `sh -c` processes, Prometheus
// and web endpoints as an HTTP server on a free loopback port serving the answers recorded from
// Prometheus 2.42 (../shared/research/canary-stack.md), "[]" and "NaN" included.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "env/env.h"
#include "env/fake_env.h"
#include "rollout/providers.h"

namespace sluice {
namespace providers_test {

// Recorded shapes of GET /api/v1/query, by the query asked.
const std::map<std::string, std::string>& PrometheusAnswers() {
  static const std::map<std::string, std::string> kAnswers = {
      {"ratio", R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795912555.867,"0.19934102141680393"]}]}})"},
      {"by_version", R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"version":"v1"},"value":[1795912555.867,"0"]},{"metric":{"version":"v2"},"value":[1795912555.867,"0.2"]}]}})"},
      {"unknown_version", R"({"status":"success","data":{"resultType":"vector","result":[]}})"},
      {"no_traffic", R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795912555.867,"NaN"]}]}})"},
      {"p99_top_bucket", R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795912555.867,"+Inf"]}]}})"},
      {"scalar(1)", R"({"status":"success","data":{"resultType":"scalar","result":[1795912555.867,"1"]}})"},
      {"requests_total[10s]", R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1795912555.867,"1"]]}]}})"},
  };
  return kAnswers;
}

// A Prometheus-shaped and a web endpoint on 127.0.0.1, for the life of a test.
class TestServer {
 public:
  TestServer() {
    server_.Get("/api/v1/query", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string q = req.get_param_value("query");
      Remember(q);
      auto it = PrometheusAnswers().find(q);
      if (it != PrometheusAnswers().end()) {
        res.set_content(it->second, "application/json");
        return;
      }
      res.status = 400;
      res.set_content(R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": parse error"})",
                      "application/json");
    });
    server_.Get("/stats", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"data":{"ratio":0.02,"items":[{"up":1},{"up":null}]}})", "application/json");
    });
    server_.Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      Remember(req.get_header_value("X-Version") + " " + req.body);
      res.set_content(req.body, "application/json");
    });
    server_.Get("/broken", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content("down", "text/plain");
    });
    server_.Get("/html", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<html></html>", "text/html");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      ended_ = true;
    });
    // stop() before the accept loop runs would be lost, and the join below would wait forever.
    while (!server_.is_running() && !ended_) std::this_thread::yield();
  }
  ~TestServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string last() {
    std::lock_guard<std::mutex> l(mu_);
    return last_;
  }

 private:
  void Remember(std::string s) {
    std::lock_guard<std::mutex> l(mu_);
    last_ = std::move(s);
  }
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> ended_ = false;
  std::mutex mu_;
  std::string last_;
};

constexpr int64_t kTimeoutUs = 5'000'000;

ResolvedProvider Prometheus(const std::string& address, const std::string& query) {
  ResolvedProvider p;
  p.kind = AnalysisProvider::Kind::kPrometheus;
  p.address = address;
  p.query = query;
  p.timeout_us = kTimeoutUs;
  return p;
}

std::string ErrorOf(const Result<Value>& r) { return r ? "(a result: " + r->ToJson() + ")" : r.error().message; }

TEST(PrometheusProvider, ReadsVectorsAndScalarsAsNumbers) {
  TestServer server;
  auto ratio = MeasurePrometheus(Prometheus(server.url(), "ratio"));
  ASSERT_TRUE(ratio) << ratio.error().message;
  EXPECT_EQ(ratio->ToJson(), "[0.19934102141680393]");
  auto both = MeasurePrometheus(Prometheus(server.url() + "/", "by_version"));
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(both->ToJson(), "[0.0,0.2]");
  auto scalar = MeasurePrometheus(Prometheus(server.url(), "scalar(1)"));
  ASSERT_TRUE(scalar) << scalar.error().message;
  EXPECT_TRUE(scalar->is_double());
  EXPECT_EQ(scalar->as_double(), 1.0);
}

TEST(PrometheusProvider, SendsTheQueryEncoded) {
  TestServer server;
  const std::string q = "sum(rate(requests_total{version=\"v2\",code=~\"5..\"}[10s])) / sum(rate(x[10s]))";
  auto r = MeasurePrometheus(Prometheus(server.url(), q));
  EXPECT_EQ(server.last(), q) << "the server received the query as written";
  EXPECT_EQ(ErrorOf(r), "Prometheus refused the query: bad_data: invalid parameter \"query\": parse error");
}

TEST(PrometheusProvider, NoDataIsAnErrorNeverAResult) {
  TestServer server;
  EXPECT_EQ(ErrorOf(MeasurePrometheus(Prometheus(server.url(), "unknown_version"))),
            "no data: the query matched no series (an empty vector: a version with no traffic, a "
            "counter not yet created, a wrong label)");
  EXPECT_EQ(ErrorOf(MeasurePrometheus(Prometheus(server.url(), "no_traffic"))),
            "no data: the query gave NaN (NaN is 0/0, e.g. a rate over no requests; an infinity "
            "is x/0)");
  EXPECT_EQ(ErrorOf(MeasurePrometheus(Prometheus(server.url(), "p99_top_bucket"))),
            "no data: the query gave +Inf (NaN is 0/0, e.g. a rate over no requests; an infinity "
            "is x/0)");
  EXPECT_EQ(ErrorOf(MeasurePrometheus(Prometheus(server.url(), "requests_total[10s]"))),
            "the query gave a matrix; analysis needs an instant vector or a scalar (no [range] "
            "outside a function such as rate())");
}

TEST(PrometheusProvider, AnUnreachableServerIsAnError) {
  std::string url;
  {
    TestServer gone;
    url = gone.url();
  }  // its port is closed now
  auto r = MeasurePrometheus(Prometheus(url, "ratio"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("GET " + url + "/api/v1/query?query=ratio: "), std::string::npos)
      << r.error().message;
}

ResolvedProvider Web(const std::string& url, const std::string& path) {
  ResolvedProvider p;
  p.kind = AnalysisProvider::Kind::kWeb;
  p.url = url;
  p.method = "GET";
  p.timeout_us = kTimeoutUs;
  if (!path.empty()) p.json_path = *ParseJsonPath(path);
  return p;
}

TEST(WebProvider, SelectsTheJsonPath) {
  TestServer server;
  auto ratio = MeasureWeb(Web(server.url() + "/stats", "$.data.ratio"));
  ASSERT_TRUE(ratio) << ratio.error().message;
  EXPECT_EQ(ratio->ToJson(), "0.02");
  auto up = MeasureWeb(Web(server.url() + "/stats", "{$.data.items[0]['up']}"));
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_EQ(up->ToJson(), "1");
  auto whole = MeasureWeb(Web(server.url() + "/stats", ""));
  ASSERT_TRUE(whole);
  EXPECT_TRUE(whole->is_map());
  EXPECT_EQ(ErrorOf(MeasureWeb(Web(server.url() + "/stats", "$.data.items[1].up"))),
            "no data: $.data.items[1].up is null");
  EXPECT_EQ(ErrorOf(MeasureWeb(Web(server.url() + "/stats", "$.data.items[5]"))),
            "no data: $.data.items[5] is not in the answer");
  EXPECT_EQ(ErrorOf(MeasureWeb(Web(server.url() + "/stats", "$.data.latency"))),
            "no data: $.data.latency is not in the answer");
}

TEST(WebProvider, SendsMethodHeadersAndBody) {
  TestServer server;
  ResolvedProvider p = Web(server.url() + "/echo", "$.v");
  p.method = "POST";
  p.headers = {{"X-Version", "v2"}};
  p.body = R"({"v": [1, 2]})";
  auto r = MeasureWeb(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ToJson(), "[1,2]");
  EXPECT_EQ(server.last(), R"(v2 {"v": [1, 2]})");
}

TEST(WebProvider, RefusesFailedAndNonJsonAnswers) {
  TestServer server;
  EXPECT_EQ(ErrorOf(MeasureWeb(Web(server.url() + "/broken", ""))),
            "GET " + server.url() + "/broken answered HTTP 503");
  const std::string html = ErrorOf(MeasureWeb(Web(server.url() + "/html", "")));
  EXPECT_TRUE(html.starts_with("the answer of " + server.url() + "/html is not JSON: ")) << html;
}

ResolvedProvider Process(AnalysisProvider::Kind kind, const std::string& script,
                         int64_t timeout_us = kTimeoutUs) {
  ResolvedProvider p;
  p.kind = kind;
  p.argv = {"sh", "-c", script};
  p.timeout_us = timeout_us;
  return p;
}

TEST(CommandProvider, ItsJsonOutputIsTheResult) {
  auto env = NewPosixEnv();
  auto r = MeasureCommand(*env, Process(AnalysisProvider::Kind::kCommand,
                                        "echo '{\"ratio\": 0.01, \"ok\": true}'"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ToJson(), "{\"ratio\":0.01,\"ok\":true}");
  EXPECT_EQ(ErrorOf(MeasureCommand(*env, Process(AnalysisProvider::Kind::kCommand, "exit 3"))),
            "sh exited with status 3");
  EXPECT_EQ(ErrorOf(MeasureCommand(*env, Process(AnalysisProvider::Kind::kCommand, "true"))),
            "no data: sh printed nothing");
  EXPECT_EQ(ErrorOf(MeasureCommand(*env, Process(AnalysisProvider::Kind::kCommand, "echo null"))),
            "no data: sh printed null");
  const std::string text = ErrorOf(MeasureCommand(*env, Process(AnalysisProvider::Kind::kCommand, "echo ok")));
  EXPECT_TRUE(text.starts_with("sh printed \"ok\", which is not JSON: ")) << text;
  EXPECT_EQ(ErrorOf(MeasureCommand(*env, Process(AnalysisProvider::Kind::kCommand, "sleep 30", 200'000))),
            "sh timed out after 200ms");
}

TEST(JobProvider, ItsExitStatusDecides) {
  auto env = NewPosixEnv();
  auto ok = MeasureJob(*env, Process(AnalysisProvider::Kind::kJob, "echo done"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->ToJson(), "{\"exitCode\":0,\"timedOut\":false,\"signal\":0,\"output\":\"done\"}");
  auto failed = MeasureJob(*env, Process(AnalysisProvider::Kind::kJob, "echo 2 of 9 failed; exit 2"));
  ASSERT_TRUE(failed) << failed.error().message;
  EXPECT_EQ(failed->Find("exitCode")->as_int(), 2);
  EXPECT_EQ(failed->Find("output")->as_string(), "2 of 9 failed");
  auto slow = MeasureJob(*env, Process(AnalysisProvider::Kind::kJob, "sleep 30", 200'000));
  ASSERT_TRUE(slow);
  EXPECT_TRUE(slow->Find("timedOut")->as_bool());
  ResolvedProvider missing = Process(AnalysisProvider::Kind::kJob, "");
  missing.argv = {"/nonexistent/sluice-probe"};
  EXPECT_FALSE(MeasureJob(*env, missing)) << "a job that cannot start is an Error";
}

// The whole path: a template read from YAML, run by an AnalysisRun over the real providers.
TEST(RealProviders, DecideAnAnalysisEndToEnd) {
  TestServer server;
  auto env = NewPosixEnv();
  auto provider = NewMetricProvider(*env);
  auto ts = ParseAnalysisTemplates("/c/a.yaml", R"(apiVersion: sluice/v1
kind: AnalysisTemplate
metadata: {name: canary}
spec:
  args: [{name: address}, {name: query}]
  metrics:
    - name: error-ratio
      successCondition: result[0] < 0.05
      consecutiveErrorLimit: 0
      provider: {prometheus: {address: "${{ args.address }}", query: "${{ args.query }}"}}
    - name: smoke
      provider: {job: {run: [sh, -c, "exit 0"]}}
)");
  ASSERT_TRUE(ts) << ts.error().message;
  FakeClock clock;
  struct Case {
    std::string query;
    AnalysisPhase want;
  };
  for (const auto& c : {Case{"ratio", AnalysisPhase::kFailed}, Case{"by_version", AnalysisPhase::kSuccessful},
                        Case{"unknown_version", AnalysisPhase::kError},
                        Case{"no_traffic", AnalysisPhase::kError}}) {
    auto run = AnalysisRun::Create(*ts, {{"address", server.url()}, {"query", c.query}},
                                   clock.NowUs(), &clock, provider.get());
    ASSERT_TRUE(run) << run.error().message;
    std::vector<Measurement> taken;
    (*run)->set_on_measurement([&](const Measurement& m) { taken.push_back(m); });
    EXPECT_EQ((*run)->Tick(clock.NowUs()), AnalysisRun::kNever) << c.query;
    EXPECT_EQ((*run)->outcome().phase, c.want) << c.query << ": " << (*run)->outcome().reason;
    ASSERT_EQ(taken.size(), 2u);
    EXPECT_EQ(taken[1].phase, AnalysisPhase::kSuccessful) << "the job exited 0";
  }
}

}  // namespace providers_test
}  // namespace sluice
