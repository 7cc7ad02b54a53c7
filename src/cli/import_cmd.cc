// sluice import argo FILE [-o OUT] (issue 16, docs/interop.md): the Sluice pipeline an Argo
// Workflows file translates into, the same text `sluice run FILE` loads.
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/commands.h"
#include "cli/identity.h"
#include "cli/schedule_runs.h"
#include "env/fake_env.h"
#include "interop/argo_document.h"
#include "interop/argo_import.h"

namespace sluice {

int CmdImportArgo(Env& env, const GlobalOptions& g, const std::string& file,
                  const std::string& out, const ArgoImportOptions& argo) {
  FileSystem& fs = env.files();
  auto content = fs.ReadFile(file);
  if (!content) return Report(content.error());
  if (!LooksLikeArgo(*content)) {
    return Report(Error(ErrorCode::kInvalidInput,
                        file + ": not an Argo Workflows file (its first document has no "
                               "apiVersion: argoproj.io/v1alpha1)"));
  }
  // A suspend without a duration: by default, whoever imports approves it (written in the file).
  auto imported = ImportArgoFile(fs, file, *content, WithActingApprover(env, g.state_dir, g.as, argo));
  if (!imported) return Report(imported.error());
  for (const std::string& w : imported->warnings) std::fprintf(stderr, "%s\n", w.c_str());
  // What is written must load: checked where it will live, so that pipeline.dir is right.
  const std::string where = fs.Absolute(out.empty() ? file : out);
  MemFileSystem mem(std::map<std::string, std::string>{{where, imported->yaml}});
  if (auto plan = LoadPlan(mem, where); !plan) {
    return Report(Error(ErrorCode::kInvalidInput,
                        plan.error().message + " (in the translation of " + file + ")"));
  }
  if (out.empty()) {
    std::fwrite(imported->yaml.data(), 1, imported->yaml.size(), stdout);
    return 0;
  }
  // A CronWorkflow's schedule goes beside the pipeline: OUT's name with .schedule.yaml.
  std::vector<std::pair<std::string, std::string>> files = {{where, imported->yaml}};
  if (imported->cron) {
    std::string base = where.substr(where.rfind('/') + 1);
    for (std::string_view ext : {".yaml", ".yml"}) {
      if (base.size() > ext.size() && base.ends_with(ext)) base.resize(base.size() - ext.size());
    }
    const std::string schedule = Dirname(where) + "/" + base + ".schedule.yaml";
    files.emplace_back(schedule, EmitArgoSchedules(*imported, where.substr(where.rfind('/') + 1)));
    (void)mem.WriteFile(schedule, files.back().second);
    if (auto s = ReadScheduleFile(mem, schedule); !s) {
      return Report(Error(ErrorCode::kInvalidInput,
                          s.error().message + " (in the schedule of " + file + ")"));
    }
  }
  // Whole or not at all: temporary files beside them, renamed over them.
  for (const auto& [path, text] : files) {
    if (auto s = fs.WriteFile(path + ".sluice-tmp", text); !s) {
      for (const auto& f : files) (void)fs.Remove(f.first + ".sluice-tmp");
      return Report(s.error());
    }
  }
  for (const auto& [path, text] : files) {
    if (auto s = fs.Rename(path + ".sluice-tmp", path); !s) {
      for (const auto& f : files) (void)fs.Remove(f.first + ".sluice-tmp");
      return Report(s.error());
    }
  }
  if (!g.json) {
    std::fprintf(stderr, "%s: Argo %s %s imported as pipeline %s\n", out.c_str(),
                 imported->kind.c_str(), imported->name.c_str(), imported->name.c_str());
    if (files.size() > 1) {
      std::fprintf(stderr, "%s: its schedule (sluice schedule apply %s)\n", files[1].first.c_str(),
                   files[1].first.c_str());
    }
  }
  return 0;
}

}  // namespace sluice
