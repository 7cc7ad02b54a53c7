#!/usr/bin/env python3
"""`sluice export --to argo` and `--to kfp` on every example pipeline (issue 16,
docs/interop.md).

Usage: export_argo_kfp.py SLUICE [--only SUBSTRING]

Every file under examples/ that `sluice validate` accepts is exported to both targets:
- Argo: the Workflow validates against Argo's JSON schema ($SLUICE_ARGO_SCHEMA, default
  ../shared/interop/argo/schema.json next to the repository; absent = the suite fails), with
  Debian's python3-jsonschema (Draft 2020-12, the Workflow definition), and its DAG has the
  pipeline's tasks and edges (`sluice graph --format dot`): main tasks in the entrypoint's dag,
  finally tasks in the onExit dag; the WorkflowTemplate form validates too;
- KFP: every componentRef and executorLabel resolves, every dependentTasks entry is a sibling,
  every parameterType is KFP's, and the tasks and edges, with loops and the exit handler
  unwrapped, are the pipeline's.
The examples under examples/interop/ mirror KFP's compiled goldens ($SLUICE_KFP_GOLDENS,
default ../shared/interop/kfp): their export is compared with the golden field by field.
Ends with "export-argo-kfp: N passed, M failed".
"""
import json, os, re, shutil, subprocess, sys, tempfile, traceback

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(REPO, "..", "shared", "interop")
SCHEMA = os.environ.get("SLUICE_ARGO_SCHEMA") or os.path.join(SHARED, "argo", "schema.json")
GOLDENS = os.environ.get("SLUICE_KFP_GOLDENS") or os.path.join(SHARED, "kfp")
SLUICE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(REPO, "build", "sluice")
WORK = tempfile.mkdtemp(prefix="sluice-export-")
KFP_TYPES = {"STRING", "NUMBER_INTEGER", "NUMBER_DOUBLE", "BOOLEAN", "LIST", "STRUCT"}
counts = {"pipelines": 0, "argo": 0, "kfp": 0, "golden_fields": 0, "not_expressed": 0}


def sluice(*args):
    env = dict(os.environ, SLUICE_HOME=os.path.join(WORK, "state"))
    return subprocess.run([SLUICE, *args], capture_output=True, text=True, env=env, timeout=60)


def target_name(base):
    """export_common.cc's TargetName: lower-case letters, digits and '-'."""
    out = ""
    for c in base:
        if c.isascii() and c.isalnum():
            out += c.lower()
        elif out and out[-1] != "-":
            out += "-"
    out = out.rstrip("-")
    if not out or not out[0].isalpha():
        out = "t-" + out
    return out[:56].rstrip("-")


def sluice_dag(path):
    """The pipeline's tasks (names, in plan order) and edges, from `sluice graph`."""
    p = sluice("graph", path, "--format", "dot")
    assert p.returncode == 0, p.stderr
    names = {m[0]: m[1] for m in re.findall(r'^\s+(n\d+) \[label="([^"]*)"\];', p.stdout, re.M)}
    edges = {(names[a], names[b]) for a, b in re.findall(r"^\s+(n\d+) -> (n\d+);", p.stdout, re.M)}
    return list(names.values()), edges


def export(path, target, *extra):
    out = os.path.join(WORK, target + "-" + re.sub(r"\W", "_", os.path.relpath(path, REPO)))
    p = sluice("export", "--to", target, path, "-o", out, *extra)
    assert p.returncode == 0, f"{path}: exit {p.returncode}\n{p.stderr}"
    files = os.listdir(out)
    assert len(files) == 1, files
    text = open(os.path.join(out, files[0])).read()
    warnings = [l for l in p.stderr.splitlines() if l.startswith("sluice: warning: not expressed")]
    listed = [l for l in text.splitlines() if l.startswith("#   - ")]
    assert len(warnings) == len(listed), f"stderr lists {len(warnings)}, header {len(listed)}"
    counts["not_expressed"] += len(listed)
    return yaml.safe_load(text), text


# --------------------------------------------------------------------------------- Argo

_validator = None


def argo_validator():
    global _validator
    if _validator is None:
        schema = json.load(open(SCHEMA))
        root = {"$schema": schema.get("$schema"), "definitions": schema["definitions"],
                "oneOf": [{"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Workflow"},
                          {"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.WorkflowTemplate"}]}
        _validator = jsonschema.Draft202012Validator(root)
    return _validator


