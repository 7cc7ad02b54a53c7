// `sluice export --to airflow`: a DAG file for Apache Airflow 2.10 and 3.x (export.h,
// docs/interop.md).
//
// Shape of the file: the TaskFlow API only, imported from `airflow.sdk` (Airflow 3) or
// `airflow.decorators` (2.10), the one form both versions document. Each Sluice task is a
// @task.bash function defined at module level: it builds the task's argv and env in Python from
// the params and its upstream tasks' outputs (never by Jinja string interpolation), and returns
// the bash command, which cds into the task's folder, runs the argv shell-quoted, and prints the
// task's outputs as JSON on its last line, which Airflow pushes as the XCom that downstream
// tasks read. The @dag function only wires: calls, `.partial().expand()` for forEach, `>>` for
// every dependency. DAG templates become @task_group functions, one per call.
//
// Rejected: BashOperator with Jinja templates in bash_command (a param's value would reach the
// shell as text); PythonOperator with subprocess (Airflow users read shell commands in
// BashOperator logs and expect its skip and XCom conventions).
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "common/strings.h"
#include "interop/export.h"
#include "interop/export_python.h"

namespace sluice {
namespace {

constexpr char kAirflowVersions[] =
    "Apache Airflow 2.10 and 3.x (TaskFlow API; tests/interop/api/airflow.tsv lists every "
    "import and call)";

// Helpers for Airflow only, after the shared prelude.
constexpr char kAirflowPrelude[] = R"PY(

# The script the bash command ends with: prints the task's outputs as one JSON line, the last
# line of stdout, which Airflow pushes as the task's XCom.
_OUTPUTS_MAIN = (
    "import json, os, sys\n" + inspect.getsource(_read_outputs) +
    "with open(os.path.join(sys.argv[2], '.sluice-stdout'), encoding='utf-8', errors='replace') as f:\n"
    "    print(json.dumps(_read_outputs(json.loads(sys.argv[1]), sys.argv[2], f.read())))\n")


def _jinja_literal(command):
    """Airflow renders the returned command as a Jinja template: braces that Jinja would read
    are written so that it renders them as themselves."""
    if "{{" in command or "{%" in command or "{#" in command:
        command = command.replace("{", "{{ '{' }}")
    return command


def _bash(cwd, folder, argv, env, decls, gate=()):
    """The bash command of a task: argv shell-quoted, env exported, outputs printed last. Exit
    99 means "skipped" to Airflow: the task's own 99 becomes 1."""
    lines = ["set -eo pipefail", "cd " + shlex.quote(folder)]
    for policy in gate:
        lines.append("sluice policy eval %s --input .sluice-gate.json" % shlex.quote(policy))
    for name, value in env:
        if not name.isidentifier():
            raise ValueError("env name %r is not a shell variable name" % name)
        lines.append("export %s=%s" % (name, shlex.quote(value)))
    lines.append("cd " + shlex.quote(cwd))
    lines.append("%s | tee %s || { rc=$?; [ $rc -eq 99 ] && rc=1; exit $rc; }" % (
        shlex.join(argv), shlex.quote(os.path.join(folder, ".sluice-stdout"))))
    lines.append("python3 -c %s %s %s" % (shlex.quote(_OUTPUTS_MAIN),
                                         shlex.quote(json.dumps(decls)), shlex.quote(folder)))
    # A trailing space: a command ending in ".sh" would be read as a template file's name.
    return _jinja_literal("\n".join(lines)) + " "


def _approval(run_id, task):
    """An approval's sensor: true once an approver wrote "approved" into the file
    $SLUICE_EXPORT_ROOT/RUN_ID/approvals/TASK, a failure on "rejected"."""
    path = os.path.join(os.environ.get("SLUICE_EXPORT_ROOT", "/tmp/sluice-export"),
                        str(run_id).replace("/", "_"), "approvals", task)
    try:
        with open(path, encoding="utf-8") as f:
            answer = f.read().strip()
    except FileNotFoundError:
        return False
    if answer == "rejected":
        raise RuntimeError("approval of %s rejected" % task)
    return answer == "approved"
)PY";

std::string ParamTypeSchema(ParamType t) {
  switch (t) {
    case ParamType::kString: return "string";
    case ParamType::kInt: return "integer";
    case ParamType::kNumber: return "number";
    case ParamType::kBool: return "boolean";
    case ParamType::kList: return "array";
    case ParamType::kMap: return "object";
  }
  return "string";
}

std::string Delta(int64_t ms) { return fmt::format("datetime.timedelta(seconds={})", PySeconds(ms)); }

class AirflowWriter {
 public:
  AirflowWriter(const Plan& plan, ExportResult* result) : plan_(plan), result_(result) {}

