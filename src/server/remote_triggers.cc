// `sluice trigger apply|ls|rotate|rm` against a server (remote_cli.h; docs/triggers.md,
// "Commands"). `apply` reads the trigger file and loads its pipelines here, as the local command
// does (so its errors read the same), and sends the file with its pipelines' files; the output
// of each command is the local one's (PrintTriggerTokens, TriggersText).
#include <cstdio>
#include <set>

#include <CLI/CLI.hpp>

#include "cli/cli_support.h"
#include "cli/triggers.h"
#include "common/strings.h"
#include "server/remote_cli.h"
#include "spec/plan.h"

namespace sluice {

namespace {

// The triggers' collection in the command's namespace.
std::string TriggersBase(const RemoteContext& c) {
  return "/api/v1/namespaces/" + PathEscape(c.Namespace()) + "/triggers";
}

// The trigger file and its pipelines' files, by absolute path; the error to report otherwise.
Result<std::map<std::string, std::string>> FilesOf(FileSystem& fs, const std::string& path) {
  SLUICE_TRY(specs, ReadTriggerFile(fs, path));
  // Checked here as the local apply checks them, so that its errors read the same.
  SLUICE_TRY_STATUS(SnapshotTriggers(fs, path, "default", "", 0));
  std::map<std::string, std::string> texts;
  SLUICE_TRY(document, fs.ReadFile(path));
  texts[path] = *document;
  for (const TriggerSpec& t : *specs) {
    if (!fs.Stat(t.PipelinePath()).exists) {
      return FailAt(t.pipeline_loc, "pipeline {} does not exist (a path relative to the trigger "
                    "file)", Quote(t.PipelinePath()));
    }
    SLUICE_TRY(plan, LoadPlan(fs, t.PipelinePath()));
    for (const auto& [p, text] : (*plan)->sources) texts[fs.Absolute(p)] = text;
  }
  return texts;
}

// Prints what apply or rotate answered, as the local commands print it.
int PrintTokens(RemoteContext& c, const Result<ApiAnswer>& a) {
  if (!a) return Report(a.error());
  auto v = ParseJson(a->body);
  if (!v || !v->is_map()) return Report(Error(ErrorCode::kIo, "the server's answer is not a JSON object"));
  ValueMap shown;
  if (const Value* applied = v->Find("applied")) shown.emplace_back(Value("applied"), *applied);
  PrintTriggerTokens(Value(std::move(shown)), c.json);
  return 0;
}

int ApplyTriggers(Env& env, RemoteContext& c, const std::string& file) {
  FileSystem& fs = env.files();
  const std::string path = fs.Absolute(file);
  auto texts = FilesOf(fs, path);
  if (!texts) return Report(texts.error());
  const Value body = UploadBody("trigger", path, *texts);
  int rc = PrintTokens(c, Expect2xx(c.api.Put(TriggersBase(c), body.ToJson()), c.api.server()));
  if (rc == 0 && !c.json) std::printf("it fires through %s\n", c.api.server().c_str());
  return rc;
}

int LsTriggers(RemoteContext& c) {
  return PrintBodyOr(c, Expect2xx(c.api.Get(TriggersBase(c)), c.api.server()), TriggersText, "items");
}

int Rm(RemoteContext& c, const std::string& name) {
  auto a = Expect2xx(c.api.Delete(fmt::format("{}/{}", TriggersBase(c), PathEscape(name))), c.api.server());
  if (!a) return Report(a.error());
  if (c.json) std::printf("%s\n", Value(ValueMap{{"removed", Value(name)}}).ToJson().c_str());
  else std::printf("removed trigger %s\n", name.c_str());
  return 0;
}

}  // namespace

void AddTriggerClientCommands(CLI::App& app, TriggerClientOptions& o,
                              std::map<std::string, CLI::App*>& s) {
  auto* trigger = app.add_subcommand("trigger");
  trigger->require_subcommand(1);
  s["trigger apply"] = trigger->add_subcommand("apply");
  s["trigger apply"]->add_option("file", o.file)->required();
  s["trigger ls"] = trigger->add_subcommand("ls");
  for (const char* name : {"rotate", "rm"}) {
    s[std::string("trigger ") + name] = trigger->add_subcommand(name);
    s[std::string("trigger ") + name]->add_option("name", o.name)->required();
  }
}

int DispatchTriggers(Env& env, RemoteContext& c, const TriggerClientOptions& o,
                     std::map<std::string, CLI::App*>& s) {
  if (*s["trigger apply"]) return ApplyTriggers(env, c, o.file);
  if (*s["trigger ls"]) return LsTriggers(c);
  if (*s["trigger rotate"]) {
    return PrintTokens(c, Expect2xx(c.api.Post(fmt::format("{}/{}/rotate", TriggersBase(c),
                                                           PathEscape(o.name)), "{}"),
                                    c.api.server()));
  }
  if (*s["trigger rm"]) return Rm(c, o.name);
  return -1;
}

}  // namespace sluice