def check_schema(doc, what):
    errors = sorted(argo_validator().iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{what}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5])


def check_argo(path):
    doc, text = export(path, "argo")
    assert text.startswith("# Exported by sluice from pipeline "), text[:200]
    check_schema(doc, path)
    names, edges = sluice_dag(path)
    spec = doc["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    assert len(templates) == len(spec["templates"]), "template names are not unique"
    main = templates[spec["entrypoint"]]["dag"]["tasks"]
    exit_tasks = templates[spec["onExit"]]["dag"]["tasks"] if "onExit" in spec else []
    got = [t["name"] for t in main] + [t["name"] for t in exit_tasks]
    assert got == [target_name(n) for n in names], (got, names)
    main_names = {t["name"] for t in main}
    want = {(target_name(a), target_name(b)) for a, b in edges
            if (target_name(a) in main_names) == (target_name(b) in main_names)}
    have = {(d, t["name"]) for t in main + exit_tasks for d in t.get("dependencies", [])}
    assert have == want, (sorted(have), sorted(want))
    for t in main + exit_tasks:  # every task calls a template of the document
        assert t["template"] in templates, t
    template_doc, _ = export(path, "argo", "--workflow-template")
    assert template_doc["kind"] == "WorkflowTemplate"
    check_schema(template_doc, path + " (WorkflowTemplate)")
    counts["argo"] += 1


# --------------------------------------------------------------------------------- KFP

def unwrap(doc, tasks):
    """The tasks of a DAG with KFP's wrappers (for-loop-N, exit-handler-1) opened: name ->
    (task, dependentTasks with wrappers replaced by what they hold)."""
    out, held = {}, {}
    for name, t in tasks.items():
        if re.fullmatch(r"for-loop-\d+|exit-handler-\d+", name):
            inner = unwrap(doc, doc["components"][t["componentRef"]["name"]]["dag"]["tasks"])
            held[name] = list(inner)
            for n, (it, deps) in inner.items():
                out[n] = (it, deps + t.get("dependentTasks", []))
        else:
            out[name] = (t, list(t.get("dependentTasks", [])))
    for n, (t, deps) in out.items():
        expanded = []
        for d in deps:
            expanded += held.get(d, [d])
        out[n] = (t, expanded)
    return out


def check_kfp_refs(doc):
    comps, execs = doc["components"], doc["deploymentSpec"]["executors"]
    for name, c in comps.items():
        assert ("executorLabel" in c) != ("dag" in c), name
        if "executorLabel" in c:
            assert c["executorLabel"] in execs, name
            assert execs[c["executorLabel"]]["container"]["image"], name
        for d in ("inputDefinitions", "outputDefinitions"):
            for p in c.get(d, {}).get("parameters", {}).values():
                assert p["parameterType"] in KFP_TYPES, (name, p)
            for a in c.get(d, {}).get("artifacts", {}).values():
                assert a["artifactType"]["schemaTitle"].startswith("system."), (name, a)
    dags = [doc["root"]["dag"]] + [c["dag"] for c in comps.values() if "dag" in c]
    for dag in dags:
        for name, t in dag["tasks"].items():
            assert t["componentRef"]["name"] in comps, name
            for d in t.get("dependentTasks", []):
                assert d in dag["tasks"], (name, d)


def check_kfp(path):
    doc, _ = export(path, "kfp")
    assert doc["schemaVersion"] == "2.1.0" and doc["sdkVersion"].startswith("kfp-")
    check_kfp_refs(doc)
    names, edges = sluice_dag(path)
    tasks = unwrap(doc, doc["root"]["dag"]["tasks"])
    assert sorted(tasks) == sorted(target_name(n) for n in names), (sorted(tasks), names)
    finals = {n for n, (t, _) in tasks.items()
              if t.get("triggerPolicy", {}).get("strategy") == "ALL_UPSTREAM_TASKS_COMPLETED"}
    want = {(target_name(a), target_name(b)) for a, b in edges
            if (target_name(a) in finals) == (target_name(b) in finals)}
    # A finally task depends on the exit handler, opened here into every main task: those
    # edges are the exit handler's, not the pipeline's.
    have = {(d, n) for n, (t, deps) in tasks.items() for d in deps
            if d in tasks and (d in finals) == (n in finals)}
    assert have == want, (sorted(have), sorted(want))
    counts["kfp"] += 1


# --------------------------------------------------------------------------------- goldens

def golden(name):
    return yaml.safe_load(open(os.path.join(GOLDENS, name)))


def same(what, ours, theirs):
    assert ours == theirs, f"{what}: ours {ours!r}, golden {theirs!r}"
    counts["golden_fields"] += 1


def param_types(c, d):
    return {k: v["parameterType"] for k, v in c.get(d, {}).get("parameters", {}).items()}


def artifact_names(c, d):
    return sorted(c.get(d, {}).get("artifacts", {}))


def compare_components(ours, theirs, names):
    for n in names:
        a, b = ours["components"][n], theirs["components"][n]
        for d in ("inputDefinitions", "outputDefinitions"):
            same(f"{n}.{d} parameters", param_types(a, d), param_types(b, d))
            same(f"{n}.{d} artifacts", artifact_names(a, d), artifact_names(b, d))
        same(f"{n}.executorLabel", a.get("executorLabel"), b.get("executorLabel"))


def compare_dag_tasks(ours, theirs, what):
    same(f"{what} task names", sorted(ours), sorted(theirs))
    for n in theirs:
        a, b = ours[n], theirs[n]
        same(f"{what}.{n}.componentRef", a["componentRef"], b["componentRef"])
        same(f"{what}.{n}.dependentTasks", sorted(a.get("dependentTasks", [])),
             sorted(b.get("dependentTasks", [])))
        same(f"{what}.{n}.cachingOptions", a.get("cachingOptions"), b.get("cachingOptions"))
        same(f"{what}.{n}.triggerPolicy", a.get("triggerPolicy"), b.get("triggerPolicy"))
        for kind in ("parameters", "artifacts"):
            same(f"{what}.{n}.inputs.{kind}", a.get("inputs", {}).get(kind),
                 b.get("inputs", {}).get(kind))


def golden_hello_world():
    ours, _ = export(os.path.join(REPO, "examples/interop/hello-world.yaml"), "kfp")
    theirs = golden("hello_world.yaml")
    same("components", sorted(ours["components"]), sorted(theirs["components"]))
    compare_components(ours, theirs, theirs["components"])
    same("executors", ours["deploymentSpec"], theirs["deploymentSpec"])
    same("pipelineInfo", ours["pipelineInfo"], theirs["pipelineInfo"])
    compare_dag_tasks(ours["root"]["dag"]["tasks"], theirs["root"]["dag"]["tasks"], "root")
    same("schemaVersion", ours["schemaVersion"], theirs["schemaVersion"])


def golden_sequential():
    ours, _ = export(os.path.join(REPO, "examples/interop/sequential.yaml"), "kfp")
    theirs = golden("sequential_v2.yaml")
    same("components", sorted(ours["components"]), sorted(theirs["components"]))
    compare_components(ours, theirs, theirs["components"])
    ex_a, ex_b = ours["deploymentSpec"]["executors"], theirs["deploymentSpec"]["executors"]
    same("executors", sorted(ex_a), sorted(ex_b))
    for n in ex_b:
        same(f"{n}.image", ex_a[n]["container"]["image"], ex_b[n]["container"]["image"])
    compare_dag_tasks(ours["root"]["dag"]["tasks"], theirs["root"]["dag"]["tasks"], "root")
    same("root inputs", param_types(ours["root"], "inputDefinitions"),
         param_types(theirs["root"], "inputDefinitions"))


def golden_exit_handler():
    ours, _ = export(os.path.join(REPO, "examples/interop/exit-handler.yaml"), "kfp")
    theirs = golden("pipeline_as_exit_task.yaml")
    a, b = ours["root"]["dag"]["tasks"], theirs["root"]["dag"]["tasks"]
    same("root task names", sorted(a), sorted(b))
    for field in ("componentRef", "inputs"):  # its taskInfo is the ExitHandler's own name=
        same(f"exit-handler-1.{field}", a["exit-handler-1"].get(field), b["exit-handler-1"].get(field))
    exit_a, exit_b = a["conditional-notification"], b["conditional-notification"]
    same("exit task dependentTasks", exit_a["dependentTasks"], exit_b["dependentTasks"])
    same("exit task triggerPolicy", exit_a["triggerPolicy"], exit_b["triggerPolicy"])
    handler_a = ours["components"]["comp-exit-handler-1"]
    handler_b = theirs["components"]["comp-exit-handler-1"]
    same("exit handler inputs", param_types(handler_a, "inputDefinitions"),
         param_types(handler_b, "inputDefinitions"))
    compare_dag_tasks(handler_a["dag"]["tasks"], handler_b["dag"]["tasks"], "exit-handler-1")
    compare_components(ours, theirs, ["comp-print-op", "comp-fail-op"])
    same("root inputs", ours["root"]["inputDefinitions"], theirs["root"]["inputDefinitions"])


def golden_loops_after():
    ours, _ = export(os.path.join(REPO, "examples/interop/loops-after.yaml"), "kfp")
    theirs = golden("cross_loop_after_topology.yaml")
    a, b = ours["root"]["dag"]["tasks"], theirs["root"]["dag"]["tasks"]
    for loop in ("for-loop-2", "for-loop-4"):
        for field in ("componentRef", "dependentTasks", "taskInfo"):
            same(f"{loop}.{field}", a[loop].get(field), b[loop].get(field))
        same(f"{loop}.itemInput", a[loop]["parameterIterator"]["itemInput"],
             b[loop]["parameterIterator"]["itemInput"])
        same(f"{loop}.items", json.loads(a[loop]["parameterIterator"]["items"]["raw"]),
             json.loads(b[loop]["parameterIterator"]["items"]["raw"]))
        comp = "comp-" + loop
        same(f"{comp} inputs", param_types(ours["components"][comp], "inputDefinitions"),
             param_types(theirs["components"][comp], "inputDefinitions"))
        compare_dag_tasks(ours["components"][comp]["dag"]["tasks"],
                          theirs["components"][comp]["dag"]["tasks"], comp)
    compare_components(ours, theirs, ["comp-print-op", "comp-print-op-2"])


# --------------------------------------------------------------------------------- the CLI

def cli_behaviour():
    path = os.path.join(REPO, "examples/interop/hello-world.yaml")
    p = sluice("export", "--to", "kfp", path)
    assert p.returncode == 0 and p.stdout.startswith("# Exported by sluice"), p.stderr
    p = sluice("export", "--to", "airflo", path)
    assert p.returncode == 2 and "--to: airflo not in {argo,kfp,airflow,prefect}" in p.stderr, (p.returncode, p.stderr)
    bad = os.path.join(WORK, "bad.yaml")
    open(bad, "w").write("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: b}\nspec:\n"
                         "  tasks:\n    - {name: a, run: [x], needs: [nope]}\n")
    out = os.path.join(WORK, "bad-out")
    p = sluice("export", "--to", "argo", bad, "-o", out)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert re.match(re.escape(bad) + r":\d+:\d+: ", p.stderr), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not os.path.exists(out) or not os.listdir(out), "a failed export wrote files"


def main():
    if not os.path.exists(SCHEMA) or not os.path.isdir(GOLDENS):
        print(f"ARGO SCHEMA ({SCHEMA}) OR KFP GOLDENS ({GOLDENS}) NOT FOUND: set "
              "SLUICE_ARGO_SCHEMA and SLUICE_KFP_GOLDENS. Nothing was tested.")
        print("export-argo-kfp: 0 passed, 1 failed")
        return 1
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(REPO, "examples"))
                   for f in fs if f.endswith(".yaml"))
    tests = []
    for f in files:
        if sluice("validate", f).returncode != 0:
            continue  # components, policies, schedules...: not pipelines
        counts["pipelines"] += 1
        rel = os.path.relpath(f, REPO)
        tests.append((f"argo {rel}", lambda f=f: check_argo(f)))
        tests.append((f"kfp {rel}", lambda f=f: check_kfp(f)))
    tests += [("golden hello_world", golden_hello_world), ("golden sequential_v2", golden_sequential),
              ("golden pipeline_as_exit_task", golden_exit_handler),
              ("golden cross_loop_after_topology", golden_loops_after),
              ("cli behaviour", cli_behaviour)]
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    passed = failed = 0
    for name, fn in tests:
        if only not in name:
            continue
        try:
            fn()
            passed += 1
        except Exception:
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}")
    print(f"{counts['pipelines']} example pipelines: {counts['argo']} exported to Argo (schema-valid, "
          f"DAG equal), {counts['kfp']} to KFP (DAG equal); {counts['golden_fields']} golden fields "
          f"compared; {counts['not_expressed']} not-expressed lines listed")
    print(f"export-argo-kfp: {passed} passed, {failed} failed")
    shutil.rmtree(WORK, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