  std::string Write() {
    const PipelineSpec& p = *plan_.pipeline;
    // Functions first (module level), each named once.
    for (const auto& t : plan_.tasks) {
      if (t.role == TaskRole::kMain || t.role == TaskRole::kFinally) fn_[t.index] = names_.Make("t_", t.spec->name);
    }
    for (const auto& t : plan_.tasks) {
      if (t.role != TaskRole::kMain && t.role != TaskRole::kFinally) continue;
      if (t.tmpl() < 0) {
        TaskFunction(t);
        continue;
      }
      // A call of a DAG template: its when and approval are steps in front of the group.
      std::vector<std::string> unsupported;
      PyTaskScopes s = PyScopesOf(plan_, t, &unsupported);
      if (t.spec->when()) WhenHelper(t, s.task);
      if (t.approval()) ApprovalHelper(t);
      for (const auto& u : unsupported) {
        result_->not_expressed.push_back(fmt::format(
            "task {}: placeholder ${{{{ {} }}}}: not translated; the call fails when it runs",
            Quote(t.name), u));
      }
    }
    for (size_t i = 0; i < plan_.templates.size(); ++i) OutputsFunction(static_cast<int>(i));
    std::string dag_fn = names_.Make("dag_", p.name);
    std::vector<int> active;
    std::map<int, std::string> vars;
    std::string body = Wiring(-1, "", "    ", &active, &vars);

    std::string out;
    out += "\"\"\"Airflow DAG " + PyCommentText(p.name) + ", exported from Sluice.\"\"\"\n";
    out += "import datetime\nimport hashlib\nimport inspect\nimport json\nimport os\nimport shlex\n\n";
    out += "try:  # Airflow 3: the Task SDK\n"
           "    from airflow.sdk import Param, dag, task, task_group\n"
           "except ImportError:  # Airflow 2.10\n"
           "    from airflow.decorators import dag, task, task_group\n"
           "    from airflow.models.param import Param\n";
    out += kPyPrelude;
    out += kAirflowPrelude;
    out += functions_;
    out += groups_;
    out += "\n\n" + DagDecorator() + "def " + dag_fn + "():\n";
    out += "    \"\"\"" + PyCommentText(p.name) + "\"\"\"\n";
    out += body.empty() ? "    pass\n" : body;
    out += "\n\n" + dag_fn + "()\n";
    return out;
  }

 private:
  // The @dag decorator: params with their JSON-schema types, labels as tags, deadline.
  std::string DagDecorator() {
    const PipelineSpec& p = *plan_.pipeline;
    std::vector<std::string> params;
    for (const auto& d : p.params) {
      std::string args;
      if (d.default_value) args += PyLiteral(*d.default_value) + ", ";
      args += "type=" + PyStr(ParamTypeSchema(d.type));
      if (!d.description.empty()) args += ", description=" + PyStr(d.description);
      params.push_back(fmt::format("        {}: Param({}),\n", PyStr(d.name), args));
    }
    std::vector<std::string> tags;
    for (const auto& [k, v] : p.labels) tags.push_back(PyStr(k + "=" + v));
    std::string out = "@dag(\n";
    out += "    dag_id=" + PyStr(p.name) + ",\n";
    out += "    description=" + PyStr("Sluice pipeline " + p.name) + ",\n";
    out += "    schedule=None,\n";
    out += "    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),\n";
    out += "    catchup=False,\n";
    if (!tags.empty()) out += "    tags=[" + Join(tags, ", ") + "],\n";
    if (p.deadline_ms > 0) out += "    dagrun_timeout=" + Delta(p.deadline_ms) + ",\n";
    out += "    params={\n";
    for (const auto& line : params) out += line;
    out += "    },\n)\n";
    return out;
  }

