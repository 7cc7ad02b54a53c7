// The CLI against a server (remote_cli.h): retry and rerun (asked, then followed as `run`
// follows), graph, prune and waiver grant|list|revoke. Each prints what the local command prints (the same
// texts: cli/waivers.h, PrintDecisions, the follow's ProgressPrinter) and exits with its code.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/cli_support.h"
#include "cli/prune.h"
#include "cli/waivers.h"
#include "common/strings.h"
#include "common/value.h"
#include "server/remote_cli.h"

namespace sluice {

namespace {

// The JSON object of a 2xx answer, or the error to report.
Result<Value> ObjectOf(const Result<ApiAnswer>& a) {
  if (!a) return std::unexpected(a.error());
  auto v = ParseJson(a->body);
  if (!v || !v->is_map()) return Fail(ErrorCode::kIo, "the server's answer is not a JSON object");
  return std::move(*v);
}

// The options of retry and rerun that only mean something to a local run: the one named, or
// nullptr.
const char* LocalOnly(const AgainClientOptions& o, bool retry) {
  if (o.jobs) return "-j/--jobs (the server decides how many tasks run at once)";
  if (o.gpus) return "--gpus";
  if (retry && !o.params.empty()) {
    return "-p (runs with secret params are retried on the server's host)";
  }
  return nullptr;
}

}  // namespace

// `retry RUN [TASK...]`: asked, then followed from the run's last event, as a local retry shows
// the retried run.
int RemoteRetry(Env& env, RemoteContext& c, const AgainClientOptions& o) {
  auto run = ObjectOf(Expect2xx(c.api.Get("/api/v1/runs/" + PathEscape(o.run_id)), c.api.server()));
  if (!run) return Report(run.error());
  const std::string id = DocText(*run, "id").empty() ? o.run_id : DocText(*run, "id");
  auto last = LastSeq(c, id);
  if (!last) return Report(last.error());
  ValueList tasks;
  for (const auto& t : o.tasks) tasks.push_back(Value(t));
  auto a = c.api.Post(fmt::format("/api/v1/runs/{}/retry", PathEscape(id)),
                      Value(ValueMap{{"tasks", Value(std::move(tasks))}}).ToJson());
  if (!a) return Report(a.error());
  if (a->status == 403) {
    return AdmissionRefused(*a, c.api.server(), DocText(*run, "pipeline"),
                            fmt::format("run {} was not retried", id));
  }
  auto done = ObjectOf(Expect2xx(std::move(a), c.api.server()));
  if (!done) return Report(done.error());
  if (const Value* d = done->Find("decisions")) PrintDecisionsOfJson(*d);
  std::printf("%s\n", id.c_str());  // the first line of output, as a local retry's
  std::fflush(stdout);
  DetachOnInterrupt();
  return FollowRemoteRun(env, c, id, *last, "succeeded", true);
}

namespace {

// `rerun RUN [--from TASK] [-p NAME=VALUE]`: a new run in RUN's namespace, followed past the
// events that record what it reuses (a local rerun shows none of them).
int RemoteRerun(Env& env, RemoteContext& c, const AgainClientOptions& o) {
  ValueMap params;
  for (const auto& p : o.params) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Report(Error(ErrorCode::kInvalidInput,
                          fmt::format("sluice: -p expects name=value, got \"{}\"", p)));
    }
    params.emplace_back(Value(p.substr(0, eq)), Value(p.substr(eq + 1)));
  }
  auto old = ObjectOf(Expect2xx(c.api.Get("/api/v1/runs/" + PathEscape(o.run_id)), c.api.server()));
  if (!old) return Report(old.error());
  const std::string old_id = DocText(*old, "id").empty() ? o.run_id : DocText(*old, "id");
  auto a = c.api.Post(fmt::format("/api/v1/runs/{}/rerun", PathEscape(old_id)),
                      Value(ValueMap{{"from", Value(o.from)}, {"params", Value(std::move(params))}})
                          .ToJson());
  if (!a) return Report(a.error());
  if (a->status == 403) {
    return AdmissionRefused(*a, c.api.server(), DocText(*old, "pipeline"), "no run was created");
  }
  auto made = ObjectOf(Expect2xx(std::move(a), c.api.server()));
  if (!made) return Report(made.error());
  const std::string id = DocText(*made, "id");
  if (id.empty()) return Report(Error(ErrorCode::kIo, "the server's answer names no run"));
  if (const Value* d = made->Find("decisions")) PrintDecisionsOfJson(*d);
  const int64_t reused = DocInt(*made, "reused");
  std::fprintf(stderr, "rerun of %s: %lld task%s reused\n", old_id.c_str(),
               static_cast<long long>(reused), reused == 1 ? "" : "s");
  std::printf("%s\n", id.c_str());
  std::fflush(stdout);
  DetachOnInterrupt();
  return FollowRemoteRun(env, c, id, DocInt(*made, "after"), "succeeded", false);
}

