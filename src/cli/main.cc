// The sluice command line: parses arguments with CLI11, builds the one real Env and dispatches
// to the commands with it.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"

#include <fmt/format.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

int main(int argc, char** argv) {
  using namespace sluice;
  CLI::App app{"sluice: pipelines from reusable components, run fast and durably"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  GlobalOptions g;
  std::string output = "text";
  app.add_option("--state-dir", g.state_dir, "where runs are stored (default $SLUICE_HOME or .sluice)");
  app.add_option("--as", g.as, "who runs the command (default $SLUICE_USER, then the login name)");
  app.add_option("-o,--output", output, "output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));

  RunOptions ro;
  std::vector<std::string> params;
  auto* run = app.add_subcommand("run", "run a pipeline");
  run->add_option("file", ro.file, "pipeline file")->required();
  run->add_option("-p,--param", params, "name=value (repeatable)")->allow_extra_args(false);
  run->add_option("-j,--jobs", ro.exec.jobs, "how many tasks run at once (default: cores)")
      ->check(CLI::Range(1, 100000));
  run->add_flag("--stats", ro.exec.stats, "print scheduling latency figures at the end");
  run->add_option("--gpus", ro.exec.gpus, "GPUs tasks may use on this machine (default 0)")
      ->check(CLI::Range(0, 1024));
  run->add_option("--policies", ro.policies, "a folder (or file) of Policy and Waiver documents");

  std::string file;
  std::string policies_dir;
  auto* validate = app.add_subcommand("validate", "check a pipeline; nothing runs, nothing is written");
  validate->add_option("file", file, "pipeline file")->required();
  validate->add_option("--policies", policies_dir, "also check and apply these admission policies");

  std::string policy_input;
  auto* policy = app.add_subcommand("policy", "evaluate or test policies");
  policy->require_subcommand(1);
  auto* policy_eval = policy->add_subcommand("eval", "evaluate a policy file's rules on a JSON input");
  policy_eval->add_option("file", file, "a file (or folder) of Policy and Waiver documents")->required();
  policy_eval->add_option("--input", policy_input, "JSON file: {\"object\": ...}")->required();
  auto* policy_test = policy->add_subcommand("test", "run the policy test cases in a folder");
  policy_test->add_option("dir", file, "a folder of test files")->required();

  std::string format = "dot";
  auto* graph = app.add_subcommand("graph", "print the pipeline's DAG");
  graph->add_option("file", file, "pipeline file")->required();
  graph->add_option("--format", format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));

  int limit = 50;
  auto* runs = app.add_subcommand("runs", "list runs, newest first");
  runs->add_option("-n,--limit", limit, "how many")->check(CLI::Range(1, 1000000));

  std::string run_id, task;
  int attempt = 0;
  bool follow = false;
  ExecOptions resume_opts;
  auto* status = app.add_subcommand("status", "show a run and its tasks");
  status->add_option("run", run_id, "run id (or a unique prefix)")->required();
  auto* events = app.add_subcommand("events", "print a run's event log");
  events->add_option("run", run_id, "run id (or a unique prefix)")->required();
  auto* logs = app.add_subcommand("logs", "print a task's output");
  logs->add_option("run", run_id, "run id")->required();
  logs->add_option("task", task, "task name")->required();
  logs->add_option("--attempt", attempt, "attempt number (default: the last)")->check(CLI::Range(1, 100000));
  logs->add_flag("-f,--follow", follow, "keep printing while the attempt runs");
  auto* resume = app.add_subcommand("resume", "continue a run that stopped");
  resume->add_option("run", run_id, "run id")->required();
  resume->add_option("-j,--jobs", resume_opts.jobs, "how many tasks run at once")
      ->check(CLI::Range(1, 100000));
  resume->add_option("--gpus", resume_opts.gpus, "GPUs tasks may use on this machine (default 0)")
      ->check(CLI::Range(0, 1024));
  resume->add_flag("--stats", resume_opts.stats, "print scheduling latency figures at the end");
  ExecOptions rollback_opts;
  rollback_opts.rollback = true;
  auto* rollback = app.add_subcommand(
      "rollback", "compensate a finished run: undo its completed tasks in reverse order");
  rollback->add_option("run", run_id, "run id")->required();
  rollback->add_option("-j,--jobs", rollback_opts.jobs, "how many compensations run at once")
      ->check(CLI::Range(1, 100000));
  auto* breakers = app.add_subcommand("breakers", "list circuit breakers, or change one's state");
  std::string breaker_name;
  std::map<std::string, CLI::App*> orders;
  for (const char* order : {"open", "close", "reset", "disable"}) {
    auto* sub = breakers->add_subcommand(
        order, fmt::format("{} a breaker", order == std::string("open") ? "force open"
                                           : order == std::string("reset") ? "reset (closed, window emptied)"
                                                                           : order));
    sub->add_option("name", breaker_name, "breaker name")->required();
    orders[order] = sub;
  }
  auto* audit = app.add_subcommand("audit", "check or export the tamper-evident audit log");
  audit->require_subcommand(1);
  std::string head;
  auto* audit_verify = audit->add_subcommand("verify", "recompute the hash chain; name the first broken record");
  audit_verify->add_option("--head", head, "a head hash exported earlier: also catches records removed from the end");
  auto* audit_export = audit->add_subcommand("export", "print every record as JSON Lines");
  auto* whoami = app.add_subcommand("whoami", "print who commands run as, and their groups");
  bool all_approvals = false;
  auto* approvals = app.add_subcommand("approvals", "list the approvals runs are waiting for");
  approvals->add_flag("--all", all_approvals, "also the decided ones");
  std::string comment;
  auto* approve = app.add_subcommand("approve", "approve a task that waits for approval");
  auto* reject = app.add_subcommand("reject", "reject a task that waits for approval");
  for (auto* cmd : {approve, reject}) {
    cmd->add_option("run", run_id, "run id")->required();
    cmd->add_option("task", task, "task name")->required();
    cmd->add_option("--comment", comment, "why");
  }
  auto* cancel = app.add_subcommand("cancel", "cancel a run");
  cancel->add_option("run", run_id, "run id")->required();
  auto* cache = app.add_subcommand("cache", "inspect or clear the task cache");
  cache->require_subcommand(1);
  auto* cache_ls = cache->add_subcommand("ls", "list cache entries");
  auto* cache_clear = cache->add_subcommand("clear", "remove every cache entry");
  auto* version = app.add_subcommand("version", "print the version");
  std::string expr, vars_file;
  std::vector<std::string> vars;
  auto* eval = app.add_subcommand("eval", "evaluate an expression (debug a when or a policy rule)");
  eval->add_option("expr", expr, "the expression, e.g. 'params.n > 2'")->required();
  eval->add_option("--var", vars, "name=JSON (repeatable)")->allow_extra_args(false);
  eval->add_option("--vars", vars_file, "a JSON object file of variables");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  // The only real Env: every command reaches the system through it (and tests pass a fake).
  std::unique_ptr<Env> env = NewPosixEnv();
  g.json = output == "json";
  if (g.state_dir.empty()) {
    auto home = env->GetVar("SLUICE_HOME");
    g.state_dir = home && !home->empty() ? *home : ".sluice";
  }
  for (const auto& p : params) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "sluice: -p expects name=value, got \"%s\"\n", p.c_str());
      return 2;
    }
    ro.params[p.substr(0, eq)] = p.substr(eq + 1);
  }
  if (*run) return CmdRun(*env, g, ro);
  if (*validate) return CmdValidate(*env, g, file, policies_dir);
  if (*policy_eval) return CmdPolicyEval(*env, g, file, policy_input);
  if (*policy_test) return CmdPolicyTest(*env, g, file);
  if (*graph) return CmdGraph(*env, file, format);
  if (*runs) return CmdRuns(*env, g, limit);
  if (*status) return CmdStatus(*env, g, run_id);
  if (*events) return CmdEvents(*env, g, run_id);
  if (*logs) return CmdLogs(*env, g, run_id, task, attempt, follow);
  if (*resume) return CmdResume(*env, g, run_id, resume_opts);
  if (*cancel) return CmdCancel(*env, g, run_id);
  if (*rollback) return CmdResume(*env, g, run_id, rollback_opts);
  for (const auto& [order, sub] : orders) {
    if (*sub) return CmdBreakerOrder(*env, g, order, breaker_name);
  }
  if (*breakers) return CmdBreakers(*env, g);
  if (*audit_verify) return CmdAuditVerify(*env, g, head);
  if (*audit_export) return CmdAuditExport(*env, g);
  if (*whoami) return CmdWhoami(*env, g);
  if (*approvals) return CmdApprovals(*env, g, all_approvals);
  if (*approve) return CmdVote(*env, g, run_id, task, true, comment);
  if (*reject) return CmdVote(*env, g, run_id, task, false, comment);
  if (*cache_ls) return CmdCacheList(*env, g);
  if (*cache_clear) return CmdCacheClear(*env, g);
  if (*eval) return CmdEval(*env, expr, vars, vars_file);
  if (*version) {
    if (g.json) std::printf("{\"version\":\"%s\"}\n", SLUICE_VERSION);
    else std::printf("sluice %s\n", SLUICE_VERSION);
    return 0;
  }
  return 2;
}
