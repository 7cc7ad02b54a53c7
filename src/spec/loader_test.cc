// What the loader keeps of a task: rare keys behind pointers, with defaults when unset.
#include "spec/loader.h"

#include <gtest/gtest.h>

namespace sluice {
namespace loader_test {

Result<SpecFile> Parse(std::string_view tasks) {
  return ParseSpecFile("/p/pipeline.yaml", fmt::format("apiVersion: sluice/v1\nkind: Pipeline\n"
                                                       "metadata: {{name: p}}\nspec:\n  tasks:\n"
                                                       "{}",
                                                       tasks));
}

TEST(Loader, BareTaskKeepsNoOptionsAndReadsTheDefaults) {
  auto f = Parse("    - {name: a, run: [echo, hi]}\n");
  ASSERT_TRUE(f) << f.error().message;
  const TaskSpec& t = f->pipelines[0].tasks[0];
  EXPECT_EQ(t.options, nullptr);
  EXPECT_EQ(t.body.extra, nullptr);
  EXPECT_FALSE(t.opts().timeout_ms);
  EXPECT_FALSE(t.opts().resources.set);
  EXPECT_TRUE(t.opts().outputs.params.empty());
  EXPECT_EQ(t.body.shell(), "sh -e");
  EXPECT_TRUE(t.body.with().empty());
  EXPECT_TRUE(t.env().empty());
  EXPECT_EQ(t.when(), nullptr);
  EXPECT_EQ(t.retry(), nullptr);
  EXPECT_EQ(t.handlers(), nullptr);
  ASSERT_EQ(t.body.run.size(), 2u);
  EXPECT_EQ(t.body.run[0].tmpl.text(), "echo");
}

TEST(Loader, OptionsAndBodyExtrasAreKeptWhenGiven) {
  auto f = Parse("    - {name: a, script: 'exit 0', shell: bash -eu, timeout: 5s, deadline: 1m,\n"
                 "       cache: true, resources: {cpu: 2}}\n"
                 "    - {name: b, uses: c@1, with: {x: 1}}\n");
  ASSERT_TRUE(f) << f.error().message;
  const TaskSpec& a = f->pipelines[0].tasks[0];
  ASSERT_NE(a.options, nullptr);
  EXPECT_EQ(a.opts().timeout_ms, 5000);
  EXPECT_EQ(a.opts().deadline_ms, 60000);
  EXPECT_TRUE(a.opts().cache && a.opts().cache->enabled);
  EXPECT_EQ(a.opts().resources.cpu, 2);
  EXPECT_EQ(a.body.shell(), "bash -eu");
  const TaskSpec& b = f->pipelines[0].tasks[1];
  EXPECT_EQ(b.options, nullptr);
  ASSERT_EQ(b.body.with().size(), 1u);
  EXPECT_EQ(b.body.with()[0].first, "x");
  EXPECT_EQ(b.body.shell(), "sh -e");
}

TEST(Loader, EnvWhenRetryAndHandlersLiveInTheOptions) {
  auto f = Parse("    - {name: a, run: [x], env: {K: v}, when: '${{ true }}', retry: {limit: 2},\n"
                 "       fallback: {run: [y]}}\n");
  ASSERT_TRUE(f) << f.error().message;
  const TaskSpec& a = f->pipelines[0].tasks[0];
  ASSERT_NE(a.options, nullptr);
  ASSERT_EQ(a.env().size(), 1u);
  EXPECT_EQ(a.env()[0].first, "K");
  ASSERT_NE(a.when(), nullptr);
  EXPECT_TRUE(a.when()->has_placeholders());
  ASSERT_NE(a.retry(), nullptr);
  EXPECT_EQ(a.retry()->limit, 2);
  ASSERT_NE(a.handlers(), nullptr);
  ASSERT_NE(a.handlers()->fallback, nullptr);
  EXPECT_EQ(a.handlers()->fallback->name, "a.fallback");
}

TEST(Loader, BuiltinKeepsItsNameInTextAndOnlyTheRestInRun) {
  auto f = Parse("    - {name: a, run: [\"builtin:noop\"]}\n"
                 "    - {name: b, run: [\"builtin:noop\", \"${{ params.x }}\"]}\n");
  ASSERT_TRUE(f) << f.error().message;
  const Body& a = f->pipelines[0].tasks[0].body;
  EXPECT_EQ(a.kind, Body::Kind::kBuiltin);
  EXPECT_EQ(a.text, "noop");
  EXPECT_TRUE(a.run.empty());
  EXPECT_EQ(a.run.capacity(), 0u);
  const Body& b = f->pipelines[0].tasks[1].body;
  ASSERT_EQ(b.run.size(), 1u);
  EXPECT_TRUE(b.run[0].has_placeholders());
  auto bad = Parse("    - {name: a, run: [\"builtin:nope\"]}\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown builtin \"builtin:nope\""), std::string::npos);
}

TEST(Loader, ImageIsRecordedOnTasksAndComponents) {
  auto f = Parse("    - {name: a, run: [x], image: 'ghcr.io/acme/train:1.2'}\n"
                 "    - {name: b, run: [x]}\n");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->pipelines[0].tasks[0].opts().image, "ghcr.io/acme/train:1.2");
  EXPECT_EQ(f->pipelines[0].tasks[1].opts().image, "");
  auto c = ParseSpecFile("/p/c.yaml", "apiVersion: sluice/v1\nkind: Component\n"
                         "metadata: {name: c, version: 1.0.0}\n"
                         "spec: {run: [x], image: 'python:3.12'}\n");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->components.size(), 1u);
  EXPECT_EQ(c->components[0].image, "python:3.12");
  auto bad = Parse("    - {name: a, run: [x], image: 'two words'}\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("/p/pipeline.yaml:6:"), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("image must be one word"), std::string::npos);
}

}  // namespace loader_test
}  // namespace sluice
