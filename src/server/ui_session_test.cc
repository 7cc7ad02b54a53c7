#include "server/ui_session.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "server/ui_edge.h"
#include "server/ui_files.h"

namespace sluice {
namespace ui_session_test {

constexpr int64_t kHour = 3'600'000'000;

TEST(UiSessions, FindsASessionUntilItsMaxAgeOrIdleTimePasses) {
  FakeEnv env;
  UiSessions s(env, 12 * kHour, 2 * kHour);
  auto [id, made] = s.Create("tok");
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(made.csrf.size(), 64u);
  EXPECT_NE(id, made.csrf);
  for (int i = 0; i < 5; ++i) {  // seen every 1.5 h: idle never passes, max age does at 12 h
    env.fake_clock.Advance(kHour * 3 / 2);
    ASSERT_TRUE(s.Find(id)) << i;
    EXPECT_EQ(s.Find(id)->token, "tok");
  }
  env.fake_clock.Advance(kHour * 5);  // 12.5 h after the login
  EXPECT_FALSE(s.Find(id));
  auto [id2, made2] = s.Create("tok");
  env.fake_clock.Advance(2 * kHour);  // idle for 2 h
  EXPECT_FALSE(s.Find(id2));
}

TEST(UiSessions, LogoutEndsOnlyThatSessionAndIdsAreNeverGuessedFromOthers) {
  FakeEnv env;
  UiSessions s(env, 12 * kHour, 2 * kHour);
  auto a = s.Create("a");
  auto b = s.Create("b");
  EXPECT_NE(a.first, b.first);
  EXPECT_NE(a.second.csrf, b.second.csrf);
  s.Remove(a.first);
  EXPECT_FALSE(s.Find(a.first));
  EXPECT_TRUE(s.Find(b.first));
  EXPECT_FALSE(s.Find(""));
  EXPECT_FALSE(s.Find(b.first.substr(0, 63) + "x"));  // a forged id
}

TEST(UiSessions, ReadsTheSessionCookieAmongOthers) {
  EXPECT_EQ(CookieValue("a=1; sluice_session=abc; b=2", kSessionCookie), "abc");
  EXPECT_EQ(CookieValue("sluice_session=abc", kSessionCookie), "abc");
  EXPECT_EQ(CookieValue("xsluice_session=abc; sluice_sessionx=d", kSessionCookie), "");
  EXPECT_EQ(CookieValue("", kSessionCookie), "");
  EXPECT_TRUE(SameSecret("abc", "abc"));
  EXPECT_FALSE(SameSecret("abc", "abd"));
  EXPECT_FALSE(SameSecret("abc", ""));
}

struct EdgeFixture {
  FakeEnv env;
  RequestMetrics metrics;
  ApiContext ctx{env, GlobalOptions{}, metrics};
  UiSessions sessions{env, 12 * kHour, 2 * kHour};
  UiEdge edge{ctx, sessions,
              [](std::string_view token) -> Result<ApiPrincipal> {
                if (token != "sluice.good") return Fail(ErrorCode::kInvalidInput, "unknown token");
                return ApiPrincipal{"alice", {{"default", Role::kViewer}}};
              },
              false};
  std::string Header(const ApiResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) if (k == name) return v;
    return "";
  }
};

TEST(UiEdge, LoginTakesOnlyJsonAndAValidTokenAndSetsAStrictHttpOnlyCookie) {
  EdgeFixture f;
  auto form = f.edge.Answer({"POST", "/ui/login", "", "", "application/x-www-form-urlencoded",
                             "token=sluice.good"});
  EXPECT_EQ(form.status, 415);  // what another site's form can send
  auto bad = f.edge.Answer({"POST", "/ui/login", "", "", "application/json", R"({"token":"x"})"});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(f.Header(bad, "Set-Cookie"), "");
  auto ok = f.edge.Answer(
      {"POST", "/ui/login", "", "", "application/json", R"({"token":"sluice.good"})"});
  ASSERT_EQ(ok.status, 200) << ok.body;
  const std::string cookie = f.Header(ok, "Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(ok.body.find("sluice.good"), std::string::npos);  // the token never comes back
  auto me = ParseJson(ok.body);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->Find("user")->as_string(), "alice");
  const std::string csrf = me->Find("csrf")->as_string();
  const std::string jar = cookie.substr(0, cookie.find(';'));
  auto info = f.edge.Answer({"GET", "/ui/session", jar, "", "", ""});
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(f.edge.Answer({"GET", "/ui/session", "sluice_session=forged", "", "", ""}).status, 401);
  // Logout is a write: refused without the session's CSRF token, then done with it.
  EXPECT_EQ(f.edge.Answer({"POST", "/ui/logout", jar, "", "", ""}).status, 403);
  EXPECT_EQ(f.edge.Answer({"POST", "/ui/logout", jar, std::string(64, '0'), "", ""}).status, 403);
  auto out = f.edge.Answer({"POST", "/ui/logout", jar, csrf, "", ""});
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(f.Header(out, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(f.edge.Answer({"GET", "/ui/session", jar, "", "", ""}).status, 401);
}

TEST(UiEdge, TenFailedLoginsFromOneAddressInAMinuteAre429UntilTheOldestIsAMinuteOld) {
  EdgeFixture f;
  auto login = [&](const std::string& token, const std::string& remote) {
    return f.edge.Answer({"POST", "/ui/login", "", "", "application/json",
                          "{\"token\":\"" + token + "\"}", remote});
  };
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(login("sluice.bad", "10.0.0.1").status, 401) << i;
    f.env.fake_clock.Advance(1'000'000);
  }
  auto refused = login("sluice.good", "10.0.0.1");  // the token is not even checked
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(f.Header(refused, "Retry-After"), "50");
  EXPECT_EQ(f.Header(refused, "Set-Cookie"), "");
  EXPECT_EQ(login("sluice.good", "10.0.0.2").status, 200);  // another address
  f.env.fake_clock.Advance(50'000'000);
  EXPECT_EQ(login("sluice.good", "10.0.0.1").status, 200);
  auto me = ParseJson(login("sluice.good", "10.0.0.1").body);
  ASSERT_TRUE(me);
  ASSERT_TRUE(me->Find("may"));
  EXPECT_EQ(me->Find("may")->ToJson(), R"({"default":["read"]})");
}

TEST(UiEdge, ServesTheEmbeddedFilesWithTheirTypesAndAStrictPolicy) {
  EdgeFixture f;
  auto index = f.edge.Answer({"GET", "/", "", "", "", ""});
  if (UiFiles().empty()) {  // built with -DSLUICE_UI=OFF
    EXPECT_EQ(index.status, 404);
    return;
  }
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(f.Header(index, "Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_EQ(f.Header(index, "Cache-Control"), "no-cache");
  bool js = false;
  for (const UiFile& file : UiFiles()) {
    std::string p = file.path;
    if (!p.ends_with(".js")) continue;
    auto r = f.edge.Answer({"GET", p, "", "", "", ""});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(r.body.size(), file.size);
    EXPECT_NE(f.Header(r, "Cache-Control").find("immutable"), std::string::npos);
    js = true;
  }
  EXPECT_TRUE(js);
  EXPECT_EQ(f.edge.Answer({"GET", "/assets/nothing.js", "", "", "", ""}).status, 404);
  EXPECT_EQ(f.edge.Answer({"POST", "/", "", "", "", ""}).status, 405);
  EXPECT_TRUE(IsUiPath("/"));
  EXPECT_TRUE(IsUiPath("/assets/x.js"));
  EXPECT_FALSE(IsUiPath("/api/v1/runs"));
  EXPECT_FALSE(IsUiPath("/healthz"));
}

}  // namespace ui_session_test
}  // namespace sluice
