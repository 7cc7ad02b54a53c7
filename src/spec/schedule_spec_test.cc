// kind: Schedule documents: what the loader keeps, and its one-line located errors.
#include "spec/schedule_spec.h"

#include <gtest/gtest.h>

#include "env/fake_env.h"
#include "spec/loader.h"
#include "spec/plan.h"

namespace sluice {
namespace schedule_spec_test {

constexpr const char* kHead = "apiVersion: sluice/v1\nkind: Schedule\nmetadata: {name: nightly}\nspec:\n";

Result<SpecFile> Parse(const std::string& spec) {
  return ParseSpecFile("/s/nightly.yaml", std::string(kHead) + spec);
}

std::string ErrorOf(const std::string& spec) {
  auto f = Parse(spec);
  return f ? "parsed" : f.error().message;
}

TEST(ScheduleSpec, ReadsEveryKey) {
  auto f = Parse("  pipeline: ../ml/train.yaml\n"
                 "  params: {epochs: 3, model: resnet, tags: [a, b]}\n"
                 "  cron: '30 2 * * *'\n"
                 "  timeZone: Europe/Paris\n"
                 "  concurrencyPolicy: Forbid\n"
                 "  startingDeadline: 1h\n"
                 "  catchUp: all\n"
                 "  catchUpCap: 3\n"
                 "  suspend: true\n"
                 "  maxActiveRuns: 2\n");
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->schedules.size(), 1u);
  const ScheduleSpec& s = f->schedules[0];
  EXPECT_EQ(s.name, "nightly");
  EXPECT_EQ(s.PipelinePath(), "/ml/train.yaml");
  ASSERT_EQ(s.params.size(), 3u);
  EXPECT_EQ(s.params[0].name, "epochs");
  EXPECT_EQ(s.params[0].value, Value(int64_t{3}));
  EXPECT_EQ(s.params[1].text, "resnet");
  EXPECT_FALSE(s.params[2].scalar);
  EXPECT_EQ(s.cron.text, "30 2 * * *");
  EXPECT_EQ(s.time_zone, "Europe/Paris");
  EXPECT_EQ(s.time_zone_loc.line, 8);
  EXPECT_EQ(s.policy.concurrency, ConcurrencyPolicy::kForbid);
  EXPECT_EQ(s.policy.starting_deadline_us, 3'600'000'000);
  EXPECT_EQ(s.policy.catch_up, CatchUp::kAll);
  EXPECT_EQ(s.policy.catch_up_cap, 3);
  EXPECT_TRUE(s.policy.suspend);
  EXPECT_EQ(s.policy.max_active_runs, 2);
}

TEST(ScheduleSpec, DefaultsAreDocumented) {
  auto f = Parse("  pipeline: p.yaml\n  cron: '@daily'\n");
  ASSERT_TRUE(f) << f.error().message;
  const ScheduleSpec& s = f->schedules[0];
  EXPECT_EQ(s.PipelinePath(), "/s/p.yaml");
  EXPECT_EQ(s.time_zone, "UTC");
  EXPECT_EQ(s.time_zone_loc.line, 0);
  EXPECT_EQ(s.policy.concurrency, ConcurrencyPolicy::kAllow);
  EXPECT_EQ(s.policy.starting_deadline_us, 0);
  EXPECT_EQ(s.policy.catch_up, CatchUp::kLast);
  EXPECT_FALSE(s.policy.suspend);
  EXPECT_EQ(s.policy.max_active_runs, 16);
}

TEST(ScheduleSpec, ABadCronIsLocatedAtTheWrongText) {
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: 30 25 * * *\n"),
            "/s/nightly.yaml:6:12: cron \"30 25 * * *\": hour field: \"25\" is out of range 0-23");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: \"0 0 * * mon-fir\"\n"),
            "/s/nightly.yaml:6:22: cron \"0 0 * * mon-fir\": day-of-week field: \"fir\" is not a "
            "number or a name (0-7 or sun-sat)");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '0 0 * * 8'\n"),
            "/s/nightly.yaml:6:18: cron \"0 0 * * 8\": day-of-week field: \"8\" is out of range "
            "0-7 or sun-sat");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '@dialy'\n").find("/s/nightly.yaml:6:10: cron "
                                                                  "\"@dialy\": unknown macro"), 0u);
}

