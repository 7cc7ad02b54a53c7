#!/usr/bin/env python3
"""End-to-end tests of central pools and mutexes (issue 13, docs/pools.md): STATE/pools.yaml
bounds tasks across every run of the state folder; a mutex lets one task at a time through;
admission refuses a pool that is declared nowhere; the file is trusted as users.yaml is; the
holds of a run whose engine was killed are reclaimed once its attempts are gone; a run that holds
a mutex as a whole (spec.resources) never interleaves with another, even killed and resumed.

Usage: pools.py SLUICE
Uses run_e2e.py's helpers; prints one line per failure and ends with "e2e-pools: N passed, M
failed".
"""
import json, os, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env, engine_pid, pipeline  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


POOLS = """apiVersion: sluice/v1
kind: Pools
spec:
  pools:
    - {name: gpus, capacity: 2}
    - {name: gpus, namespace: ml, capacity: 8}
  mutexes:
    - {name: deploy}
"""


def with_pools(e, text=POOLS):
    os.makedirs(e.state, exist_ok=True)
    os.chmod(e.write("state/pools.yaml", text), 0o644)


# Tasks that ask for `units` of `pool` and log when they hold it: "start T" and "end T" lines in
# LOG (an absolute path), sleeping `secs` between.
def critical(names, pool, secs, log):
    out = ""
    for n in names:
        out += (f"    - name: {n}\n"
                f"      run: [sh, -c, 'echo start $(date +%s.%N) >> {log}; sleep {secs}; "
                f"echo end $(date +%s.%N) >> {log}']\n"
                f"      resources: {{{pool}: 1}}\n")
    return pipeline(out)


def most_at_once(log):
    """The largest number of intervals of LOG open at one time."""
    events = []
    for line in open(log).read().split("\n"):
        if line:
            kind, t = line.split()
            events.append((float(t), 0 if kind == "end" else 1))
    events.sort()
    now = top = 0
    for _, starts in events:
        now += 1 if starts else -1
        top = max(top, now)
    return top, len(events) // 2


def wait_all(procs):
    for p in procs:
        assert p.wait(timeout=60) == 0, p.returncode


@test
def a_mutex_lets_one_task_of_all_runs_through_at_a_time():
    e = Env()
    with_pools(e)
    log = os.path.join(e.dir, "log")
    e.write("p.yaml", critical(["one", "two"], "deploy", 0.4, log))
    procs = [e.start("run", "p.yaml")[0] for _ in range(3)]
    # While they run, `sluice pools` shows who holds the mutex and that others wait.
    seen = {}

    def held():
        rows = json.loads(e.sluice("pools", "-o", "json", check=0).stdout)
        seen.update({r["name"]: r for r in rows})
        return seen["deploy"]["used"] == 1 and seen["deploy"]["waiting"]
    e.wait_for(held, "the mutex held while others wait")
    assert seen["deploy"]["kind"] == "mutex" and seen["deploy"]["capacity"] == 1, seen
    assert len(seen["deploy"]["holders"]) == 1, seen
    wait_all(procs)
    assert most_at_once(log) == (1, 6), open(log).read()
    rows = {r["name"]: r for r in json.loads(e.sluice("pools", "-o", "json", check=0).stdout)}
    assert rows["deploy"]["used"] == 0 and not rows["deploy"]["waiting"], rows  # all given back
    text = e.sluice("pools", check=0).stdout
    assert "deploy" in text and "mutex" in text and "(all)" in text and "ml" in text, text


@test
def a_pool_bounds_tasks_across_runs_but_a_runs_own_pool_stays_its_own():
    e = Env()
    with_pools(e)
    log = os.path.join(e.dir, "log")
    e.write("p.yaml", critical(["a", "b", "c"], "gpus", 0.5, log))
    procs = [e.start("run", "p.yaml", "-j", "3")[0] for _ in range(2)]
    wait_all(procs)
    assert most_at_once(log) == (2, 6), open(log).read()
    # spec.pools declares "gpus" here: a limit of this run alone, not the central one.
    own = os.path.join(e.dir, "own")
    text = critical(["a", "b", "c"], "gpus", 0.5, own).replace("  tasks:", "  pools: {gpus: 3}\n  tasks:")
    e.write("own.yaml", text)
    e.sluice("run", "own.yaml", "-j", "3", check=0)
    assert most_at_once(own) == (3, 3), open(own).read()


