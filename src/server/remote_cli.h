// The CLI against a server (docs/cli.md, "Against a server"). With `--server URL` or
// $SLUICE_SERVER, `sluice` runs sluice-net with its command line (so that a local command never
// loads the HTTP library), and sluice-net runs the command here, over the API of docs/api.md:
// run (the pipeline's files sent as a bundle, its events followed), runs, status, events, logs,
// cancel and whoami (remote_cli.cc, remote_run.cc, remote_follow.cc), resume, rollback,
// approvals, approve, reject, breakers and their orders, policy eval and audit verify|export
// (remote_commands.cc), retry, rerun, graph, prune and waiver grant|list|revoke (remote_again.cc), with the
// output and exit codes of the local commands (the text is
// rendered from the same documents, cli/render.h). `login` and `logout` keep a server's token in
// a file of the user's (credentials.h). Any other command fails with one line saying it is not
// available against a server (exit 2): nothing ever runs locally instead.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/value.h"
#include "env/env.h"
#include "interop/argo_options.h"
#include "server/client.h"

namespace CLI {
class App;
}

namespace sluice {

// Whether sluice-net's command line is one for the CLI against a server: its first command is
// not one of sluice-net's own (`server`, `worker`).
bool IsClientCommandLine(int argc, char** argv);
// Runs the command line against its server. Returns the process exit code.
int RunClient(Env& env, int argc, char** argv);

// --- What the commands share (remote_cli.cc, remote_run.cc, credentials.cc).

// What a command prints with: -o json, and the server and its client; the namespace it submits
// to and lists (--namespace or $SLUICE_NAMESPACE; "" = "default" for what it creates, every
// readable namespace for `runs`).
struct RemoteContext {
  bool json = false;
  ApiClient& api;
  std::string ns;
  // ns, or "default" when none was named: where runs and schedules are created.
  std::string Namespace() const { return ns.empty() ? "default" : ns; }
};
// Prints answer `a` (as Expect2xx gives it): with -o json its `list_field` (the whole body when
// null) as JSON, else render() of the same; the error when there is none. Returns the exit code.
int PrintBodyOr(const RemoteContext& c, const Result<ApiAnswer>& a,
                std::string (*render)(const Value&), const char* list_field = nullptr);
// An answer with status 2xx, else the error it means (ErrorOfAnswer) or why it did not come.
Result<ApiAnswer> Expect2xx(Result<ApiAnswer> answer, const std::string& server);
// `sluice run FILE` against the server (remote_run.cc): submits, follows, exits as the run ended.
struct RemoteRunOptions {
  std::string file;
  std::map<std::string, std::string> params;  // -p
  std::string params_file;
  // An Argo file's options, as a local run takes them; imported here, before submitting. With no
  // --approvers, a suspend without a duration is approved by the token's user (whoami).
  ArgoImportOptions argo;
};
int RemoteRun(Env& env, RemoteContext& c, const RemoteRunOptions& o);
// From now on Ctrl-C (SIGINT) detaches from a followed run instead of ending the command.
void DetachOnInterrupt();
// Follows run `id`'s events after sequence number `after` through its event stream, shown as a
// local run shows them (remote_follow.cc), then its report. Returns the exit code: 0 when it
// ended with status `success`, 1 otherwise, 130 on Ctrl-C (detached: the run goes on), 3 when its
// engine on the server stopped or the server was unreachable for 60 s. `resumed`: the run was
// just resumed or rolled back, so its status tells of it before that until a new event comes.
int FollowRemoteRun(Env& env, RemoteContext& c, const std::string& id, int64_t after,
                    const std::string& success, bool resumed);

// The schedule commands against a server (remote_schedules.cc): schedule apply|ls|suspend|
// resume|trigger and backfill; schedule next|validate are refused (they read local files).
struct ScheduleClientOptions {
  std::string file, name, from, to;
  int jobs = 0;
};
void AddScheduleClientCommands(CLI::App& app, ScheduleClientOptions& o,
                               std::map<std::string, CLI::App*>& s);
// Runs the schedule command the command line gave; -1 when it gave none.
int DispatchSchedules(Env& env, RemoteContext& c, const ScheduleClientOptions& o,
                      std::map<std::string, CLI::App*>& s);

// The folder that holds every one of `folders` (absolute, normalized; not empty), which may be
// one of them (remote_schedules.cc).
std::string CommonFolder(const std::set<std::string>& folders);
// What schedule and trigger apply upload: {KEY: the file at `path`, files: {PATH: TEXT}}, each
// path relative to the folder that holds all of `texts` (absolute paths).
Value UploadBody(const std::string& key, const std::string& path,
                 const std::map<std::string, std::string>& texts);

// --- triggers: trigger apply|ls|rotate|rm against a server (remote_triggers.cc).
struct TriggerClientOptions {
  std::string file, name;
};
void AddTriggerClientCommands(CLI::App& app, TriggerClientOptions& o,
                              std::map<std::string, CLI::App*>& s);
// Runs the trigger command the command line gave; -1 when it gave none.
int DispatchTriggers(Env& env, RemoteContext& c, const TriggerClientOptions& o,
                     std::map<std::string, CLI::App*>& s);
// --- end of triggers

// --- parity (issue 13): retry, rerun, graph, prune and waiver grant|list|revoke against a server
// (remote_again.cc), and what they share with run and resume.

// A refused admission (answer `a`): a denial (403 with decisions) prints its decisions and
// "sluice: admission denied: pipeline PIPELINE breaks a policy (see above); WHAT" and returns 1,
// as the local command does; anything else is reported as the answer's error (2 or 3).
int AdmissionRefused(const ApiAnswer& a, const std::string& server, const std::string& pipeline,
                     const std::string& what);
// Prints policy decisions (DecisionToValue items) as a local admission prints those that did
// not allow (PrintDecisions, on stderr).
void PrintDecisionsOfJson(const Value& decisions);
// The last event's sequence number of run `id` (0 when it has none): where following a resumed
// or retried run begins (remote_commands.cc).
Result<int64_t> LastSeq(RemoteContext& c, const std::string& id);
struct AgainClientOptions {
  std::string run_id, from;
  std::vector<std::string> tasks, params;
  int jobs = 0;
  double gpus = 0;
  std::string waiver_name, policy, rule, pipeline, task, justification, expires;
  std::string format = "dot", out_file;  // graph
  std::string older_than;                // prune
  bool dry_run = false;
};
void AddAgainClientCommands(CLI::App& app, AgainClientOptions& o,
                            std::map<std::string, CLI::App*>& s);
// Runs the command of remote_again.cc the command line gave; -1 when it gave none of them.
int DispatchAgain(Env& env, RemoteContext& c, const AgainClientOptions& o,
                  std::map<std::string, CLI::App*>& s);
// `retry RUN [TASK...]` (o.run_id, o.tasks): asked, then followed as a local retry shows the
// retried run; also `rollout retry RUN TASK` (remote_rollouts.cc).
int RemoteRetry(Env& env, RemoteContext& c, const AgainClientOptions& o);
// --- end of parity

// --- rollouts (issue 14): rollout status|promote|pause|resume|abort|retry RUN TASK and env
// ls|history against a server (remote_rollouts.cc); rollout report is refused (it writes a
// local file).
struct RolloutClientOptions {
  std::string run_id, task, environment;
  int limit = 20;
};
void AddRolloutClientCommands(CLI::App& app, RolloutClientOptions& o,
                              std::map<std::string, CLI::App*>& s);
// Runs the rollout or env command the command line gave; -1 when it gave none.
int DispatchRollouts(Env& env, RemoteContext& c, const RolloutClientOptions& o,
                     std::map<std::string, CLI::App*>& s);
// --- end of rollouts

// The options of the commands of remote_commands.cc, and their definitions (those of main.cc
// that make sense against a server; -j, --gpus, --stats and -p of resume are read so that they
// are refused by name rather than ignored).
struct MoreClientOptions {
  std::string run_id, task, comment, name, file, input, head;
  std::vector<std::string> params;
  int jobs = 0;
  double gpus = 0;
  bool stats = false, all = false;
  ScheduleClientOptions schedules;  // remote_schedules.cc
  bool notifications_failed = false;  // notifications ls --failed (issue 13)
  int notifications_limit = 100;
  TriggerClientOptions triggers;    // remote_triggers.cc
  AgainClientOptions again;         // remote_again.cc (parity)
  RolloutClientOptions rollouts;    // remote_rollouts.cc (issue 14)
};
void AddMoreClientCommands(CLI::App& app, MoreClientOptions& o, std::map<std::string, CLI::App*>& s);
// Runs the command of remote_commands.cc the command line gave; -1 when it gave none of them.
int DispatchMore(Env& env, RemoteContext& c, const MoreClientOptions& o,
                 std::map<std::string, CLI::App*>& s);

}  // namespace sluice
