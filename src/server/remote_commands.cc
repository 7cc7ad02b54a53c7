// The CLI against a server (remote_cli.h): resume and rollback (asked, then followed as `run`
// follows), approvals, approve and reject, breakers and their orders, policy eval and audit
// verify|export. Each prints what the local command prints, drawn by the same renderer
// (cli/render.h) from the document the API serves, and exits with the local command's code.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/cli_support.h"
#include "cli/notifications.h"
#include "cli/pools.h"
#include "cli/policy_cmds.h"
#include "cli/render.h"
#include "common/strings.h"
#include "common/value.h"
#include "server/remote_cli.h"

namespace sluice {

namespace {

// The JSON document of a 2xx answer, or the error to report (the refusal, or a body that is not
// JSON).
Result<Value> JsonOf(const Result<ApiAnswer>& a) {
  if (!a) return std::unexpected(a.error());
  auto v = ParseJson(a->body);
  if (!v) return Fail(ErrorCode::kIo, "the server's answer is not JSON: {}", v.error().message);
  return std::move(*v);
}

// The list in field `items` of a 2xx answer.
Result<Value> ItemsOf(const Result<ApiAnswer>& a) {
  SLUICE_TRY(v, JsonOf(a));
  const Value* items = v->is_map() ? v->Find("items") : nullptr;
  if (!items || !items->is_list()) return Fail(ErrorCode::kIo, "the server's answer lacks its items");
  return *items;
}

// Prints `v` as -o json does (compact, one line), or as `render` draws it.
int Print(const RemoteContext& c, const Value& v, std::string (*render)(const Value&)) {
  std::fputs(c.json ? (v.ToJson() + "\n").c_str() : render(v).c_str(), stdout);
  return 0;
}

}  // namespace

// The follow of a resume begins there, so that it shows what the resumed run does, as a local
// resume shows.
Result<int64_t> LastSeq(RemoteContext& c, const std::string& id) {
  int64_t after = 0;
  for (;;) {
    SLUICE_TRY(v, JsonOf(Expect2xx(c.api.Get(fmt::format("/api/v1/runs/{}/events?after={}&limit=10000",
                                                         PathEscape(id), after)),
                                   c.api.server())));
    const Value* items = v->is_map() ? v->Find("items") : nullptr;
    const Value* next = v->is_map() ? v->Find("next") : nullptr;
    if (!items || !items->is_list()) return Fail(ErrorCode::kIo, "the server's answer lacks its items");
    for (const Value& e : items->as_list()) {
      if (const Value* seq = e.Find("seq"); seq && seq->is_int()) after = std::max(after, seq->as_int());
    }
    if (!next || !next->is_int()) return after;
  }
}

namespace {

int RemoteResume(Env& env, RemoteContext& c, const std::string& ref, bool rollback) {
  auto run = JsonOf(Expect2xx(c.api.Get("/api/v1/runs/" + PathEscape(ref)), c.api.server()));
  if (!run) return Report(run.error());
  const std::string id = run->Find("id") ? run->Find("id")->ToText() : ref;
  auto last = LastSeq(c, id);
  if (!last) return Report(last.error());
  auto a = Expect2xx(c.api.Post(fmt::format("/api/v1/runs/{}/{}", PathEscape(id),
                                            rollback ? "rollback" : "resume"), "{}"),
                     c.api.server());
  if (!a) return Report(a.error());
  std::printf("%s\n", id.c_str());  // the first line of output, as a local resume's
  std::fflush(stdout);
  DetachOnInterrupt();
  return FollowRemoteRun(env, c, id, *last, rollback ? "compensated" : "succeeded", true);
}

int RemoteApprovals(RemoteContext& c, bool all) {
  auto items = ItemsOf(Expect2xx(c.api.Get(fmt::format("/api/v1/approvals?all={}", all)),
                                 c.api.server()));
  if (!items) return Report(items.error());
  return Print(c, *items, ApprovalsText);
}

// approve|reject: the body names only the comment, never a voter (the server's is the token's
// user). A vote the rules refuse (not an approver, forbidSelfApproval) is a 403 whose message is
// the local refusal's, printed as a local refusal is.
int RemoteVote(RemoteContext& c, const std::string& run, const std::string& task, bool approve,
               const std::string& comment) {
  auto a = c.api.Post(fmt::format("/api/v1/runs/{}/tasks/{}/{}", PathEscape(run), PathEscape(task),
                                  approve ? "approve" : "reject"),
                      Value(ValueMap{{"comment", Value(comment)}}).ToJson());
  if (a && a->status == 403) {
    auto v = ParseJson(a->body);
    const Value* err = v && v->is_map() ? v->Find("error") : nullptr;
    const Value* m = err && err->is_map() ? err->Find("message") : nullptr;
    if (m && m->is_string()) return Report(Error(ErrorCode::kInvalidInput, m->as_string()));
  }
  auto v = JsonOf(Expect2xx(std::move(a), c.api.server()));
  if (!v) return Report(v.error());
  std::fputs(VoteText(*v).c_str(), stdout);  // text, with -o json too, as locally
  return 0;
}

int RemoteBreakers(RemoteContext& c) {
  auto items = ItemsOf(Expect2xx(c.api.Get("/api/v1/breakers"), c.api.server()));
  if (!items) return Report(items.error());
  return Print(c, *items, BreakersText);
}

// notifications ls (issue 13; cli/notifications.h renders what the API gives).
int RemoteNotifications(RemoteContext& c, bool failed, int limit) {
  auto items = ItemsOf(Expect2xx(
      c.api.Get(fmt::format("/api/v1/notifications?limit={}{}", std::min(limit, 1000),
                            failed ? "&failed=true" : "")),
      c.api.server()));
  if (!items) return Report(items.error());
  return Print(c, *items, NotificationsText);
}

// pools (docs/pools.md; cli/pools.h renders what the API gives).
int RemotePools(RemoteContext& c) {
  auto items = ItemsOf(Expect2xx(c.api.Get("/api/v1/pools"), c.api.server()));
  if (!items) return Report(items.error());
  return Print(c, *items, PoolsText);
}

int RemoteBreakerOrder(RemoteContext& c, const std::string& order, const std::string& name) {
  auto v = JsonOf(Expect2xx(c.api.Post(fmt::format("/api/v1/breakers/{}/{}", PathEscape(name), order),
                                       "{}"),
                            c.api.server()));
  if (!v) return Report(v.error());
  std::fputs(BreakerOrderText(*v).c_str(), stdout);
  return 0;
}

// The input is read and checked here, with the local command's errors; the server judges it
// with its central policies and waivers. A policy FILE is refused: it is a local file, which
// `sluice policy eval FILE` without --server evaluates.
int RemotePolicyEval(Env& env, RemoteContext& c, const std::string& file, const std::string& input_path) {
  if (!file.empty()) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("sluice: policy eval {}: against a server, the server's central "
                                    "policies are evaluated; give no FILE, or run without --server "
                                    "to evaluate a local one", Quote(file))));
  }
  auto input = ReadPolicyInput(env, input_path);
  if (!input) return Report(input.error());
  auto v = JsonOf(Expect2xx(c.api.Post("/api/v1/policy/eval", input->ToJson()), c.api.server()));
  if (!v) return Report(v.error());
  const Value* decisions = v->is_map() ? v->Find("decisions") : nullptr;
  const Value* denied = v->is_map() ? v->Find("denied") : nullptr;
  if (!decisions || !decisions->is_list() || !denied || !denied->is_bool()) {
    return Report(Error(ErrorCode::kIo, "the server's answer lacks its decisions"));
  }
  Print(c, *decisions, DecisionsText);
  return denied->as_bool() ? 1 : 0;
}

