// Checking an Argo file against the field table: a walk of each document that follows the
// schema's shape (argo_fields.h, `child`), reporting every key the table does not map, and then
// the references a translation will need (entrypoint, onExit, a step's template) and that each
// template does one thing.
#include "interop/argo_document.h"

#include <set>

#include "interop/argo_fields.h"
#include "spec/yaml_reader.h"

namespace sluice {
namespace {

constexpr std::string_view kArgoApi = "argoproj.io/v1alpha1";
// The template kinds: one per template. The first five map; the rest are unsupported fields
// already reported by the walk.
constexpr std::string_view kBodies[] = {"container", "script", "steps",  "dag",  "suspend",
                                        "resource",  "http",   "plugin", "data", "containerSet"};

// The key node of `name` in `map` (errors point at a key, as the walk's do); undefined if absent.
YNode KeyOf(const YNode& map, std::string_view name) {
  for (const auto& e : map) {
    if (e.first.Scalar() == name) return e.first;
  }
  return YNode();
}

class Checker {
 public:
  Checker(const Reader& r, bool lenient, ArgoCheck* out) : r_(r), lenient_(lenient), out_(out) {}

  void Document(const YNode& doc);

 private:
  void Problem(const YNode& at, bool error, const std::string& text) {
    out_->problems.push_back(
        {fmt::format("{}: {}{}", r_.Loc(at).ToString(), error ? "" : "warning: ", text), error});
  }
  // Checks the keys of `map`, a `definition`, and walks into the mapped ones.
  void Walk(const YNode& map, std::string_view definition);
  void Field(const YNode& key, const YNode& value, const ArgoField& f);
  // `value` of `field` in the shape `child` gives (argo_fields.h): "X", "[]X", "[][]X", "{}X".
  void Child(const YNode& value, std::string_view child, std::string_view field);
  bool Shape(const YNode& n, bool want_map, std::string_view field) {
    if (n.IsNull() || (want_map ? n.IsMap() : n.IsSequence())) return true;
    Problem(
        n, true,
        fmt::format("{} must be {}, not {}", field, want_map ? "a map" : "a list", KindName(n)));
    return false;
  }
  void References(const YNode& spec);
  // A step or task (`what`): it calls something, and a template of this document.
  void Call(const YNode& call, std::string_view what);
  void TemplateName(const YNode& n, std::string_view what);

