// The importer's internals (argo_import.h is its interface): the library of WorkflowTemplates
// that references name, and the Importer that reads one workflow into ImportedWorkflow
// (argo_model.h). Its methods are in argo_import.cc (the workflow, its templates and their
// bodies) and argo_import_calls.cc (steps, dag tasks, hooks and loops). Internal to src/interop.
#pragma once

#include <fmt/format.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/strings.h"
#include "interop/argo_document.h"
#include "interop/argo_import.h"
#include "interop/argo_model.h"
#include "interop/argo_tags.h"
#include "spec/depends.h"
#include "spec/text_checks.h"
#include "spec/yaml_reader.h"

namespace sluice {

// The WorkflowTemplates and ClusterWorkflowTemplates that templateRef and workflowTemplateRef
// may name: the other documents of the workflow's file and those of --templates, as upstream
// applies them before it submits a workflow. Each file stays parsed while it is read.
struct ArgoLibrary {
  struct File {
    std::string path, content;
    std::unique_ptr<YamlTree> tree;
    std::unique_ptr<Reader> reader;
  };
  struct Doc {
    const Reader* reader = nullptr;
    YNode doc;
  };
  std::vector<std::unique_ptr<File>> files;
  std::map<std::string, Doc> docs;  // by "NAME", or "cluster:NAME"
  std::vector<std::string> unreadable;  // --templates files that are not YAML: why, located
  std::set<const Reader*> checked;      // files whose fields were checked (on first use)
  bool lenient = false;

  // A document about to be imported: its file is checked field by field first, once.
  Status Check(const Doc& d) {
    if (!checked.insert(d.reader).second) return {};
    for (const auto& f : files) {
      if (f->reader.get() != d.reader) continue;
      SLUICE_TRY(problems, CheckArgoFile(f->path, f->content, lenient));
      for (const ArgoProblem& p : problems->problems) {
        if (p.error) return Fail(ErrorCode::kInvalidInput, "{}", p.line);
      }
    }
    return {};
  }

  // Parses `content` and indexes its templates; the first Argo file problem is the error.
  Status Add(const std::string& path, std::string content) {
    auto f = std::make_unique<File>();
    f->path = path;
    f->content = std::move(content);
    if (!IsTextUtf8(f->content)) {
      return Fail(ErrorCode::kInvalidInput, "{}: not a text file (binary data or invalid UTF-8)", path);
    }
    SLUICE_TRY_STATUS(CheckNesting(path, f->content));
    auto tree = YamlTree::Parse(f->content);
    if (!tree) return Fail(ErrorCode::kInvalidInput, "{}:{}", path, tree.error().message);
    f->tree = std::move(*tree);
    f->reader = std::make_unique<Reader>(path);
    f->reader->set_source(f->content);
    for (const YNode& doc : f->tree->documents()) {
      std::string_view kind = doc["kind"].Scalar();
      if (kind != "WorkflowTemplate" && kind != "ClusterWorkflowTemplate") continue;
      std::string key = (kind == "ClusterWorkflowTemplate" ? "cluster:" : "") +
                        std::string(doc["metadata"]["name"].Scalar());
      docs.emplace(key, Doc{f->reader.get(), doc});  // the first of a name wins
    }
    files.push_back(std::move(f));
    return {};
  }
  const Doc* Find(std::string_view name, bool cluster) const {
    auto it = docs.find((cluster ? "cluster:" : "") + std::string(name));
    return it == docs.end() ? nullptr : &it->second;
  }
  std::string Missing(std::string_view name, bool cluster) const {
    std::vector<std::string> known;
    for (const auto& [k, d] : docs) {
      if (k.starts_with("cluster:") == cluster) known.push_back(cluster ? k.substr(8) : k);
    }
    return fmt::format("{} {} is in no file given with --templates{}{}",
                       cluster ? "ClusterWorkflowTemplate" : "WorkflowTemplate", Quote(name),
                       DidYouMean(name, known),
                       unreadable.empty() ? "" : " (unreadable: " + Join(unreadable, "; ") + ")");
  }
};

class Importer {
 public:
  Importer(const Reader& r, const ArgoImportOptions& o, ArgoLibrary& library,
           ArgoImport* out)
      : r_(&r), o_(o), library_(library), out_(out) {}

  Result<ImportedWorkflow> Workflow(const YNode& doc);

 private:
  template <typename... Args>
  std::unexpected<Error> At(const YNode& n, fmt::format_string<Args...> f, Args&&... args) const {
    return FailAt(r_->Loc(n), f, std::forward<Args>(args)...);
  }
  void Warn(const YNode& n, const std::string& text) {
    out_->warnings.push_back(fmt::format("{}: warning: {}", r_->Loc(n).ToString(), text));
  }
  // The keys of `map` (a `definition`) that the table maps but this importer does not
  // translate yet: an error naming the first.
  Status Handled(const YNode& map, std::string_view definition,
                 std::initializer_list<std::string_view> handled) const;
  Result<std::string> Text(const YNode& n, ArgoScope& scope) const;
  // An expr-lang expression (valueFrom.expression) as a placeholder "${{ CEL }}".
  Result<std::string> Expression(const YNode& n, ArgoScope& scope) const;
  // A translation of `n`'s text: its error located at `n`, and the workflow values `scope` read
  // remembered as read there (for the error when one is missing).
  Result<std::string> Located(const YNode& n, Result<std::string> translated,
                              const ArgoScope& scope) const;
  Result<std::string> Scalar(const YNode& n, std::string_view what) const;
  // `scope`: tags in defaults are translated (ImportedParam::computed) in it; none: a tag in a
  // value is an error.
  Result<std::vector<ImportedParam>> Params(const YNode& list, std::string_view what,
                                            ArgoScope* scope = nullptr) const;

