// `sluice export --to prefect`: a flow file for Prefect 3 (export.h,
// docs/interop.md).
//
// Shape of the file: each Sluice task is a module-level @task that runs its argv with
// subprocess.run (a list, never a shell string; check=True) in its own folder and returns its
// outputs as a dict. The @flow function submits every task with `.submit` (`.map` for
// forEach), passes the upstream futures both as `wait_for` and in the `up` dict the task reads
// its inputs from (Prefect resolves futures inside it), waits for all of them so that a failure
// fails the flow run, and runs the finally tasks in a `finally:` block. Pipeline params are the
// flow's parameters. A DAG template is a subflow, called once per call (per item for forEach).
// A skipped task (its when false) returns the _SKIPPED marker, which skips its dependents, as
// Sluice does: Prefect itself has no skipped state.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/strings.h"
#include "interop/export.h"
#include "interop/export_python.h"

namespace sluice {
namespace {

constexpr char kPrefectVersions[] =
    "Prefect 3 (tests/interop/api/prefect.tsv lists every import and call)";

constexpr char kPrefectPrelude[] = R"PY(

def _skipped(up):
    """Whether an upstream task was skipped: then this one is too."""
    return any(value == _SKIPPED for value in up.values())


def _futures(value):
    """The futures of a task's variable: a forEach task's list, none for a skipped one."""
    if isinstance(value, list):
        return value
    return [value] if hasattr(value, "result") else []


def _failed(tasks):
    """run.failedTasks: the tasks that failed (an item of theirs, for forEach); a task that did
    not run because an upstream task failed is not one of them."""
    return [name for name, value in tasks.items()
            if any(f.state.is_failed() for f in _futures(value))]


def _results(futures):
    """The results of upstream futures (lists of them for forEach tasks), waiting for them."""
    def result(value):
        if isinstance(value, list):
            return [result(v) for v in value]
        return value.result() if hasattr(value, "result") else value
    return {name: result(value) for name, value in futures.items()}


def _wait(futures):
    """Waits for every future; raises the first failure, so that the flow run fails."""
    failure = None
    for future in futures:
        try:
            future.result()
        except BaseException as e:  # a failed task, or one whose upstream failed
            failure = failure or e
    if failure is not None:
        raise failure


def _run(cwd, folder, argv, env, decls, gate=()):
    """Runs the task's argv (no shell) with its env (name, value pairs) added; returns its
    outputs."""
    for policy in gate:
        subprocess.run(["sluice", "policy", "eval", policy, "--input",
                        os.path.join(folder, ".sluice-gate.json")], check=True)
    full_env = dict(os.environ)
    full_env.update(env)
    stdout_path = os.path.join(folder, ".sluice-stdout")
    try:
        with open(stdout_path, "wb") as stdout:
            subprocess.run(argv, cwd=cwd, env=full_env, check=True, stdout=stdout)
    finally:
        with open(stdout_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        sys.stdout.write(text)
    return _read_outputs(decls, folder, text)
)PY";

std::string TypeHint(ParamType t) {
  switch (t) {
    case ParamType::kString: return "str";
    case ParamType::kInt: return "int";
    case ParamType::kNumber: return "float";
    case ParamType::kBool: return "bool";
    case ParamType::kList: return "list";
    case ParamType::kMap: return "dict";
  }
  return "str";
}

class PrefectWriter {
 public:
  PrefectWriter(const Plan& plan, ExportResult* result) : plan_(plan), result_(result) {}

  std::string Write() {
    const PipelineSpec& p = *plan_.pipeline;
    for (const auto& t : plan_.tasks) {
      if ((t.role == TaskRole::kMain || t.role == TaskRole::kFinally) && t.tmpl() < 0) {
        fn_[t.index] = names_.Make("t_", t.spec->name);
      }
    }
    for (size_t i = 0; i < plan_.templates.size(); ++i) {
      const ComponentSpec& c = *plan_.templates[i].component;
      flow_fn_[static_cast<int>(i)] = names_.Make("g_", c.name);
    }
    for (const auto& t : plan_.tasks) {
      if (fn_.contains(t.index)) TaskFunction(t);
    }
    for (size_t i = 0; i < plan_.templates.size(); ++i) TemplateFlow(static_cast<int>(i));
    std::string flow_fn = names_.Make("flow_", p.name);

    std::string out;
    out += "\"\"\"Prefect flow " + PyCommentText(p.name) + ", exported from Sluice.\"\"\"\n";
    out += "import hashlib\nimport json\nimport os\nimport subprocess\nimport sys\n\n";
    out += "from prefect import flow, task, unmapped\n";
    out += "from prefect.flow_runs import pause_flow_run\n";
    out += "from prefect.runtime import flow_run, task_run\n";
    out += kPyPrelude;
    out += kPrefectPrelude;
    out += functions_;
    out += "\n\n" + MainFlow(flow_fn) + "\n\nif __name__ == \"__main__\":\n    " + flow_fn + "()\n";
    return out;
  }

