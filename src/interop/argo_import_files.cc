// ImportArgo and what reads files for it: the library of --templates, LoadPipelineFile.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/strings.h"
#include "interop/argo_fields.h"
#include "interop/argo_importer.h"
#include "interop/yaml_text.h"
#include "env/fake_env.h"

namespace sluice {

Result<ArgoImport> ImportArgo(const std::string& path, std::string_view content,
                              const ArgoImportOptions& options,
                              const std::vector<std::pair<std::string, std::string>>& templates) {
  ArgoImport out;
  SLUICE_TRY(checked, CheckArgoFile(path, content, options.lenient));
  std::vector<std::string> errors;
  for (const ArgoProblem& p : checked->problems) {
    (p.error ? errors : out.warnings).push_back(p.line);
  }
  if (!errors.empty()) return Fail(ErrorCode::kInvalidInput, "{}", Join(errors, "\n"));
  ArgoLibrary library;
  SLUICE_TRY_STATUS(library.Add(path, std::string(content)));
  library.lenient = options.lenient;
  library.checked.insert(library.files[0]->reader.get());  // checked above
  for (const auto& [file, text] : templates) {
    if (file == path || !LooksLikeArgo(text)) continue;
    // A file of the folder that is not YAML matters only if a reference is not found.
    if (auto s = library.Add(file, text); !s) library.unreadable.push_back(s.error().message);
  }
  const ArgoLibrary::File& main = *library.files[0];
  std::optional<ImportedWorkflow> workflow;
  for (const YNode& doc : main.tree->documents()) {
    std::string_view kind = doc["kind"].Scalar();
    if (doc.IsNull() || ((kind == "WorkflowTemplate" || kind == "ClusterWorkflowTemplate") &&
                         !doc["spec"]["entrypoint"])) {
      continue;  // a library for templateRef
    }
    if (workflow) {
      return FailAt(main.reader->Loc(doc), "a second runnable document ({} {}): import one "
                    "workflow per file", kind, doc["metadata"]["name"].Scalar());
    }
    SLUICE_TRY(w, Importer(*main.reader, options, library, &out).Workflow(doc));
    workflow = std::move(*w);
    out.kind = workflow->kind;
    out.name = workflow->name;
  }
  if (!workflow) {
    return Fail(ErrorCode::kInvalidInput, "{}: no runnable document (a Workflow, or a "
                "WorkflowTemplate with an entrypoint)", path);
  }
  out.yaml = EmitSluice(*workflow);
  return out;
}

namespace {

// The Argo files of --templates: files, and the *.yaml and *.yml files under folders.
Status ReadTemplates(FileSystem& fs, const std::string& path,
                     std::vector<std::pair<std::string, std::string>>* out, int depth = 0) {
  FileInfo info = fs.Stat(path);
  if (!info.exists) return Fail(ErrorCode::kInvalidInput, "--templates {}: no such file or folder", path);
  if (!info.is_dir) {
    SLUICE_TRY(text, fs.ReadFile(path));
    out->emplace_back(fs.Absolute(path), std::move(*text));
    return {};
  }
  if (depth > 8) return {};
  SLUICE_TRY(names, fs.ListDir(path));
  std::ranges::sort(*names);
  for (const std::string& n : *names) {
    const std::string child = path + "/" + n;
    if (fs.Stat(child).is_dir || n.ends_with(".yaml") || n.ends_with(".yml")) {
      SLUICE_TRY_STATUS(ReadTemplates(fs, child, out, depth + 1));
    }
  }
  return {};
}

}  // namespace

Result<ArgoImport> ImportArgoFile(FileSystem& fs, const std::string& path,
                                  std::string_view content, const ArgoImportOptions& options) {
  std::vector<std::pair<std::string, std::string>> templates;
  for (const std::string& t : options.templates) SLUICE_TRY_STATUS(ReadTemplates(fs, t, &templates));
  // The workflow's own file is read as the workflow (its other documents are in the library).
  std::erase_if(templates, [&](const auto& t) { return t.first == fs.Absolute(path); });
  return ImportArgo(path, content, options, templates);
}

Result<std::shared_ptr<const Plan>> LoadPipelineFile(FileSystem& fs, const std::string& path,
                                                     const ArgoImportOptions& options,
                                                     ArgoImport* imported) {
  // A peek at the head tells them apart: a pipeline of a million tasks is not read twice.
  auto head = fs.ReadFileRange(path, 0, 64 << 10);
  if (!head || !LooksLikeArgo(*head)) return LoadPlan(fs, path);
  auto content = fs.ReadFile(path);
  if (!content) return std::unexpected(content.error());
  SLUICE_TRY(translated, ImportArgoFile(fs, path, *content, options));
  // The translation stands in for the file: the plan's source (what a run stores and resume
  // reloads) is the Sluice text.
  MemFileSystem mem(std::map<std::string, std::string>{{fs.Absolute(path), translated->yaml}});
  auto plan = LoadPlan(mem, fs.Absolute(path));
  if (imported) *imported = std::move(*translated);
  if (!plan) {
    // Located in the file as the user named it, as the importer's own errors are.
    std::string message = plan.error().message;
    if (const std::string abs = fs.Absolute(path); message.starts_with(abs + ":")) {
      message = path + message.substr(abs.size());
    }
    return Fail(ErrorCode::kInvalidInput, "{} (in its translation: sluice import argo {} shows it)",
                message, path);
  }
  return plan;
}

}  // namespace sluice
