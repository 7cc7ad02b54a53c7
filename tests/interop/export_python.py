#!/usr/bin/env python3
"""Airflow and Prefect exports of every example pipeline (issue 16, docs/interop.md).

Usage: export_python.py SLUICE [--only SUBSTRING]
Every examples/**/*.yaml whose first document is a Pipeline that `sluice validate` accepts (with
examples/pools/pools.yaml as the central pools; model-rollout needs a rollout stack) is
exported with `sluice export --to airflow|prefect FILE -o DIR` (the main file is DIR/NAME.py).
Neither tool is installed here, so each file is checked without them:
  - it compiles with /usr/bin/python3 -m py_compile;
  - its AST has one task per Sluice task (task_id= for Airflow, name= for Prefect), the
    pipeline's dependency edges (those of `sluice graph`, helper tasks contracted), the retries
    the YAML sets, all_done / a finally block for finally tasks, .expand / .map for forEach;
  - every import from the target library, every call of it (decorators included) and every
    method called on a decorated function is in tests/interop/api/{airflow,prefect}.tsv for each
    target version, with only the keyword parameters listed there.
Prints the counts and ends with "export-python: N passed, M failed".
"""
import ast, os, re, shutil, subprocess, sys, tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env  # noqa: E402

PYTHON = "/usr/bin/python3"  # a pyenv python comes first in PATH
COUNTS = {"files": 0, "tasks": 0, "edges": 0, "retries": 0, "finally": 0, "foreach": 0,
          "api_calls": 0, "imports": 0}