@test
def a_pool_declared_nowhere_is_refused_at_admission_with_its_place():
    e = Env()
    e.write("p.yaml", critical(["a"], "licences", 0, "/dev/null"))
    p = e.sluice("run", "p.yaml", check=2)
    assert p.stderr.count("\n") == 1, p.stderr
    assert "p.yaml:6:13: task \"a\" asks for pool \"licences\", which spec.pools does not declare" in p.stderr, p.stderr
    assert "no pools.yaml" in p.stderr, p.stderr
    assert json.loads(e.sluice("runs", "-o", "json", check=0).stdout or "[]") == []
    e.sluice("validate", "p.yaml", check=2)
    # Declared for another namespace only (ml's own 8 gpus), or too few units: refused too.
    with_pools(e, POOLS.replace("    - {name: gpus, capacity: 2}\n", ""))
    e.write("q.yaml", critical(["a"], "gpus", 0, "/dev/null"))
    p = e.sluice("run", "q.yaml", check=2)
    assert "neither spec.pools nor" in p.stderr and "namespace \"default\"" in p.stderr, p.stderr
    e.write("r.yaml", critical(["a"], "deploy", 0, "/dev/null").replace("{deploy: 1}", "{deploy: 2}"))
    p = e.sluice("run", "r.yaml", check=2)
    assert "asks for 2 units of mutex \"deploy\", which only has 1" in p.stderr, p.stderr


@test
def the_pools_file_is_trusted_only_as_users_yaml_is_and_checked_like_any_file():
    e = Env()
    with_pools(e)
    path = os.path.join(e.state, "pools.yaml")
    e.write("p.yaml", critical(["a"], "deploy", 0, "/dev/null"))
    os.chmod(path, 0o666)  # anyone could lift the limits
    p = e.sluice("run", "p.yaml", check=2)
    assert "pools.yaml is not trusted: central pools must be a regular file" in p.stderr, p.stderr
    os.chmod(path, 0o644)
    e.sluice("run", "p.yaml", check=0)
    e.write("state/pools.yaml", POOLS.replace("capacity: 2", "capacity: 0"))
    p = e.sluice("pools", check=2)
    assert p.stderr.count("\n") == 1 and "pools.yaml:5:30: pool capacity" in p.stderr, p.stderr
    e.write("state/pools.yaml", POOLS + "  mutex: []\n")
    p = e.sluice("pools", check=2)
    assert "unknown key \"mutex\"" in p.stderr or "mutex" in p.stderr, p.stderr
    e.write("state/pools.yaml", POOLS + "    - {name: deploy}\n")
    p = e.sluice("pools", check=2)
    assert "\"deploy\" is declared twice (also at" in p.stderr, p.stderr


@test
def a_killed_runs_holds_are_reclaimed_once_its_attempts_are_gone():
    e = Env()
    with_pools(e)
    e.write("hold.yaml", pipeline("    - name: long\n      run: [sleep, '1.5']\n"
                                  "      resources: {deploy: 1}\n"))
    e.write("next.yaml", pipeline("    - name: quick\n      run: [echo, next]\n"
                                  "      resources: {deploy: 1}\n"))
    _, first = e.start("run", "hold.yaml")
    e.wait_for(lambda: e.tasks(first)["long"]["state"] == "running", "long running")
    os.kill(engine_pid(e, first), signal.SIGKILL)  # its keeper keeps `long` running
    t0 = time.time()
    e.sluice("run", "next.yaml", check=0, timeout=30)
    waited = time.time() - t0
    # `quick` did not run beside `long`: its unit came back only when `long` ended.
    assert waited > 0.8, waited
    rows = {r["name"]: r for r in json.loads(e.sluice("pools", "-o", "json", check=0).stdout)}
    assert rows["deploy"]["used"] == 0, rows
    # The killed run resumes: its attempt ended while no engine ran, and is recorded.
    e.sluice("resume", first, check=0)
    assert e.status(first)["status"] == "succeeded"