  // The operator arguments of a task: retries, timeout, trigger rule, map concurrency.
  std::string TaskKwargs(const PlanTask& t, bool finally_root) {
    std::vector<std::string> kw{"task_id=" + PyStr(t.spec->name)};
    const RetryPolicy* r = t.retry;
    kw.push_back(fmt::format("retries={}", r ? r->limit : 0));
    if (r && r->limit > 0) {
      kw.push_back("retry_delay=" + Delta(r->initial_ms));
      if (r->factor > 1) {
        kw.push_back("retry_exponential_backoff=True");
        kw.push_back("max_retry_delay=" + Delta(r->max_ms));
        if (r->factor != 2) {
          result_->not_expressed.push_back(fmt::format(
              "task {}: retry backoff factor {}: Airflow's exponential backoff doubles",
              Quote(t.name), r->factor));
        }
      }
    }
    if (t.timeout_ms > 0) kw.push_back("execution_timeout=" + Delta(t.timeout_ms));
    if (finally_root) kw.push_back("trigger_rule=\"all_done\"");
    if (t.spec->for_each && t.spec->for_each->parallelism > 0) {
      kw.push_back(fmt::format("max_active_tis_per_dagrun={}", t.spec->for_each->parallelism));
    }
    return Join(kw, ", ");
  }

  static bool FinallyRoot(const PlanTask& t) { return t.role == TaskRole::kFinally && t.deps.empty(); }

  bool IsSensor(const PlanTask& t) const {
    return t.approval() && (t.kind == Body::Kind::kNone ||
                            (t.kind == Body::Kind::kBuiltin && t.body->text == "noop"));
  }

  // The first lines of every task function: P, run_id.
  static std::string Preamble() {
    return "    P = context[\"params\"] if P is None else P\n"
           "    run_id = context[\"run_id\"]\n";
  }

