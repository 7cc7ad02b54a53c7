#!/usr/bin/env python3
"""End-to-end tests of issue 12, section 1: shared DAG templates (a Component with tasks:),
called like components, nested, under forEach, recursive under a when, with scoped finally
tasks, and the translated cases that lost something before (a multi-task loop, recursion, a
shared template, an exit handler that needs failure details).

Usage: templates.py SLUICE [--only SUBSTRING]
Uses run_e2e.py's helpers; prints one line per failure and ends with "e2e-templates: N passed,
M failed". The example pipelines need python3-sklearn (scripts/deps.sh test installs it).
"""
import json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env, pipeline  # noqa: E402

TESTS = []
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test(fn):
    TESTS.append(fn)
    return fn


def component(name, spec, version="1.0.0"):
    return f"apiVersion: sluice/v1\nkind: Component\nmetadata: {{name: {name}, version: {version}}}\nspec:\n{spec}"


# A template of three tasks: a → b, a → c; c reads b's output too; its output is c's.
ABC = component("abc", """  params:
    - {name: x, type: int, required: true}
  tasks:
    - name: a
      run: [sh, -c, 'echo $(( $0 * 10 ))', "${{ params.x }}"]
      outputs: {params: [{name: v, from: {stdout: text}}]}
    - name: b
      run: [sh, -c, 'echo $(( $0 + 1 ))', "${{ tasks.a.outputs.params.v }}"]
      outputs: {params: [{name: v, from: {stdout: text}}]}
    - name: c
      run: [sh, -c, 'echo "$0-$1"', "${{ tasks.a.outputs.params.v }}", "${{ tasks.b.outputs.params.v }}"]
      outputs: {params: [{name: v, from: {stdout: text}}]}
  outputs:
    params:
      - {name: result, value: "${{ tasks.c.outputs.params.v }}"}
""")


def run_ok(e, *args):
    p = e.sluice("run", *args, check=0, timeout=120)
    return p.stdout.splitlines()[0], p


@test
def a_template_call_runs_its_tasks_named_after_the_call_and_passes_outputs():
    e = Env()
    e.write("lib.yaml", ABC)
    e.write("p.yaml", pipeline("""
    - name: one
      uses: abc@1
      with: {x: 4}
    - name: after
      run: [sh, -c, 'echo "got $0"', "${{ tasks.one.outputs.params.result }}"]
      outputs: {params: [{name: got, from: {stdout: text}}]}
""", "  imports: [lib.yaml]\n"))
    run, _ = run_ok(e, "p.yaml")
    t = e.tasks(run)
    for name in ("one", "one.a", "one.b", "one.c", "after"):
        assert t[name]["state"] == "succeeded", (name, t.get(name))
    assert t["after"]["outputs"]["params"]["got"] == "got 40-41", t["after"]
    events = e.sluice("events", run, check=0).stdout
    assert re.search(r"attempt\.started\s+one\.b\b", events), events
    e.sluice("logs", run, "one.c", check=0)
    dot = e.sluice("graph", run, "--format", "dot", check=0).stdout
    assert 'label="template abc@1.0.0"' in dot and 'label="one.b' in dot, dot
    status = e.sluice("status", run, check=0).stdout
    assert re.search(r"^one\.a\s+succeeded", status, re.M), status


@test
def foreach_over_a_template_loops_over_several_tasks():
    e = Env()
    e.write("lib.yaml", ABC)
    e.write("p.yaml", pipeline("""
    - name: loop
      forEach: [1, 2, 3]
      uses: abc@1
      with: {x: "${{ item }}"}
    - name: all
      run: [echo, "${{ tasks.loop.outputs.params.result }}"]
      outputs: {params: [{name: all, from: {stdout: text}}]}
""", "  imports: [lib.yaml]\n"))
    run, _ = run_ok(e, "p.yaml")
    t = e.tasks(run)
    for k in range(3):
        for inner in ("a", "b", "c"):
            assert t[f"loop[{k}].{inner}"]["state"] == "succeeded", t.get(f"loop[{k}].{inner}")
    assert json.loads(t["all"]["outputs"]["params"]["all"]) == ["10-11", "20-21", "30-31"], t["all"]


