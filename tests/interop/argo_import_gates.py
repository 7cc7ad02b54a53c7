#!/usr/bin/env python3
"""Argo's limits and gates, imported (issue 16, docs/interop.md): parallelism of the workflow and
of a template, globalName and workflow.outputs.parameters, a suspend without a duration (an
approval), lifecycle hooks (the workflow's exit hook, a step's hooks with an expression), and the
workflow's synchronization (a lock the whole run holds).
Each test checks values: the timestamps the steps print, what later steps read, what ran.

Usage: argo_import_gates.py SLUICE [--only SUBSTRING]
Ends with "e2e-argo-import-gates: N passed, M failed".
"""
import os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import run_e2e  # noqa: E402
from run_e2e import Env  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def max_at_once(spans):
    """How many of the [start, end] spans (ns) overlap at most."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, d in events:
        now += d
        most = max(most, now)
    return most


PARALLELISM = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: parallelism}
spec:
  entrypoint: main
  parallelism: 2
  templates:
  - name: main
    steps:
    - - {name: wide, template: work, withItems: [1, 2, 3, 4, 5]}
    - - {name: loop, template: one-at-a-time}
    - - {name: pair, template: pair}
  - name: one-at-a-time
    parallelism: 1
    steps:
    - - {name: item, template: work, withItems: [1, 2, 3]}
  - name: pair
    parallelism: 1
    dag:
      tasks:
      - {name: x, template: work}
      - {name: y, template: work}
  - name: work
    container: {image: busybox, command: [sh, -c, "date +%s%N; sleep 0.3; date +%s%N"]}
"""


@test
def parallelism_bounds_the_workflows_pods_and_a_templates_children():
    e = Env()
    wf = e.write("wf.yaml", PARALLELISM)
    text = e.sluice("import", "argo", wf, check=0).stdout
    assert "pools: {argo-parallelism: 2, argo-parallelism-pair: 1}" in text, text
    assert "forEach: [1,2,3]\n      parallelism: 1" in text, text
    # -j 8 would run all five items at once: only the limits keep them apart.
    run = e.sluice("run", wf, "-j", "8", check=0).stdout.splitlines()[0]
    t = e.tasks(run)
    assert e.status(run)["status"] == "succeeded", t

    def spans(names):
        return [[int(x) for x in e.sluice("logs", run, n, check=0).stdout.split()] for n in names]
    wide = spans([f"main.wide[{i}]" for i in range(5)])
    assert max_at_once(wide) <= 2, f"more than 2 pods at once: {sorted(wide)}"
    items = spans([f"main.loop.item[{i}]" for i in range(3)])
    assert max_at_once(items) == 1, f"the loop's items overlapped: {sorted(items)}"
    pair = spans(["main.pair.x", "main.pair.y"])
    assert max_at_once(pair) == 1, f"the dag's tasks overlapped: {sorted(pair)}"
    # A limit over steps that run at once, one of them a steps template: no pool can hold it.
    bad = e.write("bad.yaml", PARALLELISM.replace("{name: y, template: work}", "{name: y, template: one-at-a-time}"))
    p = e.sluice("validate", bad)
    assert p.returncode == 2 and p.stderr.strip() == (
        f"{bad}:22:9: parallelism of template \"pair\" is not imported yet here: \"y\" calls the "
        "steps or dag template \"one-at-a-time\" beside other steps, and Sluice limits tasks that "
        "run at once through a pool, which such a call cannot hold"), p.stderr
    bad = e.write("bad2.yaml", PARALLELISM.replace("parallelism: 2", "parallelism: 0"))
    p = e.sluice("validate", bad)
    assert p.returncode == 2 and "parallelism must be a whole number from 1 to 100000" in p.stderr, p.stderr


GLOBAL_OUTPUTS = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: global-outputs}
spec:
  entrypoint: main
  onExit: report
  templates:
  - name: main
    dag:
      tasks:
      - {name: build, template: build}
      - {name: use, template: use, depends: build}
  - name: build
    steps:
    - - {name: make, template: make}
  - name: make
    container: {image: busybox, command: [sh, -c, "echo v42 > /tmp/v"]}
    outputs:
      parameters:
      - {name: v, globalName: version, valueFrom: {path: /tmp/v}}
  - name: use
    container: {image: busybox, command: [echo, "use {{workflow.outputs.parameters.version}}"]}
  - name: report
    container: {image: busybox, command: [echo, "{{workflow.status}} with {{workflow.outputs.parameters.version}}"]}
