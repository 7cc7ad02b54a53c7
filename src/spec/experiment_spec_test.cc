// kind: Experiment (loader_experiment.cc, docs/chaos.md): what is read, the SLUICE_FAULTS text a
// fault becomes, and the located errors of what is wrong.
#include "spec/experiment_spec.h"

#include <gtest/gtest.h>

#include <tuple>

namespace sluice {
namespace experiment_spec_test {

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

TEST(ExperimentSpec, ATargetServerTakesTheControlPlanesFaults) {
  auto e = ParseExperimentFile("/x/e.yaml",
      "apiVersion: sluice/v1\nkind: Experiment\nmetadata: {name: x}\nspec:\n"
      "  target: {pipeline: p.yaml, server: {servers: 2, workers: 3, slots: 2, leaseTime: 2s}}\n"
      "  method:\n"
      "    - {name: w, fault: {process: {kill: worker, after: 1s, restart: 500ms}}}\n"
      "    - {name: l, fault: {process: {kill: leader, after: 2s}}}\n"
      "    - {name: e, fault: {process: {kill: engine, after: 3s}}}\n"
      "    - {name: ready, metric: {provider: {web: {url: \"${{ args.server }}/readyz\"}}}}\n");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->server.servers, 2);
  EXPECT_EQ(e->server.workers, 3);
  EXPECT_EQ(e->server.slots, 2);
  EXPECT_EQ(e->server.lease_ms, 2000);
  EXPECT_EQ(e->method[0].fault.kill, "worker");
  EXPECT_EQ(e->method[0].fault.restart_ms, 500);
  EXPECT_EQ(e->method[1].fault.kill, "leader");
  EXPECT_EQ(e->method[2].fault.kill_after_ms, 3000);
  const std::string kill = "  method:\n    - {name: r, fault: {process: {kill: ";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"{servers: 4}", "  method: []\n", "servers must be"},
      {"{leaseTime: 1500ms}", "  method: []\n", "leaseTime is whole seconds"},
      {"{workers: 1}", kill + "run, after: 1s}}}\n", "kill: engine"},
      {"{workers: 0}", kill + "worker, after: 1s}}}\n", "kill: worker needs target.server.workers"},
      {"{}", kill + "engine, after: 1s, restart: 1s}}}\n", "restart is for a worker, server or leader"},
      {"{}", kill + "leadr, after: 1s}}}\n", "did you mean \"leader\""},
  };
  for (const auto& [server, method, want] : cases) {
    auto bad = ParseExperimentFile("/x/e.yaml",
        "apiVersion: sluice/v1\nkind: Experiment\nmetadata: {name: x}\nspec:\n"
        "  target: {pipeline: p.yaml, server: " + server + "}\n" + method);
    ASSERT_FALSE(bad) << server << method;
    EXPECT_NE(bad.error().message.find(want), std::string::npos) << bad.error().message;
  }
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
      {"  steadyStateHypothesis:\n    probes:\n      - {name: a, runs: {}, tolerance: \"value > 0\", "
       "interval: 1s}\n  method: []\n  runtime: {hypothesis: {strategy: continuously}}\n",
       "interval is for a hypothesis probe that measures the system now"},
      {"  steadyStateHypothesis:\n    probes:\n      - {name: a, breaker: {name: b}, tolerance: "
       "\"value == 'closed'\", interval: 1s}\n  method: []\n",
       "give runtime.hypothesis.strategy continuously or during-method-only"},
      {"  configuration: {tok: x}\n  secrets:\n    - {name: tok, env: T}\n  method: []\n",
       "secret \"tok\" is also a configuration name"},
      {"  method:\n    - {name: a, fault: {delivery: {params: {}}}}\n", "fault.delivery needs params"},
      {"  method:\n    - {name: a, rollout: {phase: Aborted}}\n", "rollout.phase is how a rollout ended"},
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

}  // namespace experiment_spec_test
}  // namespace sluice