@test
def templates_nest_and_a_loop_inside_a_template_under_a_loop_nests_loops():
    e = Env()
    e.write("lib.yaml", component("inner", """  params: [{name: n, type: int, required: true}]
  tasks:
    - name: each
      forEach: [1, 2]
      run: [sh, -c, 'echo $(( $0 * $1 ))', "${{ params.n }}", "${{ item }}"]
      outputs: {params: [{name: p, from: {stdout: text}}]}
  outputs:
    params: [{name: products, value: "${{ tasks.each.outputs.params.p }}"}]
""") + "---\n" + component("outer", """  params: [{name: n, type: int, required: true}]
  tasks:
    - name: mid
      uses: inner@1
      with: {n: "${{ params.n }}"}
  outputs:
    params: [{name: products, value: "${{ tasks.mid.outputs.params.products }}"}]
"""))
    e.write("p.yaml", pipeline("""
    - name: top
      forEach: [3, 5]
      uses: outer@1
      with: {n: "${{ item }}"}
""", "  imports: [lib.yaml]\n"))
    run, _ = run_ok(e, "p.yaml")
    t = e.tasks(run)
    assert t["top[1].mid.each[1]"]["outputs"]["params"]["p"] == "10", t.get("top[1].mid.each[1]")
    prods = t["top"]["outputs"]["params"]["products"]
    assert prods == [["3", "6"], ["5", "10"]], prods


COIN = component("flip", """  params: [{name: depth, type: int, default: 0}]
  tasks:
    - name: coin          # heads until the third flip, as a seeded coin would
      run: [sh, -c, 'if [ "$0" -lt 2 ]; then echo heads; else echo tails; fi', "${{ params.depth }}"]
      outputs: {params: [{name: side, from: {stdout: text}}]}
    - name: again
      when: "${{ tasks.coin.outputs.params.side == 'heads' }}"
      uses: flip@1
      with: {depth: "${{ params.depth + 1 }}"}
""")


@test
def a_template_calls_itself_under_a_when_until_the_base_case():
    # Argo's coinflip-recursive: flip until tails.
    e = Env()
    e.write("lib.yaml", COIN)
    e.write("p.yaml", pipeline("""
    - {name: game, uses: flip@1}
""", "  imports: [lib.yaml]\n"))
    run, _ = run_ok(e, "p.yaml")
    t = e.tasks(run)
    assert t["game.again.again.coin"]["outputs"]["params"]["side"] == "tails", t
    assert t["game.again.again.again"]["state"] == "skipped", t["game.again.again.again"]
    assert e.status(run)["status"] == "succeeded"


@test
def recursion_past_max_depth_fails_with_depth_limit():
    e = Env()
    e.write("lib.yaml", COIN.replace('-lt 2', '-lt 99'))
    e.write("p.yaml", pipeline("""
    - {name: game, uses: flip@1}
""", "  imports: [lib.yaml]\n  maxDepth: 3\n"))
    p = e.sluice("run", "p.yaml", check=1, timeout=120)
    run = p.stdout.splitlines()[0]
    t = e.tasks(run)
    deepest = t["game.again.again.again"]
    assert deepest["state"] == "failed" and "spec.maxDepth (3)" in deepest["message"], deepest
    assert t["game"]["state"] == "failed", t["game"]
    assert "maxDepth" in p.stderr, p.stderr


@test
def a_cycle_of_templates_without_when_is_a_validate_error():
    e = Env()
    e.write("lib.yaml", component("ping", """  tasks:
    - {name: p, uses: pong@1}
""") + "---\n" + component("pong", """  tasks:
    - {name: q, uses: ping@1}
"""))
    e.write("p.yaml", pipeline("    - {name: go, uses: ping@1}\n", "  imports: [lib.yaml]\n"))
    p = e.sluice("validate", "p.yaml", check=2)
    assert "cycle" in p.stderr and "ping@1.0.0 -> pong@1.0.0 -> ping@1.0.0" in p.stderr, p.stderr
    assert re.search(r"lib\.yaml:\d+:\d+", p.stderr), p.stderr


@test
def a_template_task_reading_a_pipeline_task_is_a_validate_error():
    e = Env()
    e.write("lib.yaml", component("t", """  tasks:
    - {name: x, run: [echo, "${{ tasks.outside.outputs.params.v }}"]}
"""))
    e.write("p.yaml", pipeline("""
    - {name: outside, run: [echo, 1], outputs: {params: [{name: v, from: {stdout: text}}]}}
    - {name: call, uses: t@1}
""", "  imports: [lib.yaml]\n"))
    p = e.sluice("validate", "p.yaml", check=2)
    assert "unknown task \"outside\"" in p.stderr and "pass what they need as params" in p.stderr, p.stderr


@test
def retrying_the_call_retries_the_template_as_a_group():
    # b fails on its first round; the call's retry runs a, b and c again; attempts go on.
    e = Env()
    e.write("lib.yaml", component("g", """  tasks:
    - {name: a, run: [sh, -c, 'echo a >> "$0/log"', "${{ params.dir }}"]}
    - {name: b, needs: [a], run: [sh, -c, 'echo b >> "$0/log"; test -e "$0/ok" || { touch "$0/ok"; exit 4; }', "${{ params.dir }}"]}
  params: [{name: dir, type: string, required: true}]
"""))
    e.write("p.yaml", pipeline(f"""
    - name: call
      uses: g@1
      retry: {{limit: 1, backoff: {{initial: 10ms}}}}
      with: {{dir: "{e.dir}"}}
""", "  imports: [lib.yaml]\n"))
    run, _ = run_ok(e, "p.yaml")
    assert open(os.path.join(e.dir, "log")).read().split() == ["a", "b", "a", "b"]
    t = e.tasks(run)
    assert t["call.b"]["state"] == "succeeded" and t["call.b"]["attempts"] == 2, t["call.b"]
    events = e.sluice("events", run, check=0).stdout
    assert re.search(r"retry\.scheduled\s+call\b", events), events


