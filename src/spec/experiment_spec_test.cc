// kind: Experiment (loader_experiment.cc, docs/chaos.md): what is read, the SLUICE_FAULTS text a
// fault becomes, and the located errors of what is wrong.
#include "spec/experiment_spec.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

std::string Doc(const std::string& spec) {
  return "apiVersion: sluice/v1\nkind: Experiment\nmetadata: {name: x}\nspec:\n"
         "  target: {pipeline: p.yaml, runs: 2, params: {epochs: 1}}\n" + spec;
}

TEST(ExperimentSpec, ReadsTheModelAndTurnsFaultsIntoTheRunsFaultText) {
  auto e = ParseExperimentFile("/x/e.yaml", Doc(
      "  weight: 4\n"
      "  configuration: {url: http://127.0.0.1:1}\n"
      "  steadyStateHypothesis:\n    title: ok\n    probes:\n"
      "      - {name: rate, runs: {status: [succeeded, cached]}, tolerance: \"value >= 0.9\"}\n"
      "      - {name: p95, taskDuration: {task: \"train*\", percentile: 95}, tolerance: \"value < 3.0\"}\n"
      "  method:\n"
      "    - {name: flaky, fault: {task: {exit: 75, task: \"reg*\", attempt: 1, rate: 0.25}}}\n"
      "    - {name: slow, fault: {task: {delay: 2s, task: fetch}}, pauses: {after: 1s}}\n"
      "    - {name: store, fault: {store: {commitFail: 3}}}\n"
      "    - {name: kill, fault: {process: {kill: run, after: 200ms}}}\n"
      "    - {name: web, metric: {provider: {web: {url: \"${{ args.url }}/health\"}}}}\n"
      "    - {name: count, cel: \"size(runs)\"}\n"
      "  rollbacks:\n    - {name: tidy, command: {argv: [sh, -c, \"true\"]}}\n"
      "  runtime: {hypothesis: {strategy: continuously, failFast: true}}\n"));
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->pipeline, "/x/p.yaml");
  EXPECT_EQ(e->runs, 2);
  EXPECT_EQ(e->weight, 4);
  EXPECT_EQ(e->params, (std::vector<std::pair<std::string, std::string>>{{"epochs", "1"}}));
  ASSERT_EQ(e->hypothesis.size(), 2u);
  EXPECT_EQ(e->hypothesis[0].probe.statuses, (std::vector<std::string>{"succeeded", "cached"}));
  EXPECT_EQ(e->hypothesis[1].probe.percentile, 95);
  ASSERT_EQ(e->method.size(), 6u);
  EXPECT_EQ(e->method[0].fault.faults, "exit=75@task:reg*#1~0.25");
  EXPECT_EQ(e->method[1].fault.faults, "delay=2000ms@task:fetch");
  EXPECT_EQ(e->method[1].pause_after_ms, 1000);
  EXPECT_EQ(e->method[2].fault.faults, "commit-fail@3");
  EXPECT_EQ(e->method[3].fault.kill_after_ms, 200);
  EXPECT_EQ(e->method[4].probe.kind, ProbeSpec::Kind::kMetric);
  EXPECT_EQ(e->method[5].probe.kind, ProbeSpec::Kind::kCel);
  EXPECT_EQ(e->rollbacks[0].command.argv.size(), 3u);
  EXPECT_TRUE(e->CheckBefore() && e->CheckDuring() && e->CheckAfter() && e->fail_fast);
}

TEST(ExperimentSpec, WhatIsWrongIsOneLocatedLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  method:\n    - {name: a, runs: {}, retries: {}}\n", "7:36: a probe measures one thing"},
      {"  steadyStateHypothesis:\n    probes:\n      - {name: a, runs: {}}\n  method: []\n",
       "a probe of the hypothesis needs a tolerance"},
      {"  steadyStateHypothesis:\n    probes:\n      - {name: a, fault: {task: {hang: true, task: x}}}\n"
       "  method: []\n", "the steady-state hypothesis holds probes only"},
      {"  method: []\n  rollbacks:\n    - {name: a, fault: {task: {hang: true, task: x}}}\n",
       "unknown key \"fault\" in a rollback"},
      {"  method:\n    - {name: a, fault: {task: {exit: 75, signal: 9, task: x}}}\n",
       "needs exactly one of exit, signal, hang, delay or spawnFail"},
      {"  method:\n    - {name: a, fault: {task: {exit: 75}}}\n", "fault.task needs task"},
      {"  method:\n    - {name: a, cel: \"probes.x + nope\"}\n", "unknown name \"nope\""},
      {"  method:\n    - {name: a, metric: {provider: {web: {url: \"${{ args.u }}\"}}}}\n",
       "unknown arg \"u\""},
      {"  method: []\n  runtime: {hypothesis: {strategy: sometimes}}\n", "strategy must be one of"},
      {"  method:\n    - {name: a, retries: {}}\n    - {name: a, retries: {}}\n",
       "activity \"a\" is declared twice"},
      {"  method:\n    - {name: a, fault: {dependency: {listen: 127.0.0.1:1, upstream: "
       "db.example.com:5432, latency: 1s}}}\n", "upstream must be a loopback HOST:PORT"},
      {"  method:\n    - {name: a, fault: {resource: {memory: lots}}}\n",
       "memory must be bytes such as 256M"},
  };
  for (const auto& [spec, want] : cases) {
    auto e = ParseExperimentFile("/x/e.yaml", Doc(spec));
    ASSERT_FALSE(e) << spec;
    EXPECT_NE(e.error().message.find("/x/e.yaml:"), std::string::npos) << e.error().message;
    EXPECT_NE(e.error().message.find(want), std::string::npos) << e.error().message;
  }
  auto none = ParseExperimentFile("/x/e.yaml", "apiVersion: sluice/v1\nkind: Pipeline\n");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("kind: Experiment"), std::string::npos);
}

}  // namespace
}  // namespace sluice