"""


@test
def a_global_output_reaches_later_steps_and_the_exit_handler():
    e = Env()
    wf = e.write("wf.yaml", GLOBAL_OUTPUTS)
    run = e.sluice("run", wf, check=0).stdout.splitlines()[0]
    t = e.tasks(run)
    # The entrypoint's task carries it up: what Argo shows as the workflow's outputs.
    assert t["main"]["outputs"]["params"] == {"argo-output-version": "v42"}, t["main"]
    assert e.sluice("logs", run, "main.use", check=0).stdout.strip() == "use v42"
    assert e.sluice("logs", run, "report", check=0).stdout.strip() == "Succeeded with v42"
    p = e.sluice("validate", wf)
    assert "warning: the exit handler reads global output version from the entrypoint's outputs: " \
           "when the workflow fails, it is skipped" in p.stderr, p.stderr
    bad = e.write("bad.yaml", GLOBAL_OUTPUTS.replace("use {{workflow.outputs.parameters.version}}",
                                                     "use {{workflow.outputs.parameters.versoin}}"))
    p = e.sluice("validate", bad)
    assert p.returncode == 2 and p.stderr.strip() == (
        f"{bad}:22:49: {{{{workflow.outputs.parameters.versoin}}}} names no output parameter "
        "with globalName versoin"), p.stderr


SUSPEND = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: approve}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: build, template: say}
    - - {name: wait, template: wait}
    - - {name: deploy, template: say}
  - name: wait
    suspend: {}
  - name: say
    container: {image: busybox, command: [echo, done]}
"""


@test
def a_suspend_without_a_duration_waits_for_an_approval():
    e = Env()
    wf = e.write("wf.yaml", SUSPEND)
    text = e.sluice("import", "argo", wf, "--approvers", "carol,group:release", check=0).stdout
    assert 'approval: {approvers: [carol, "group:release"], forbidSelfApproval: false}' in text, text
    # By default whoever submits the run approves it, as Argo lets the submitter resume.
    proc, run = e.start("run", wf)
    e.wait_for(lambda: any(a["task"] == "main.wait" for a in e.awaiting()), "the approval request")
    assert e.tasks(run).get("main.deploy", {}).get("state") in (None, "pending", "waiting"), e.tasks(run)
    e.sluice("approve", run, "main.wait", check=0)
    assert proc.wait(timeout=60) == 0
    t = e.tasks(run)
    assert t["main.wait"]["state"] == "succeeded" and t["main.deploy"]["state"] == "succeeded", t
    # Named approvers: anyone else is refused, and the run goes on waiting.
    proc, run = e.start("run", wf, "--approvers", "carol")
    e.wait_for(lambda: any(a["run"] == run for a in e.awaiting()), "the second approval request")
    p = e.sluice("approve", run, "main.wait")
    assert p.returncode == 2 and "may not approve main.wait: its approvers are carol" in p.stderr, p.stderr
    e.sluice("cancel", run, check=0)
    proc.wait(timeout=60)


HOOKS = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: hooks}
spec:
  entrypoint: main
  hooks:
    exit: {template: say, arguments: {}}
  templates:
  - name: main
    steps:
    - - name: ok
        template: say
        hooks:
          done: {template: say, expression: 'steps["ok"].status == "Succeeded"'}
          failed: {template: say, expression: "steps.ok.status == 'Failed' || steps.ok.status == 'Error'"}
    - - name: bad
        template: fail
        continueOn: {failed: true}
        hooks:
          failed: {template: say, expression: 'steps.bad.status != "Succeeded"'}
  - name: say
    container: {image: busybox, command: [echo, hi]}
  - name: fail
    container: {image: busybox, command: [sh, -c, "exit 1"]}
"""


@test
def hooks_run_when_their_expression_holds_and_the_workflows_exit_hook_last():
    e = Env()
    wf = e.write("wf.yaml", HOOKS.replace(", arguments: {}", ""))
    p = e.sluice("run", wf, check=0)
    run = p.stdout.splitlines()[0]
    st = e.status(run)
    assert st["status"] == "succeeded", st
    t = {x["name"]: x["state"] for x in st["tasks"]}
    assert t["main.ok.hooks.done"] == "succeeded" and t["main.ok.hooks.failed"] == "skipped", t
    assert t["main.bad"] == "failed" and t["main.bad.hooks.failed"] == "succeeded", t
    # hooks.exit is the workflow's exit handler: it ran once everything else had ended.
    ended = {x["name"]: x.get("ended", "") for x in st["tasks"]}
    started = {x["name"]: x.get("started", "") for x in st["tasks"]}
    assert started["say"] and all(started["say"] >= v for n, v in ended.items() if n != "say" and v), (started, ended)
    # What cannot be read once a step has ended is named, not guessed.
    bad = e.write("bad.yaml", HOOKS.replace(", arguments: {}", "").replace('status == "Succeeded"\'}', 'status == "Running"\'}'))
    p = e.sluice("validate", bad)
    assert p.returncode == 2 and "phase \"Running\" (a hook here starts once its step has ended" in p.stderr, p.stderr
    bad = e.write("bad2.yaml", HOOKS)
    p = e.sluice("validate", bad)
    assert p.returncode == 2 and p.stderr.strip().startswith(f"{bad}:7:27: arguments is not imported yet"), p.stderr


WORKFLOW_HOOKS = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: workflow-hooks}
spec:
  entrypoint: main
  hooks:
    running: {template: say, expression: workflow.status == "Running"}
    ok: {template: say, expression: "workflow.status == 'Succeeded'"}
    bad: {template: say, expression: 'workflow.status != "Succeeded" && !(workflow.status == "Succeeded")'}
  templates:
  - name: main
    container: {image: busybox, command: [sh, -c, "exit 2"]}
  - name: say
    container: {image: busybox, command: [echo, hi]}
"""


