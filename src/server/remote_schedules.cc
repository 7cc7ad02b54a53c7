// `sluice schedule apply|ls|suspend|resume|trigger` and `sluice backfill` against a server
// (remote_cli.h; docs/schedules.md, "Commands"). `apply` reads the schedule file and loads its
// pipelines here, as the local command does (so its errors read the same), and sends the file
// with its pipelines' files; `trigger` follows the run it started as `sluice run --server` does;
// `backfill` prints the runs it started. `schedule next|validate` read local files only.
#include <cstdio>
#include <set>

#include <CLI/CLI.hpp>

#include "cli/cli_support.h"
#include "cli/schedule_runs.h"
#include "common/strings.h"
#include "server/remote_cli.h"
#include "spec/plan.h"

namespace sluice {

namespace {

// The schedules' collection in the command's namespace.
std::string SchedulesBase(const RemoteContext& c) {
  return "/api/v1/namespaces/" + PathEscape(c.Namespace()) + "/schedules";
}

int ApplySchedules(Env& env, RemoteContext& c, const std::string& file) {
  FileSystem& fs = env.files();
  const std::string path = fs.Absolute(file);
  auto specs = ReadScheduleFile(fs, path);
  if (!specs) return Report(specs.error());
  std::map<std::string, std::string> texts;
  auto document = fs.ReadFile(path);
  if (!document) return Report(document.error());
  texts[path] = *document;
  for (const ScheduleSpec& s : *specs) {
    if (!fs.Stat(s.PipelinePath()).exists) {
      return Report(FailAt(s.pipeline_loc, "pipeline {} does not exist (a path relative to the "
                           "schedule file)", Quote(s.PipelinePath())).error());
    }
    auto plan = LoadPlan(fs, s.PipelinePath());
    if (!plan) return Report(plan.error());
    for (const auto& [p, text] : (*plan)->sources) texts[fs.Absolute(p)] = text;
  }
  const Value body = UploadBody("schedule", path, texts);
  auto a = Expect2xx(c.api.Put(SchedulesBase(c), body.ToJson()), c.api.server());
  if (!a) return Report(a.error());
  auto v = ParseJson(a->body);
  const Value* applied = v && v->is_map() ? v->Find("applied") : nullptr;
  if (c.json) {
    std::printf("%s\n", a->body.c_str());
    return 0;
  }
  if (applied && applied->is_list()) {
    for (const Value& name : applied->as_list()) std::printf("applied schedule %s\n", name.ToText().c_str());
  }
  std::printf("it fires while %s runs\n", c.api.server().c_str());
  return 0;
}

int LsSchedules(RemoteContext& c) {
  return PrintBodyOr(c, Expect2xx(c.api.Get(SchedulesBase(c)), c.api.server()), SchedulesText, "items");
}

int Suspend(RemoteContext& c, const std::string& name, bool suspend) {
  auto a = Expect2xx(c.api.Post(fmt::format("{}/{}/{}", SchedulesBase(c), PathEscape(name),
                                            suspend ? "suspend" : "resume"), "{}"),
                     c.api.server());
  if (!a) return Report(a.error());
  std::printf("%s schedule %s\n", suspend ? "suspended" : "resumed", name.c_str());
  return 0;
}

int Trigger(Env& env, RemoteContext& c, const std::string& name) {
  auto a = Expect2xx(c.api.Post(fmt::format("{}/{}/trigger", SchedulesBase(c), PathEscape(name)), "{}"),
                     c.api.server());
  if (!a) return Report(a.error());
  auto v = ParseJson(a->body);
  const Value* id = v && v->is_map() ? v->Find("id") : nullptr;
  if (!id || !id->is_string()) return Report(Error(ErrorCode::kIo, "the server's answer lacks the run's id"));
  std::printf("%s\n", id->as_string().c_str());  // the first line of output, as a local run's
  std::fflush(stdout);
  DetachOnInterrupt();
  return FollowRemoteRun(env, c, id->as_string(), 0, "succeeded", false);
}

int BackfillRemote(RemoteContext& c, const std::string& name, const std::string& from,
                   const std::string& to) {
  const Value body(ValueMap{{"from", Value(from)}, {"to", Value(to)}});
  auto a = Expect2xx(c.api.Post(fmt::format("{}/{}/backfill", SchedulesBase(c), PathEscape(name)), body.ToJson()),
                     c.api.server());
  if (!a) return Report(a.error());
  auto v = ParseJson(a->body);
  if (c.json || !v || !v->is_map()) {
    std::printf("%s\n", a->body.c_str());
    return 0;
  }
  for (const char* field : {"started", "existing"}) {
    const Value* ids = v->Find(field);
    if (!ids || !ids->is_list()) continue;
    for (const Value& id : ids->as_list()) {
      std::printf(field == std::string("started") ? "%s\n" : "%s exists; left out\n",
                  id.ToText().c_str());
    }
  }
  return 0;
}

}  // namespace

std::string CommonFolder(const std::set<std::string>& folders) {
  std::string common = *folders.begin();
  for (const auto& f : folders) {
    while (!(f == common || f.starts_with(common + "/") || common == "/")) common = Dirname(common);
  }
  return common;
}

Value UploadBody(const std::string& key, const std::string& path,
                 const std::map<std::string, std::string>& texts) {
  std::set<std::string> folders;
  for (const auto& [p, text] : texts) folders.insert(Dirname(p));
  const std::string root = CommonFolder(folders);
  const size_t cut = root == "/" ? 1 : root.size() + 1;
  ValueMap files;
  for (const auto& [p, text] : texts) files.emplace_back(Value(p.substr(cut)), Value(text));
  return Value(ValueMap{{key, Value(path.substr(cut))}, {"files", Value(std::move(files))}});
}

void AddScheduleClientCommands(CLI::App& app, ScheduleClientOptions& o,
                               std::map<std::string, CLI::App*>& s) {
  auto* schedule = app.add_subcommand("schedule");
  schedule->require_subcommand(1);
  for (const char* name : {"apply", "next", "validate"}) {
    s[std::string("schedule ") + name] = schedule->add_subcommand(name);
    s[std::string("schedule ") + name]->add_option("file", o.file)->required();
    s[std::string("schedule ") + name]->allow_extras();
  }
  s["schedule ls"] = schedule->add_subcommand("ls");
  for (const char* name : {"suspend", "resume", "trigger"}) {
    s[std::string("schedule ") + name] = schedule->add_subcommand(name);
    s[std::string("schedule ") + name]->add_option("name", o.name)->required();
  }
  s["schedule trigger"]->add_option("-j,--jobs", o.jobs);
  s["backfill"] = app.add_subcommand("backfill");
  s["backfill"]->add_option("schedule", o.name)->required();
  s["backfill"]->add_option("--from", o.from)->required();
  s["backfill"]->add_option("--to", o.to)->required();
  s["backfill"]->add_option("-j,--jobs", o.jobs);
}

int DispatchSchedules(Env& env, RemoteContext& c, const ScheduleClientOptions& o,
                      std::map<std::string, CLI::App*>& s) {
  for (const char* local : {"schedule next", "schedule validate"}) {
    if (s.count(local) && *s[local]) {
      return Report(Error(ErrorCode::kInvalidInput, fmt::format(
          "sluice: {} reads local files only; run it without --server and SLUICE_SERVER", local)));
    }
  }
  if (o.jobs && ((*s["schedule trigger"]) || *s["backfill"])) {
    return Report(Error(ErrorCode::kInvalidInput, "sluice: -j/--jobs is not available against a "
                        "server (the server decides how many tasks run at once)"));
  }
  if (*s["schedule apply"]) return ApplySchedules(env, c, o.file);
  if (*s["schedule ls"]) return LsSchedules(c);
  if (*s["schedule suspend"]) return Suspend(c, o.name, true);
  if (*s["schedule resume"]) return Suspend(c, o.name, false);
  if (*s["schedule trigger"]) return Trigger(env, c, o.name);
  if (*s["backfill"]) return BackfillRemote(c, o.name, o.from, o.to);
  return -1;
}

}  // namespace sluice