  void TaskFunction(const PlanTask& t) {
    std::vector<std::string> unsupported;
    PyTaskScopes s = PyScopesOf(plan_, t, &unsupported);
    PyCommand cmd = PyCommandOf(plan_, t, &unsupported);
    const std::string& fn = fn_[t.index];
    const std::string name = PyStr(t.spec->name);
    std::string f = "\n\n";
    if (IsSensor(t)) {
      // An approval-only task is the approval: a sensor that waits for the approver's answer.
      const int64_t timeout = t.approval()->timeout_ms > 0 ? t.approval()->timeout_ms : 365LL * 86'400'000;
      if (t.approval()->timeout_ms == 0) {
        result_->not_expressed.push_back(fmt::format(
            "task {}: approval without timeout: the sensor gives up after 365 days (rejected)",
            Quote(t.name)));
      }
      f += fmt::format("@task.sensor(task_id={}, retries=0, poke_interval=60, timeout={}, "
                       "mode=\"reschedule\"{})\n", name, PySeconds(timeout),
                       FinallyRoot(t) ? ", trigger_rule=\"all_done\"" : "");
      f += "def " + fn + "(up, P=None, item=None, **context):\n";
      f += "    " + PyStr("Approval: " + t.approval()->instructions) + "\n";
      f += "    return _approval(context[\"run_id\"], " + name + ")\n";
      if (t.spec->when()) when_helpers_.insert(t.index);
    } else {
      f += "@task.bash(" + TaskKwargs(t, FinallyRoot(t)) + ")\n";
      f += "def " + fn + "(up, P=None, item=None, **context):\n";
      f += "    \"\"\"Sluice task " + PyCommentText(Quote(t.spec->name)) + ".\"\"\"\n";
      f += Preamble();
      if (const TemplateField* w = t.spec->when()) {
        f += "    if not (" + PyField(*w, s.task) + "):\n";
        f += "        return \"exit 99\"  # its when is false: skipped\n";
      }
      f += "    folder = _workdir(run_id, context[\"ti\"].task_id, context[\"ti\"].map_index)\n";
      std::string argv = cmd.argv;
      if (!cmd.builtin.empty() && cmd.builtin != "noop") {
        argv = fmt::format("[\"sh\", \"-c\", {}]",
                           PyStr(fmt::format("echo 'builtin {} is not expressed in Airflow' >&2; exit 1",
                                             cmd.builtin)));
      } else if (argv.empty()) {
        argv = "[\"true\"]";
      }
      f += "    argv = " + argv + "\n";
      f += "    env = [";
      for (size_t i = 0; i < cmd.env.size(); ++i) {
        f += fmt::format("{}({}, {})", i ? ", " : "", PyStr(cmd.env[i].first), cmd.env[i].second);
      }
      f += "] + _sluice_env(run_id, context[\"ti\"].task_id, context[\"ti\"].map_index, "
           "context[\"ti\"].try_number, folder)\n";
      std::vector<std::string> gate;
      for (const PolicySpec* pol : t.gate()) {
        if (pol->loc.file) gate.push_back(PyStr(*pol->loc.file));
      }
      if (!gate.empty()) {
        std::vector<std::string> labels;
        for (const auto& [k, v] : plan_.pipeline->labels) labels.push_back(PyStr(k) + ": " + PyStr(v));
        f += fmt::format("    _gate_input(folder, {}, {}, {{{}}}, P, up)\n", name,
                         PyStr(plan_.pipeline->name), Join(labels, ", "));
      }
      const std::string cwd = cmd.pipeline_dir ? PyStr(Dirname(plan_.pipeline->file)) : "folder";
      f += fmt::format("    return _bash({}, folder, argv, env, {}, gate=[{}])\n", cwd,
                       PyOutputDecls(t), Join(gate, ", "));
      if (t.approval()) approval_helpers_.insert(t.index);
    }
    functions_ += f;
    // Helpers: forEach items computed at run time, the approval before a task with a command,
    // the when of a sensor.
    if (t.spec->for_each && !t.spec->for_each->literal) ItemsHelper(t, s.task);
    if (approval_helpers_.contains(t.index)) ApprovalHelper(t);
    if (when_helpers_.contains(t.index)) WhenHelper(t, s.task);
    for (const auto& u : unsupported) {
      result_->not_expressed.push_back(fmt::format(
          "task {}: placeholder ${{{{ {} }}}}: not translated; the task fails when it runs",
          Quote(t.name), u));
    }
  }

  std::string HelperId(const PlanTask& t, std::string_view what) {
    // Sluice names never hold "__" followed by a helper word in practice; a clash is still
    // impossible to miss: Airflow refuses duplicate task ids when it loads the file.
    return PyStr(t.spec->name + "__" + std::string(what));
  }

  void ItemsHelper(const PlanTask& t, const PyScope& scope) {
    std::string fn = names_.Make("x_items_", t.spec->name);
    items_fn_[t.index] = fn;
    functions_ += fmt::format(
        "\n\n@task(task_id={}, retries=0)\ndef {}(up, P=None, **context):\n"
        "    \"\"\"The forEach items of {}.\"\"\"\n{}"
        "    return list({})\n",
        HelperId(t, "items"), fn, PyCommentText(Quote(t.spec->name)), Preamble(),
        PyField(*t.spec->for_each->expr, scope));
  }

  void ApprovalHelper(const PlanTask& t) {
    std::string fn = names_.Make("x_approval_", t.spec->name);
    approval_fn_[t.index] = fn;
    const int64_t timeout = t.approval()->timeout_ms > 0 ? t.approval()->timeout_ms : 365LL * 86'400'000;
    functions_ += fmt::format(
        "\n\n@task.sensor(task_id={}, retries=0, poke_interval=60, timeout={}, mode=\"reschedule\")\n"
        "def {}(up, P=None, **context):\n"
        "    {}\n"
        "    return _approval(context[\"run_id\"], {})\n",
        HelperId(t, "approval"), PySeconds(timeout), fn,
        PyStr("The approval " + t.spec->name + " waits for: " + t.approval()->instructions),
        PyStr(t.spec->name));
  }

