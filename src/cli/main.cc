// The sluice command line: parses arguments with CLI11, builds the one real Env and dispatches
// to the commands with it.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "cli/export_cmd.h"
#include "cli/notifications.h"
#include "cli/pools.h"
#include "cli/rollouts.h"
#include "common/strings.h"
#include "cli/prune.h"
#include "cli/rerun.h"
#include "cli/schedule_cmds.h"
#include "cli/schedules.h"
#include "cli/trigger_cmds.h"

#include <fmt/format.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice {
namespace {

// What the command line gave: every subcommand's options, bound to CLI11 before parsing and read
// after it. Subcommands that never run together share fields (file, run_id, task).
struct Options {
  GlobalOptions g;
  std::string output = "text";
  RunOptions run;
  std::vector<std::string> params;  // -p name=value, checked and moved into run.params
  std::string params_file;          // --params-file (run, validate)
  std::vector<std::string> image_map;  // --image-map IMAGE=PROGRAM (Argo files), into run.argo
  std::string file, policies_dir, policy_input;
  std::string format = "dot";
  std::string out_file;  // graph -o
  ExportRequest exported;  // sluice export (issue 16)
  int limit = 50;
  std::string run_id, task;
  int attempt = 0;
  bool follow = false;
  ExecOptions resume, rollback;
  std::string breaker_name, head, comment;
  bool all_approvals = false;
  std::string expr, vars_file;
  std::vector<std::string> vars;
  WaiverGrant waiver;  // waiver grant; waiver revoke uses its name
  ExecOptions retry;                    // sluice retry RUN [TASK...]
  std::vector<std::string> retry_tasks;
  RerunOptions rerun;                   // sluice rerun RUN [--from TASK]
  TokenRequest token;                   // sluice token create
  std::string token_id;                 // sluice token revoke
  std::string token_expires;            // --expires-in DURATION
  // --- schedules (issue 13): sluice schedule next FILE [--count N] [--from TIME]
  int schedule_count = 5;
  std::string schedule_from;
  std::string schedule_name, backfill_to;  // schedule suspend|resume|trigger NAME; backfill
  ExecOptions schedule_exec;               // trigger and backfill run here, as `run` does
  // --- the CLI against a server: --server URL, sluice login --token-stdin
  std::string server;
  std::string ns;  // --namespace
  bool token_stdin = false;
  // --- retention: sluice prune --older-than DURATION [--dry-run]
  std::string prune_older_than;
  bool prune_dry_run = false;
  // --- notifications (issue 13): sluice notifications ls [--failed] [--limit N]
  bool notifications_failed = false;
  int notifications_limit = 100;
  // --- triggers: sluice trigger apply FILE | ls | rotate NAME | rm NAME
  std::string trigger_name;
};

// The subcommands, to tell after parsing which one was given. Owned by the CLI::App.
struct Subcommands {
  CLI::App *run, *validate, *policy_eval, *policy_test, *graph, *import_argo;
  CLI::App* export_pipeline = nullptr;  // sluice export (issue 16)
  CLI::App *runs, *status, *events, *logs, *resume, *rollback;
  CLI::App *breakers, *audit_verify, *audit_export, *whoami, *approvals, *approve, *reject, *cancel;
  std::map<std::string, CLI::App*> orders;  // breakers open, close, reset, disable
  CLI::App *cache_ls, *cache_clear, *version, *eval, *prune;
  CLI::App *waiver_grant, *waiver_list, *waiver_revoke;
  CLI::App *retry, *rerun;
  CLI::App *token_create, *token_list, *token_revoke;
  CLI::App *schedule_next = nullptr, *schedule_validate = nullptr;  // schedules (issue 13)
  CLI::App *schedule_apply = nullptr, *schedule_ls = nullptr, *schedule_suspend = nullptr,
           *schedule_resume = nullptr, *schedule_trigger = nullptr, *backfill = nullptr;
  CLI::App *login = nullptr, *logout = nullptr;  // the CLI against a server
  CLI::App* pools = nullptr;  // sluice pools (docs/pools.md)
  RolloutCli rollouts;        // sluice rollout ..., sluice env ... (docs/rollouts.md)
  CLI::App* notifications_ls = nullptr;           // notifications (issue 13)
  CLI::App *trigger_apply = nullptr, *trigger_ls = nullptr, *trigger_rotate = nullptr,
           *trigger_rm = nullptr;  // webhook triggers (docs/triggers.md)
};

// The help lists subcommands in the order they are added, so the Add* functions below add them
// in the order a user reads them, and are called in that order.

void AddGlobalOptions(CLI::App& app, Options& o) {
  app.add_option("--state-dir", o.g.state_dir, "where runs are stored (default $SLUICE_HOME or .sluice)");
  // PostgreSQL stores (docs/store.md#postgresql).
  app.add_option("--store", o.g.store,
                 "where runs are stored: postgresql://... or sqlite:PATH (default $SLUICE_STORE, "
                 "else sluice.db in the state dir)");
  app.add_option("--as", o.g.as, "who runs the command (default $SLUICE_USER, then the login name)");
  app.add_option("-o,--output", o.output, "output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
}

// Commands that read a pipeline or policy file: run, validate, policy eval|test, graph.
void AddPipelineCommands(CLI::App& app, Options& o, Subcommands& s) {
  s.run = app.add_subcommand("run", "run a pipeline");
  s.run->add_option("file", o.run.file, "pipeline file")->required();
  s.run->add_option("-p,--param", o.params, "name=value (repeatable)")->allow_extra_args(false);
  s.run->add_option("--params-file", o.params_file, "a YAML or JSON map of param name to value (-p overrides it)");
  s.run->add_option("-j,--jobs", o.run.exec.jobs, "how many tasks run at once (default: cores)")
      ->check(CLI::Range(1, 100000));
  s.run->add_flag("--stats", o.run.exec.stats, "print scheduling latency figures at the end");
  s.run->add_option("--gpus", o.run.exec.gpus, "GPUs tasks may use on this machine (default 0)")
      ->check(CLI::Range(0, 1024));
  s.run->add_option("--policies", o.run.policies, "a folder (or file) of Policy and Waiver documents");

  s.import_argo = app.add_subcommand("import", "translate another tool's pipeline into Sluice's")
                      ->require_subcommand(1)
                      ->add_subcommand("argo", "an Argo Workflows file as a Sluice pipeline");
  s.import_argo->add_option("file", o.file, "Argo Workflows file")->required();
  s.import_argo->add_option("-o,--out", o.out_file, "write the pipeline here (default: stdout)");
  s.validate = app.add_subcommand("validate", "check a pipeline; nothing runs, nothing is written");
  s.validate->add_option("file", o.file, "pipeline file")->required();
  s.validate->add_option("--policies", o.policies_dir, "also check and apply these admission policies");
  s.validate->add_option("-p,--param", o.params, "name=value (repeatable): also check these params")
      ->allow_extra_args(false);
  s.validate->add_option("--params-file", o.params_file, "a YAML or JSON map of param name to value");
  for (CLI::App* cmd : {s.run, s.validate, s.import_argo}) {  // Argo files (docs/interop.md)
    cmd->add_option("--image-map", o.image_map, "IMAGE=PROGRAM (repeatable): what an Argo "
                    "container of IMAGE without a command runs");
    cmd->add_flag("--lenient", o.run.argo.lenient, "Argo files: drop fields that are safe to "
                  "drop, with a warning");
    cmd->add_option("--templates", o.run.argo.templates, "a file or folder of Argo "
                    "WorkflowTemplates that templateRef names (repeatable)");
    cmd->add_option("--approvers", o.run.argo.approvers, "NAME,... (users, group:NAME): who "
                    "approves an Argo suspend without a duration (default: who submits)")
        ->delimiter(',');
  }

  auto* policy = app.add_subcommand("policy", "evaluate or test policies");
  policy->require_subcommand(1);
  s.policy_eval = policy->add_subcommand("eval", "evaluate a policy file's rules on a JSON input");
  s.policy_eval->add_option("file", o.file, "a file (or folder) of Policy and Waiver documents "
                            "(default: the state folder's central policies and waivers)");
  s.policy_eval->add_option("--input", o.policy_input, "JSON file: {\"object\": ...}")->required();
  s.policy_test = policy->add_subcommand("test", "run the policy test cases in a folder");
  s.policy_test->add_option("dir", o.file, "a folder of test files")->required();

  s.graph = app.add_subcommand("graph", "draw a pipeline's DAG, or a run's colored by state");
  s.graph->add_option("target", o.file, "pipeline file, or run id (or a unique prefix)")->required();
  s.graph->add_option("--format", o.format, "dot, mermaid (a file), svg or png (with Graphviz's dot)")
      ->check(CLI::IsMember({"dot", "mermaid", "svg", "png"}));
  s.graph->add_option("-o,--out", o.out_file, "write the picture to this file");

  // Issue 16: sluice export --to TARGET PIPELINE [-o DIR] (docs/interop.md).
  s.export_pipeline = app.add_subcommand("export", "write a pipeline as an Argo Workflow, a "
                                         "Kubeflow pipeline, an Airflow DAG or a Prefect flow");
  s.export_pipeline->add_option("file", o.exported.file, "pipeline file")->required();
  s.export_pipeline->add_option("--to", o.exported.target, "argo, kfp, airflow or prefect")
      ->required()->check(CLI::IsMember({"argo", "kfp", "airflow", "prefect"}));
  s.export_pipeline->add_option("-o,--out", o.exported.dir,
                                "write the files into this folder (default: the main file to "
                                "standard output)");
  s.export_pipeline->add_option("--image", o.exported.image,
                                "container image of tasks that set no image: (default "
                                "python:3.12-slim)");
  s.export_pipeline->add_option("--artifact-repo", o.exported.artifact_repository,
                                "argo: key prefix of output artifacts in the artifact repository");
  s.export_pipeline->add_flag("--workflow-template", o.exported.workflow_template,
                              "argo: a WorkflowTemplate instead of a Workflow");
}

// Secrets: resume and rollback take the run's secret params again (their values are not stored).
void AddSecretParamOption(CLI::App& cmd, Options& o) {
  cmd.add_option("-p,--param", o.params, "a secret param given again, name=value (repeatable)")
      ->allow_extra_args(false);
}

// Commands about stored runs: runs, status, events, logs, resume, rollback.
void AddRunCommands(CLI::App& app, Options& o, Subcommands& s) {
  s.runs = app.add_subcommand("runs", "list runs, newest first");
  s.runs->add_option("-n,--limit", o.limit, "how many")->check(CLI::Range(1, 1000000));
  s.status = app.add_subcommand("status", "show a run and its tasks");
  s.status->add_option("run", o.run_id, "run id (or a unique prefix)")->required();
  s.events = app.add_subcommand("events", "print a run's event log");
  s.events->add_option("run", o.run_id, "run id (or a unique prefix)")->required();
  s.logs = app.add_subcommand("logs", "print a task's output");
  s.logs->add_option("run", o.run_id, "run id")->required();
  s.logs->add_option("task", o.task, "task name")->required();
  s.logs->add_option("--attempt", o.attempt, "attempt number (default: the last)")->check(CLI::Range(1, 100000));
  s.logs->add_flag("-f,--follow", o.follow, "keep printing while the attempt runs");
  s.resume = app.add_subcommand("resume", "continue a run that stopped");
  s.resume->add_option("run", o.run_id, "run id")->required();
  s.resume->add_option("-j,--jobs", o.resume.jobs, "how many tasks run at once")
      ->check(CLI::Range(1, 100000));
  s.resume->add_option("--gpus", o.resume.gpus, "GPUs tasks may use on this machine (default 0)")
      ->check(CLI::Range(0, 1024));
  s.resume->add_flag("--stats", o.resume.stats, "print scheduling latency figures at the end");
  AddSecretParamOption(*s.resume, o);
  o.rollback.rollback = true;
  s.rollback = app.add_subcommand(
      "rollback", "compensate a finished run: undo its completed tasks in reverse order");
  s.rollback->add_option("run", o.run_id, "run id")->required();
  s.rollback->add_option("-j,--jobs", o.rollback.jobs, "how many compensations run at once")
      ->check(CLI::Range(1, 100000));
  AddSecretParamOption(*s.rollback, o);
}

// Running a stored run again: retry (its failed tasks, in the same run) and rerun (a new run
// of its snapshot). rerun.h.
void AddRerunCommands(CLI::App& app, Options& o, Subcommands& s) {
  s.retry = app.add_subcommand("retry", "give a finished run's failed tasks, and what depends on "
                               "them, new attempts in the same run");
  s.retry->add_option("run", o.run_id, "run id")->required();
  s.retry->add_option("tasks", o.retry_tasks, "only these failed tasks (default: every one)");
  s.retry->add_option("-j,--jobs", o.retry.jobs, "how many tasks run at once")
      ->check(CLI::Range(1, 100000));
  s.retry->add_option("--gpus", o.retry.gpus, "GPUs tasks may use on this machine (default 0)")
      ->check(CLI::Range(0, 1024));
  AddSecretParamOption(*s.retry, o);
  s.rerun = app.add_subcommand("rerun", "start a new run of a run's pipeline snapshot and params");
  s.rerun->add_option("run", o.rerun.run, "run id")->required();
  s.rerun->add_option("--from", o.rerun.from, "reuse the results of the tasks upstream of this one");
  s.rerun->add_option("-p,--param", o.params, "a param changed, name=value (repeatable)")
      ->allow_extra_args(false);
  s.rerun->add_option("-j,--jobs", o.rerun.exec.jobs, "how many tasks run at once")
      ->check(CLI::Range(1, 100000));
  s.rerun->add_option("--gpus", o.rerun.exec.gpus, "GPUs tasks may use on this machine (default 0)")
      ->check(CLI::Range(0, 1024));
}

// Governance and control: breakers, audit, whoami, approvals, approve, reject, cancel.
void AddControlCommands(CLI::App& app, Options& o, Subcommands& s) {
  s.breakers = app.add_subcommand("breakers", "list circuit breakers, or change one's state");
  for (const char* order : {"open", "close", "reset", "disable"}) {
    auto* sub = s.breakers->add_subcommand(
        order, fmt::format("{} a breaker", order == std::string("open") ? "force open"
                                           : order == std::string("reset") ? "reset (closed, window emptied)"
                                                                           : order));
    sub->add_option("name", o.breaker_name, "breaker name")->required();
    s.orders[order] = sub;
  }
  s.pools = app.add_subcommand("pools", "list the central pools and mutexes runs share "
                               "(STATE/pools.yaml): capacity, holders, what waits");
  auto* audit = app.add_subcommand("audit", "check or export the tamper-evident audit log");
  audit->require_subcommand(1);
  s.audit_verify = audit->add_subcommand("verify", "recompute the hash chain; name the first broken record");
  s.audit_verify->add_option("--head", o.head, "a head hash exported earlier: also catches records removed from the end");
  s.audit_export = audit->add_subcommand("export", "print every record as JSON Lines");
  s.whoami = app.add_subcommand("whoami", "print who commands run as, and their groups");
  s.approvals = app.add_subcommand("approvals", "list the approvals runs are waiting for");
  s.approvals->add_flag("--all", o.all_approvals, "also the decided ones");
  s.approve = app.add_subcommand("approve", "approve a task that waits for approval");
  s.reject = app.add_subcommand("reject", "reject a task that waits for approval");
  for (auto* cmd : {s.approve, s.reject}) {
    cmd->add_option("run", o.run_id, "run id")->required();
    cmd->add_option("task", o.task, "task name")->required();
    cmd->add_option("--comment", o.comment, "why");
  }
  s.cancel = app.add_subcommand("cancel", "cancel a run");
  s.cancel->add_option("run", o.run_id, "run id")->required();
}

// Waivers of the state folder's central policies: grant, list, revoke.
void AddWaiverCommands(CLI::App& app, Options& o, Subcommands& s) {
  auto* waiver = app.add_subcommand("waiver", "grant, list or revoke waivers of central policies");
  waiver->require_subcommand(1);
  s.waiver_grant = waiver->add_subcommand("grant", "waive a central policy's denials (needs the grant-waivers right)");
  WaiverGrant& w = o.waiver;
  s.waiver_grant->add_option("name", w.name, "the waiver's name")->required();
  s.waiver_grant->add_option("--policy", w.policy, "the central policy it waives")->required();
  s.waiver_grant->add_option("--rule", w.rule, "only this rule (default: every rule)");
  s.waiver_grant->add_option("--pipeline", w.pipeline, "only pipelines matching this glob");
  s.waiver_grant->add_option("--task", w.task, "only tasks matching this glob (gates)");
  s.waiver_grant->add_option("--justification", w.justification, "why (10 characters at least)")->required();
  s.waiver_grant->add_option("--expires", w.expires, "2027-03-31 or 2027-03-31T18:00:00Z")->required();
  s.waiver_list = waiver->add_subcommand("list", "list granted waivers");
  s.waiver_revoke = waiver->add_subcommand("revoke", "revoke a granted waiver (needs the grant-waivers right)");
  s.waiver_revoke->add_option("name", w.name, "the waiver's name")->required();
}

// Tools: cache ls|clear, prune, version, eval.
void AddToolCommands(CLI::App& app, Options& o, Subcommands& s) {
  auto* cache = app.add_subcommand("cache", "inspect or clear the task cache");
  cache->require_subcommand(1);
  s.cache_ls = cache->add_subcommand("ls", "list cache entries");
  s.cache_clear = cache->add_subcommand("clear", "remove every cache entry");
  s.prune = app.add_subcommand("prune", "delete the records, folders and unreferenced artifacts "
                               "of runs that finished long ago (the audit chain stays)");
  s.prune->add_option("--older-than", o.prune_older_than, "finished longer ago than this: 30d, 12h")
      ->required();
  s.prune->add_flag("--dry-run", o.prune_dry_run, "list what would go; change nothing");
  s.version = app.add_subcommand("version", "print the version");
  s.eval = app.add_subcommand("eval", "evaluate an expression (debug a when or a policy rule)");
  s.eval->add_option("expr", o.expr, "the expression, e.g. 'params.n > 2'")->required();
  s.eval->add_option("--var", o.vars, "name=JSON (repeatable)")->allow_extra_args(false);
  s.eval->add_option("--vars", o.vars_file, "a JSON object file of variables");
}

// --- Schedules (issue 13): the local commands; schedules fire only in `sluice server`.
void AddScheduleCommands(CLI::App& app, Options& o, Subcommands& s) {
  auto* schedule = app.add_subcommand("schedule", "read a Schedule file: its next fire times, "
                                      "or check it (schedules fire only in sluice server)");
  schedule->require_subcommand(1);
  s.schedule_next = schedule->add_subcommand("next", "print the next fire times, UTC and local, "
                                             "with their data intervals");
  s.schedule_next->add_option("file", o.file, "schedule file")->required();
  s.schedule_next->add_option("-n,--count", o.schedule_count, "how many (default 5)")
      ->check(CLI::Range(1, 1000));
  s.schedule_next->add_option("--from", o.schedule_from, "from this time on (default now): "
                              "2026-03-29, 2026-03-29T02:30 (the schedule's zone) or RFC 3339");
  s.schedule_validate = schedule->add_subcommand("validate", "check a schedule: cron, time zone, "
                                                 "its pipeline and params");
  s.schedule_validate->add_option("file", o.file, "schedule file")->required();
  s.schedule_apply = schedule->add_subcommand("apply", "store the schedules of a file (a "
                                              "snapshot of it and its pipelines) to fire in sluice server");
  s.schedule_apply->add_option("file", o.file, "schedule file")->required();
  s.schedule_ls = schedule->add_subcommand("ls", "list the stored schedules and their next fires");
  s.schedule_suspend = schedule->add_subcommand("suspend", "stop a stored schedule from firing");
  s.schedule_resume = schedule->add_subcommand("resume", "let a suspended schedule fire again");
  s.schedule_trigger = schedule->add_subcommand("trigger", "start a run of a stored schedule now");
  for (CLI::App* c : {s.schedule_suspend, s.schedule_resume, s.schedule_trigger}) {
    c->add_option("name", o.schedule_name, "the schedule's name")->required();
  }
  s.backfill = app.add_subcommand("backfill", "start the runs of a stored schedule's fires in a "
                                  "time range, each with its own schedule.* times");
  s.backfill->add_option("schedule", o.schedule_name, "the schedule's name")->required();
  s.backfill->add_option("--from", o.schedule_from, "the first fire time (included)")->required();
  s.backfill->add_option("--to", o.backfill_to, "the last fire time (included)")->required();
  for (CLI::App* c : {s.schedule_trigger, s.backfill}) {
    c->add_option("-j,--jobs", o.schedule_exec.jobs, "how many tasks run at once");
  }
}
// --- end of schedules

// --- Notifications (issue 13): the deliveries of sluice server's webhooks, from the store.
void AddNotificationCommands(CLI::App& app, Options& o, Subcommands& s) {
  auto* n = app.add_subcommand("notifications", "the webhooks sluice server calls "
                               "(docs/notifications.md)");
  n->require_subcommand(1);
  s.notifications_ls = n->add_subcommand("ls", "list the deliveries, newest first, with their "
                                         "attempts");
  s.notifications_ls->add_flag("--failed", o.notifications_failed, "only those that failed");
  s.notifications_ls->add_option("--limit", o.notifications_limit, "at most this many (100)")
      ->check(CLI::Range(1, 10000));
}
// --- end of notifications
// --- Webhook triggers (docs/triggers.md): stored here, fired through `sluice server`.
void AddTriggerCommands(CLI::App& app, Options& o, Subcommands& s) {
  auto* trigger = app.add_subcommand("trigger", "webhook triggers: apply, list, rotate the token "
                                     "of, remove (they fire through sluice server)");
  trigger->require_subcommand(1);
  s.trigger_apply = trigger->add_subcommand("apply", "store the triggers of a file; prints a new "
                                            "trigger's token once");
  s.trigger_apply->add_option("file", o.file, "trigger file")->required();
  s.trigger_ls = trigger->add_subcommand("ls", "list the stored triggers");
  s.trigger_rotate = trigger->add_subcommand("rotate", "give a trigger a new token (printed once)");
  s.trigger_rm = trigger->add_subcommand("rm", "remove a trigger");
  for (CLI::App* c : {s.trigger_rotate, s.trigger_rm}) {
    c->add_option("name", o.trigger_name, "the trigger's name")->required();
  }
}
// --- end of triggers

// Completes the parsed options with what the command line left out: the output format, the
// state dir from $SLUICE_HOME, the -p parameters. Returns false (having said why) on a bad -p.
bool Resolve(Env& env, Options& o) {
  o.g.json = o.output == "json";
  if (o.g.state_dir.empty()) o.g.state_dir = DefaultStateDir(env);
  if (o.g.store.empty()) {  // PostgreSQL stores
    auto store = env.GetVar("SLUICE_STORE");
    if (store) o.g.store = *store;
  }
  if (auto mapped = AddImageMaps(o.image_map, o.run.argo); !mapped) {
    std::fprintf(stderr, "%s\n", mapped.error().message.c_str());
    return false;
  }
  for (const auto& p : o.params) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "sluice: -p expects name=value, got \"%s\"\n", p.c_str());
      return false;
    }
    o.run.params[p.substr(0, eq)] = p.substr(eq + 1);
  }
  o.resume.secret_params = o.rollback.secret_params = o.run.params;  // secrets: -p again
  o.run.params_file = o.params_file;
  o.retry.secret_params = o.rerun.params = o.run.params;
  return true;
}