  const Reader& r_;
  bool lenient_;
  ArgoCheck* out_;
  std::set<std::string_view> names_;  // the templates of the spec References reads
  std::vector<std::string> list_;     // the same, for did-you-mean
  int maps_ = 0;  // aliases may share nodes: the walk is bounded as the loader's values are
};

void Checker::Document(const YNode& doc) {
  if (!doc.IsMap()) return Problem(doc, true, "an Argo document must be a map");
  std::string_view api = doc["apiVersion"].Scalar();
  std::string_view kind = doc["kind"].Scalar();
  if (api != kArgoApi) {
    return Problem(doc["apiVersion"] ? doc["apiVersion"] : doc, true,
                   fmt::format("apiVersion {} is not supported here: an Argo file holds {} "
                               "documents only",
                               Quote(api), kArgoApi));
  }
  if (kind == "WorkflowEventBinding") {
    return Problem(doc["kind"], true,
                   "kind WorkflowEventBinding is not supported here: event bindings start "
                   "workflows from Argo's event API");
  }
  if (kind != "Workflow" && kind != "WorkflowTemplate" && kind != "ClusterWorkflowTemplate" &&
      kind != "CronWorkflow") {
    return Problem(doc["kind"] ? doc["kind"] : doc, true,
                   fmt::format("kind {} is not supported here: Sluice reads Workflow, "
                               "WorkflowTemplate, ClusterWorkflowTemplate and CronWorkflow",
                               Quote(kind)));
  }
  const int errors_before = out_->errors();
  Walk(doc, kind);
  YNode spec = kind == "CronWorkflow" ? doc["spec"]["workflowSpec"] : doc["spec"];
  YNode md = doc["metadata"];
  ArgoDocument d{std::string(kind),
                 std::string(md["name"] ? md["name"].Scalar() : md["generateName"].Scalar()),
                 spec["templates"].IsSequence() ? static_cast<int>(spec["templates"].size()) : 0};
  out_->documents.push_back(std::move(d));
  // Argo refuses these at submission; a WorkflowTemplate may be a library without an entrypoint.
  // Not said after a walk that found errors: a misspelt entrypoint is already named.
  if ((kind == "Workflow" || kind == "CronWorkflow") && out_->errors() == errors_before &&
      !spec["entrypoint"] && !spec["workflowTemplateRef"]) {
    Problem(KeyOf(doc, "spec") ? KeyOf(doc, "spec") : doc, true,
            fmt::format("a {} needs {}entrypoint, the template it starts with", kind,
                        kind == "CronWorkflow" ? "spec.workflowSpec." : "spec."));
  }
  if (spec.IsMap()) References(spec);
}

void Checker::Walk(const YNode& map, std::string_view definition) {
  if (++maps_ > kMaxValues) {
    if (maps_ == kMaxValues + 1) {
      Problem(map, true,
              fmt::format("too many values (more than {}; aliases expanding?)", kMaxValues));
    }
    return;
  }
  size_t n = map.size();
  for (size_t i = 0; i < n; ++i) {
    YNode::Entry e = *YNode::Iterator(map, i);
    if (!e.first.IsScalar()) {
      Problem(e.first, true, "keys must be plain names");
      continue;
    }
    std::string_view key = e.first.Scalar();
    bool duplicate = false;
    for (size_t j = 0; j < i && !duplicate; ++j) {
      duplicate = (*YNode::Iterator(map, j)).first.Scalar() == key;
    }
    if (duplicate) {
      Problem(e.first, true, fmt::format("duplicate key {} in {}", Quote(key), definition));
      continue;
    }
    if (const ArgoField* f = FindArgoField(definition, key)) {
      Field(e.first, e.second, *f);
      continue;
    }
    std::vector<std::string> names;
    for (const ArgoField& f : ArgoFields()) {
      if (f.definition == definition) names.emplace_back(f.name);
    }
    Problem(e.first, true,
            fmt::format("unknown field {} in an Argo {}{}", Quote(key), definition,
                        DidYouMean(key, names)));
  }
}

void Checker::Field(const YNode& key, const YNode& value, const ArgoField& f) {
  switch (f.cls) {
    case FieldClass::kMapped:
      if (!f.child.empty()) Child(value, f.child, f.name);
      return;
    case FieldClass::kInert:
      return;
    case FieldClass::kDroppable:
      if (lenient_) {
        return Problem(
            key, false,
            fmt::format("{} is not supported here, dropped (--lenient): {}", f.name, f.reason));
      }
      return Problem(
          key, true,
          fmt::format("{} is not supported here: {} (--lenient drops it)", f.name, f.reason));
    case FieldClass::kUnsupported:
      return Problem(key, true, fmt::format("{} is not supported here: {}", f.name, f.reason));
  }
}

void Checker::Child(const YNode& value, std::string_view child, std::string_view field) {
  if (child.starts_with("[]")) {
    if (!Shape(value, false, field)) return;
    for (const YNode& item : value) Child(item, child.substr(2), field);
  } else if (child.starts_with("{}")) {
    if (!Shape(value, true, field)) return;
    for (const auto& e : value) {
      if (Shape(e.second, true, field) && e.second.IsMap()) Walk(e.second, child.substr(2));
    }
  } else if (Shape(value, true, field) && value.IsMap()) {
    Walk(value, child);
  }
}

// The names a translation resolves inside one document. A Workflow that runs a WorkflowTemplate
// (workflowTemplateRef) names that template's templates, which are resolved later, from
// --templates.
void Checker::References(const YNode& spec) {
  for (const YNode& t : spec["templates"]) {
    if (!t.IsMap()) continue;
    YNode name = t["name"];
    if (!name.IsScalar()) {
      Problem(t, true, "a template needs a name");
    } else if (!names_.insert(name.Scalar()).second) {
      Problem(name, true, fmt::format("template {} is defined twice", Quote(name.Scalar())));
    } else {
      list_.emplace_back(name.Scalar());
    }
    std::vector<std::string_view> bodies;
    for (std::string_view b : kBodies) {
      if (t[b]) bodies.push_back(b);
    }
    if (bodies.empty()) {
      Problem(name ? name : t, true,
              fmt::format("template {} does nothing: give it one of container, script, steps, "
                          "dag or suspend",
                          Quote(name.Scalar())));
    } else if (bodies.size() > 1) {
      Problem(KeyOf(t, bodies[1]), true,
              fmt::format("template {} has both {} and {}: a template does one thing",
                          Quote(name.Scalar()), bodies[0], bodies[1]));
    }
  }
  if (spec["workflowTemplateRef"]) return;
  TemplateName(spec["entrypoint"], "entrypoint");
  TemplateName(spec["onExit"], "onExit");
  for (const auto& h : spec["hooks"]) TemplateName(h.second["template"], "hook");
  for (const YNode& t : spec["templates"]) {
    for (const YNode& group : t["steps"]) {
      for (const YNode& step : group) Call(step, "step");
    }
    for (const YNode& task : t["dag"]["tasks"]) Call(task, "task");
  }
}

void Checker::Call(const YNode& call, std::string_view what) {
  if (!call.IsMap()) return;
  if (!call["template"] && !call["templateRef"] && !call["inline"]) {
    YNode name = call["name"];
    Problem(name ? name : call, true,
            fmt::format("{} {} runs nothing: give it template, templateRef or inline", what,
                        Quote(name.Scalar())));
  }
  TemplateName(call["template"], what);
  TemplateName(call["onExit"], "onExit");
  for (const auto& h : call["hooks"]) TemplateName(h.second["template"], "hook");
}

void Checker::TemplateName(const YNode& n, std::string_view what) {
  if (!n || !n.IsScalar() || names_.contains(n.Scalar())) return;
  Problem(n, true,
          fmt::format("{} names template {}, which this document does not define{}", what,
                      Quote(n.Scalar()), DidYouMean(n.Scalar(), list_)));
}

}  // namespace

int ArgoCheck::errors() const {
  int n = 0;
  for (const ArgoProblem& p : problems) n += p.error;
  return n;
}

bool LooksLikeArgo(std::string_view content) {
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    std::string_view line = content.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? content.size() : end + 1;
    if (line.starts_with("...")) return false;  // the first document ended
    if (!line.starts_with("apiVersion:")) continue;
    std::string_view v = Trim(line.substr(11));
    if (!v.empty() && (v[0] == '"' || v[0] == '\'')) v.remove_prefix(1);
    return v.starts_with("argoproj.io/");
  }
  return false;
}

Result<ArgoCheck> CheckArgoFile(const std::string& path, std::string_view content, bool lenient) {
  ArgoCheck out;
  SLUICE_TRY_STATUS(ForEachDocument(path, content, [&](const Reader& r, const YNode& doc) {
    Checker(r, lenient, &out).Document(doc);
    return Status{};
  }));
  return out;
}

}  // namespace sluice