  void WhenHelper(const PlanTask& t, const PyScope& scope) {
    std::string fn = names_.Make("x_when_", t.spec->name);
    when_fn_[t.index] = fn;
    // Only the tasks right after it are skipped; the rest follow their trigger rules.
    functions_ += fmt::format(
        "\n\n@task.short_circuit(task_id={}, ignore_downstream_trigger_rules=False)\n"
        "def {}(up, P=None, item=None, **context):\n"
        "    \"\"\"The when of {}.\"\"\"\n{}"
        "    return bool({})\n",
        HelperId(t, "when"), fn, PyCommentText(Quote(t.spec->name)), Preamble(),
        PyField(*t.spec->when(), scope));
  }

  // A DAG template's outputs, collected once its tasks are over: what `tasks.CALL.outputs`
  // reads outside the call. none_failed: a task of the template skipped by its when does not
  // skip the tasks after the call.
  void OutputsFunction(int tmpl) {
    const PlanTemplate& pt = plan_.templates[tmpl];
    const ComponentSpec& c = *pt.component;
    std::vector<std::string> unsupported;
    PyScope scope;
    scope.plan = &plan_;
    scope.scope = tmpl;
    scope.unsupported = &unsupported;
    std::vector<std::string> params, artifacts;
    for (const auto& [name, field] : c.dag->output_values) {
      const bool artifact = std::ranges::any_of(c.outputs.artifacts, [&](const auto& a) { return a.name == name; });
      (artifact ? artifacts : params).push_back(PyStr(name) + ": " + PyField(field, scope));
    }
    std::string fn = names_.Make("x_outputs_", c.name);
    outputs_fn_[tmpl] = fn;
    functions_ += fmt::format(
        "\n\n@task(task_id=\"outputs__\", retries=0, trigger_rule=\"none_failed\")\n"
        "def {}(up, P=None, **context):\n"
        "    \"\"\"The outputs of the DAG template {}.\"\"\"\n{}"
        "    return {{\"params\": {{{}}}, \"artifacts\": {{{}}}}}\n",
        fn, PyCommentText(Quote(c.name + "@" + c.version)), Preamble(), Join(params, ", "),
        Join(artifacts, ", "));
    for (const auto& u : unsupported) {
      result_->not_expressed.push_back(fmt::format(
          "DAG template {}: output placeholder ${{{{ {} }}}}: not translated", Quote(c.name), u));
    }
  }