@test
def workflow_hooks_run_at_the_start_or_by_the_outcome():
    e = Env()
    wf = e.write("wf.yaml", WORKFLOW_HOOKS)
    run = e.sluice("run", wf, check=1).stdout.splitlines()[0]
    t = e.tasks(run)
    assert t["main"]["state"] == "failed", t["main"]
    # Running holds at the start: a task beside the entrypoint's, not an exit handler.
    assert t["hooks.running"]["state"] == "succeeded", t["hooks.running"]
    assert t["hooks.bad"]["state"] == "succeeded" and t["hooks.ok"]["state"] == "skipped", t
    ok = e.write("ok.yaml", WORKFLOW_HOOKS.replace('"exit 2"', '"exit 0"'))
    t = e.tasks(e.sluice("run", ok, check=0).stdout.splitlines()[0])
    assert t["hooks.ok"]["state"] == "succeeded" and t["hooks.bad"]["state"] == "skipped", t
    bad = e.write("bad.yaml", WORKFLOW_HOOKS.replace("workflow.status == 'Succeeded'", "workflow.status == 'Error'"))
    p = e.sluice("validate", bad)
    assert p.returncode == 2 and p.stderr.strip() == (
        f"{bad}:8:37: hook expression \"workflow.status == 'Error'\" is not imported: phase \"Error\" "
        "(imported: == \"Running\" alone, which holds at the start, and Succeeded or Failed, which "
        "hold at the end) (column 1)"), p.stderr


WORKFLOW_SYNC = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: locked}
spec:
  entrypoint: main
  synchronization:
    mutexes: [{name: deploy-prod}]
    semaphores: [{configMapKeyRef: {name: my-config, key: workflow}}]
  templates:
  - name: main
    steps:
    - - {name: a, template: work}
    - - {name: b, template: work}
  - name: work
    container: {image: busybox, command: [sh, -c, "echo $SLUICE_RUN_ID $(date +%s%N); sleep 0.3; echo $SLUICE_RUN_ID $(date +%s%N)"]}
"""


@test
def a_workflow_level_lock_is_held_by_the_whole_run():
    e = Env()
    wf = e.write("wf.yaml", WORKFLOW_SYNC)
    out = os.path.join(e.dir, "out.yaml")
    e.sluice("import", "argo", wf, "-o", out, check=0)
    text = open(out).read()
    assert "\n  resources: {deploy-prod: 1, workflow: 1}  # Argo's workflow-level" in text, text
    # Undeclared: refused at the place the imported pipeline asks for it.
    p = e.sluice("run", wf)
    assert p.returncode == 2 and "spec.resources asks for pool \"deploy-prod\"" in p.stderr, p.stderr
    os.makedirs(e.state, exist_ok=True)
    os.chmod(e.write("state/pools.yaml", "apiVersion: sluice/v1\nkind: Pools\nmetadata: {name: t}\n"
                     "spec:\n  pools:\n    - {name: workflow, capacity: 2}\n"
                     "  mutexes:\n    - {name: deploy-prod}\n"), 0o644)
    (p1, r1), (p2, r2) = e.start("run", wf), e.start("run", wf)
    assert p1.wait(timeout=60) == 0 and p2.wait(timeout=60) == 0
    # Each step printed its run and two times: one run's steps all precede the other's.
    stamps = []
    for run in (r1, r2):
        assert e.status(run)["status"] == "succeeded"
        for step in ("main.a", "main.b"):
            for line in e.sluice("logs", run, step, check=0).stdout.split("\n"):
                if line.strip():
                    who, t = line.split()
                    assert who == run, (who, run)
                    stamps.append((int(t), run))
    order = [run for _, run in sorted(stamps)]
    assert order in ([r1] * 4 + [r2] * 4, [r2] * 4 + [r1] * 4), order
    # A steps template's own synchronization is still refused, with its reason.
    steps = WORKFLOW_SYNC.replace("  - name: main\n", "  - name: main\n    synchronization: "
                                  "{mutexes: [{name: deploy-prod}]}\n")
    p = e.sluice("validate", e.write("steps.yaml", steps))
    assert p.returncode == 2 and "synchronization is not imported yet: on a steps, dag" in p.stderr, p.stderr


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "e2e-argo-import-gates"))
