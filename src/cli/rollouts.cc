// `sluice rollout ...` and `sluice env ...` (rollouts.h).
#include "cli/rollouts.h"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/approval_rules.h"
#include "cli/cli_support.h"
#include "cli/identity.h"
#include "cli/rerun.h"
#include "cli/rollout_report.h"
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
  auto row = (*store)->GetRollout(run->id, task);
  if (!row) return Report(row.error());
  if (!*row) {
    return Report(Error(ErrorCode::kNotFound, fmt::format(
        "task {} of run {} has no rollout (it is not a deploy task, or it has not started)",
        Quote(task), run->id)));
  }
  auto ms = (*store)->Measurements(run->id, task);
  if (!ms) return Report(ms.error());
  const Value doc = RolloutJson(**row, *ms);
  if (g.json) {
    std::printf("%s\n", doc.ToJson().c_str());
    return 0;
  }
  const RolloutRow& r = **row;
  const Value* st = doc.Find("state");
  auto text = [&](const char* k) {
    const Value* v = st && st->is_map() ? st->Find(k) : nullptr;
    return v ? v->ToText() : std::string();
  };
  std::printf("%s %s -> %s: %s\n  %s\n", r.run_id.c_str(), r.task.c_str(), r.environment.c_str(),
              r.phase.c_str(), r.message.c_str());
  std::printf("  candidate %s in slot %s (%s %%), stable %s in slot %s\n", text("version").c_str(),
              text("canarySlot").c_str(), text("weight").c_str(),
              text("stableVersion").empty() ? "none" : text("stableVersion").c_str(),
              text("stableSlot").empty() ? "-" : text("stableSlot").c_str());
  if (!ms->empty()) std::printf("  measurements:\n");
  for (const auto& m : *ms) {
    std::printf("    %-13s %-14s %s/%s = %s%s%s\n", m.analysis.c_str(), m.phase.c_str(),
                m.template_name.c_str(), m.metric.c_str(), m.value.c_str(),
                m.message.empty() ? "" : "  ", m.message.c_str());
  }
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
  auto row = (*store)->GetRollout(run->id, task);
  if (!row) return Report(row.error());
  if (*row && (command == "promote" || command == "resume")) {
    auto envs = LoadEnvironments(env.files(), g.state_dir);
    if (!envs) return Report(envs.error());
    const EnvironmentSpec* spec = (*envs)->Find((*row)->environment);
    const ApprovalSpec* approval = spec ? spec->promotion.approval.get() : nullptr;
    if (auto s = MayPromote(**store, *run, *who, approval, command.c_str()); !s) {
      return Report(s.error());
    }
  }
  auto audit = AuditOf(env, who->Actor(), "rollout." + command, run->id, task,
                       Value(ValueMap{{"environment", Value(*row ? (*row)->environment : "")}}));
  auto done = (*store)->CommandRollout(run->id, task, command, std::move(audit));
  if (!done) return Report(done.error());
  std::printf("%s the rollout of %s in run %s (%s)\n", command.c_str(), task.c_str(),
              run->id.c_str(), (*row)->environment.c_str());
  return 0;
}

int EnvList(Env& env, const GlobalOptions& g) {
  auto envs = LoadEnvironments(env.files(), g.state_dir);
  if (!envs) return Report(envs.error());
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  ValueList items;
  for (const auto& e : (*envs)->environments) {
    auto current = (*store)->Releases(e->name, 1);
    if (!current) return Report(current.error());
    const ReleaseRow* r = !current->empty() && (*current)[0].until_us == 0 ? &(*current)[0] : nullptr;
    auto active = (*store)->ListRollouts(e->name);
    if (!active) return Report(active.error());
    std::string rolling;
    for (const auto& a : *active) {
      if (a.active()) rolling = a.run_id + " " + a.task + " (" + a.phase + ")";
    }
    items.push_back(Value(ValueMap{
        {"environment", Value(e->name)},
        {"version", Value(r ? r->version : "")}, {"digest", Value(r ? r->digest : "")},
        {"slot", Value(r ? r->slot : "")}, {"since", Value(r ? Ts(r->since_us) : "")},
        {"by", Value(r ? r->actor : "")}, {"rollout", Value(rolling)}}));
  }
  if (g.json) {
    std::printf("%s\n", Value(std::move(items)).ToJson().c_str());
    return 0;
  }
  std::printf("%-12s %-14s %-8s %-26s %-12s %s\n", "ENVIRONMENT", "VERSION", "SLOT", "SINCE", "BY",
              "ROLLOUT");
  for (const auto& i : items) {
    auto t = [&](const char* k) { return i.Find(k)->ToText(); };
    std::printf("%-12s %-14s %-8s %-26s %-12s %s\n", t("environment").c_str(),
                t("version").empty() ? "-" : t("version").c_str(), t("slot").c_str(),
                t("since").c_str(), t("by").c_str(), t("rollout").c_str());
  }
  return 0;
}

int EnvHistory(Env& env, const GlobalOptions& g, const std::string& name, int limit) {
  auto store = OpenStore(env, g, false);
  if (!store) return Report(store.error());
  auto rows = (*store)->Releases(name, limit);
  if (!rows) return Report(rows.error());
  ValueList items;
  for (const auto& r : *rows) {
    items.push_back(Value(ValueMap{
        {"environment", Value(r.environment)}, {"version", Value(r.version)},
        {"digest", Value(r.digest)}, {"slot", Value(r.slot)}, {"run", Value(r.run_id)},
        {"task", Value(r.task)}, {"by", Value(r.actor)}, {"since", Value(Ts(r.since_us))},
        {"until", Value(r.until_us ? Ts(r.until_us) : "")}, {"current", Value(r.until_us == 0)}}));
  }
  if (g.json) {
    std::printf("%s\n", Value(std::move(items)).ToJson().c_str());
    return 0;
  }
  if (items.empty()) std::printf("%s has had no release\n", name.c_str());
  for (const auto& i : items) {
    auto t = [&](const char* k) { return i.Find(k)->ToText(); };
    std::printf("%s  %-14s sha256:%.12s  slot %-8s by %-12s run %s%s\n", t("since").c_str(),
                t("version").c_str(), t("digest").c_str(), t("slot").c_str(), t("by").c_str(),
                t("run").c_str(), i.Find("current")->as_bool() ? "  (current)" : "");
  }
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
                                    "(docs/rollout-report.md)");
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