TEST(ScheduleSpec, UnknownKeysWrongTypesAndBadValuesAreLocated) {
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '@daily'\n  concurrency: Forbid\n"),
            "/s/nightly.yaml:7:3: unknown key \"concurrency\" in a Schedule spec (did you mean "
            "\"concurrencyPolicy\"?)");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '@daily'\n  concurrencyPolicy: forbid\n"),
            "/s/nightly.yaml:7:22: concurrencyPolicy must be Allow, Forbid, Replace, not "
            "\"forbid\" (did you mean \"Forbid\"?)");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '@daily'\n  suspend: maybe\n"),
            "/s/nightly.yaml:7:12: suspend must be true or false");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '@daily'\n  maxActiveRuns: 0\n"),
            "/s/nightly.yaml:7:18: maxActiveRuns must be a whole number from 1 to 10000");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '@daily'\n  startingDeadline: soon\n"),
            "/s/nightly.yaml:7:21: startingDeadline must be a positive duration such as 30s, 5m "
            "or 1h30m");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '@daily'\n  catchUpCap: 5\n"),
            "/s/nightly.yaml:7:15: catchUpCap bounds catchUp: all; this schedule's catchUp starts "
            "at most one fire");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: [0, 0]\n"),
            "/s/nightly.yaml:6:9: cron must be a string, not a list");
  EXPECT_EQ(ErrorOf("  cron: '@daily'\n"),
            "/s/nightly.yaml:5:3: a Schedule needs pipeline (a pipeline file, relative to this "
            "file) and cron (e.g. \"30 2 * * *\" or @daily)");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  cron: '@daily'\n  params: {a: 1, a: 2}\n"),
            "/s/nightly.yaml:7:18: param \"a\" is given twice");
}

TEST(ScheduleSpec, ASecondScheduleOfTheSameNameIsRefused) {
  std::string doc = std::string(kHead) + "  pipeline: p.yaml\n  cron: '@daily'\n";
  auto f = ParseSpecFile("/s/two.yaml", doc + "---\n" + doc);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message, "/s/two.yaml:10:18: schedule \"nightly\" is declared twice (also at "
                               "/s/two.yaml:3:18)");
}

TEST(ScheduleSpec, APipelineNeitherHoldsNorImportsASchedule) {
  const std::string sched = std::string(kHead) + "  pipeline: p.yaml\n  cron: '@daily'\n";
  const std::string pipe = "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                           "  tasks: [{name: a, run: [x]}]\n";
  MemFileSystem fs(std::map<std::string, std::string>{{"/s/p.yaml", pipe + "---\n" + sched},
                    {"/s/q.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: q}\n"
                                  "spec:\n  imports: [nightly.yaml]\n  tasks: [{name: a, run: [x]}]\n"},
                    {"/s/nightly.yaml", sched}});
  auto held = LoadPlan(fs, "/s/p.yaml");
  ASSERT_FALSE(held);
  EXPECT_NE(held.error().message.find("is a Schedule document: it lives in its own file"),
            std::string::npos) << held.error().message;
  auto imported = LoadPlan(fs, "/s/q.yaml");
  ASSERT_FALSE(imported);
  EXPECT_NE(imported.error().message.find("and this is a Schedule (imported from /s/q.yaml:5:13)"),
            std::string::npos) << imported.error().message;
}

TEST(ScheduleSpec, ParamsAreCheckedAgainstThePipelinesDeclarations) {
  MemFileSystem fs(std::map<std::string, std::string>{{"/s/p.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\n"
                                  "spec:\n  params:\n    - {name: epochs, type: int}\n"
                                  "    - {name: version, type: string}\n"
                                  "  tasks: [{name: a, run: [x]}]\n"}});
  auto plan = LoadPlan(fs, "/s/p.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  auto texts = [&](const std::string& params) {
    auto f = Parse("  pipeline: p.yaml\n  cron: '@daily'\n  params: " + params + "\n");
    EXPECT_TRUE(f) << f.error().message;
    return ScheduleParamTexts(f->schedules[0], **plan);
  };
  auto ok = texts("{epochs: 3, version: 1.10}");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, (std::map<std::string, std::string>{{"epochs", "3"}, {"version", "1.10"}}));
  EXPECT_EQ(texts("{epoch: 3}").error().message,
            "/s/nightly.yaml:7:19: unknown param \"epoch\" (did you mean \"epochs\"?); pipeline p "
            "declares: epochs, version");
  EXPECT_EQ(texts("{epochs: three}").error().message,
            "/s/nightly.yaml:7:20: param \"epochs\" must be int, got \"three\"");
}

}  // namespace schedule_spec_test
}  // namespace sluice