  // The calls and dependencies of one scope's tasks, as lines of the function that holds them
  // (the @dag function, or a @task_group's). `p_arg` passes the template's arguments.
  std::string Wiring(int scope, const std::string& p_arg, const std::string& ind,
                     std::vector<int>* active, std::map<int, std::string>* vars) {
    std::string out;
    std::map<int, std::string>& var = *vars;  // plan index → the variable of its result
    std::map<int, std::string> entry;  // where its dependencies point (its helper, if any)
    auto mains = TasksOf(plan_, scope, TaskRole::kMain);
    auto fin = TasksOf(plan_, scope, TaskRole::kFinally);
    std::vector<const PlanTask*> all = mains;
    all.insert(all.end(), fin.begin(), fin.end());
    for (const PlanTask* t : all) var[t->index] = names_.Make("v_", t->spec->name);
    auto up_of = [&](const PlanTask& t) {
      std::vector<std::string> items;
      for (int d : t.deps) items.push_back(PyStr(plan_.tasks[d].spec->name) + ": " + var[d]);
      return "{" + Join(items, ", ") + "}";
    };
    for (const PlanTask* t : all) {
      const std::string up = "up=" + up_of(*t) + p_arg;
      // Its helpers in front of it, in order: the when of a sensor or call, then an approval.
      std::string last;
      for (auto* fns : {&when_fn_, &approval_fn_}) {
        if (!fns->contains(t->index)) continue;
        std::string hv = names_.Make("h_", t->spec->name);
        out += ind + hv + " = " + (*fns)[t->index] + "(" + up + ")\n";
        if (!last.empty()) out += ind + last + " >> " + hv + "\n";
        if (!entry.contains(t->index)) entry[t->index] = hv;
        last = hv;
      }
      if (t->tmpl() >= 0) {
        out += CallGroup(*t, var[t->index], up, ind, active, last);
        if (!entry.contains(t->index)) entry[t->index] = "a_" + var[t->index].substr(2);
      } else {
        std::string call = fn_[t->index];
        if (t->spec->for_each) {
          std::string items = t->spec->for_each->literal
                                  ? PyLiteral(*t->spec->for_each->literal)
                                  : items_fn_[t->index] + "(" + up + ")";
          out += fmt::format("{}{} = {}.partial({}).expand(item={})\n", ind, var[t->index], call,
                             up, items);
        } else {
          out += fmt::format("{}{} = {}({})\n", ind, var[t->index], call, up);
        }
      }
      if (!last.empty() && t->tmpl() < 0) out += ind + last + " >> " + var[t->index] + "\n";
    }
    // Every dependency explicit; a finally root waits for all the main tasks (trigger rule
    // all_done).
    for (const PlanTask* t : all) {
      std::vector<std::string> ups;
      if (FinallyRoot(*t)) {
        for (const PlanTask* m : mains) ups.push_back(var[m->index]);
      } else {
        for (int d : t->deps) ups.push_back(var[d]);
      }
      if (ups.empty()) continue;
      const std::string to = entry.contains(t->index) ? entry[t->index] : var[t->index];
      out += ind + "[" + Join(ups, ", ") + "] >> " + to + "\n";
    }
    // With finally tasks the DAG's leaves succeed even when a main task failed: this task
    // fails the run as Sluice does.
    if (!fin.empty() && scope < 0) {
      std::vector<std::string> ups;
      for (const PlanTask* m : mains) ups.push_back(var[m->index]);
      std::string fn = names_.Make("x_run_failed", "");
      functions_ += fmt::format(
          "\n\n@task(task_id=\"run_failed__\", retries=0, trigger_rule=\"one_failed\")\n"
          "def {}():\n"
          "    \"\"\"Fails the DAG run when a main task failed (its finally tasks ran).\"\"\"\n"
          "    raise RuntimeError(\"a task of the pipeline failed\")\n", fn);
      out += ind + "[" + Join(ups, ", ") + "] >> " + fn + "()\n";
    }
    return out;
  }

