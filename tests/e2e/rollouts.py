#!/usr/bin/env python3
"""End-to-end tests of progressive delivery (issue 14, docs/rollouts.md) on a real stack: nginx
and Prometheus from Debian's packages and two versions of the project's model server
(tests/rollouts/stack.py), started once for the suite on loopback and stopped after. Sluice's
deploy tasks start the model servers in the environment's slots, split traffic through nginx,
decide with Prometheus analyses and roll back.

Usage: rollouts.py SLUICE
Prints one line per failure and ends with "e2e-rollouts: N passed, M failed". Without nginx or
Prometheus it fails, saying which Debian packages are missing (make test installs them).
"""
import json, os, signal, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "rollouts"))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env, engine_pid  # noqa: E402
import loadgen  # noqa: E402
import stack as stacklib  # noqa: E402

TESTS = []
STACK = None  # the suite's stack (stack.Stack), up for every test
SE = None     # its env(): ports, paths, slot commands


def test(fn):
    TESTS.append(fn)
    return fn


def q(s):
    return json.dumps(s)


def argv_yaml(argv):
    return "[" + ", ".join(q(a) for a in argv) + "]"


def slots_yaml(names=("blue", "green")):
    out = "  slots:\n"
    for n in names:
        s = SE["slots"][n]
        out += (f"    - name: {n}\n"
                f"      address: {q(s['address'])}\n"
                f"      start: {argv_yaml(s['start'])}\n"
                f"      stop: {argv_yaml(s['stop'])}\n"
                f"      health: {{url: {q(s['health_url'])}}}\n"
                f"      startTimeout: 20s\n")
    return out


def nginx_router():
    n = SE["nginx"]
    return ("  router:\n    nginx:\n"
            f"      file: {q(n['upstream_file'])}\n"
            f"      test: {argv_yaml(n['test'])}\n"
            f"      pidFile: {q(n['pid_file'])}\n"
            f"      liveUrl: {q(SE['route_url'])}\n")


def environment(name, promotion="", router=None, extra=""):
    return (f"apiVersion: sluice/v1\nkind: Environment\nmetadata: {{name: {name}}}\nspec:\n"
            + slots_yaml() + (router or nginx_router()) + promotion + extra)


def setup(e, docs):
    """The state folder's STATE/environments/env.yaml (mode 644, owned by the folder's owner)."""
    os.makedirs(os.path.join(e.state, "environments"), exist_ok=True)
    os.chmod(e.write("state/environments/env.yaml", "---\n".join(docs)), 0o644)


def model(e, name, version, error_rate=0.0):
    return e.write(name, json.dumps({"version": version, "errorRate": error_rate,
                                     "latencyMs": 2}))


def deploy_pipeline(env_name, strategy, extra_task=""):
    return ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: rollout}\nspec:\n"
            "  params:\n    - {name: model, type: string}\n    - {name: version, type: string}\n"
            "  tasks:\n    - name: deploy\n" + extra_task +
            f"      deploy:\n        environment: {env_name}\n"
            "        model: ${{ params.model }}\n        version: ${{ params.version }}\n"
            "        strategy:\n" + strategy)


CANARY_PLAIN = """          canary:
            steps:
              - setWeight: 25
              - pause: {duration: 1s}
              - setWeight: 50
              - pause: {duration: 1s}
            scaleDownDelay: 0s
            abortScaleDownDelay: 0s
"""


def live_split():
    """The upstream block nginx serves now: {address: weight}."""
    text = open(SE["nginx"]["upstream_file"]).read()
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("server "):
            addr, w = line[len("server "):].rstrip(";").split(" weight=")
            out[addr] = int(w)
    return out


def serving_versions(n=40):
    """The versions that answer n requests through nginx."""
    g = loadgen.LoadGen(SE["front_url"], threads=2, count=n)
    g.start()
    g.wait(timeout=30)
    return g.summary()["by_version"]


def first_release(e, version="v1"):
    """Deploys `version` to staging, the environment's first model."""
    path = model(e, f"{version}.json", version)
    p = e.sluice("run", "p.yaml", "-p", f"model={path}", "-p", f"version={version}", timeout=90)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def history(e, env_name):
    return json.loads(e.sluice("env", "history", env_name, "-o", "json", check=0).stdout)


@test
def a_first_deploy_takes_all_traffic_and_a_canary_is_promoted_step_by_step():
    e = Env()
    setup(e, [environment("staging")])
    e.write("p.yaml", deploy_pipeline("staging", CANARY_PLAIN))
    first_release(e, "v1")
    rel = history(e, "staging")
    assert rel[0]["version"] == "v1" and rel[0]["current"], rel
    v1_slot = rel[0]["slot"]
    assert list(live_split().values()) == [100], live_split()
    # v2 through the canary steps: 25 %, then 50 %, then all, with v1 stopped after.
    path = model(e, "v2.json", "v2")
    proc, run = e.start("run", "p.yaml", "-p", f"model={path}", "-p", "version=v2")
    seen = set()
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline:
        split = live_split()
        if len(split) == 2:
            seen.add(tuple(sorted(split.values())))
        time.sleep(0.05)
    assert proc.wait(timeout=60) == 0
    assert (25, 75) in seen and (50, 50) in seen, seen
    rel = history(e, "staging")
    assert rel[0]["version"] == "v2" and rel[0]["slot"] != v1_slot, rel
    assert not rel[1]["current"], rel
    st = json.loads(e.sluice("rollout", "status", run, "deploy", "-o", "json", check=0).stdout)
    assert st["phase"] == "Healthy", st
    by_version = serving_versions()
    assert set(by_version) == {"v2"}, by_version


@test
def an_environment_that_is_not_declared_is_refused_at_admission():
    e = Env()
    setup(e, [environment("staging")])
    e.write("p.yaml", deploy_pipeline("prod", CANARY_PLAIN))
    p = e.sluice("run", "p.yaml", "-p", "model=x", "-p", "version=v1", check=2)
    assert "p.yaml:" in p.stderr and 'environment "prod" is not declared' in p.stderr, p.stderr


def main():
    global STACK, SE
    try:
        STACK = stacklib.Stack()
        STACK.up()
    except Exception as ex:  # noqa: BLE001  (the one line says why)
        print(f"e2e-rollouts: the stack did not start: {ex}")
        print("e2e-rollouts: 0 passed, 1 failed")
        return 1
    try:
        SE = STACK.env()
        return run_e2e.run_suite(TESTS, "e2e-rollouts")
    finally:
        STACK.down()


if __name__ == "__main__":
    sys.exit(main())