int RemoteWaiverList(RemoteContext& c) {
  auto v = ObjectOf(Expect2xx(c.api.Get("/api/v1/waivers"), c.api.server()));
  if (!v) return Report(v.error());
  const Value* items = v->Find("items");
  if (!items || !items->is_list()) return Report(Error(ErrorCode::kIo, "the server's answer lacks its items"));
  std::fputs(c.json ? (items->ToJson() + "\n").c_str() : WaiversText(*items).c_str(), stdout);
  return 0;
}

// The grant's body names what the waiver waives, never who grants it: the token's user does.
int RemoteWaiverGrant(RemoteContext& c, const AgainClientOptions& o) {
  ValueMap body{{"name", Value(o.waiver_name)}, {"policy", Value(o.policy)},
                {"justification", Value(o.justification)}, {"expires", Value(o.expires)}};
  if (!o.rule.empty()) body.emplace_back("rule", Value(o.rule));
  if (!o.pipeline.empty()) body.emplace_back("pipeline", Value(o.pipeline));
  if (!o.task.empty()) body.emplace_back("task", Value(o.task));
  auto v = ObjectOf(Expect2xx(c.api.Post("/api/v1/waivers", Value(std::move(body)).ToJson()),
                              c.api.server()));
  if (!v) return Report(v.error());
  std::fputs(WaiverGrantedText(DocText(*v, "name"), DocText(*v, "policy"), DocText(*v, "rule"),
                               DocText(*v, "expires"), DocInt(*v, "auditSeq"))
                 .c_str(),
             stdout);
  return 0;
}

int RemoteWaiverRevoke(RemoteContext& c, const std::string& name) {
  auto v = ObjectOf(Expect2xx(c.api.Delete("/api/v1/waivers/" + PathEscape(name)), c.api.server()));
  if (!v) return Report(v.error());
  std::fputs(WaiverRevokedText(DocText(*v, "name"), DocInt(*v, "auditSeq")).c_str(), stdout);
  return 0;
}

// `graph TARGET`: a pipeline file is drawn here, as locally (it is a local file); a run is drawn
// by the server (GET .../graph: the DOT the local command makes) and laid out here for svg and
// png, as locally.
int RemoteGraph(Env& env, RemoteContext& c, const AgainClientOptions& o) {
  if (env.files().Stat(o.run_id).exists) {
    auto drawn = PipelineGraph(env, o.run_id, o.format);
    if (!drawn) return Report(drawn.error());
    return WriteGraph(env, std::move(*drawn), o.format, o.out_file);
  }
  if (o.format == "mermaid") {
    return Report(Error(ErrorCode::kInvalidInput, "a run's graph is drawn as dot, svg or png"));
  }
  auto a = c.api.Get(fmt::format("/api/v1/runs/{}/graph", PathEscape(o.run_id)));
  if (a && a->status == 404) {
    const Error e = ErrorOfAnswer(c.api.server(), *a);
    return Report(Error(ErrorCode::kNotFound, fmt::format("{} is neither a pipeline file nor a run "
                        "({})", Quote(o.run_id), e.message)));
  }
  auto dot = Expect2xx(std::move(a), c.api.server());
  if (!dot) return Report(dot.error());
  return WriteGraph(env, std::move(dot->body), o.format, o.out_file);
}