 private:
  // The parameter of the flow for Sluice param `name`: the name itself when Python allows it
  // and the flow's code does not use it.
  std::string ParamIdent(const std::string& name) {
    static const std::set<std::string> kTaken = {"P", "up", "run_id", "run_status", "flow",
                                                 "task", "unmapped", "pause_flow_run",
                                                 "flow_run", "task_run", "run_failed", "json", "os", "subprocess",
                                                 "sys", "hashlib"};
    PyNames probe;
    std::string id = probe.Make("", name);
    const bool ours = id.starts_with("_") || id.starts_with("v_") || id.starts_with("t_") ||
                      id.starts_with("g_") || id.starts_with("x_") || id.starts_with("items_") ||
                      id.starts_with("flow_");
    if (id == name && !kTaken.contains(id) && !ours) {
      names_.Make("", name);  // reserve it
      return id;
    }
    return names_.Make("param_", name);
  }

  std::string MainFlow(const std::string& flow_fn) {
    const PipelineSpec& p = *plan_.pipeline;
    std::vector<const ParamDecl*> order;
    for (const auto& d : p.params) order.push_back(&d);
    std::ranges::stable_sort(order, [](const ParamDecl* a, const ParamDecl* b) {
      return !a->default_value && b->default_value;  // Python: parameters without defaults first
    });
    std::vector<std::string> sig, bind;
    for (const ParamDecl* d : order) {
      std::string id = ParamIdent(d->name);
      sig.push_back(id + ": " + TypeHint(d->type) +
                    (d->default_value ? " = " + PyLiteral(*d->default_value) : ""));
      bind.push_back(PyStr(d->name) + ": " + id);
    }
    std::string out = "@flow(name=" + PyStr(p.name);
    if (p.deadline_ms > 0) out += ", timeout_seconds=" + PySeconds(p.deadline_ms);
    out += ")\ndef " + flow_fn + "(" + Join(sig, ", ") + "):\n";
    out += "    \"\"\"Sluice pipeline " + PyCommentText(Quote(p.name)) + ".\"\"\"\n";
    out += "    P = {" + Join(bind, ", ") + "}\n";
    out += "    run_id = str(flow_run.id)\n";
    out += ScopeBody(-1, "    ", "");
    return out;
  }

  // A DAG template as a subflow: its tasks, then its outputs.
  void TemplateFlow(int tmpl) {
    const PlanTemplate& pt = plan_.templates[tmpl];
    const ComponentSpec& c = *pt.component;
    std::vector<std::string> unsupported;
    PyScope scope;
    scope.plan = &plan_;
    scope.scope = tmpl;
    scope.unsupported = &unsupported;
    std::vector<std::string> params, artifacts, every;
    for (const auto& [name, field] : c.dag->output_values) {
      const bool artifact = std::ranges::any_of(c.outputs.artifacts, [&](const auto& a) { return a.name == name; });
      (artifact ? artifacts : params).push_back(PyStr(name) + ": " + PyField(field, scope));
    }
    std::string body = ScopeBody(tmpl, "    ", "call + \".\" + ");
    for (int i = 0; i < pt.size(); ++i) {
      const PlanTask& m = plan_.tasks[pt.first + i];
      every.push_back(PyStr(m.spec->name) + ": " + var_[m.index]);
    }
    functions_ += fmt::format(
        "\n\n@flow(name={})\ndef {}(P, run_id, call):\n"
        "    \"\"\"The DAG template {}: one call.\"\"\"\n{}"
        "    up = _results({{{}}})\n"
        "    return {{\"params\": {{{}}}, \"artifacts\": {{{}}}}}\n",
        PyStr(c.name + "@" + c.version), flow_fn_[tmpl], PyCommentText(Quote(c.name)), body,
        Join(every, ", "), Join(params, ", "), Join(artifacts, ", "));
    for (const auto& u : unsupported) {
      result_->not_expressed.push_back(fmt::format(
          "DAG template {}: output placeholder ${{{{ {} }}}}: not translated", Quote(c.name), u));
    }
  }

