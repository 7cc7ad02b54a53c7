// Notifications files (loader_notifications.cc): what they hold, what they refuse at
// FILE:LINE:COL, ${NAME} in URLs and headers, the hooks' filters and the backoff schedule.
#include <gtest/gtest.h>

#include "spec/notifications_spec.h"

namespace sluice {
namespace notifications_spec_test {

constexpr const char* kGood = R"(apiVersion: sluice/v1
kind: Notifications
metadata: {name: team}
spec:
  delivery: {attempts: 3, backoff: 100ms, maxBackoff: 1s, timeout: 2s}
  hooks:
    - name: slack
      url: https://hooks.example/services/${HOOK_PATH}
      on: [run.failed, approval.requested]
      namespaces: [ml]
      headers: {Authorization: "Bearer ${SLACK_TOKEN}"}
    - name: all-runs
      url: http://127.0.0.1:9/in
      on: [run.succeeded, run.failed, breaker.opened]
      pipelines: [train]
)";

std::string ErrorOf(const std::string& text) {
  auto spec = ParseNotifications("/s/notifications.yaml", text);
  return spec ? "" : spec.error().message;
}

TEST(NotificationsSpec, ReadsHooksFiltersAndDelivery) {
  auto spec = ParseNotifications("/s/notifications.yaml", kGood);
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_EQ(spec->hooks.size(), 2u);
  EXPECT_EQ(spec->delivery.attempts, 3);
  EXPECT_EQ(spec->delivery.backoff_ms, 100);
  EXPECT_EQ(spec->delivery.max_backoff_ms, 1000);
  EXPECT_EQ(spec->delivery.timeout_ms, 2000);
  const WebhookSpec& slack = spec->hooks[0];
  EXPECT_TRUE(slack.Wants("run.failed", "ml", "anything"));
  EXPECT_FALSE(slack.Wants("run.failed", "default", "anything")) << "another namespace";
  EXPECT_FALSE(slack.Wants("run.succeeded", "ml", "anything")) << "not in on";
  EXPECT_FALSE(slack.Wants("breaker.opened", "", "")) << "a breaker has no namespace";
  const WebhookSpec& all = *spec->Find("all-runs");
  EXPECT_TRUE(all.Wants("run.failed", "default", "train"));
  EXPECT_FALSE(all.Wants("run.failed", "default", "etl"));
  EXPECT_FALSE(all.Wants("breaker.opened", "", "")) << "a pipeline filter excludes breakers";
}

TEST(NotificationsSpec, ExpandsEnvironmentVariablesAndNamesAMissingOneWithoutValues) {
  auto spec = ParseNotifications("/s/notifications.yaml", kGood);
  ASSERT_TRUE(spec);
  auto missing = *spec;
  auto s = ResolveNotificationEnv(missing, [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOOK_PATH") return "T0/B1";
    return std::nullopt;
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "/s/notifications.yaml:11:32: header Authorization: the "
                               "environment variable SLACK_TOKEN is not set (the server reads it "
                               "at start)");
  ASSERT_TRUE(ResolveNotificationEnv(*spec, [](const std::string& name) {
    return std::optional<std::string>(name == "HOOK_PATH" ? "T0/B1" : "xoxb-secret");
  }));
  EXPECT_EQ(spec->hooks[0].url, "https://hooks.example/services/T0/B1");
  EXPECT_EQ(spec->hooks[0].headers[0].value, "Bearer xoxb-secret");
}

TEST(NotificationsSpec, RefusesWhatItDoesNotKnowAtFileLineColumn) {
  std::string bad = kGood;
  bad.replace(bad.find("namespaces: [ml]"), 16, "namespace: [ml]");
  EXPECT_EQ(ErrorOf(bad).substr(0, 60),
            "/s/notifications.yaml:10:7: unknown key \"namespace\" in a hoo");
  bad = kGood;
  bad.replace(bad.find("run.succeeded"), 13, "run.finished");
  EXPECT_TRUE(ErrorOf(bad).starts_with("/s/notifications.yaml:14:12: unknown event \"run.finished\""))
      << ErrorOf(bad);
  bad = kGood;
  bad.replace(bad.find("attempts: 3"), 11, "attempts: x");
  EXPECT_TRUE(ErrorOf(bad).starts_with("/s/notifications.yaml:5:24: attempts must be a whole"))
      << ErrorOf(bad);
  bad = kGood;
  bad.replace(bad.find("http://127"), 7, "ftp://");
  EXPECT_TRUE(ErrorOf(bad).starts_with("/s/notifications.yaml:13:12: url must be")) << ErrorOf(bad);
  bad = kGood;
  bad.replace(bad.find("all-runs"), 8, "slack");
  EXPECT_TRUE(ErrorOf(bad).starts_with("/s/notifications.yaml:12:13: hook \"slack\" is declared "
                                       "twice")) << ErrorOf(bad);
  EXPECT_TRUE(ErrorOf("apiVersion: sluice/v1\nkind: Pipeline\nspec: {}\n")
                  .starts_with("/s/notifications.yaml:2:7: kind must be Notifications"));
}

TEST(NotificationsSpec, BackoffDoublesUpToTheCapLessAtMostAQuarterOfJitter) {
  DeliverySpec d;
  d.backoff_ms = 2000;
  d.max_backoff_ms = 300'000;
  std::vector<int64_t> schedule;
  for (int attempt = 1; attempt <= 9; ++attempt) schedule.push_back(BackoffMs(d, attempt, 0));
  EXPECT_EQ(schedule, (std::vector<int64_t>{2000, 4000, 8000, 16000, 32000, 64000, 128000,
                                            256000, 300000}));
  EXPECT_EQ(BackoffMs(d, 3, 1.0), 6000) << "a full jitter takes a quarter off";
  EXPECT_EQ(BackoffMs(d, 3, 0.5), 7000);
  EXPECT_EQ(BackoffMs(d, 60, 0), 300'000) << "no overflow far past the cap";
}

}  // namespace notifications_spec_test
}  // namespace sluice
