// sluice import argo FILE [-o OUT] (issue 16, docs/interop.md): the Sluice pipeline an Argo
// Workflows file translates into, the same text `sluice run FILE` loads.
#include <cstdio>

#include "cli/cli_support.h"
#include "cli/commands.h"
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
  auto imported = ImportArgoFile(fs, file, *content, argo);
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
  // Whole or not at all: a temporary file beside it, renamed over it.
  const std::string tmp = where + ".sluice-tmp";
  if (auto s = fs.WriteFile(tmp, imported->yaml); !s) return Report(s.error());
  if (auto s = fs.Rename(tmp, where); !s) {
    (void)fs.Remove(tmp);
    return Report(s.error());
  }
  if (!g.json) {
    std::fprintf(stderr, "%s: Argo %s %s imported as pipeline %s\n", out.c_str(),
                 imported->kind.c_str(), imported->name.c_str(), imported->name.c_str());
  }
  return 0;
}

}  // namespace sluice
