// What every exporter (export.h) shares: a YAML document built in memory and written in block
// style, target names, and the reading of a plan task into what its exported template needs
// (its inputs, its argv, env and outputs, each placeholder resolved to an input or left as
// "not expressed").
//
// A task's placeholders are read once here, and each target only spells the result: an input
// of the template is `{{inputs.parameters.x}}` in Argo and `{{$.inputs.parameters['x']}}` in
// KFP, and where its value comes from (a pipeline param, an upstream output, the forEach item)
// is spelled on the DAG's side. A placeholder that is not a plain reference (`${{ a + 1 }}`)
// has no value outside Sluice's evaluator: it is kept as text marked "[not expressed: ...]" and
// listed. Pure functions; thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "spec/plan.h"

namespace sluice {

// A YAML node: a scalar (string, or a number or bool written plain), a map keeping insertion
// order, or a list. Built by exporters, then written by EmitYaml.
class YamlNode {
 public:
  enum class Kind { kString, kPlain, kMap, kList };
  YamlNode() : kind_(Kind::kMap) {}
  YamlNode(std::string s) : kind_(Kind::kString), scalar_(std::move(s)) {}
  YamlNode(const char* s) : kind_(Kind::kString), scalar_(s) {}
  YamlNode(int64_t i) : kind_(Kind::kPlain), scalar_(std::to_string(i)) {}
  YamlNode(int i) : YamlNode(static_cast<int64_t>(i)) {}
  YamlNode(double d);
  YamlNode(bool b) : kind_(Kind::kPlain), scalar_(b ? "true" : "false") {}
  static YamlNode List() { YamlNode n; n.kind_ = Kind::kList; return n; }
  // A Value as YAML: maps and lists as such, null as "null", the rest as scalars.
  static YamlNode FromValue(const Value& v);

  Kind kind() const { return kind_; }
  // Map: the value of `key`, added (as an empty map) when missing.
  YamlNode& operator[](std::string_view key);
  // List: appends `n` and returns it.
  YamlNode& Add(YamlNode n);
  bool empty() const { return kind_ == Kind::kMap ? map_.empty() : list_.empty(); }
  const std::string& scalar() const { return scalar_; }
  const std::vector<std::pair<std::string, YamlNode>>& map() const { return map_; }
  const std::vector<YamlNode>& list() const { return list_; }

 private:
  Kind kind_;
  std::string scalar_;
  std::vector<std::pair<std::string, YamlNode>> map_;
  std::vector<YamlNode> list_;
};

// The list at `map[key]`, made one when missing.
YamlNode& ListAt(YamlNode& map, std::string_view key);

// The document in block style. Strings are written plain only where YAML reads them back as
// the same string; otherwise double-quoted, or as a literal block when they span lines.
std::string EmitYaml(const YamlNode& root);

// Names unique within one namespace of the target (templates, DAG tasks): lower-case letters,
// digits and '-', starting with a letter, as Kubernetes and both targets accept them.
class NameTable {
 public:
  // `base` made a name ("Train_Model" -> "train-model"), with "-2", "-3"... when taken.
  std::string Unique(std::string_view base);

 private:
  std::set<std::string> taken_;
};
std::string TargetName(std::string_view base);

// What a plain placeholder reads, spelled from where the task is called.
struct Source {
  enum class Kind { kParam, kTaskParam, kTaskResult, kTaskArtifact, kItem };
  Kind kind = Kind::kParam;
  int task = -1;    // kTask*: the producer's plan index
  std::string key;  // kParam: the param; kTask*: the output; kItem: "" or the field ("a.b")
};

// A run of text: literals, a template's inputs, DAG-side sources, and what is not expressed.
struct Piece {
  enum class Kind { kText, kInput, kSource, kUnexpressed };
  Kind kind = Kind::kText;
  std::string text;  // kText; kUnexpressed: the expression
  int input = -1;    // kInput: index into TaskIo::inputs
  Source source;     // kSource
};
using Text = std::vector<Piece>;

// One input of a task's template and what the task passes it.
struct Input {
  std::string name;
  bool artifact = false;
  ParamType type = ParamType::kString;
  std::optional<Value> constant;  // a literal argument (or the param's default)
  Text value;                     // else what it reads, on the DAG's side
};

struct OutputParam {
  std::string name;
  const OutputParamDecl* decl = nullptr;
};

// A plan task as an exported template needs it. Exactly one of argv and script is set for a
// run or script body; neither for a builtin (builtin names it), an approval-only task or a
// DAG template call.
struct TaskIo {
  const PlanTask* task = nullptr;
  std::vector<Input> inputs;
  std::vector<Text> argv;
  std::string script;        // its text; placeholders are not allowed in scripts
  std::string shell;         // the script's shell, e.g. "sh -e"
  std::string builtin;       // "noop", "deploy", ... for builtin bodies
  std::vector<std::pair<std::string, Text>> env;
  std::string image;
};

// Collects what an export cannot express, once per line.
class NotExpressed {
 public:
  void Add(std::string line);
  std::vector<std::string> Take() { return std::move(lines_); }

 private:
  std::vector<std::string> lines_;
  std::set<std::string> seen_;
};

// Reads `t` (a main or finally task with a body, or a DAG template call) for a target:
// placeholders resolved as the header says; what cannot be read is added to `missing`, naming
// the task. `image` is the task's, its component's or options' default.
TaskIo ReadTask(const Plan& plan, const PlanTask& t, const std::string& default_image,
                NotExpressed& missing);

// `f` as read on the DAG's side of `t` (its placeholders as sources in t's scope): a value
// that the DAG passes, such as a DAG template's output.
Text ReadDagSide(const Plan& plan, const PlanTask& t, const TemplateField& f,
                 NotExpressed& missing);

// The plain dotted path `expr` spells (`tasks.a.outputs.params.x`), or none when it computes.
std::optional<std::vector<std::string>> PlainPath(const Expression& expr);
// The source a plain path reads from within `scope` (-1: the pipeline, else a DAG template),
// or none (pipeline.dir, run.id, an unknown root...).
std::optional<Source> SourceOf(const Plan& plan, int scope, const std::vector<std::string>& path);

// A condition (`when`) in a target's language. `ref` spells a source; `quote_strings` makes
// a reference compared with a string literal a quoted string (Argo's govaluate needs
// '{{...}}' == 'x'); with `number_cast` ("double" for KFP's CEL), a reference under an
// ordering or arithmetic operator is cast. On failure (a function call, an index, a
// ternary...) returns none.
std::optional<std::string> ConvertCondition(const Plan& plan, int scope, const Expression& expr,
                                            const std::function<std::string(const Source&)>& ref,
                                            bool quote_strings, bool single_quoted_strings,
                                            const std::string& number_cast = "");

// The task's main name for messages ("task train") and the pipeline's.
std::string Subject(const PlanTask& t);

// The header comment of an export's main file: where it came from and, one line each, what
// the target cannot express.
std::string HeaderComment(const Plan& plan, std::string_view target,
                          const std::vector<std::string>& not_expressed);

// Lines for what the plan holds that no target expresses as such: breakers, compensation,
// catch and fallback, groups, policies and waivers (gates and approvals are rendered as steps
// by the exporters themselves, which add their own lines).
void ListPlanWideGaps(const Plan& plan, NotExpressed& missing);

// A Sluice type as a KFP parameterType (STRING, NUMBER_INTEGER, ...).
std::string_view KfpParameterType(ParamType t);

}  // namespace sluice