int PrintVersion(const GlobalOptions& g) {
  if (g.json) std::printf("{\"version\":\"%s\"}\n", SLUICE_VERSION);
  else std::printf("sluice %s\n", SLUICE_VERSION);
  return 0;
}

// Runs the command that was given. Returns its exit code.
int Dispatch(Env& env, const Options& o, const Subcommands& s) {
  const GlobalOptions& g = o.g;
  // --- Issue 12 §4: the commands that start attempts split first, before anything is loaded,
  // into the process the caller started, the run's keeper and the engine, which goes on here
  // (keeper_posix.h). `cancel` starts none, so it needs no keeper. A schedule's trigger and
  // backfill run here as `run` does (without a keeper a crash of theirs lost the attempts in
  // flight: found by a chaos experiment, examples/chaos/README.md).
  if (*s.run || *s.resume || *s.rollback || *s.retry || *s.rerun || s.rollouts.StartsAttempts() ||
      *s.schedule_trigger || *s.backfill) {
    if (auto kept = env.StartKeeper(); !kept) return Report(kept.error());
  }
  // --- end of issue 12 §4's block
  if (*s.run) return CmdRun(env, g, o.run);
  if (*s.validate) {
    return CmdValidate(env, g, o.file, o.policies_dir, o.run.params, o.params_file, o.run.argo);
  }
  if (*s.import_argo) return CmdImportArgo(env, g, o.file, o.out_file, o.run.argo);
  if (*s.policy_eval) return CmdPolicyEval(env, g, o.file, o.policy_input);
  if (*s.policy_test) return CmdPolicyTest(env, g, o.file);
  if (*s.graph) return CmdGraph(env, g, o.file, o.format, o.out_file);
  if (*s.export_pipeline) return CmdExport(env, g, o.exported);
  if (*s.runs) return CmdRuns(env, g, o.limit);
  if (*s.status) return CmdStatus(env, g, o.run_id);
  if (*s.events) return CmdEvents(env, g, o.run_id);
  if (*s.logs) return CmdLogs(env, g, o.run_id, o.task, o.attempt, o.follow);
  if (*s.resume) return CmdResume(env, g, o.run_id, o.resume);
  if (*s.cancel) return CmdCancel(env, g, o.run_id);
  if (*s.rollback) return CmdResume(env, g, o.run_id, o.rollback);
  if (*s.retry) return CmdRetry(env, g, o.run_id, o.retry_tasks, o.retry);
  if (*s.rerun) return CmdRerun(env, g, o.rerun);
  for (const auto& [order, sub] : s.orders) {
    if (*sub) return CmdBreakerOrder(env, g, order, o.breaker_name);
  }
  if (*s.breakers) return CmdBreakers(env, g);
  if (*s.pools) return CmdPools(env, g);
  if (auto rc = s.rollouts.Dispatch(env, g)) return *rc;
  if (*s.audit_verify) return CmdAuditVerify(env, g, o.head);
  if (*s.audit_export) return CmdAuditExport(env, g);
  if (*s.whoami) return CmdWhoami(env, g);
  if (*s.approvals) return CmdApprovals(env, g, o.all_approvals);
  if (*s.approve) return CmdVote(env, g, o.run_id, o.task, true, o.comment);
  if (*s.reject) return CmdVote(env, g, o.run_id, o.task, false, o.comment);
  if (*s.waiver_grant) return CmdWaiverGrant(env, g, o.waiver);
  if (*s.waiver_list) return CmdWaiverList(env, g);
  if (*s.waiver_revoke) return CmdWaiverRevoke(env, g, o.waiver.name);
  if (*s.token_create) {
    TokenRequest req = o.token;
    if (!o.token_expires.empty()) {
      auto ms = ParseDurationMs(o.token_expires);
      if (!ms || *ms <= 0) {
        std::fprintf(stderr, "sluice: --expires-in %s: expected a duration such as 30d or 12h\n",
                     Quote(o.token_expires).c_str());
        return 2;
      }
      req.expires_in_s = std::max<int64_t>(1, *ms / 1000);
    }
    return CmdTokenCreate(env, g, req);
  }
  if (*s.token_list) return CmdTokenList(env, g);
  if (*s.token_revoke) return CmdTokenRevoke(env, g, o.token_id);
  if (*s.cache_ls) return CmdCacheList(env, g);
  if (*s.cache_clear) return CmdCacheClear(env, g);
  if (*s.prune) return CmdPrune(env, g, o.prune_older_than, o.prune_dry_run);
  if (*s.eval) return CmdEval(env, o.expr, o.vars, o.vars_file);
  if (*s.version) return PrintVersion(g);
  if (*s.schedule_next) return CmdScheduleNext(env, g, o.file, o.schedule_count, o.schedule_from);
  if (*s.schedule_validate) return CmdScheduleValidate(env, g, o.file);
  if (*s.schedule_apply) return CmdScheduleApply(env, g, o.file);
  if (*s.schedule_ls) return CmdScheduleLs(env, g);
  if (s.notifications_ls && *s.notifications_ls) {  // notifications (issue 13)
    return CmdNotificationsLs(env, g, o.notifications_failed, o.notifications_limit);
  }
  if (*s.schedule_suspend) return CmdScheduleSuspend(env, g, o.schedule_name, true);
  if (*s.schedule_resume) return CmdScheduleSuspend(env, g, o.schedule_name, false);
  if (*s.schedule_trigger) return CmdScheduleTrigger(env, g, o.schedule_name, o.schedule_exec);
  if (*s.backfill) {
    return CmdBackfill(env, g, o.schedule_name, o.schedule_from, o.backfill_to, o.schedule_exec);
  }
  if (*s.trigger_apply) return CmdTriggerApply(env, g, o.file);  // triggers
  if (*s.trigger_ls) return CmdTriggerLs(env, g);
  if (*s.trigger_rotate) return CmdTriggerRotate(env, g, o.trigger_name);
  if (*s.trigger_rm) return CmdTriggerRm(env, g, o.trigger_name);
  return 2;
}