# A pipeline that holds `deploy` as a whole (spec.resources): a, then b, each logging
# "RUN start T" and "RUN end T" lines in LOG, by the run's id.
def held_by_the_run(log, first_secs=0.4):
    step = ("    - name: {n}\n{needs}"
            "      run: [sh, -c, 'echo $SLUICE_RUN_ID start $(date +%s.%N) >> {log}; sleep {s}; "
            "echo $SLUICE_RUN_ID end $(date +%s.%N) >> {log}']\n")
    return pipeline(step.format(n="a", needs="", log=log, s=first_secs) +
                    step.format(n="b", needs="      needs: [a]\n", log=log, s=0.3),
                    "  resources: {deploy: 1}\n")


def runs_in_order(log):
    """The run ids of LOG's lines in the order of their times."""
    lines = [line.split() for line in open(log).read().split("\n") if line]
    return [run for run, _, _ in sorted(lines, key=lambda x: float(x[2]))]


@test
def a_run_holding_a_mutex_as_a_whole_never_interleaves_with_another():
    e = Env()
    with_pools(e)
    log = os.path.join(e.dir, "log")
    e.write("p.yaml", held_by_the_run(log))
    (p1, r1), (p2, r2) = e.start("run", "p.yaml"), e.start("run", "p.yaml")
    seen = {}

    def held():
        rows = json.loads(e.sluice("pools", "-o", "json", check=0).stdout)
        seen.update({r["name"]: r for r in rows})
        return seen["deploy"]["holders"] and seen["deploy"]["waiting"]
    e.wait_for(held, "one run holding the mutex while the other waits")
    assert [h["task"] for h in seen["deploy"]["holders"]] == ["(run)"], seen
    assert [w["task"] for w in seen["deploy"]["waiting"]] == ["(run)"], seen
    wait_all([p1, p2])
    order = runs_in_order(log)
    assert len(order) == 8 and order[:4] == [order[0]] * 4 and order[4:] == [order[4]] * 4, order
    assert {order[0], order[4]} == {r1, r2}, (order, r1, r2)
    rows = {r["name"]: r for r in json.loads(e.sluice("pools", "-o", "json", check=0).stdout)}
    assert rows["deploy"]["used"] == 0 and not rows["deploy"]["waiting"], rows  # given back
    # Declared nowhere: refused at admission at its place, and by validate.
    e.write("q.yaml", held_by_the_run(log).replace("{deploy: 1}", "{deploi: 1}"))
    p = e.sluice("run", "q.yaml", check=2)
    assert p.stderr.count("\n") == 1, p.stderr
    assert "q.yaml:5:15: spec.resources asks for pool \"deploi\"" in p.stderr, p.stderr
    assert "(did you mean \"deploy\"?)" in p.stderr, p.stderr
    e.sluice("validate", "q.yaml", check=2)


@test
def a_killed_run_still_holds_its_mutex_until_it_is_resumed_and_ends():
    e = Env()
    with_pools(e)
    log = os.path.join(e.dir, "log")
    e.write("p.yaml", held_by_the_run(log, first_secs=1))
    _, first = e.start("run", "p.yaml")
    e.wait_for(lambda: e.tasks(first)["a"]["state"] == "running", "a running")
    os.kill(engine_pid(e, first), signal.SIGKILL)  # its keeper lets `a` finish
    e.wait_for(lambda: runs_in_order(log).count(first) == 2, "a ended under the keeper")
    second_proc, second = e.start("run", "p.yaml")

    def waits():
        rows = {r["name"]: r for r in json.loads(e.sluice("pools", "-o", "json", check=0).stdout)}
        return [w["run"] for w in rows["deploy"]["waiting"]] == [second]
    e.wait_for(waits, "the second run waiting")
    # Nothing of the first run executes now: the second run's reclaim (at most every 5 s) takes
    # what its attempts held, but not what it holds as a whole.
    time.sleep(5.5)
    assert runs_in_order(log).count(second) == 0, runs_in_order(log)
    e.sluice("resume", first, check=0)
    assert e.status(first)["status"] == "succeeded"
    wait_all([second_proc])
    assert runs_in_order(log) == [first] * 4 + [second] * 4, runs_in_order(log)


@test
def the_example_shares_the_warehouse_and_the_mutex():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                          "pools", "try-it.sh")
    p = subprocess.run([script], env=dict(os.environ, SLUICE=run_e2e.SLUICE), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    during = p.stdout.split("after:")[0]
    assert "warehouse" in during and "deploy-prod" in during and "mutex" in during, p.stdout
    assert p.stdout.count("succeeded") == 2, p.stdout


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "e2e-pools"))