int RemoteAuditVerify(RemoteContext& c, const std::string& head) {
  auto a = Expect2xx(c.api.Get("/api/v1/audit/verify?head=" + PathEscape(head)), c.api.server());
  auto v = JsonOf(a);
  if (!v) return Report(v.error());
  const Value* ok = v->is_map() ? v->Find("ok") : nullptr;
  if (!ok || !ok->is_bool()) return Report(Error(ErrorCode::kIo, "the server's answer lacks ok"));
  // The document as the server wrote it: AuditCheckJson's, byte for byte.
  std::fputs(c.json ? (a->body + "\n").c_str() : AuditCheckText(*v).c_str(), stdout);
  return ok->as_bool() ? 0 : 1;
}

int RemoteAuditExport(RemoteContext& c) {
  auto a = Expect2xx(c.api.Get("/api/v1/audit/export"), c.api.server());
  if (!a) return Report(a.error());
  std::fwrite(a->body.data(), 1, a->body.size(), stdout);  // the lines of AuditRecordJson
  return 0;
}

}  // namespace

void AddMoreClientCommands(CLI::App& app, MoreClientOptions& o, std::map<std::string, CLI::App*>& s) {
  for (const char* name : {"resume", "rollback"}) {
    s[name] = app.add_subcommand(name);
    s[name]->add_option("run", o.run_id)->required();
    s[name]->add_option("-j,--jobs", o.jobs);
    s[name]->add_option("-p,--param", o.params)->allow_extra_args(false);
  }
  s["resume"]->add_option("--gpus", o.gpus);
  s["resume"]->add_flag("--stats", o.stats);
  s["approvals"] = app.add_subcommand("approvals");
  s["approvals"]->add_flag("--all", o.all);
  for (const char* name : {"approve", "reject"}) {
    s[name] = app.add_subcommand(name);
    s[name]->add_option("run", o.run_id)->required();
    s[name]->add_option("task", o.task)->required();
    s[name]->add_option("--comment", o.comment);
  }
  s["breakers"] = app.add_subcommand("breakers");
  for (const char* order : {"open", "close", "reset", "disable"}) {
    s[std::string("breakers ") + order] = s["breakers"]->add_subcommand(order);
    s[std::string("breakers ") + order]->add_option("name", o.name)->required();
  }
  auto* policy = app.add_subcommand("policy");
  policy->require_subcommand(1);
  s["policy eval"] = policy->add_subcommand("eval");
  s["policy eval"]->add_option("file", o.file);
  s["policy eval"]->add_option("--input", o.input)->required();
  auto* audit = app.add_subcommand("audit");
  audit->require_subcommand(1);
  s["audit verify"] = audit->add_subcommand("verify");
  s["audit verify"]->add_option("--head", o.head);
  s["audit export"] = audit->add_subcommand("export");
  AddScheduleClientCommands(app, o.schedules, s);  // schedules (issue 13)
  auto* notifications = app.add_subcommand("notifications");  // notifications (issue 13)
  notifications->require_subcommand(1);
  s["notifications ls"] = notifications->add_subcommand("ls");
  s["notifications ls"]->add_flag("--failed", o.notifications_failed);
  s["notifications ls"]->add_option("--limit", o.notifications_limit)->check(CLI::Range(1, 10000));
  AddTriggerClientCommands(app, o.triggers, s);    // webhook triggers
  s["pools"] = app.add_subcommand("pools");        // central pools
  AddAgainClientCommands(app, o.again, s);         // retry, rerun, waivers (parity)
  AddRolloutClientCommands(app, o.rollouts, s);    // rollout, env (issue 14)
}

