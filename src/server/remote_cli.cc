// The CLI against a server (remote_cli.h): the command line, and the commands that read or act
// on a run. `run` is in remote_run.cc, login and logout in credentials.cc.
#include "server/remote_cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "access/access.h"
#include "cli/cli_support.h"
#include "cli/render.h"
#include "common/strings.h"
#include "common/value.h"
#include "server/credentials.h"

namespace sluice {

namespace {

// The `n`th word of the command line that is no option (0: the command), "" when there is none.
std::string Word(int argc, char** argv, int n = 0) {
  for (int k = 1; k < argc; ++k) {
    std::string_view arg = argv[k];
    if (arg == "--") return "";
    if (arg.starts_with("-")) {
      if (IsGlobalValueOption(arg)) ++k;  // cli_support.h
      continue;
    }
    if (n-- == 0) return std::string(arg);
  }
  return "";
}

// The commands that run against a server.
const std::set<std::string>& ClientCommands() {
  static const std::set<std::string> kCommands = {
      "run",    "runs",      "status",  "events", "logs",     "cancel",   "whoami", "login",
      "logout", "resume",    "rollback", "approvals", "approve", "reject", "breakers", "policy",
      "audit",  "schedule",  "backfill", "notifications",
      "trigger", "pools",
      "retry",  "rerun",     "waiver", "graph", "prune",  // parity (issue 13)
      "rollout", "env"};                                   // rollouts (issue 14)
  return kCommands;
}


int RemoteRuns(RemoteContext& c, int limit) {
  // The API serves up to 500 runs a request (docs/api.md).
  const int asked = std::min(limit, 500);
  // Every namespace the token reads, unless one is named.
  const std::string path = c.ns.empty()
                               ? fmt::format("/api/v1/runs?limit={}", asked)
                               : fmt::format("/api/v1/namespaces/{}/runs?limit={}", c.ns, asked);
  return PrintBodyOr(c, Expect2xx(c.api.Get(path), c.api.server()),
                     RunsText, "items");
}

int RemoteStatus(RemoteContext& c, const std::string& id) {
  return PrintBodyOr(c, Expect2xx(c.api.Get("/api/v1/runs/" + PathEscape(id)), c.api.server()),
                     StatusText);
}

// Every event of the run, page after page.
int RemoteEvents(RemoteContext& c, const std::string& id) {
  ValueList all;
  int64_t after = 0;
  for (;;) {
    auto a = Expect2xx(c.api.Get(fmt::format("/api/v1/runs/{}/events?after={}&limit=10000",
                                             PathEscape(id), after)),
                       c.api.server());
    if (!a) return Report(a.error());
    auto v = ParseJson(a->body);
    const Value* items = v && v->is_map() ? v->Find("items") : nullptr;
    const Value* next = v && v->is_map() ? v->Find("next") : nullptr;
    if (!items || !items->is_list()) return Report(Error(ErrorCode::kIo, "the server's answer lacks its items"));
    for (const Value& e : items->as_list()) all.push_back(e);
    if (!next || !next->is_int()) break;
    after = next->as_int();
  }
  const Value listed(std::move(all));
  std::fputs(c.json ? (listed.ToJson() + "\n").c_str() : EventsText(listed).c_str(), stdout);
  return 0;
}

// One stream of an attempt's log from `*offset` on, as much as there is now, written to `out`.
// Sets `*running` from the answer. Returns the error when the server refused.
Status PumpLog(RemoteContext& c, const std::string& path, const char* stream, int64_t* offset,
               FILE* out, bool* running) {
  for (;;) {
    auto a = Expect2xx(c.api.Get(fmt::format("{}&stream={}&offset={}", path, stream, *offset)),
                       c.api.server());
    if (!a) return std::unexpected(a.error());
    std::fwrite(a->body.data(), 1, a->body.size(), out);
    std::fflush(out);
    *offset += static_cast<int64_t>(a->body.size());
    *running = a->Header("x-sluice-running") == "true";
    if (a->body.empty()) return {};
  }
}

// Follows one stream of an attempt's log (GET .../logs?follow=true, docs/api.md) into `out`
// until the attempt has ended and its last bytes are written. A connection that drops is opened
// again from the offset written so far, so no byte is lost or written twice; reconnecting waits
// 0.2 s, doubling up to 2 s, and gives up after 60 s without a connection. A follow the server
// ended is followed again while the attempt still runs (the server ends one that was quiet for
// its idle timeout). On failure returns the server's refusal, or why it cannot be reached.
Status FollowLog(Env& env, ApiClient& api, const std::string& path, const char* stream, FILE* out) {
  int64_t offset = 0, retry_us = 200'000, failing_since = 0;
  for (;;) {
    const int64_t before = offset;
    auto a = api.GetStream(fmt::format("{}&stream={}&follow=true&offset={}", path, stream, offset),
                           {}, [&](std::string_view bytes) {
                             std::fwrite(bytes.data(), 1, bytes.size(), out);
                             std::fflush(out);
                             offset += static_cast<int64_t>(bytes.size());
                             return true;
                           });
    if (a && a->status >= 200 && a->status < 300) {
      // Ended: by the attempt's end, or by the server's idle timeout. X-Sluice-Running tells.
      auto still = api.Get(fmt::format("{}&stream={}&offset={}&limit=0", path, stream, offset));
      if (still && still->status == 200 && still->Header("x-sluice-running") != "true") return {};
      if (still && still->status == 200) {
        failing_since = 0, retry_us = 200'000;
        continue;
      }
      a = std::move(still);
    }
    if (a && a->status < 500 && a->status != 429) return std::unexpected(ErrorOfAnswer(api.server(), *a));
    const int64_t now = env.clock().NowUs();
    if (offset > before || !failing_since) failing_since = now, retry_us = 200'000;
    if (now - failing_since >= 60'000'000) {
      return std::unexpected(a ? ErrorOfAnswer(api.server(), *a) : a.error());
    }
    env.SleepUs(retry_us);
    retry_us = std::min<int64_t>(retry_us * 2, 2'000'000);
  }
}

// `logs -f`: stdout and stderr followed at once, each on a connection (and a thread) of its own,
// so that their lines interleave as they are written.
int FollowLogs(Env& env, RemoteContext& c, const std::string& path) {
  auto other = c.api.Another();
  Status out_status;
  std::thread out_thread([&] { out_status = FollowLog(env, *other, path, "stdout", stdout); });
  Status err_status = FollowLog(env, c.api, path, "stderr", stderr);
  out_thread.join();
  if (!out_status) return Report(out_status.error());
  if (!err_status) return Report(err_status.error());
  return 0;
}

int RemoteLogs(Env& env, RemoteContext& c, const std::string& id, const std::string& task,
               int attempt, bool follow) {
  // The attempt is fixed first, so that a follow does not move on to a retry's log.
  if (attempt == 0) {
    auto a = Expect2xx(c.api.Get(fmt::format("/api/v1/runs/{}/tasks/{}/logs?limit=0",
                                             PathEscape(id), PathEscape(task))),
                       c.api.server());
    if (!a) return Report(a.error());
    attempt = std::atoi(a->Header("x-sluice-attempt").c_str());
  }
  const std::string path = fmt::format("/api/v1/runs/{}/tasks/{}/logs?attempt={}", PathEscape(id),
                                       PathEscape(task), attempt);
  if (follow) return FollowLogs(env, c, path);
  int64_t out_off = 0, err_off = 0;
  bool running = false, err_running = false;
  if (auto s = PumpLog(c, path, "stdout", &out_off, stdout, &running); !s) return Report(s.error());
  if (auto s = PumpLog(c, path, "stderr", &err_off, stderr, &err_running); !s) return Report(s.error());
  return 0;
}

int RemoteCancel(RemoteContext& c, const std::string& id) {
  auto a = Expect2xx(c.api.Post("/api/v1/runs/" + PathEscape(id) + "/cancel", "{}"), c.api.server());
  if (!a) return Report(a.error());
  auto v = ParseJson(a->body);
  const Value* run = v && v->is_map() ? v->Find("id") : nullptr;
  std::printf("cancelling %s (asked %s)\n", run && run->is_string() ? run->as_string().c_str() : id.c_str(),
              c.api.server().c_str());
  return 0;
}

// The token's user and roles: "alice (roles: default=operator, ml=viewer)".
std::string WhoAmIText(const Value& me) {
  const Value* user = me.is_map() ? me.Find("user") : nullptr;
  const Value* roles = me.is_map() ? me.Find("roles") : nullptr;
  std::vector<std::string> parts;
  if (roles && roles->is_map()) {
    for (const auto& [ns, role] : roles->as_map()) parts.push_back(ns.ToText() + "=" + role.ToText());
  }
  return fmt::format("{} (roles: {})\n", user ? user->ToText() : "?", Join(parts, ", "));
}

// The parsed command line of the client.
struct ClientOptions {
  std::string server, as, output = "text", state_dir, store, ns;
  RemoteRunOptions run;
  std::vector<std::string> params, image_map;
  int jobs = 0, limit = 50, attempt = 0;
  double gpus = 0;
  bool stats = false, follow = false, token_stdin = false;
  std::string policies, run_id, task;
  MoreClientOptions more;  // remote_commands.cc
};

// The command's own subcommand definitions: those of main.cc that make sense against a server.
// Options a server cannot honour (-j, --gpus, --stats, --policies) are read so that they are
// refused by name rather than ignored.
void AddClientCommands(CLI::App& app, ClientOptions& o, std::map<std::string, CLI::App*>& s) {
  app.add_option("--server", o.server);
  app.add_option("--namespace", o.ns)->envname("SLUICE_NAMESPACE");
  app.add_option("--state-dir", o.state_dir);
  app.add_option("--store", o.store);
  app.add_option("--as", o.as);
  app.add_option("-o,--output", o.output)->check(CLI::IsMember({"text", "json"}));
  s["run"] = app.add_subcommand("run");
  s["run"]->add_option("file", o.run.file)->required();
  s["run"]->add_option("-p,--param", o.params)->allow_extra_args(false);
  s["run"]->add_option("--params-file", o.run.params_file);
  s["run"]->add_option("-j,--jobs", o.jobs);
  s["run"]->add_option("--gpus", o.gpus);
  s["run"]->add_flag("--stats", o.stats);
  s["run"]->add_option("--policies", o.policies);
  // An Argo file's options (docs/interop.md), as a local run reads them.
  s["run"]->add_option("--image-map", o.image_map);
  s["run"]->add_flag("--lenient", o.run.argo.lenient);
  s["run"]->add_option("--templates", o.run.argo.templates);
  s["run"]->add_option("--approvers", o.run.argo.approvers)->delimiter(',');
  s["runs"] = app.add_subcommand("runs");
  s["runs"]->add_option("-n,--limit", o.limit)->check(CLI::Range(1, 1000000));
  for (const char* name : {"status", "events", "cancel"}) {
    s[name] = app.add_subcommand(name);
    s[name]->add_option("run", o.run_id)->required();
  }
  s["logs"] = app.add_subcommand("logs");
  s["logs"]->add_option("run", o.run_id)->required();
  s["logs"]->add_option("task", o.task)->required();
  s["logs"]->add_option("--attempt", o.attempt)->check(CLI::Range(1, 100000));
  s["logs"]->add_flag("-f,--follow", o.follow);
  s["whoami"] = app.add_subcommand("whoami");
  s["login"] = app.add_subcommand("login");
  s["login"]->add_flag("--token-stdin", o.token_stdin);
  s["logout"] = app.add_subcommand("logout");
  AddMoreClientCommands(app, o.more, s);
}

// The options of `run` that only mean something to a local run: the one named, or "".
std::string LocalOnlyRunOption(const ClientOptions& o) {
  if (o.jobs) return "-j/--jobs (the server decides how many tasks run at once)";
  if (o.gpus) return "--gpus";
  if (o.stats) return "--stats";
  if (!o.policies.empty()) return "--policies (the server applies its central policies)";
  return "";
}

int Dispatch(Env& env, ClientOptions& o, std::map<std::string, CLI::App*>& s) {
  if (*s["login"]) return CmdLogin(env, NamedServer(env, o.server), o.token_stdin);
  if (*s["logout"]) return CmdLogout(env);
  if (!o.as.empty()) {
    return Report(Error(ErrorCode::kInvalidInput, "sluice: --as has no meaning against a server: "
                        "the token says who you are"));
  }
  auto login = ResolveCredentials(env, NamedServer(env, o.server));
  if (!login) return Report(login.error());
  ApiClient api(login->server, login->token);
  if (!o.ns.empty() && !IsNamespaceName(o.ns)) {
    return Report(Error(ErrorCode::kInvalidInput, fmt::format("sluice: --namespace {}: a namespace "
                        "is 1 to 63 of a-z, 0-9 and '-'", Quote(o.ns))));
  }
  RemoteContext c{o.output == "json", api, o.ns};
  if (*s["run"]) {
    if (auto local = LocalOnlyRunOption(o); !local.empty()) {
      return Report(Error(ErrorCode::kInvalidInput,
                          fmt::format("sluice: run: {} is not available against a server", local)));
    }
    for (const auto& p : o.params) {
      auto eq = p.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Report(Error(ErrorCode::kInvalidInput,
                            fmt::format("sluice: -p expects name=value, got \"{}\"", p)));
      }
      o.run.params[p.substr(0, eq)] = p.substr(eq + 1);
    }
    if (auto mapped = AddImageMaps(o.image_map, o.run.argo); !mapped) return Report(mapped.error());
    return RemoteRun(env, c, o.run);
  }
  if (*s["runs"]) return RemoteRuns(c, o.limit);
  if (*s["status"]) return RemoteStatus(c, o.run_id);
  if (*s["events"]) return RemoteEvents(c, o.run_id);
  if (*s["logs"]) return RemoteLogs(env, c, o.run_id, o.task, o.attempt, o.follow);
  if (*s["cancel"]) return RemoteCancel(c, o.run_id);
  if (*s["whoami"]) {
    return PrintBodyOr(c, Expect2xx(api.Get("/api/v1/whoami"), api.server()), WhoAmIText);
  }
  const int rc = DispatchMore(env, c, o.more, s);
  return rc >= 0 ? rc : 2;
}

}  // namespace

