// The Argo field table (issue 16, docs/interop.md): every property that Argo's JSON schema lists
// for the parts of a Workflow that Sluice reads, each with what the importer does with it.
//
// Why a table: no Argo field may be silently ignored. A field is `mapped` (the importer
// translates it), `inert` (meaningless on one host, such as a node selector, so dropping it
// changes nothing a step can see) or unsupported, with the reason. An unsupported field is an
// error; a `droppable` one becomes a warning under --lenient, because dropping it loses only a
// pod setting. A key that is not in the table is not in the schema either (argo_fields_test.cc
// checks the table against schema.json), so it is an error with a did-you-mean.
// Pure data; thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace sluice {

enum class FieldClass { kMapped, kInert, kDroppable, kUnsupported };

// "mapped", "inert", "unsupported (--lenient: warning)" or "unsupported".
std::string_view FieldClassName(FieldClass c);

// One property of a schema definition. `definition` is the short name (the schema's last dotted
// part, e.g. "Template" for io.argoproj.workflow.v1alpha1.Template). A mapped field whose value
// the checker reads further names that definition in `child`, with its shape: "Template" (a
// map), "[]Template" (a list of maps), "[][]WorkflowStep" (a list of lists of maps) or
// "{}LifecycleHook" (a map of name to map); empty for a plain value. Other classes give a
// one-line `reason` instead.
struct ArgoField {
  std::string_view definition;
  std::string_view name;
  FieldClass cls;
  std::string_view child;
  std::string_view reason;
};

// A definition the table covers: its short name and its full name in schema.json. A definition
// with a `base` has the base's rows too, except where it has a row of its own (ContainerNode is
// a Container with dependencies).
struct ArgoDefinition {
  std::string_view name;
  std::string_view schema_name;
  std::string_view base = "";
};

std::span<const ArgoDefinition> ArgoDefinitions();
// Every row, grouped by definition in ArgoDefinitions' order, by name within one.
std::span<const ArgoField> ArgoFields();
// The row of `name` in `definition` (or in its base), or nullptr when the schema has no such
// property there.
const ArgoField* FindArgoField(std::string_view definition, std::string_view name);

}  // namespace sluice