// A command the command line names that does not exist (`sluice rnu x.yaml`): CLI11 would only
// say "A subcommand is required". Walks the positional words through the subcommand tree,
// skipping options (and the values of the global options that take one). Returns 2 having
// named the unknown command and the nearest one, or -1 when every command exists.
int UnknownCommand(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string path = "sluice";
  for (int k = 1; k < argc; ++k) {
    std::string_view arg = argv[k];
    if (arg == "--") return -1;
    if (arg.starts_with("-")) {
      if (IsGlobalValueOption(arg)) ++k;
      continue;
    }
    auto subs = at->get_subcommands([](const CLI::App*) { return true; });
    if (subs.empty()) return -1;  // a command's own arguments
    std::vector<std::string> names;
    const CLI::App* next = nullptr;
    for (const auto* sub : subs) {
      names.push_back(sub->get_name());
      if (sub->get_name() == arg) next = sub;
    }
    if (!next) {
      auto near = ClosestMatch(arg, names);
      std::fprintf(stderr, "%s: unknown command %s%s; see %s --help\n", path.c_str(),
                   Quote(arg).c_str(),
                   near ? fmt::format(" (did you mean \"{}\"?)", *near).c_str() : "",
                   path.c_str());
      return 2;
    }
    at = next;
    path += " " + next->get_name();
  }
  return -1;
}

