// The CLI against a server (remote_cli.h): rollout status|promote|pause|resume|abort|retry RUN
// TASK and env ls|history (issue 14). Each prints what the local command prints, drawn by the
// same functions (cli/rollout_views.h) from the document the API serves, and exits with the
// local command's code; `rollout retry RUN TASK` is `retry RUN TASK` (POST
// /api/v1/runs/{id}/retry), as it is locally.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/rollout_views.h"
#include "common/strings.h"
#include "server/remote_cli.h"

namespace sluice {

namespace {

constexpr const char* kCommands[] = {"promote", "pause", "resume", "abort"};

int RemoteRolloutStatus(RemoteContext& c, const RolloutClientOptions& o) {
  return PrintBodyOr(c,
                     Expect2xx(c.api.Get(fmt::format("/api/v1/runs/{}/rollouts/{}",
                                                     PathEscape(o.run_id), PathEscape(o.task))),
                               c.api.server()),
                     RolloutText);
}

// promote|pause|resume|abort: the body names nothing (the actor is the token's user). A command
// the environment's approval refuses (not an approver, forbidSelfApproval) is a 403 whose message
// is the local refusal's, printed as a local refusal is.
int RemoteRolloutCommand(RemoteContext& c, const RolloutClientOptions& o,
                         const std::string& command) {
  auto a = c.api.Post(fmt::format("/api/v1/runs/{}/rollouts/{}/{}", PathEscape(o.run_id),
                                  PathEscape(o.task), command),
                      "{}");
  if (a && a->status == 403) {
    auto v = ParseJson(a->body);
    const Value* err = v && v->is_map() ? v->Find("error") : nullptr;
    const Value* m = err && err->is_map() ? err->Find("message") : nullptr;
    if (m && m->is_string()) return Report(Error(ErrorCode::kInvalidInput, m->as_string()));
  }
  auto done = Expect2xx(std::move(a), c.api.server());
  if (!done) return Report(done.error());
  auto v = ParseJson(done->body);
  if (!v || !v->is_map())
    return Report(Error(ErrorCode::kIo, "the server's answer is not a JSON object"));
  // Text, with -o json too, as locally.
  std::fputs(RolloutCommandText(command, DocText(*v, "task"), DocText(*v, "run"), DocText(*v, "environment"))
                 .c_str(),
             stdout);
  return 0;
}

// The history's text names the environment asked for, so it is drawn here rather than by
// PrintBodyOr.
int RemoteEnvHistory(RemoteContext& c, const RolloutClientOptions& o) {
  auto a =
      Expect2xx(c.api.Get(fmt::format("/api/v1/environments/{}/history?limit={}",
                                      PathEscape(o.environment), std::clamp(o.limit, 0, 1000))),
                c.api.server());
  if (!a) return Report(a.error());
  auto v = ParseJson(a->body);
  const Value* items = v && v->is_map() ? v->Find("items") : nullptr;
  if (!items || !items->is_list())
    return Report(Error(ErrorCode::kIo, "the server's answer lacks its items"));
  std::fputs(
      c.json ? (items->ToJson() + "\n").c_str() : ReleasesText(o.environment, *items).c_str(),
      stdout);
  return 0;
}

}  // namespace

void AddRolloutClientCommands(CLI::App& app, RolloutClientOptions& o,
                              std::map<std::string, CLI::App*>& s) {
  auto* rollout = app.add_subcommand("rollout");
  rollout->require_subcommand(1);
  for (const char* name : {"status", "promote", "pause", "resume", "abort", "retry"}) {
    const std::string key = std::string("rollout ") + name;
    s[key] = rollout->add_subcommand(name);
    s[key]->add_option("run", o.run_id)->required();
    s[key]->add_option("task", o.task)->required();
  }
  auto* env = app.add_subcommand("env");
  env->require_subcommand(1);
  s["env ls"] = env->add_subcommand("ls");
  s["env history"] = env->add_subcommand("history");
  s["env history"]->add_option("environment", o.environment)->required();
  s["env history"]->add_option("--limit", o.limit);
}

int DispatchRollouts(Env& env, RemoteContext& c, const RolloutClientOptions& o,
                     std::map<std::string, CLI::App*>& s) {
  if (*s["rollout status"]) return RemoteRolloutStatus(c, o);
  for (const char* command : kCommands) {
    if (*s[std::string("rollout ") + command]) return RemoteRolloutCommand(c, o, command);
  }
  if (*s["rollout retry"]) {
    AgainClientOptions again;
    again.run_id = o.run_id;
    again.tasks = {o.task};
    return RemoteRetry(env, c, again);
  }
  if (*s["env ls"]) {
    return PrintBodyOr(c, Expect2xx(c.api.Get("/api/v1/environments"), c.api.server()),
                       EnvironmentsText, "items");
  }
  if (*s["env history"]) return RemoteEnvHistory(c, o);
  return -1;
}

}  // namespace sluice
