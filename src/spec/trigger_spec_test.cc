// kind: Trigger documents: what the loader keeps, and its one-line located errors.
#include "spec/trigger_spec.h"

#include <gtest/gtest.h>

#include "spec/loader.h"

namespace sluice {
namespace trigger_spec_test {

constexpr const char* kHead = "apiVersion: sluice/v1\nkind: Trigger\nmetadata: {name: hook}\nspec:\n";

Result<SpecFile> Parse(const std::string& spec) {
  return ParseSpecFile("/t/hook.yaml", std::string(kHead) + spec);
}

std::string ErrorOf(const std::string& spec) {
  auto f = Parse(spec);
  return f ? "parsed" : f.error().message;
}

TEST(TriggerSpec, ReadsEveryKey) {
  auto f = Parse("  pipeline: ../ml/train.yaml\n"
                 "  params: {ref: \"${{ body.ref }}\", seed: 3, tags: [a, b]}\n"
                 "  when: \"${{ headers['x-github-event'] == 'push' }}\"\n");
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->triggers.size(), 1u);
  const TriggerSpec& t = f->triggers[0];
  EXPECT_EQ(t.name, "hook");
  EXPECT_EQ(t.PipelinePath(), "/ml/train.yaml");
  ASSERT_EQ(t.params.size(), 3u);
  EXPECT_TRUE(t.params[0].value.has_placeholders());
  EXPECT_TRUE(t.params[1].value.literal && t.params[1].value.literal->is_int());
  EXPECT_TRUE(t.params[2].value.literal && t.params[2].value.literal->is_list());
  ASSERT_TRUE(t.when);
  EXPECT_EQ(t.when->loc.line, 7);
}

TEST(TriggerSpec, BadDocumentsFailAtTheirLocation) {
  EXPECT_EQ(ErrorOf("  pipelin: p.yaml\n"),
            "/t/hook.yaml:5:3: unknown key \"pipelin\" in a Trigger spec (did you mean \"pipeline\"?)");
  EXPECT_EQ(ErrorOf("  params: {}\n"),
            "/t/hook.yaml:5:3: a Trigger needs pipeline (a pipeline file, relative to this file)");
  EXPECT_EQ(ErrorOf("  pipeline: p.yaml\n  when: true\n").substr(0, 29), "/t/hook.yaml:6:9: when must b");
  EXPECT_NE(ErrorOf("  pipeline: p.yaml\n  params: {ref: \"${{ body. }}\"}\n").find("/t/hook.yaml:6:17: in param \"ref\": column 11"),
            std::string::npos);
  EXPECT_NE(ErrorOf("  pipeline: p.yaml\n  params: {ref: \"${{ param.x }}\"}\n")
                .find("\"param\" is not known here"),
            std::string::npos);
  EXPECT_NE(ErrorOf("  pipeline: p.yaml\n  when: \"${{ bodyy.x == 1 }}\"\n")
                .find("did you mean \"body\""),
            std::string::npos);
  EXPECT_NE(ErrorOf("  pipeline: p.yaml\n  params: {a: 1, a: 2}\n").find(":6:18: "), std::string::npos);
}

TEST(TriggerSpec, AFileMayHoldSeveralTriggers) {
  auto f = ParseSpecFile("/t/x.yaml", std::string(kHead) + "  pipeline: p.yaml\n---\n"
                         "apiVersion: sluice/v1\nkind: Trigger\nmetadata: {name: hook}\nspec:\n"
                         "  pipeline: q.yaml\n");
  ASSERT_TRUE(f) << "the loader keeps both; ReadTriggerFile refuses a name given twice";
  EXPECT_EQ(f->triggers.size(), 2u);
}

}  // namespace trigger_spec_test
}  // namespace sluice