def load_api(target):
    """{version: {name: (module, set of parameters)}} of the committed API list."""
    api = {}
    with open(os.path.join(HERE, "api", target + ".tsv"), encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            assert len(cols) == 5, f"{target}.tsv: 5 columns wanted: {line!r}"
            version, module, name, params, doc = cols
            assert doc.startswith("https://"), f"{target}.tsv: {name}: no documentation page"
            api.setdefault(version, {})[name] = (module, {p for p in params.split(",") if p})
    return api


API = {"airflow": load_api("airflow"), "prefect": load_api("prefect")}
TARGET_MODULES = {"airflow": ("airflow",), "prefect": ("prefect",)}
# The calls that take one positional argument, and the parameter it is.
POSITIONAL = {"Param": "default", "unmapped": "value"}


def example_pipelines(e):
    """The example files that are Pipelines and that `sluice validate` accepts."""
    out = []
    for d, _, files in os.walk(os.path.join(REPO, "examples")):
        for f in sorted(files):
            if not f.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(d, f)
            docs = [x for x in yaml.safe_load_all(open(path, encoding="utf-8")) if x]
            if not docs or docs[0].get("kind") != "Pipeline":
                continue
            if e.sluice("validate", path).returncode == 0:
                out.append(path)
    return sorted(out)


def sluice_graph(e, path):
    """The pipeline's name, task names and edges, from `sluice graph` (DOT)."""
    dot = e.sluice("graph", path, check=0).stdout
    name = re.match(r'digraph "((?:[^"\\]|\\.)*)"', dot).group(1)
    nodes = dict(re.findall(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"\]', dot, re.M))
    edges = {(nodes[a], nodes[b]) for a, b in re.findall(r"^\s*(n\d+) -> (n\d+);", dot, re.M)}
    return name, set(nodes.values()), edges


def spec_of(path):
    return yaml.safe_load_all(open(path, encoding="utf-8")).__next__()["spec"]


def expected_retries(spec):
    """{task: retries} for the tasks whose retry the pipeline file itself decides: their own
    retry, or the defaults' when they use no component (a component's retry comes first)."""
    default = ((spec.get("defaults") or {}).get("retry") or {}).get("limit", 0)
    out = {}
    for t in spec.get("tasks", []) + spec.get("finally", []):
        if "retry" in t:
            out[t["name"]] = (t["retry"] or {}).get("limit", 0)
        elif "uses" not in t:
            out[t["name"]] = default
    return out


def kw_value(call, name):
    for k in call.keywords:
        if k.arg == name:
            return ast.literal_eval(k.value)
    return None


def dotted(node):
    """"a.b.c" of a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


class Module:
    """What the checks read from one generated file."""

    def __init__(self, text, target):
        self.tree = ast.parse(text)
        self.target = target
        self.imports = {}  # local name -> [(version, module, name)]
        self.functions = {}  # module-level def name -> (decorator name, decorator Call, params)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] in TARGET_MODULES[target]:
                for alias in node.names:
                    self.imports.setdefault(alias.asname or alias.name, []).append(
                        (self.version_of(node.module), node.module, alias.name))
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef) and node.decorator_list:
                dec = node.decorator_list[0]
                call = dec if isinstance(dec, ast.Call) else None
                name = dotted(call.func if call else dec)
                params = {a.arg for a in node.args.args + node.args.kwonlyargs}
                self.functions[node.name] = (name, call, params, node)

    def version_of(self, module):
        if self.target == "prefect":
            return "3"
        return "3.x" if module.startswith("airflow.sdk") else "2.10"

    def task_ids(self, prefix="t_"):
        """{function: task id} of the Sluice tasks (functions named t_*)."""
        key = "task_id" if self.target == "airflow" else "name"
        return {fn: kw_value(call, key) for fn, (_, call, _, _) in self.functions.items()
                if fn.startswith(prefix) and call is not None}


def check_api(m):
    """Every import and call of the target library, and every method called on a decorated
    function, against the committed list of each version."""
    api = API[m.target]
    for local, sources in m.imports.items():
        for version, module, name in sources:
            assert version in api and name in api[version] and api[version][name][0] == module, \
                f"import {name} from {module} is not in {m.target}.tsv for {version}"
            COUNTS["imports"] += 1
    for node in ast.walk(m.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = dotted(func)
        if name and name.split(".")[0] in m.imports:
            api_name = name
            extra = set()
        elif isinstance(func, ast.Attribute):
            root = func.value
            while isinstance(root, ast.Call) and isinstance(root.func, ast.Attribute):
                root = root.func.value
            if not (isinstance(root, ast.Name) and root.id in m.functions):
                continue
            dec, _, params, _ = m.functions[root.id]
            kind = "(task_group)" if dec == "task_group" else "(task)"
            api_name = kind + "." + func.attr
            extra = params
        else:
            continue
        for version, names in api.items():
            assert api_name in names, f"{api_name} is not in {m.target}.tsv for {version}"
            allowed = names[api_name][1] | extra
            for k in node.keywords:
                assert k.arg is not None and k.arg in allowed, \
                    f"{api_name}({k.arg}=...) is not listed in {m.target}.tsv for {version}"
            if node.args:
                assert len(node.args) == 1 and POSITIONAL.get(api_name) in names[api_name][1], \
                    f"{api_name}: a positional argument is not listed for {version}"
        COUNTS["api_calls"] += 1
    # Attribute reads of imported objects (prefect.runtime's flow_run.id).
    for node in ast.walk(m.tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in m.imports and m.functions.get(node.value.id) is None:
            full = node.value.id + "." + node.attr
            for version, names in api.items():
                assert full in names, f"{full} is not in {m.target}.tsv for {version}"


def statements(body):
    """The statements of a body in order, those of try/finally and if blocks included, each
    with whether it sits in a finally block."""
    for s in body:
        if isinstance(s, ast.Try):
            yield from statements(s.body)
            for h in s.handlers:
                yield from statements(h.body)
            for f, _ in statements(s.finalbody):
                yield f, True
        elif isinstance(s, ast.If):
            yield from statements(s.body)
            yield from statements(s.orelse)
        else:
            yield s, False


def names_in(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def graph_of(fn_node, var_task):
    """The task-level edges of one wiring function (the @dag or @flow function): assignments
    and `>>` statements, helper variables contracted; and the tasks submitted in a finally
    block. `var_task` maps a task's variable to its Sluice name."""
    raw = set()
    pending = set()  # Prefect: the futures an `up = _results(...)` waited for
    in_finally = set()
    for s, fin in statements(fn_node.body):
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
            var = s.targets[0].id
            if var == "up":
                pending = names_in(s.value)
            elif var.startswith(("v_", "a_", "h_")):
                for r in names_in(s.value) | pending:
                    raw.add((r, var))
                pending = set()
                if fin and var in var_task:
                    in_finally.add(var_task[var])
        elif isinstance(s, ast.Expr) and isinstance(s.value, ast.BinOp) and isinstance(s.value.op, ast.RShift):
            left, right = s.value.left, s.value.right
            srcs = [x.id for x in left.elts] if isinstance(left, ast.List) else [left.id]
            if isinstance(right, ast.Name):
                for a in srcs:
                    raw.add((a, right.id))
    # Contract helpers: an edge a -> helper -> b counts as a -> b.
    succ = {}
    for a, b in raw:
        succ.setdefault(a, set()).add(b)
    edges = set()
    for a, task in var_task.items():
        seen, stack = set(), list(succ.get(a, ()))
        while stack:
            b = stack.pop()
            if b in seen:
                continue
            seen.add(b)
            if b in var_task:
                if var_task[b] != task:
                    edges.add((task, var_task[b]))
            elif b.startswith(("a_", "h_")):
                stack.extend(succ.get(b, ()))
    return edges, in_finally


def call_name(value, flows):
    """Prefect: the Sluice name of a template call, from the subflow call's `call=` argument."""
    for n in ast.walk(value):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in flows:
            for k in n.keywords:
                if k.arg != "call":
                    continue
                v = k.value
                if isinstance(v, ast.BinOp):  # "%s[%d]" % (NAME, index) for forEach
                    v = v.right.elts[0]
                return ast.literal_eval(v)
    return None


def check_structure(m, path, e):
    name, tasks, dot_edges = sluice_graph(e, path)
    spec = spec_of(path)
    finally_names = {t["name"] for t in spec.get("finally", [])}
    finally_roots = {t["name"] for t in spec.get("finally", []) if not t.get("needs")}
    ids = m.task_ids()
    groups = {fn: kw_value(call, "group_id") for fn, (dec, call, _, _) in m.functions.items()
              if dec == "task_group"}
    flows = {fn for fn, (dec, _, _, _) in m.functions.items() if dec == "flow"}
    if m.target == "airflow":
        wiring = [n for fn, (dec, _, _, n) in m.functions.items() if dec == "dag"]
    else:
        wiring = [n for fn, (dec, call, _, n) in m.functions.items()
                  if dec == "flow" and kw_value(call, "name") == name]
    assert len(wiring) == 1, "one @dag / @flow function for the pipeline"
    var_task, lines = {}, {}
    for s, _ in statements(wiring[0].body):
        if not (isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name)
                and s.targets[0].id.startswith("v_")):
            continue
        if isinstance(s.value, ast.Constant):
            continue  # Prefect: v_a = v_b = None before the try block
        var, refs = s.targets[0].id, names_in(s.value)
        task = next((ids[r] for r in refs if r in ids), None)
        task = task or next((groups[r] for r in refs if r in groups), None)
        task = task or call_name(s.value, flows)
        assert task, f"{var}: which Sluice task does it run? {ast.unparse(s)}"
        var_task[var] = task
        lines[task] = ast.unparse(s)
    missing = tasks - set(var_task.values())
    assert not missing, f"Sluice tasks without a task in the export: {sorted(missing)}"
    assert set(var_task.values()) <= tasks, f"tasks Sluice lacks: {sorted(set(var_task.values()) - tasks)}"
    COUNTS["tasks"] += len(tasks)
    edges, in_finally = graph_of(wiring[0], var_task)
    # The barrier before the finally tasks is the export's, not an edge of the Sluice DAG.
    edges = {(a, b) for a, b in edges if not (b in finally_roots and a not in finally_names)}
    assert edges == dot_edges, (f"edges differ: only in the export {sorted(edges - dot_edges)}, "
                                f"only in Sluice {sorted(dot_edges - edges)}")
    COUNTS["edges"] += len(edges)
    # Retries that the pipeline file decides, on the function each task's variable calls.
    fn_of = {}
    for fn, t in ids.items():
        if t in lines and re.search(r"\b" + re.escape(fn) + r"\b", lines[t]):
            fn_of[t] = fn
    for task, limit in expected_retries(spec).items():
        fn = fn_of.get(task)
        if fn is None or m.functions[fn][0] == "task.sensor":
            continue  # a template call, or an approval's sensor, which never retries
        got = kw_value(m.functions[fn][1], "retries")
        assert got == limit, f"{task}: retries {got}, want {limit}"
        COUNTS["retries"] += 1
    for t in finally_names:
        if m.target == "airflow":
            if t in finally_roots:
                got = kw_value(m.functions[fn_of[t]][1], "trigger_rule")
                assert got == "all_done", f"finally task {t}: trigger_rule {got!r}, want all_done"
        else:
            assert t in in_finally, f"finally task {t} must be submitted in the finally block"
        COUNTS["finally"] += 1
    for t in spec.get("tasks", []):
        if "forEach" in t:
            want = (".expand(",) if m.target == "airflow" else (".map(", " for index, item in enumerate(")
            assert any(w in lines[t["name"]] for w in want), f"forEach {t['name']}: {lines[t['name']]}"
            COUNTS["foreach"] += 1


def check(e, path, target):
    out = tempfile.mkdtemp(prefix="sluice-export-", dir=e.dir)
    p = e.sluice("export", "--to", target, path, "-o", out)
    assert p.returncode == 0, f"export --to {target}: exit {p.returncode}\n{p.stderr}"
    name = sluice_graph(e, path)[0]
    main = os.path.join(out, name + ".py")
    assert os.path.exists(main), f"no {name}.py in {os.listdir(out)}"
    c = subprocess.run([PYTHON, "-m", "py_compile", main], capture_output=True, text=True)
    assert c.returncode == 0, f"py_compile: {c.stderr}"
    text = open(main, encoding="utf-8").read()
    assert "# Not expressed" in text, "the header lists what is not expressed"
    m = Module(text, target)
    check_api(m)
    check_structure(m, path, e)
    COUNTS["files"] += 1


def exported_text(e, path, target):
    out = tempfile.mkdtemp(prefix="sluice-export-", dir=e.dir)
    e.sluice("export", "--to", target, path, "-o", out, check=0)
    return open(os.path.join(out, sluice_graph(e, path)[0] + ".py"), encoding="utf-8").read()


def must_fail(check, what):
    """The checks above must catch what they are for: `check` raises AssertionError."""
    saved = dict(COUNTS)  # what a mutated file counted is not counted
    try:
        check()
    except AssertionError as err:
        return str(err)
    finally:
        COUNTS.update(saved)
    raise AssertionError(f"the check passed {what}")


def make_negative_tests(path, env):
    """Mutated exports of one example, which the checks must refuse."""
    def unlisted_keyword():
        text = exported_text(env, path, "airflow").replace("@task.bash(", "@task.bash(pool=\"p\", ", 1)
        msg = must_fail(lambda: check_api(Module(text, "airflow")), "an unlisted keyword")
        assert "task.bash(pool=...) is not listed" in msg, msg

    def unlisted_import():
        text = exported_text(env, path, "prefect").replace(
            "from prefect import flow, task, unmapped", "from prefect import allow_failure, flow, task, unmapped")
        msg = must_fail(lambda: check_api(Module(text, "prefect")), "an unlisted import")
        assert "import allow_failure from prefect" in msg, msg

    def missing_edge():
        text = exported_text(env, path, "airflow")
        line = next(l for l in text.splitlines() if re.match(r"    \[v_\w+\] >> v_\w+$", l))
        src, dst = re.match(r"    \[(v_\w+)\] >> (v_\w+)$", line).groups()
        lines = []
        for l in text.splitlines():
            if l == line:
                continue  # the edge, and below the upstream's outputs the task reads
            if l.startswith("    " + dst + " = "):
                l = re.sub(r'"[^"]+": ' + src + r"(, )?", "", l)
            lines.append(l)
        msg = must_fail(lambda: check_structure(Module("\n".join(lines), "airflow"), path, env),
                        "a missing edge")
        assert "edges differ" in msg, msg

    def wrong_retries():
        text = exported_text(env, path, "prefect")
        # summary runs a command of its own: its retry is the pipeline's default, 1.
        text = text.replace('@task(name="summary", retries=1', '@task(name="summary", retries=2')
        msg = must_fail(lambda: check_structure(Module(text, "prefect"), path, env), "wrong retries")
        assert "retries" in msg, msg

    tests = [unlisted_keyword, unlisted_import, missing_edge, wrong_retries]
    for t in tests:
        t.__name__ = "checks-refuse:" + t.__name__
    return tests


def make_hostile_tests(env):
    """tests/interop/export_hostile.yaml: quotes, triple quotes, backslashes, controls, Jinja and
    shell syntax, invisible and bidirectional characters. Each export compiles, and each argv
    read back from the AST is the YAML's, character for character."""
    path = os.path.join(HERE, "export_hostile.yaml")
    spec = spec_of(path)

    def argv_of(tree, fn):
        node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == fn)
        value = next(s.value for s in node.body if isinstance(s, ast.Assign)
                     and getattr(s.targets[0], "id", "") == "argv")
        return value.elts

    def one(target):
        def t():
            check(env, path, target)
            text = exported_text(env, path, target)
            tree = ast.parse(text)
            want = spec["tasks"][0]["run"]
            got = argv_of(tree, "t_t1")
            assert len(got) == len(want)
            for g, w in zip(got, want):
                if "${{" not in w:
                    assert ast.literal_eval(g) == w, f"{ast.unparse(g)} is not {w!r}"
            script = spec["tasks"][2]["script"]
            assert ast.literal_eval(argv_of(tree, "t_t_3")[-1]) == script
            assert "\u202e" not in text and "\ufeff" not in text, "invisible characters are escaped"
        t.__name__ = f"hostile:{target}"
        return t
    return [one("airflow"), one("prefect")]


def make_test(path, target, env):
    def t():
        check(env, path, target)
    t.__name__ = f"{target}:{os.path.relpath(path, REPO)}"
    return t


def main():
    env = Env()
    # The central pools examples/pools asks for, as its try-it.sh installs them.
    os.makedirs(env.state, exist_ok=True)
    pools = os.path.join(env.state, "pools.yaml")
    shutil.copy(os.path.join(REPO, "examples", "pools", "pools.yaml"), pools)
    os.chmod(pools, 0o644)
    files = example_pipelines(env)
    tests = [make_test(f, t, env) for f in files for t in ("airflow", "prefect")]
    tests += make_hostile_tests(env)
    tests += make_negative_tests(os.path.join(REPO, "examples", "ml-pipeline", "pipeline.yaml"), env)
    rc = run_e2e.run_suite(tests, "export-python")
    print(f"export-python counts: {len(files)} example pipelines, {COUNTS['files']} files compiled and "
          f"checked; {COUNTS['tasks']} tasks, {COUNTS['edges']} edges, {COUNTS['retries']} retries, "
          f"{COUNTS['finally']} finally, {COUNTS['foreach']} forEach; {COUNTS['imports']} imports and "
          f"{COUNTS['api_calls']} calls checked against tests/interop/api")
    return rc


if __name__ == "__main__":
    sys.exit(main())