  // The @task decorator's arguments: retries with their delays, the timeout.
  std::string TaskKwargs(const PlanTask& t) {
    std::vector<std::string> kw{"name=" + PyStr(t.spec->name)};
    const RetryPolicy* r = t.retry;
    kw.push_back(fmt::format("retries={}", r ? r->limit : 0));
    if (r && r->limit > 0) {
      // Sluice's backoff, delay by delay: Prefect takes the list (at most 50).
      std::vector<std::string> delays;
      double d = static_cast<double>(r->initial_ms);
      for (int i = 0; i < std::min(r->limit, 50); ++i) {
        delays.push_back(PySeconds(static_cast<int64_t>(std::min<double>(d, r->max_ms))));
        d *= r->factor;
      }
      kw.push_back("retry_delay_seconds=[" + Join(delays, ", ") + "]");
      if (r->limit > 50) {
        result_->not_expressed.push_back(fmt::format(
            "task {}: retry delays past the 50th: Prefect repeats the last", Quote(t.name)));
      }
    }
    if (t.timeout_ms > 0) kw.push_back("timeout_seconds=" + PySeconds(t.timeout_ms));
    return Join(kw, ", ");
  }

  void TaskFunction(const PlanTask& t) {
    std::vector<std::string> unsupported;
    const bool status = t.role == TaskRole::kFinally && t.scope < 0;
    PyTaskScopes s = PyScopesOf(plan_, t, &unsupported, status);
    PyCommand cmd = PyCommandOf(plan_, t, &unsupported, status);
    std::string f = "\n\n@task(" + TaskKwargs(t) + ")\n";
    f += "def " + fn_[t.index] + "(P, up, run_id, where, item=None, index=None, run_status=None, "
         "run_failed=None):\n";
    f += "    \"\"\"Sluice task " + PyCommentText(Quote(t.spec->name)) + ".\"\"\"\n";
    f += "    if _skipped(up):\n        return _SKIPPED\n";
    if (const TemplateField* w = t.spec->when()) {
      f += "    if not (" + PyField(*w, s.task) + "):\n";
      f += "        return _SKIPPED  # its when is false\n";
    }
    f += "    folder = _workdir(run_id, where, index)\n";
    if (!cmd.builtin.empty() && cmd.builtin != "noop") {
      f += fmt::format("    raise RuntimeError(\"builtin {} is not expressed in Prefect\")\n", cmd.builtin);
    } else if (cmd.argv.empty()) {
      f += "    return _read_outputs(" + PyOutputDecls(t) + ", folder, \"\")\n";
    } else {
      f += "    argv = " + cmd.argv + "\n";
      f += "    env = [";
      for (size_t i = 0; i < cmd.env.size(); ++i) {
        f += fmt::format("{}({}, {})", i ? ", " : "", PyStr(cmd.env[i].first), cmd.env[i].second);
      }
      f += "] + _sluice_env(run_id, where, index, task_run.run_count, folder)\n";
      std::vector<std::string> gate;
      for (const PolicySpec* pol : t.gate()) {
        if (pol->loc.file) gate.push_back(PyStr(*pol->loc.file));
      }
      if (!gate.empty()) {
        std::vector<std::string> labels;
        for (const auto& [k, v] : plan_.pipeline->labels) labels.push_back(PyStr(k) + ": " + PyStr(v));
        f += fmt::format("    _gate_input(folder, {}, {}, {{{}}}, P, up)\n", PyStr(t.spec->name),
                         PyStr(plan_.pipeline->name), Join(labels, ", "));
      }
      const std::string cwd = cmd.pipeline_dir ? PyStr(Dirname(plan_.pipeline->file)) : "folder";
      f += fmt::format("    return _run({}, folder, argv, env, {}, gate=[{}])\n", cwd,
                       PyOutputDecls(t), Join(gate, ", "));
    }
    functions_ += f;
    if (t.spec->for_each && t.spec->for_each->parallelism > 0) {
      result_->not_expressed.push_back(fmt::format(
          "task {}: forEach parallelism {}: not expressed (give the task a tag with a Prefect "
          "concurrency limit)", Quote(t.name), t.spec->for_each->parallelism));
    }
    for (const auto& u : unsupported) {
      result_->not_expressed.push_back(fmt::format(
          "task {}: placeholder ${{{{ {} }}}}: not translated; the task fails when it runs",
          Quote(t.name), u));
    }
  }