int DispatchMore(Env& env, RemoteContext& c, const MoreClientOptions& o,
                 std::map<std::string, CLI::App*>& s) {
  for (const char* name : {"resume", "rollback"}) {
    if (!*s[name]) continue;
    const char* local = o.jobs ? "-j/--jobs (the server decides how many tasks run at once)"
                        : o.gpus ? "--gpus" : o.stats ? "--stats"
                        : !o.params.empty() ? "-p (runs with secret params are resumed on the "
                                              "server's host)" : nullptr;
    if (local) {
      return Report(Error(ErrorCode::kInvalidInput,
                          fmt::format("sluice: {}: {} is not available against a server", name, local)));
    }
    return RemoteResume(env, c, o.run_id, name == std::string("rollback"));
  }
  if (int rc = DispatchSchedules(env, c, o.schedules, s); rc >= 0) return rc;  // schedules
  if (*s["notifications ls"]) {
    return RemoteNotifications(c, o.notifications_failed, o.notifications_limit);
  }
  if (int rc = DispatchTriggers(env, c, o.triggers, s); rc >= 0) return rc;    // triggers
  if (int rc = DispatchAgain(env, c, o.again, s); rc >= 0) return rc;          // parity
  if (int rc = DispatchRollouts(env, c, o.rollouts, s); rc >= 0) return rc;    // issue 14
  if (*s["approvals"]) return RemoteApprovals(c, o.all);
  if (*s["approve"]) return RemoteVote(c, o.run_id, o.task, true, o.comment);
  if (*s["reject"]) return RemoteVote(c, o.run_id, o.task, false, o.comment);
  for (const char* order : {"open", "close", "reset", "disable"}) {
    if (*s[std::string("breakers ") + order]) return RemoteBreakerOrder(c, order, o.name);
  }
  if (*s["breakers"]) return RemoteBreakers(c);
  if (*s["pools"]) return RemotePools(c);
  if (*s["policy eval"]) return RemotePolicyEval(env, c, o.file, o.input);
  if (*s["audit verify"]) return RemoteAuditVerify(c, o.head);
  if (*s["audit export"]) return RemoteAuditExport(c);
  return -1;
}

}  // namespace sluice