  Status Spec(const YNode& spec, ImportedWorkflow* w);
  Status Cron(const YNode& spec);
  // `out->name` may be set before (an inline template); else it is the template's, prefixed.
  Status Template(const YNode& t, ImportedTemplate* out);
  Status Container(const YNode& c, bool script, ImportedTemplate* out, ArgoScope& scope);
  Status Outputs(const YNode& outputs, ImportedTemplate* out, ArgoScope& scope);
  // The component a step or task calls, by name, as its outputs are read (`result`).
  std::string CalledName(const YNode& call) const {
    if (const YNode ref = call["templateRef"]) {
      return fmt::format("{}.{}", ref["name"].Scalar(), ref["template"].Scalar());
    }
    return prefix_ + std::string(call["template"].Scalar());
  }
  // Steps and Dag fill `calls` (each step's or task's name -> the component it calls), which
  // the template's outputs read.
  Status Steps(const YNode& steps, ImportedTemplate* out, std::map<std::string, std::string>& calls);
  Status ContainerSet(const YNode& set, ImportedTemplate* out);
  Status Dag(const YNode& dag, ImportedTemplate* out, ArgoScope& scope,
             std::map<std::string, std::string>& calls);
  Status Target(const YNode& target, ImportedTemplate* out, ArgoScope& scope);
  // Reads a step or task; the workflow values it reads join `caller`'s.
  Result<ImportedCall> Call(const YNode& call, ImportedTemplate& caller,
                            const std::map<std::string, std::string>& calls);
  Status Loop(const YNode& call, ImportedCall* out, ArgoScope& scope);
  Status TaggedSequence(const YNode& seq, ImportedCall* out, ArgoScope& scope);
  // A step's or task's exit hook: a task of the same template that runs once it has ended.
  Status Hooks(const YNode& call, ImportedTemplate* caller,
               const std::map<std::string, std::string>& calls);
  Status Retry(const YNode& retry, ImportedTemplate* out) const;
  Status PodSpecPatch(const YNode& patch, std::vector<std::string>* comments) const;
  // An absolute path a step reads or writes: its folder becomes private (privatePaths); an
  // output is then read at "root" + path. A relative path is the attempt folder's.
  Result<std::string> SandboxPath(const YNode& at, const std::string& path, std::string_view what,
                                  ImportedTemplate* out) const;
  void CopyInputs(ImportedTemplate* out) const;
  Status Synchronization(const YNode& sync, ImportedTemplate* out) const;
  Status SyncPools(const YNode& sync, bool whole_run, std::vector<std::string>* pools,
                   std::vector<std::string>* comments) const;
  // argo_import_resolve.cc: a steps or dag template's `parallelism`; a suspend without a
  // duration (an approval); an output's globalName; and, once every template is read, what
  // they mean across templates (Resolve).
  Status Parallelism(const YNode& t, ImportedTemplate* out);
  Status Approval(const YNode& suspend, ImportedTemplate* out);
  Status GlobalName(const YNode& g, const std::string& output, ImportedTemplate* out);
  // spec.hooks.NAME (not exit): its expression over workflow.status.
  Status WorkflowHook(const YNode& name, const YNode& hook, ImportedWorkflow* w);
  Status Resolve(ImportedWorkflow& w);
  // A limit such as parallelism: a whole number from 1 to 100,000.
  Result<int> Limit(const YNode& n, std::string_view what) const;
  Result<std::string> Seconds(const YNode& n, std::string_view what) const;

  // A WorkflowTemplate a templateRef names: its templates are imported once, as components
  // named WORKFLOWTEMPLATE.TEMPLATE.
  Result<std::string> Referenced(const YNode& ref);
  Status ImportTemplates(const YNode& spec, const std::string& prefix);

  const Reader* r_;  // of the document being read: the workflow's, or a WorkflowTemplate's
  const ArgoImportOptions& o_;
  ArgoLibrary& library_;
  ArgoImport* out_;
  std::string prefix_;  // of the components of the document being read
  std::set<std::string> imported_;  // WorkflowTemplates whose templates are imported
  std::vector<ImportedTemplate> templates_;
  std::set<std::string> result_needed_;
  // The output parameters of every template of the documents read, by component name (a loop's
  // outputs.parameters lists them).
  std::map<std::string, std::vector<std::string>> output_params_;
  std::map<std::string, std::set<std::string>> input_params_;  // likewise, their input parameters
  // Where each workflow value a text reads was first read, for the error when it is missing.
  mutable std::map<std::string, Location> global_at_;
  std::vector<std::string> approvers_;  // of the approvals suspend templates become
};

}  // namespace sluice