int PrintBodyOr(const RemoteContext& c, const Result<ApiAnswer>& a,
                std::string (*render)(const Value&), const char* list_field) {
  if (!a) return Report(a.error());
  auto v = ParseJson(a->body);
  if (!v) return Report(Error(ErrorCode::kIo, "the server's answer is not JSON: " + v.error().message));
  const Value* shown = &*v;
  if (list_field) shown = v->is_map() ? v->Find(list_field) : nullptr;
  if (!shown) return Report(Error(ErrorCode::kIo, "the server's answer lacks its items"));
  // A whole document is printed as the server wrote it: the view's own JSON, byte for byte.
  const std::string json = list_field ? shown->ToJson() : a->body;
  std::fputs(c.json ? (json + "\n").c_str() : render(*shown).c_str(), stdout);
  return 0;
}

Result<ApiAnswer> Expect2xx(Result<ApiAnswer> answer, const std::string& server) {
  if (!answer) return answer;
  if (answer->status < 200 || answer->status >= 300) {
    return std::unexpected(ErrorOfAnswer(server, *answer));
  }
  return answer;
}

bool IsClientCommandLine(int argc, char** argv) {
  const std::string first = Word(argc, argv);
  // Against a server, `sluice chaos` is refused like any command the API lacks; without one it
  // is sluice-net's own (docs/chaos.md).
  bool server = std::getenv("SLUICE_SERVER") && *std::getenv("SLUICE_SERVER");
  for (int k = 1; k < argc; ++k) server = server || std::string_view(argv[k]) == "--server";
  return first != "server" && first != "worker" && !(first == "chaos" && !server);
}

int RunClient(Env& env, int argc, char** argv) {
  const std::string first = Word(argc, argv);
  // Of `policy`, only `policy eval` asks the server (`policy test` reads local files); `rollout
  // report` writes a local file from the store's measurements.
  const bool two_words = first == "policy" || first == "rollout";
  const std::string shown = two_words ? first + " " + Word(argc, argv, 1) : first;
  if (!first.empty() && (!ClientCommands().count(first) || shown == "policy test" ||
                         shown == "rollout report")) {
    ClientOptions peek;  // which server, only to name it
    for (int k = 1; k + 1 < argc; ++k) {
      if (std::string_view(argv[k]) == "--server") peek.server = argv[k + 1];
    }
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("sluice: {} is not available against a server ({}) yet; run it "
                                    "on the server's host, without --server and SLUICE_SERVER",
                                    shown, NamedServer(env, peek.server))));
  }
  CLI::App app{"sluice: the commands against a server"};
  app.name("sluice");
  app.require_subcommand(1);
  app.fallthrough();
  ClientOptions o;
  std::map<std::string, CLI::App*> s;
  AddClientCommands(app, o, s);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return Dispatch(env, o, s);
}

}  // namespace sluice
