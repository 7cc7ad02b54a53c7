// sluice-net: the commands of `sluice` that need the network libraries (cpp-httplib, OpenSSL).
// `sluice` runs this program (ExecBeside) for them, with the same arguments, so that a local
// `sluice run` never loads those libraries (docs/server.md).
#include <CLI/CLI.hpp>

#include "chaos/proxy_command.h"
#include "chaos/experiment_run.h"
#include "cli/cli_support.h"
#include "common/strings.h"
#include "rollout/deploy_exec.h"
#include "server/remote_cli.h"
#include "server/server.h"
#include "server/worker_agent.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

int main(int argc, char** argv) {
  using namespace sluice;
  // --- A deploy task's attempt (docs/rollouts.md): the engine runs `sluice-net rollout-exec
  // SPEC` itself, with nothing before the command.
  if (argc == 3 && std::string_view(argv[1]) == "rollout-exec") {
    std::unique_ptr<Env> env = NewPosixEnv();
    return RolloutExecMain(*env, argv[2]);
  }
  // --- The dependency fault proxy of chaos experiments (docs/chaos-proxy.md): its own flags.
  if (argc >= 2 && std::string_view(argv[1]) == "chaos-proxy") return ChaosProxyMain(argc, argv);
  // --- The CLI against a server (remote_cli.h): every command line but sluice-net's own ones.
  if (IsClientCommandLine(argc, argv)) {
    std::unique_ptr<Env> env = NewPosixEnv();
    return RunClient(*env, argc, argv);
  }
  // --- end of the CLI against a server
  CLI::App app{"sluice: the network commands"};
  app.name("sluice");
  app.require_subcommand(1);
  app.fallthrough();
  std::string state_dir, as, output = "text";
  app.add_option("--state-dir", state_dir, "where runs are stored (default $SLUICE_HOME or .sluice)");
  app.add_option("--as", as, "unused by the network commands");
  // The global --store of `sluice --store URL server` (cli_support.h: IsGlobalValueOption); the
  // server's own --store wins.
  std::string global_store;
  app.add_option("--store", global_store, "as the server's --store");
  app.add_option("-o,--output", output, "output format: text or json");

  ServerOptions so;
  std::string store, log_format = "text";
  CLI::App* server = app.add_subcommand("server", "serve the HTTP API (docs/server.md)");
  server->add_option("--listen", so.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  server->add_option("--store", store,
                     "sqlite:DIR (a state folder) or postgresql://... (default $SLUICE_STORE, "
                     "else the state folder's)");
  server->add_option("--tls-cert", so.tls_cert, "PEM certificate: serve HTTPS");
  server->add_option("--tls-key", so.tls_key, "PEM private key of --tls-cert");
  server->add_option("--log-format", log_format, "request logs on stderr: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  server->add_option("--max-body", so.max_body_bytes, "largest request body, in bytes")
      ->capture_default_str();
  server->add_option("--idle-timeout", so.idle_timeout_s, "seconds an idle connection stays open")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  server->add_option("--ui-session-hours", so.ui_session_hours,
                     "hours a web UI login lasts (docs/ui.md); 2 idle hours end it sooner")
      ->check(CLI::Range(1, 720))
      ->capture_default_str();
  server->add_option("--max-connections", so.max_connections, "connections served at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  server->add_option("--max-streams", so.max_streams,
                     "event streams and log follows open at once (below --max-connections)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  server->add_option("--store-handles", so.store_handles,
                     "store connections the requests share (docs/server.md, \"Store handles\")")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  server->add_option("--store-wait", so.store_wait_s,
                     "seconds a request waits for a free store handle before a 503")
      ->check(CLI::Range(0, 600))
      ->capture_default_str();
  bool routes = false;
  server->add_flag("--routes", routes, "print the API's routes and the role each needs, as JSON");
  server->add_option("--lease-time", so.lease_s, "seconds a worker's lease lasts without a "
                     "heartbeat (docs/workers.md)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  std::vector<std::string> retention;
  server->add_option("--retention", retention, "prune runs that finished longer ago than this "
                     "(30d), or NS=D for namespace NS (D `never` keeps them); repeatable; the "
                     "leader, hourly; docs/store.md#retention");
  // issue 13: `sluice worker` (docs/workers.md).
  WorkerOptions wo;
  std::string labels;
  CLI::App* worker = app.add_subcommand("worker", "run attempts for a sluice server (docs/workers.md)");
  worker->add_option("--server", wo.server, "the server's URL, http://HOST:PORT")->required();
  worker->add_option("--labels", labels, "KEY=VALUE,... that placement.labels match");
  worker->add_option("--slots", wo.slots, "attempts run at once")->check(CLI::Range(1, 10000))
      ->capture_default_str();
  worker->add_option("--work-dir", wo.work_dir, "where attempts run and inputs are cached")
      ->required();
  worker->add_option("--name", wo.name, "the name the server shows (default: the host's)");
  worker->add_option("--cpu", wo.cpu, "cpu offered to tasks (default: the machine's cores)");
  worker->add_option("--memory", wo.memory, "memory offered to tasks, bytes (default: the machine's)");
  worker->add_option("--gpu", wo.gpu, "GPUs offered to tasks (default 0)");
  // issue 15: `sluice chaos run|ls` (docs/chaos.md).
  ChaosRunOptions co;
  CLI::App* chaos = app.add_subcommand("chaos", "chaos experiments (docs/chaos.md)");
  chaos->require_subcommand(1);
  CLI::App* chaos_run = chaos->add_subcommand("run", "run an experiment and write its journal");
  chaos_run->add_option("experiment", co.file, "the Experiment file")->required();
  chaos_run->add_flag("--dry-run", co.dry_run, "print what it would do; change nothing");
  chaos_run->add_option("--journal", co.journal, "also write the journal to this file");
  chaos->add_subcommand("ls", "the experiments run on the state folder");
  ChaosReportOptions cr;
  CLI::App* chaos_report = chaos->add_subcommand("report", "the resilience report of journals");
  chaos_report->add_option("journals", cr.journals, "journal files, or experiment ids (chaos ls)")
      ->required();
  chaos_report->add_option("--html", cr.html, "the HTML report to write")->capture_default_str();
  chaos_report->add_option("--markdown", cr.markdown, "the Markdown summary to write")
      ->capture_default_str();
  chaos_report->add_option("--title", cr.title, "the report's title")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  std::unique_ptr<Env> env = NewPosixEnv();
  if (state_dir.empty()) state_dir = DefaultStateDir(*env);
  so.state_dir = state_dir;
  if (store.empty()) store = global_store;
  if (store.empty()) store = env->GetVar("SLUICE_STORE").value_or("");
  if (!store.empty()) {
    if (auto s = ParseStoreUrl(store, so); !s) return Report(s.error());
  }
  so.json_logs = log_format == "json";
  if (auto s = ParseRetention(retention, so); !s) return Report(s.error());
  if (*chaos) {
    GlobalOptions g;
    g.state_dir = state_dir;
    g.json = output == "json";
    if (!global_store.empty()) g.store = global_store;
    if (*chaos_report) return ChaosReport(*env, g, cr);
    return *chaos_run ? ChaosRun(*env, g, co) : ChaosLs(*env, g);
  }
  if (*server && routes) return PrintRoutes(*env);
  if (*server) return RunServer(*env, so);
  if (*worker) {
    auto parsed = ParseLabels(labels);
    if (!parsed) return Report(parsed.error());
    wo.labels = std::move(*parsed);
    wo.token = env->GetVar("SLUICE_TOKEN").value_or("");
    if (wo.name.empty()) wo.name = env->GetVar("HOSTNAME").value_or("");
    return RunWorker(*env, wo);
  }
  return 2;
}