  // A call of a DAG template: its arguments computed by a helper task, its tasks in a
  // @task_group named after the call, mapped over the items for forEach.
  std::string CallGroup(const PlanTask& t, const std::string& v, const std::string& up,
                        const std::string& ind, std::vector<int>* active, const std::string& after) {
    const int tmpl = t.tmpl();
    if (std::ranges::find(*active, tmpl) != active->end()) {
      result_->not_expressed.push_back(fmt::format(
          "task {}: a recursive call of DAG template {}: not expressed (Airflow's DAG is static)",
          Quote(t.name), Quote(plan_.templates[tmpl].component->name)));
      std::string fn = names_.Make("x_recursion_", t.spec->name);
      functions_ += fmt::format("\n\n@task(task_id={})\ndef {}(up, P=None, **context):\n"
                                "    raise RuntimeError(\"recursive DAG template call: not exported\")\n",
                                PyStr(t.spec->name), fn);
      const std::string av = "a_" + v.substr(2);
      return ind + av + " = " + fn + "(" + up + ")\n" + (after.empty() ? "" : ind + after + " >> " + av + "\n") +
             ind + v + " = " + av + "\n";
    }
    // The arguments, as the call binds them (its `with:`), one dict per forEach item.
    std::vector<std::string> unsupported;
    PyTaskScopes s = PyScopesOf(plan_, t, &unsupported);
    std::vector<std::string> args;
    for (const auto& a : t.component_args()) {
      args.push_back(PyStr(a.name) + ": " + (a.field ? PyField(*a.field, s.task) : PyLiteral(a.value)));
    }
    std::string args_fn = names_.Make("x_with_", t.spec->name);
    std::string items = "None";
    if (t.spec->for_each) {
      items = t.spec->for_each->literal ? PyLiteral(*t.spec->for_each->literal)
                                        : PyField(*t.spec->for_each->expr, s.task);
    }
    functions_ += fmt::format(
        "\n\n@task(task_id={}, retries=0)\ndef {}(up, P=None, **context):\n"
        "    \"\"\"The arguments of the call {} of {}.\"\"\"\n{}"
        "    def bind(item=None):\n"
        "        return {{{}}}\n"
        "    {}\n",
        HelperId(t, "with"), args_fn, PyCommentText(Quote(t.spec->name)),
        PyCommentText(plan_.templates[tmpl].component->name), Preamble(), Join(args, ", "),
        t.spec->for_each ? "return [bind(item) for item in " + items + "]" : "return bind()");
    for (const auto& u : unsupported) {
      result_->not_expressed.push_back(fmt::format(
          "task {}: placeholder ${{{{ {} }}}}: not translated; the call fails when it runs",
          Quote(t.name), u));
    }
    // Named after the call's variable, so that the wiring knows it as the call's entry.
    const std::string av = "a_" + v.substr(2);
    std::string out = ind + av + " = " + args_fn + "(" + up + ")\n";
    if (!after.empty()) out += ind + after + " >> " + av + "\n";
    // The group function, at module level before the @dag function.
    active->push_back(tmpl);
    std::string g = names_.Make("g_", t.spec->name);
    std::map<int, std::string> vars;
    std::string body = Wiring(tmpl, ", P=P", "    ", active, &vars);
    std::vector<std::string> every;
    for (const auto& [index, name] : vars) {
      every.push_back(PyStr(plan_.tasks[index].spec->name) + ": " + name);
    }
    active->pop_back();
    groups_ += fmt::format("\n\n@task_group(group_id={})\ndef {}(P):\n"
                           "    \"\"\"The call {} of the DAG template {}.\"\"\"\n{}"
                           "    return {}(up={{{}}}, P=P)\n",
                           PyStr(t.spec->name), g, PyCommentText(Quote(t.spec->name)),
                           PyCommentText(plan_.templates[tmpl].component->name), body,
                           outputs_fn_[tmpl], Join(every, ", "));
    if (t.spec->for_each) return out + ind + v + " = " + g + ".expand(P=" + av + ")\n";
    return out + ind + v + " = " + g + "(P=" + av + ")\n";
  }

  const Plan& plan_;
  ExportResult* result_;
  PyNames names_;
  std::string functions_, groups_;
  std::map<int, std::string> fn_, items_fn_, approval_fn_, when_fn_, outputs_fn_;
  std::set<int> approval_helpers_, when_helpers_;
};

}  // namespace

Result<ExportResult> ExportAirflow(const Plan& plan, const ExportOptions& options) {
  (void)options;
  ExportResult result;
  AirflowWriter w(plan, &result);
  std::string body = w.Write();
  std::vector<std::string> needs = {
      "the standard provider (apache-airflow-providers-standard; built into Airflow 2.10) for "
      "@task.bash, @task.sensor and @task.short_circuit",
      "bash and python3 on the workers, and the commands the tasks run",
      "$SLUICE_EXPORT_ROOT (default /tmp/sluice-export): the tasks' folders, shared by every "
      "worker, where artifacts pass from task to task",
      "approvals: write \"approved\" or \"rejected\" into $SLUICE_EXPORT_ROOT/RUN_ID/approvals/TASK",
      "gates: the sluice binary on the workers and the policy files at the paths written here"};
  PyFinish(plan, "Airflow", kAirflowVersions, needs, body, &result);
  return result;
}

}  // namespace sluice