@test
def a_templates_finally_runs_when_it_ends_and_sees_the_failures_and_durations():
    # The exit handler that needs failure details (Argo's template-level onExit).
    e = Env()
    e.write("lib.yaml", component("work", """  tasks:
    - {name: ok, run: [true]}
    - {name: boom, run: [sh, -c, 'echo broke >&2; exit 7']}
  finally:
    - name: report
      run: [sh, -c, 'echo "$0|$1" > "$2/report"', "${{ scope.name }}", "${{ scope.failures.map(f, f.task + ':' + f['class'] + ':' + string(f.exitCode)) }}", "${{ params.dir }}"]
  params: [{name: dir, type: string, required: true}]
"""))
    e.write("p.yaml", pipeline(f"""
    - name: job
      uses: work@1
      with: {{dir: "{e.dir}"}}
    - name: later
      needs: [job]
      run: [true]
""", f"""  imports: [lib.yaml]
  finally:
    - name: run-report
      run: [sh, -c, 'echo "$0 $1" > "{e.dir}/run-report"', "${{{{ run.failures.size() }}}}", "${{{{ run.duration >= duration('0s') }}}}"]
"""))
    p = e.sluice("run", "p.yaml", check=1, timeout=120)
    run = p.stdout.splitlines()[0]
    t = e.tasks(run)
    assert t["job.report"]["state"] == "succeeded", t["job.report"]
    assert open(os.path.join(e.dir, "report")).read().strip() == 'job|["job.boom:exit:7"]'
    assert t["job"]["state"] == "failed" and "job.boom" in t["job"]["message"], t["job"]
    assert t["later"]["state"] == "upstream-failed", t["later"]
    assert open(os.path.join(e.dir, "run-report")).read().split() == ["1", "true"]


@test
def sluice_retry_runs_a_failed_call_again_with_new_names_for_its_tasks():
    e = Env()
    e.write("lib.yaml", component("g", """  params: [{name: dir, type: string, required: true}]
  tasks:
    - {name: a, run: [sh, -c, 'echo a >> "$0/log"', "${{ params.dir }}"]}
    - {name: b, needs: [a], run: [sh, -c, 'echo b >> "$0/log"; test -e "$0/fixed"', "${{ params.dir }}"]}
"""))
    e.write("p.yaml", pipeline(f"""
    - {{name: call, uses: g@1, with: {{dir: "{e.dir}"}}}}
    - {{name: other, run: [sh, -c, 'echo other >> "{e.dir}/log"']}}
""", "  imports: [lib.yaml]\n"))
    p = e.sluice("run", "p.yaml", check=1, timeout=120)
    run = p.stdout.splitlines()[0]
    r = e.sluice("retry", run, "call.b", check=2)
    assert 'runs inside call "call"' in r.stderr, r.stderr
    open(os.path.join(e.dir, "fixed"), "w").close()
    e.sluice("retry", run, check=0, timeout=120)
    t = e.tasks(run)
    assert t["call"]["state"] == "succeeded" and t["call.b"]["state"] == "succeeded", t
    assert t["call.b"]["attempts"] == 2, t["call.b"]
    log = open(os.path.join(e.dir, "log")).read().split()
    assert log.count("other") == 1 and log.count("b") == 2, log


@test
def the_example_template_runs_in_both_example_pipelines():
    e = Env()
    reg = os.path.join(e.dir, "registry")
    for name in ("retrain.yaml", "sweep.yaml"):
        path = os.path.join(REPO, "examples", "templates", name)
        e.sluice("validate", path, check=0)
        p = e.sluice("run", path, "-p", f"registry={reg}", check=0, timeout=300)
        run = p.stdout.splitlines()[0]
        t = e.tasks(run)
        if name == "retrain.yaml":
            assert t["retrain.register"]["state"] == "succeeded", t["retrain.register"]
            assert t["retrain.summary"]["state"] == "succeeded"
        else:
            assert t["sweep[2].evaluate"]["state"] in ("succeeded", "cached"), t["sweep[2].evaluate"]
    assert sorted(os.listdir(reg)) == ["wine", "wine-c0.01", "wine-c0.1", "wine-c1.0"] or \
        "wine" in os.listdir(reg), os.listdir(reg)


if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    sys.exit(run_e2e.run_suite([t for t in TESTS if only in t.__name__], "e2e-templates"))
