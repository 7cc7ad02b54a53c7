// `sluice rollout ...` and `sluice env ...` (rollouts.h).
#include "cli/rollouts.h"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/approval_rules.h"
#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/rerun.h"
#include "cli/rollout_report.h"
#include "cli/rollout_views.h"
#include "common/strings.h"
#include "spec/environment_spec.h"
#include "store/store.h"

namespace sluice {

namespace {

int ShowStatus(Env& env, const GlobalOptions& g, const std::string& run_ref, const std::string& task) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto run = (*store)->GetRun(run_ref);
  if (!run) return Report(run.error());
  auto found = RolloutDocument(**store, run->id, task);
  if (!found) return Report(found.error());
  const Value& doc = *found;
  if (g.json) {
    std::printf("%s\n", doc.ToJson().c_str());
    return 0;
  }
  std::fputs(RolloutText(doc).c_str(), stdout);
  return 0;
}

// promote, pause, resume and abort: a numbered command in the rollout's row, audited.
int Command(Env& env, const GlobalOptions& g, const std::string& run_ref, const std::string& task,
            const std::string& command) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto run = (*store)->GetRun(run_ref);
  if (!run) return Report(run.error());
  auto who = NewEmbeddedIdentity(env, g.state_dir, g.as)->Current();
  if (!who) return Report(who.error());
  bool refused = false;
  auto done = GiveRolloutCommand(env, g.state_dir, **store, *run, task, *who, command, &refused);
  if (!done) return Report(done.error());
  std::fputs(RolloutCommandText(command, task, run->id, done->environment).c_str(), stdout);
  return 0;
}

int EnvList(Env& env, const GlobalOptions& g) {
  auto envs = LoadEnvironments(env.files(), g.state_dir);
  if (!envs) return Report(envs.error());
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto items = EnvironmentsJson(**envs, **store);
  if (!items) return Report(items.error());
  std::fputs(g.json ? (items->ToJson() + "\n").c_str() : EnvironmentsText(*items).c_str(), stdout);
  return 0;
}

int EnvHistory(Env& env, const GlobalOptions& g, const std::string& name, int limit) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto rows = (*store)->Releases(name, limit);
  if (!rows) return Report(rows.error());
  const Value items = ReleasesJson(*rows);
  std::fputs(g.json ? (items.ToJson() + "\n").c_str() : ReleasesText(name, items).c_str(), stdout);
  return 0;
}

}  // namespace

void RolloutCli::Add(CLI::App& app) {
  auto* rollout = app.add_subcommand("rollout", "see and act on deploy tasks' rollouts "
                                     "(docs/rollouts.md)");
  rollout->require_subcommand(1);
  status_ = rollout->add_subcommand("status", "a rollout's phase, step, weights and measurements");
  promote_ = rollout->add_subcommand("promote", "go on past a pause, an inconclusive analysis "
                                     "or a blue/green switch that waits for a person");
  pause_ = rollout->add_subcommand("pause", "hold the rollout where it is");
  resume_ = rollout->add_subcommand("resume", "go on after a pause");
  abort_ = rollout->add_subcommand("abort", "put all traffic back on the stable version and "
                                   "stop the candidate");
  retry_ = rollout->add_subcommand("retry", "run an aborted or failed deploy task again "
                                   "(sluice retry RUN TASK)");
  report_ = rollout->add_subcommand("report", "one self-contained HTML page of the rollout: "
                                    "metrics against thresholds, weights, decisions "
                                    "(docs/rollouts.md)");
  report_->add_option("--out", out_, "the file to write (default rollout-RUN-TASK.html)");
  for (auto* cmd : {status_, promote_, pause_, resume_, abort_, retry_, report_}) {
    cmd->add_option("run", run_, "run id")->required();
    cmd->add_option("task", task_, "the deploy task")->required();
  }
  auto* env = app.add_subcommand("env", "environments (STATE/environments) and what they serve");
  env->require_subcommand(1);
  env_ls_ = env->add_subcommand("ls", "each environment's current model, since when and by whom");
  env_history_ = env->add_subcommand("history", "an environment's releases, newest first");
  env_history_->add_option("environment", env_, "environment name")->required();
  env_history_->add_option("--limit", limit_, "at most this many")->capture_default_str();
}

bool RolloutCli::StartsAttempts() const { return retry_ && *retry_; }

std::optional<int> RolloutCli::Dispatch(Env& env, const GlobalOptions& g) const {
  if (*status_) return ShowStatus(env, g, run_, task_);
  if (*report_) return CmdRolloutReport(env, g, run_, task_, out_);
  for (auto [cmd, name] : {std::pair{promote_, "promote"}, {pause_, "pause"}, {resume_, "resume"},
                           {abort_, "abort"}}) {
    if (*cmd) return Command(env, g, run_, task_, name);
  }
  if (*retry_) return CmdRetry(env, g, run_, {task_}, ExecOptions{});
  if (*env_ls_) return EnvList(env, g);
  if (*env_history_) return EnvHistory(env, g, env_, limit_);
  return std::nullopt;
}

}  // namespace sluice