  // The futures of `deps` for wait_for: a forEach task's are a list, a template call's result
  // is already there (a subflow runs to its end when called).
  std::string WaitFor(const std::vector<int>& deps) {
    std::vector<std::string> items;
    for (int d : deps) {
      const PlanTask& u = plan_.tasks[d];
      if (u.tmpl() >= 0) continue;
      items.push_back(u.spec->for_each ? "*_futures(" + var_[d] + ")" : var_[d]);
    }
    return "[" + Join(items, ", ") + "]";
  }

  std::string UpDict(const std::vector<int>& deps) {
    std::vector<std::string> items;
    for (int d : deps) items.push_back(PyStr(plan_.tasks[d].spec->name) + ": " + var_[d]);
    return "{" + Join(items, ", ") + "}";
  }

  // The statements that run one scope's tasks: main tasks in a try block, waited for, then
  // the finally tasks in its finally block. `where` prefixes the tasks' folder names.
  std::string ScopeBody(int scope, const std::string& ind, const std::string& where) {
    auto main = TasksOf(plan_, scope, TaskRole::kMain);
    auto fin = TasksOf(plan_, scope, TaskRole::kFinally);
    for (const PlanTask* t : main) var_[t->index] = names_.Make("v_", t->spec->name);
    for (const PlanTask* t : fin) var_[t->index] = names_.Make("v_", t->spec->name);
    const bool status = !fin.empty() && scope < 0;
    std::string out;
    std::string in = ind;
    if (!fin.empty()) {
      if (status) {
        // Every main task's variable exists in the finally block, even when the try block
        // stopped before submitting it.
        std::vector<std::string> vars;
        for (const PlanTask* t : main) vars.push_back(var_[t->index]);
        out += ind + Join(vars, " = ") + " = None\n";
        out += ind + "run_status = \"failed\"\n";
      }
      out += ind + "try:\n";
      in = ind + "    ";
    }
    for (const PlanTask* t : main) out += Submit(*t, in, where, false);
    out += in + "_wait(" + WaitFor(Indices(main)) + ")\n";
    if (!fin.empty()) {
      if (status) out += in + "run_status = \"succeeded\"\n";
      out += ind + "finally:\n";
      if (status) {
        std::vector<std::string> items;
        for (const PlanTask* t : main) items.push_back(PyStr(t->spec->name) + ": " + var_[t->index]);
        out += in + "run_failed = _failed({" + Join(items, ", ") + "})\n";
      }
      for (const PlanTask* t : fin) out += Submit(*t, in, where, status);
      out += in + "_wait(" + WaitFor(Indices(fin)) + ")\n";
    }
    return out;
  }

  static std::vector<int> Indices(const std::vector<const PlanTask*>& tasks) {
    std::vector<int> out;
    for (const PlanTask* t : tasks) out.push_back(t->index);
    return out;
  }

