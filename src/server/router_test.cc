#include "server/router.h"

#include <gtest/gtest.h>

#include "server/metrics.h"

namespace sluice {
namespace router_test {

ApiResponse Ok(const ApiRequest&) { return {}; }

TEST(Router, FindsARouteAndItsNamedSegments) {
  Router r;
  r.Add({"GET", "/api/v1/runs", true, Action::kRead, Ok});
  r.Add({"GET", "/api/v1/runs/{id}", true, Action::kRead, Ok});
  r.Add({"POST", "/api/v1/runs/{id}/cancel", true, Action::kOperate, Ok});
  auto m = r.Find("GET", "/api/v1/runs/r-1");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->pattern, "/api/v1/runs/{id}");
  EXPECT_EQ(m.params.at("id"), "r-1");
  EXPECT_TRUE(r.Find("GET", "/api/v1/runs/").route) << "a trailing slash is the same path";
  EXPECT_EQ(r.Find("POST", "/api/v1/runs/r-1/cancel").route->action, Action::kOperate);
}

TEST(Router, TellsAnUnknownPathFromAWrongMethod) {
  Router r;
  r.Add({"GET", "/api/v1/runs/{id}", true, Action::kRead, Ok});
  r.Add({"DELETE", "/api/v1/runs/{id}", true, Action::kAdmin, Ok});
  auto wrong = r.Find("POST", "/api/v1/runs/x");
  EXPECT_EQ(wrong.route, nullptr);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "GET, DELETE");
  auto missing = r.Find("GET", "/api/v1/runs/x/y/z");
  EXPECT_EQ(missing.status, 404);
}

TEST(Router, ErrorsAreJsonWithTheirStatus) {
  ApiResponse e = ErrorResponse(403, "alice \"x\" may not");
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.body, R"({"error":{"status":403,"message":"alice \"x\" may not"}})");
}

TEST(Metrics, RequestsRenderAsCountersAndCumulativeHistogramsByRouteAndCode) {
  RequestMetrics m;
  m.Observe("/api/v1/runs", "GET", 200, 0.002);
  m.Observe("/api/v1/runs", "GET", 200, 0.3);
  m.Observe("/api/v1/runs", "GET", 401, 0.0001);
  const std::string text = m.Render();
  EXPECT_NE(text.find("sluice_api_requests_total{route=\"/api/v1/runs\",method=\"GET\",code=\"200\"} 2"),
            std::string::npos) << text;
  EXPECT_NE(text.find("sluice_api_request_duration_seconds_bucket{route=\"/api/v1/runs\",code=\"401\",le=\"0.001\"} 1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("sluice_api_request_duration_seconds_bucket{route=\"/api/v1/runs\",code=\"200\",le=\"0.0025\"} 1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("code=\"200\",le=\"+Inf\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_api_request_duration_seconds_count{route=\"/api/v1/runs\",code=\"401\"} 1"),
            std::string::npos) << text;
  m.StreamOpened();
  EXPECT_NE(m.Render().find("sluice_api_open_streams 1\n"), std::string::npos);
  EXPECT_EQ(EscapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace router_test
}  // namespace sluice
