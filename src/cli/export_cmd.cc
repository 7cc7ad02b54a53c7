// `sluice export` (export_cmd.h).
#include "cli/export_cmd.h"

#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_support.h"
#include "cli/identity.h"
#include "common/strings.h"
#include "interop/argo_import.h"
#include "interop/export.h"
#include "spec/plan.h"

namespace sluice {
namespace {

using Exporter = Result<ExportResult> (*)(const Plan&, const ExportOptions&);

// The targets `--to` names. An exporter not linked into this build is null: the command says
// so. Wiring one is this table's line.
struct Target {
  const char* name;
  Exporter exporter;
};
constexpr Target kTargets[] = {
    {"argo", ExportArgo},
    {"kfp", ExportKfp},
    {"airflow", ExportAirflow},
    {"prefect", ExportPrefect},
};

// Writes every file beside its final name first, then renames them all, so that an error
// leaves no file of this export half-written (earlier exports' files stay as they were).
Status WriteAll(FileSystem& fs, const std::string& dir, const std::vector<ExportedFile>& files) {
  SLUICE_TRY_STATUS(fs.MakeDirs(dir));
  std::vector<std::string> written;
  auto cleanup = [&] {
    for (const auto& p : written) (void)fs.Remove(p);
  };
  for (const auto& f : files) {
    std::string tmp = PathJoin(dir, "." + f.name + ".sluice-export");
    if (auto s = fs.WriteFile(tmp, f.text); !s) {
      cleanup();
      return s;
    }
    written.push_back(tmp);
  }
  for (const auto& f : files) {
    if (auto s = fs.Rename(PathJoin(dir, "." + f.name + ".sluice-export"), PathJoin(dir, f.name)); !s) {
      cleanup();
      return s;
    }
  }
  return {};
}

}  // namespace

int CmdExport(Env& env, const GlobalOptions& g, const ExportRequest& req) {
  const Target* target = nullptr;
  for (const auto& t : kTargets) {
    if (req.target == t.name) target = &t;
  }
  if (!target) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("export --to {}: expected argo, kfp, airflow or prefect",
                                    Quote(req.target))));
  }
  if (!target->exporter) {
    return Report(Error(ErrorCode::kInvalidInput,
                        fmt::format("export --to {}: not built in this build of sluice", req.target)));
  }
  // An Argo file is imported first (docs/interop.md): Argo -> Sluice -> any target, the round
  // trip included.
  // A suspend without a duration is an approval by whoever exports (it becomes a suspend again).
  auto plan = LoadPipelineFile(env.files(), req.file, WithActingApprover(env, g.state_dir, g.as, {}));
  if (!plan) return Report(plan.error());
  ExportOptions options;
  if (!req.image.empty()) options.default_image = req.image;
  options.artifact_repository = req.artifact_repository;
  options.workflow_template = req.workflow_template;
  auto exported = target->exporter(**plan, options);
  if (!exported) return Report(exported.error());
  for (const auto& line : exported->not_expressed) {
    std::fprintf(stderr, "sluice: warning: not expressed in %s: %s\n", req.target.c_str(),
                 line.c_str());
  }
  if (exported->files.empty()) {
    return Report(Error(ErrorCode::kInternal, "export --to " + req.target + " wrote no file"));
  }
  if (req.dir.empty()) {
    const std::string& text = exported->files[0].text;
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (auto s = WriteAll(env.files(), req.dir, exported->files); !s) return Report(s.error());
  for (const auto& f : exported->files) {
    std::fprintf(stderr, "wrote %s (%zu bytes)\n", PathJoin(req.dir, f.name).c_str(), f.text.size());
  }
  return 0;
}

}  // namespace sluice