// The first command word of the command line (skipping options and the values of the global
// options that take one), "" when there is none.
std::string_view FirstCommand(int argc, char** argv) {
  for (int k = 1; k < argc; ++k) {
    std::string_view arg = argv[k];
    if (arg == "--") return "";
    if (arg.starts_with("-")) {
      if (IsGlobalValueOption(arg)) ++k;
      continue;
    }
    return arg;
  }
  return "";
}

// Commands that need the network libraries, run by `sluice-net` (docs/server.md), and the API
// tokens of a server, kept in the state folder's store.
void AddServerCommands(CLI::App& app, Options& o, Subcommands& s) {
  app.add_subcommand("server", "serve the HTTP API (sluice server --help)")->allow_extras();
  app.add_subcommand("worker", "run attempts for a sluice server (sluice worker --help)")
      ->allow_extras();  // issue 13: docs/workers.md
  CLI::App* token = app.add_subcommand("token", "API tokens of sluice server");
  token->require_subcommand(1);
  s.token_create = token->add_subcommand("create", "make a token; prints it once");
  s.token_create->add_option("--user", o.token.user, "whom the token speaks for")->required();
  s.token_create->add_option("--role", o.token.roles, "ROLE or NAMESPACE=ROLE (repeatable); "
                             "viewer, operator, approver, admin or worker")->required();
  s.token_create->add_option("--expires-in", o.token_expires, "a duration (30d, 12h); default never");
  s.token_list = token->add_subcommand("list", "tokens and their state (never their secrets)");
  s.token_revoke = token->add_subcommand("revoke", "revoke a token by id");
  s.token_revoke->add_option("id", o.token_id, "the token's id (sluice token list)")->required();
}