  std::string Submit(const PlanTask& t, const std::string& ind, const std::string& where,
                     bool status) {
    std::vector<std::string> unsupported;
    PyTaskScopes s = PyScopesOf(plan_, t, &unsupported);
    const std::string& v = var_[t.index];
    std::string out;
    const bool needs_values = t.approval() || t.tmpl() >= 0 ||
                              (t.spec->for_each && !t.spec->for_each->literal);
    if (needs_values) out += ind + "up = _results(" + UpDict(t.deps) + ")\n";
    if (const ApprovalSpec* a = t.approval()) {
      const int64_t timeout = a->timeout_ms > 0 ? a->timeout_ms : 365LL * 86'400'000;
      std::string cond = t.spec->when() ? PyField(*t.spec->when(), s.task) : "True";
      out += fmt::format("{}if not _skipped(up) and {}:  # approval: {}\n", ind, cond,
                         PyCommentText(a->instructions));
      out += fmt::format("{}    pause_flow_run(timeout={})\n", ind, PySeconds(timeout));
    }
    const std::string where_expr = where + PyStr(t.spec->name);
    if (t.tmpl() >= 0) {
      std::vector<std::string> args;
      for (const auto& a : t.component_args()) {
        args.push_back(PyStr(a.name) + ": " + (a.field ? PyField(*a.field, s.task) : PyLiteral(a.value)));
      }
      const std::string g = flow_fn_[t.tmpl()];
      const std::string bind = "{" + Join(args, ", ") + "}";
      std::string cond = t.spec->when() ? PyField(*t.spec->when(), s.task) : "True";
      if (t.spec->for_each) {
        std::string items = t.spec->for_each->literal ? PyLiteral(*t.spec->for_each->literal)
                                                      : PyField(*t.spec->for_each->expr, s.task);
        out += fmt::format("{}{} = [{}(P={}, run_id=run_id, call=\"%s[%d]\" % ({}, index)) for "
                           "index, item in enumerate({}) if {}] if not _skipped(up) else _SKIPPED\n",
                           ind, v, g, bind, where_expr, items, cond);
        result_->not_expressed.push_back(fmt::format(
            "task {}: forEach over a DAG template: the subflow calls run one after another",
            Quote(t.name)));
      } else {
        out += fmt::format("{}{} = {}(P={}, run_id=run_id, call={}) if not _skipped(up) and {} "
                           "else _SKIPPED\n", ind, v, g, bind, where_expr, cond);
      }
    } else {
      std::string common = fmt::format("P={}, up={}, run_id={}, where={}", "P", UpDict(t.deps),
                                       "run_id", where_expr);
      if (status) common += ", run_status=run_status, run_failed=run_failed";
      const std::string wait = "wait_for=" + WaitFor(t.deps);
      if (t.spec->for_each) {
        // Items from a placeholder are known once the upstream tasks are done; none when one
        // of them was skipped, and then this task is skipped too.
        const bool literal = t.spec->for_each->literal.has_value();
        std::string items = literal ? PyLiteral(*t.spec->for_each->literal)
                                    : "None if _skipped(up) else list(" +
                                          PyField(*t.spec->for_each->expr, s.task) + ")";
        std::string iv = names_.Make("items_", t.spec->name);
        out += ind + iv + " = " + items + "\n";
        std::string mapped = fmt::format("P=unmapped(P), up=unmapped({}), run_id=unmapped(run_id), "
                                         "where=unmapped({})", UpDict(t.deps), where_expr);
        if (status) mapped += ", run_status=unmapped(run_status), run_failed=unmapped(run_failed)";
        out += fmt::format("{}{} = {}.map({}, item={}, index=list(range(len({}))), {}){}\n", ind, v,
                           fn_[t.index], mapped, iv, iv, wait,
                           literal ? "" : " if " + iv + " is not None else _SKIPPED");
      } else {
        out += fmt::format("{}{} = {}.submit({}, {})\n", ind, v, fn_[t.index], common, wait);
      }
    }
    for (const auto& u : unsupported) {
      result_->not_expressed.push_back(fmt::format(
          "task {}: placeholder ${{{{ {} }}}}: not translated; the flow fails there",
          Quote(t.name), u));
    }
    return out;
  }

  const Plan& plan_;
  ExportResult* result_;
  PyNames names_;
  std::string functions_;
  std::map<int, std::string> fn_, flow_fn_, var_;
};

}  // namespace

Result<ExportResult> ExportPrefect(const Plan& plan, const ExportOptions& options) {
  (void)options;
  ExportResult result;
  PrefectWriter w(plan, &result);
  std::string body = w.Write();
  std::vector<std::string> needs = {
      "the commands the tasks run, on the machine that runs the flow",
      "$SLUICE_EXPORT_ROOT (default /tmp/sluice-export): the tasks' folders, shared by every "
      "worker, where artifacts pass from task to task",
      "approvals: a Prefect server; the flow run pauses and a person resumes it in the UI "
      "(approves) or cancels it (rejects); the pause times out as a rejection",
      "gates: the sluice binary and the policy files at the paths written here"};
  PyFinish(plan, "Prefect", kPrefectVersions, needs, body, &result);
  return result;
}

}  // namespace sluice