// `prune --older-than D [--dry-run]`: the server prunes (an admin's token), and the answer is
// printed as the local command prints its own.
int RemotePrune(RemoteContext& c, const AgainClientOptions& o) {
  auto ms = ParseDurationMs(o.older_than);
  if (!ms || *ms < 0) {  // refused here as locally, before anything is asked
    return Report(Error{ErrorCode::kInvalidInput, fmt::format("--older-than {}: not a duration "
                                                              "(30d, 12h, 90m)", Quote(o.older_than))});
  }
  auto v = ObjectOf(Expect2xx(
      c.api.Post("/api/v1/prune", Value(ValueMap{{"olderThan", Value(o.older_than)},
                                                 {"dryRun", Value(o.dry_run)}})
                                      .ToJson()),
      c.api.server()));
  if (!v) return Report(v.error());
  return PrintPruned(c.json, *v, o.older_than);
}

}  // namespace

void AddAgainClientCommands(CLI::App& app, AgainClientOptions& o,
                            std::map<std::string, CLI::App*>& s) {
  s["retry"] = app.add_subcommand("retry");
  s["retry"]->add_option("run", o.run_id)->required();
  s["retry"]->add_option("tasks", o.tasks);
  s["rerun"] = app.add_subcommand("rerun");
  s["rerun"]->add_option("run", o.run_id)->required();
  s["rerun"]->add_option("--from", o.from);
  for (const char* name : {"retry", "rerun"}) {
    s[name]->add_option("-p,--param", o.params)->allow_extra_args(false);
    s[name]->add_option("-j,--jobs", o.jobs);
    s[name]->add_option("--gpus", o.gpus);
  }
  s["graph"] = app.add_subcommand("graph");
  s["graph"]->add_option("target", o.run_id)->required();
  s["graph"]->add_option("--format", o.format)->check(CLI::IsMember({"dot", "mermaid", "svg", "png"}));
  s["graph"]->add_option("-o,--out", o.out_file);
  s["prune"] = app.add_subcommand("prune");
  s["prune"]->add_option("--older-than", o.older_than)->required();
  s["prune"]->add_flag("--dry-run", o.dry_run);
  auto* waiver = app.add_subcommand("waiver");
  waiver->require_subcommand(1);
  s["waiver grant"] = waiver->add_subcommand("grant");
  s["waiver grant"]->add_option("name", o.waiver_name)->required();
  s["waiver grant"]->add_option("--policy", o.policy)->required();
  s["waiver grant"]->add_option("--rule", o.rule);
  s["waiver grant"]->add_option("--pipeline", o.pipeline);
  s["waiver grant"]->add_option("--task", o.task);
  s["waiver grant"]->add_option("--justification", o.justification)->required();
  s["waiver grant"]->add_option("--expires", o.expires)->required();
  s["waiver list"] = waiver->add_subcommand("list");
  s["waiver revoke"] = waiver->add_subcommand("revoke");
  s["waiver revoke"]->add_option("name", o.waiver_name)->required();
}

int DispatchAgain(Env& env, RemoteContext& c, const AgainClientOptions& o,
                  std::map<std::string, CLI::App*>& s) {
  for (const char* name : {"retry", "rerun"}) {
    if (!*s[name]) continue;
    const bool retry = name == std::string("retry");
    if (const char* local = LocalOnly(o, retry)) {
      return Report(Error(ErrorCode::kInvalidInput,
                          fmt::format("sluice: {}: {} is not available against a server", name, local)));
    }
    return retry ? RemoteRetry(env, c, o) : RemoteRerun(env, c, o);
  }
  if (*s["graph"]) return RemoteGraph(env, c, o);
  if (*s["prune"]) return RemotePrune(c, o);
  if (*s["waiver grant"]) return RemoteWaiverGrant(c, o);
  if (*s["waiver list"]) return RemoteWaiverList(c);
  if (*s["waiver revoke"]) return RemoteWaiverRevoke(c, o.waiver_name);
  return -1;
}

}  // namespace sluice