// --- The CLI against a server (docs/cli.md, "Against a server"; src/server/remote_cli.h).
void AddClientCommands(CLI::App& app, Options& o, Subcommands& s) {
  app.add_option("--server", o.server, "run the command on this sluice server, http(s)://HOST:PORT "
                 "(default $SLUICE_SERVER)");
  app.add_option("--namespace", o.ns, "against a server: the namespace (team) to submit to and "
                 "list (default $SLUICE_NAMESPACE; runs, all readable)");
  s.login = app.add_subcommand("login", "check a token of a server and keep it for --server "
                               "(reads it from stdin, or asks)");
  s.login->add_flag("--token-stdin", o.token_stdin, "read the token from stdin, even a terminal");
  s.logout = app.add_subcommand("logout", "forget the token sluice login kept");
}

// Whether the command goes to a server: login and logout always (sluice-net keeps the token),
// every other command but `version` when --server or $SLUICE_SERVER names one. sluice-net runs
// them, or says that the command is not available against a server: none runs here instead.
bool GoesToServer(Env& env, const Options& o, const Subcommands& s) {
  if (*s.login || *s.logout) return true;
  if (*s.version) return false;
  if (!o.server.empty()) return true;
  auto named = env.GetVar("SLUICE_SERVER");
  return named && !named->empty();
}
// --- end of the CLI against a server

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  using namespace sluice;
  // The network commands live in sluice-net, so that `sluice run` never loads their libraries.
  const std::string_view first = FirstCommand(argc, argv);
  if (first == "server" || first == "worker" || first == "chaos") return Report(ExecBeside("sluice-net", argv));
  CLI::App app{"sluice: pipelines from reusable components, run fast and durably"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  Options o;
  Subcommands s;
  AddGlobalOptions(app, o);
  AddPipelineCommands(app, o, s);
  AddRunCommands(app, o, s);
  AddRerunCommands(app, o, s);
  AddControlCommands(app, o, s);
  AddWaiverCommands(app, o, s);
  s.rollouts.Add(app);
  AddToolCommands(app, o, s);
  AddServerCommands(app, o, s);
  AddScheduleCommands(app, o, s);
  AddNotificationCommands(app, o, s);  // notifications (issue 13)
  AddTriggerCommands(app, o, s);
  AddClientCommands(app, o, s);
  if (int rc = UnknownCommand(app, argc, argv); rc >= 0) return rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  // The only real Env: every command reaches the system through it (and tests pass a fake).
  std::unique_ptr<Env> env = NewPosixEnv();
  if (GoesToServer(*env, o, s)) return Report(ExecBeside("sluice-net", argv));  // remote_cli.h
  if (!o.ns.empty()) {  // every local run is in namespace "default"
    std::fprintf(stderr, "sluice: --namespace is for a server (--server or $SLUICE_SERVER): local "
                 "runs are all in namespace \"default\"\n");
    return 2;
  }
  if (!Resolve(*env, o)) return 2;
  ProtectStateFiles(*env, o.g.state_dir);  // trust: files and permissions (docs/security.md)
  return Dispatch(*env, o, s);
}
