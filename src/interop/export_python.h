// What the Airflow and Prefect exporters share (docs/interop.md): Python literals
// that survive any text, identifiers made from task names, placeholders translated into Python
// expressions, a task's argv and env as Python code, and the features neither target expresses.
// Pure functions; thread-safe.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "interop/export.h"
#include "spec/plan.h"

namespace sluice {

// A Python string literal whose value is `s`, whatever bytes it holds: quotes, backslashes,
// control characters, invisible and bidirectional code points are escaped; an invalid UTF-8
// byte becomes the surrogate "\udcXX" (Python's surrogateescape, so an argv keeps its bytes).
std::string PyStr(std::string_view s);
// `s` on one comment line: newlines and control characters shown as escapes, never a line break.
std::string PyCommentText(std::string_view s);
// `expr` as text the way Sluice renders values: `_text(expr)`, or `expr` when it is a string
// literal or a join already.
std::string PyText(const std::string& expr);
// The Python literal of a value (None, True, 7, 0.5, "x", [..], {..}).
std::string PyLiteral(const Value& v);

// Python identifiers made from names: letters, digits and '_' only, never a keyword or a
// name the generated code uses itself (everything starting with '_' is reserved), unique.
class PyNames {
 public:
  // A fresh identifier `prefix` + the name's characters ("t_train_model", "t_train_model_2").
  std::string Make(std::string_view prefix, std::string_view name);

 private:
  std::set<std::string> used_;
};

// How placeholders read in the code generated for one task. The generated function sees:
//   P     the pipeline's params (dict), or inside a DAG template its call's arguments;
//   up    the outputs of its upstream tasks by Sluice name (dict; a forEach upstream's is a list);
//   item  the forEach item; run_id; run_status and run_failed (run.status, run.failedTasks:
//         Prefect's finally tasks only).
struct PyScope {
  const Plan* plan = nullptr;
  int scope = -1;  // -1: the pipeline's tasks; else the DAG template they belong to
  // A `uses` task's component body: `params.X` is the task's binding (args), evaluated in
  // `outer`; `component.dir` is the component's folder.
  const ComponentSpec* component = nullptr;
  const std::vector<ComponentArg>* args = nullptr;
  const PyScope* outer = nullptr;
  bool has_run_status = false;
  // Placeholders the translation could not express: their text, for not_expressed.
  std::vector<std::string>* unsupported = nullptr;
};

// A Python expression computing the field's value as Sluice would: a lone placeholder keeps
// its type, text with placeholders is joined as text. An expression outside the translated
// subset becomes `_unsupported("...")`, which fails the task at run time, and is recorded in
// scope.unsupported.
std::string PyField(const TemplateField& f, const PyScope& scope);
// The same, for a condition or any expression.
std::string PyExpression(const Expression& e, const PyScope& scope);

// A task's command as Python: `argv` a list expression of strings (a script runs under its
// shell with `-c`), `env` pairs of a variable name and a string expression (its component's,
// then its own, which win). Builtins other than noop leave argv empty with `builtin` set.
struct PyCommand {
  std::string argv;
  std::vector<std::pair<std::string, std::string>> env;
  std::string builtin;  // "noop", "deploy", ...: not a command
  bool pipeline_dir = false;  // workingDir: pipeline
};
// `run_status`: the task may read run.status and run.failedTasks (Prefect's finally tasks).
PyCommand PyCommandOf(const Plan& plan, const PlanTask& t, std::vector<std::string>* unsupported,
                      bool run_status = false);

// The task's output declarations as a Python literal read by the generated `_read_outputs`:
// {"params": [[name, source, path, json_path], ...], "artifacts": [[name, path], ...]}.
std::string PyOutputDecls(const PlanTask& t);

// The scope for placeholders of task `t` (its component's, evaluated in the task's).
struct PyTaskScopes {
  PyScope task;
  PyScope body;  // == task unless `t` uses a component
};
PyTaskScopes PyScopesOf(const Plan& plan, const PlanTask& t, std::vector<std::string>* unsupported,
                        bool run_status = false);

// Features of the plan that `target` ("Airflow", "Prefect") cannot express, one line each,
// naming the task: breakers, compensation, catch, fallback, groups, pools and resources, cache,
// secrets' sources, admission policies, waivers, deploy tasks, approvals' roles and quorum.
std::vector<std::string> PyNotExpressed(const Plan& plan, std::string_view target);

// The header comment of a generated file: what it is, what it needs, and every line of
// not_expressed.
std::string PyHeader(const Plan& plan, std::string_view target, std::string_view versions,
                     const std::vector<std::string>& needs,
                     const std::vector<std::string>& not_expressed);

// Ends an export of `target`: the plan-wide features it cannot express first, then those the
// writer met in `result` (each once, in the order met), and the one file NAME.py, the header
// (PyHeader) over `body`.
void PyFinish(const Plan& plan, std::string_view target, std::string_view versions,
              const std::vector<std::string>& needs, const std::string& body,
              ExportResult* result);

// Helpers every generated file defines (plain Python, no library call): _text, _out,
// _unsupported, _read_outputs, _workdir, _sluice_env, _gate_input.
extern const char kPyPrelude[];

// The main tasks and finally tasks of a scope (the pipeline, or a DAG template), in plan order.
std::vector<const PlanTask*> TasksOf(const Plan& plan, int scope, TaskRole role);

// The seconds of a duration in ms, as Python text ("60", "0.2").
std::string PySeconds(int64_t ms);

}  // namespace sluice
