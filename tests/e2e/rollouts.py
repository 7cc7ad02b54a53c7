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


def error_rate_template(failure=""):
    """An AnalysisTemplate on the stack's Prometheus: the candidate's share of 500s over 10 s,
    measured 3 times a second apart once its first samples are in."""
    query = ('sum(rate(requests_total{version="${{ args.version }}",code="500"}[10s])) / '
             'sum(rate(requests_total{version="${{ args.version }}"}[10s]))')
    return ("apiVersion: sluice/v1\nkind: AnalysisTemplate\nmetadata: {name: error-rate}\nspec:\n"
            "  args: [{name: version}]\n  metrics:\n    - name: error-ratio\n"
            "      initialDelay: 3s\n      interval: 1s\n      count: 3\n"
            "      successCondition: \"result[0] < 0.05\"\n" + failure +
            "      provider:\n        prometheus:\n"
            f"          address: {q(SE['prometheus_url'])}\n          query: {q(query)}\n")


CANARY_ANALYSED = """          canary:
            steps:
              - setWeight: 50
              - analysis: {templates: [error-rate]}
              - setWeight: 100
            scaleDownDelay: 0s
            abortScaleDownDelay: 0s
"""


def traffic():
    """Steady load through nginx for the length of a test: keep-alive clients that retry once
    only when a reused connection failed before any byte came back."""
    return loadgen.LoadGen(SE["front_url"], threads=4, rate=150, duration=120).start()


def task_log(e, run):
    return e.sluice("logs", run, "deploy", check=0).stdout


@test
def a_canary_with_a_20_percent_error_rate_is_aborted_at_its_first_analysis():
    e = Env()
    setup(e, [environment("staging"), error_rate_template()])
    e.write("p.yaml", deploy_pipeline("staging", CANARY_ANALYSED))
    first_release(e, "v1-a")
    stable = history(e, "staging")[0]["slot"]
    load = traffic()
    try:
        bad = model(e, "v2.json", "v2-a", error_rate=0.2)
        p = e.sluice("run", "p.yaml", "-p", f"model={bad}", "-p", "version=v2-a", timeout=90)
    finally:
        load.stop()
    assert p.returncode == 1, p.stdout + p.stderr
    run = p.stdout.split()[0]
    task = e.tasks(run)["deploy"]
    assert task["state"] == "failed" and "analysis" in task.get("message", ""), task
    st = json.loads(e.sluice("rollout", "status", run, "deploy", "-o", "json", check=0).stdout)
    assert st["phase"] == "Degraded", st
    failed = [m for m in st["measurements"] if m["phase"] == "Failed"]
    assert len(failed) == 1 and abs(failed[0]["value"][0] - 0.2) < 0.1, st["measurements"]
    # All traffic is back on v1, fast: the rollout's own figure, decision -> weights live.
    assert set(live_split()) == {SE["slots"][stable]["address"]}, live_split()
    log = task_log(e, run)
    back = [line for line in log.splitlines() if "all traffic back" in line]
    assert back, log
    ms = int(back[0].split(" ms after")[0].split()[-1])
    assert ms < 2000, back
    print(f"  figure: threshold breach -> 100 % stable in {ms} ms")
    assert set(serving_versions()) == {"v1-a"}
    assert history(e, "staging")[0]["version"] == "v1-a"


@test
def an_inconclusive_analysis_pauses_and_a_promote_goes_on():
    e = Env()
    failure = "      failureCondition: \"result[0] > 0.5\"\n"
    setup(e, [environment("staging"), error_rate_template(failure)])
    e.write("p.yaml", deploy_pipeline("staging", CANARY_ANALYSED))
    first_release(e, "v1-b")
    load = traffic()
    try:
        meh = model(e, "v2.json", "v2-b", error_rate=0.2)  # neither < 0.05 nor > 0.5
        proc, run = e.start("run", "p.yaml", "-p", f"model={meh}", "-p", "version=v2-b")

        def status():
            out = e.sluice("rollout", "status", run, "deploy", "-o", "json").stdout
            return json.loads(out) if out.strip() else {}
        e.wait_for(lambda: status().get("phase") == "Paused" and
                   "inconclusive" in status().get("message", ""), "an inconclusive pause",
                   tries=400)
        p = e.sluice("rollout", "promote", run, "deploy", check=0)
        assert "promote" in p.stdout, p.stdout
        assert proc.wait(timeout=60) == 0
    finally:
        load.stop()
    assert history(e, "staging")[0]["version"] == "v2-b"
    st = json.loads(e.sluice("rollout", "status", run, "deploy", "-o", "json", check=0).stdout)
    assert st["phase"] == "Healthy" and st["lastCommand"] == "promote", st
    assert any(m["phase"] == "Inconclusive" for m in st["measurements"]), st["measurements"]


BLUE_GREEN = """          blueGreen:
            autoPromotionEnabled: true
            scaleDownDelay: 1s
"""


@test
def a_blue_green_switch_under_steady_load_drops_no_request():
    e = Env()
    setup(e, [environment("staging")])
    e.write("p.yaml", deploy_pipeline("staging", BLUE_GREEN))
    first_release(e, "v1-c")
    load = loadgen.LoadGen(SE["front_url"], threads=4, rate=200, duration=120).start()
    try:
        time.sleep(0.5)
        v2 = model(e, "v2.json", "v2-c")
        e.sluice("run", "p.yaml", "-p", f"model={v2}", "-p", "version=v2-c", check=0, timeout=90)
        time.sleep(0.5)
    finally:
        summary = load.stop()
    assert summary["dropped"] == 0, summary
    assert summary["by_version"].get("v1-c") and summary["by_version"].get("v2-c"), summary
    assert set(summary["by_code"]) == {"200"} or set(summary["by_code"]) == {200}, summary
    per_10k = summary["dropped"] * 10000 / max(1, summary["sent"])
    print(f"  figure: blue/green switch under load: {summary['sent']} requests, "
          f"{summary['retries']} retried, {summary['dropped']} dropped ({per_10k:.1f} per 10,000)")
    assert set(serving_versions()) == {"v2-c"}


@test
def a_promotion_to_prod_without_the_staging_soak_or_the_approval_is_refused():
    e = Env()
    soak = ("  promotion:\n    after: staging\n    soak: 1h\n")
    setup(e, [environment("staging"), environment("prod", promotion=soak)])
    e.write("p.yaml", deploy_pipeline("staging", BLUE_GREEN))
    e.write("prod.yaml", deploy_pipeline("prod", BLUE_GREEN))
    path = model(e, "v1.json", "v1-d")
    # Never in staging: refused before anything starts.
    p = e.sluice("run", "prod.yaml", "-p", f"model={path}", "-p", "version=v1-d", timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    run = p.stdout.split()[0]
    t = e.tasks(run)["deploy"]
    assert t["state"] == "failed" and "refused" in t.get("message", ""), t
    st = json.loads(e.sluice("rollout", "status", run, "deploy", "-o", "json", check=0).stdout)
    assert "never released to staging" in st["message"], st
    # In staging for less than the soak: refused, saying how long it has been there.
    first_release(e, "v1-d")
    p = e.sluice("run", "prod.yaml", "-p", f"model={path}", "-p", "version=v1-d", timeout=60)
    assert p.returncode == 1
    st = json.loads(e.sluice("rollout", "status", p.stdout.split()[0], "deploy", "-o", "json",
                            check=0).stdout)
    assert "has soaked in staging for" in st["message"] and "needs 1h" in st["message"], st
    # prod's approval: the run waits for it, and its submitter may not give it; the pipeline
    # cannot drop it (its own approval: is replaced by the environment's).
    approval = ("  promotion:\n    approval: {approvers: [root, alice], forbidSelfApproval: true}\n")
    setup(e, [environment("staging"), environment("prod", promotion=approval)])
    proc, run = e.start("run", "prod.yaml", "-p", f"model={path}", "-p", "version=v1-d")
    e.wait_for(lambda: e.tasks(run)["deploy"]["state"] == "awaiting-approval", "the approval")
    p = e.sluice("approve", run, "deploy", check=2)
    assert "forbidSelfApproval" in p.stderr, p.stderr
    e.sluice("reject", run, "deploy", "--comment", "not today", check=None)
    e.sluice("cancel", run, check=None)
    proc.wait(timeout=30)
    assert e.tasks(run)["deploy"]["state"] in ("failed", "cancelled"), e.tasks(run)["deploy"]
    assert history(e, "prod") == []


# A pipeline whose deploy moves what its train task stored, with an evaluation beside it.
EVIDENCE_PIPELINE = """apiVersion: sluice/v1
kind: Pipeline
metadata: {name: ship}
spec:
  params:
    - {name: model, type: string}
    - {name: accuracy, type: string}
  tasks:
    - name: train
      run: [cp, "${{ params.model }}", model.json]
      outputs: {artifacts: [{name: model, path: model.json}]}
    - name: evaluate
      run: [echo, "${{ params.accuracy }}"]
      outputs: {params: [{name: accuracy, from: {stdout: json}}]}
    - name: deploy
      needs: [evaluate]
      deploy:
        environment: prod
        model: ${{ tasks.train.outputs.artifacts.model }}
        version: v1-e
        strategy:
""" + BLUE_GREEN

PROMOTION_POLICY = """apiVersion: sluice/v1
kind: Policy
metadata: {name: prod-evidence}
spec:
  stage: promotion
  match: {environments: [prod]}
  rules:
    - name: accurate
      expression: "object.tasks.evaluate.outputs.params.accuracy >= 0.9"
      messageExpression: "'accuracy ' + string(object.tasks.evaluate.outputs.params.accuracy) + ' is under 0.9'"
    - name: staged
      expression: "object.releases.exists(r, r.environment == 'staging' && r.digest == object.model.digest)"
      message: this model was never released to staging
"""


@test
def a_central_promotion_policy_judges_the_candidates_evidence_before_prod():
    e = Env()
    named = "  promotion:\n    policies: [prod-evidence]\n"
    setup(e, [environment("staging"), environment("prod", promotion=named)])
    e.write("prod.yaml", EVIDENCE_PIPELINE)
    e.write("p.yaml", deploy_pipeline("staging", BLUE_GREEN))
    path = model(e, "v1.json", "v1-e")
    # The environment names a policy that is not there: every deploy to prod is refused.
    p = e.sluice("run", "prod.yaml", "-p", f"model={path}", "-p", "accuracy=0.95", check=2)
    assert "env.yaml:" in p.stderr and 'promotion policy "prod-evidence"' in p.stderr, p.stderr
    os.makedirs(os.path.join(e.state, "policies"), exist_ok=True)
    os.chmod(e.write("state/policies/promotion.yaml", PROMOTION_POLICY), 0o644)
    # Too weak an evaluation: denied before any slot starts, the decision recorded.
    p = e.sluice("run", "prod.yaml", "-p", f"model={path}", "-p", "accuracy=0.8", timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    run = p.stdout.split()[0]
    t = e.tasks(run)["deploy"]
    assert t["state"] == "failed" and t["attempts"] == 0, t
    assert t["message"] == ("promotion: policy prod-evidence rule accurate: accuracy 0.8 is "
                            "under 0.9"), t
    decisions = e.status(run)["decisions"]
    assert {(d["stage"], d["rule"], d["result"]) for d in decisions} >= {
        ("promotion", "accurate", "deny"), ("promotion", "staged", "deny")}, decisions
    # Good, but never in staging: the same model must be released there first.
    p = e.sluice("run", "prod.yaml", "-p", f"model={path}", "-p", "accuracy=0.95", timeout=60)
    assert p.returncode == 1
    assert "never released to staging" in e.tasks(p.stdout.split()[0])["deploy"]["message"]
    assert history(e, "prod") == []
    # Released to staging (the same bytes, so the same digest): prod takes it.
    first_release(e, "v1-e")
    p = e.sluice("run", "prod.yaml", "-p", f"model={path}", "-p", "accuracy=0.95", timeout=90)
    assert p.returncode == 0, p.stdout + p.stderr
    rel = history(e, "prod")
    assert rel[0]["version"] == "v1-e" and rel[0]["digest"] == history(e, "staging")[0]["digest"], rel


CANARY_HELD = """          canary:
            steps:
              - setWeight: 25
              - pause: {}
            scaleDownDelay: 0s
            abortScaleDownDelay: 0s
"""


def rollout_status(e, run):
    """The rollout's status, or {} while it has no row yet."""
    p = e.sluice("rollout", "status", run, "deploy", "-o", "json", check=None)
    return json.loads(p.stdout) if p.returncode == 0 else {}


@test
def a_rollout_waits_its_turn_visibly_and_a_cancelled_run_aborts_its_rollout():
    e = Env()
    setup(e, [environment("staging")])
    e.write("p.yaml", deploy_pipeline("staging", CANARY_HELD))
    first_release(e, "v1-w")
    # v2 holds the environment at its pause; v3 waits for its turn, and says so.
    v2 = model(e, "v2.json", "v2-w")
    proc2, run2 = e.start("run", "p.yaml", "-p", f"model={v2}", "-p", "version=v2-w")
    e.wait_for(lambda: rollout_status(e, run2).get("phase") == "Paused", "v2 at its pause")
    v3 = model(e, "v3.json", "v3-w")
    proc3, run3 = e.start("run", "p.yaml", "-p", f"model={v3}", "-p", "version=v3-w")
    e.wait_for(lambda: rollout_status(e, run3).get("phase") == "Waiting", "v3 waiting")
    assert run2 in rollout_status(e, run3)["message"], rollout_status(e, run3)
    envs = json.loads(e.sluice("env", "ls", "-o", "json", check=0).stdout)
    assert run2 in [x for x in envs if x["environment"] == "staging"][0]["rollout"], envs
    # An abort stops the waiting one before it touches anything.
    e.sluice("rollout", "abort", run3, "deploy", check=0)
    assert proc3.wait(timeout=30) == 1
    assert rollout_status(e, run3)["phase"] == "Degraded"
    assert sorted(live_split().values()) == [25, 75], live_split()
    # Cancelling v2's run stops its rollout's attempt: traffic goes back to v1 at once.
    e.sluice("cancel", run2, check=None)
    assert proc2.wait(timeout=30) != 0
    st = rollout_status(e, run2)
    assert st["phase"] == "Degraded" and "was stopped" in st["message"], st
    assert list(live_split().values()) == [100], live_split()
    assert set(serving_versions()) == {"v1-w"}


KILLABLE = """          canary:
            steps:
              - setWeight: 25
              - pause: {duration: 4s}
              - setWeight: 50
              - pause: {duration: 1s}
            scaleDownDelay: 0s
            abortScaleDownDelay: 0s
"""


@test
def a_rollout_killed_mid_canary_resumes_from_its_step_with_the_weights_applied_again():
    e = Env()
    setup(e, [environment("staging")])
    e.write("p.yaml", deploy_pipeline("staging", KILLABLE))
    first_release(e, "v1-e")
    v2 = model(e, "v2.json", "v2-e")
    proc, run = e.start("run", "p.yaml", "-p", f"model={v2}", "-p", "version=v2-e")
    e.wait_for(lambda: sorted(live_split().values()) == [25, 75], "the 25 % step", tries=300)
    engine = engine_pid(e, run)
    keeper = int(open(f"/proc/{engine}/stat").read().split(")")[1].split()[1])
    victims = [proc.pid, keeper, engine] + run_e2e.rollout_pids(e.state)
    for pid in victims:  # the whole machine's share of it, as a crash would
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)
    # nginx forgets the split (a restart with its first file): the rollout must apply it again.
    STACK.route({history(e, "staging")[0]["slot"]: 100}, 0)
    assert sorted(live_split().values()) == [100], live_split()
    p = e.sluice("resume", run, timeout=90)
    assert p.returncode == 0, p.stdout + p.stderr
    log = task_log(e, run)
    assert "resumed at stage steps step" in log, log
    assert history(e, "staging")[0]["version"] == "v2-e"
    served = serving_versions()
    assert set(served) == {"v2-e"}, (served, live_split(), log)


BAD_CANARY_EXPERIMENT = """apiVersion: sluice/v1
kind: Experiment
metadata: {name: bad-canary}
spec:
  title: A bad canary is caught and rolled back before it serves everyone
  target:
    pipeline: p.yaml
    params: {model: MODEL, version: v1-c}
    runs: 1
    timeout: 2m
  steadyStateHypothesis:
    title: the good model serves every request
    probes:
      - name: serving
        metric:
          provider:
            web: {url: "FRONT/predict", method: POST, body: "{}", jsonPath: "$.version"}
        tolerance: "value == 'v1-c'"
  method:
    - name: bad-canary
      fault:
        delivery: {params: {model: BAD, version: v2-c}}
    - name: aborted
      rollout: {task: deploy, phase: Degraded}
  runtime:
    hypothesis: {strategy: continuously}
"""


@test
def a_chaos_experiments_bad_canary_is_aborted_and_the_stable_model_keeps_serving():
    """issue 15's delivery fault: the `during` run releases a model with a 30 % error rate
    through the real canary; the analysis must catch it and send all traffic back."""
    e = Env()
    setup(e, [environment("staging"), error_rate_template()])
    e.write("p.yaml", deploy_pipeline("staging", CANARY_ANALYSED))
    good = model(e, "v1c.json", "v1-c")
    bad = model(e, "v2c.json", "v2-c", error_rate=0.3)
    e.write("x.yaml", BAD_CANARY_EXPERIMENT.replace("MODEL", good).replace("BAD", bad)
            .replace("FRONT", SE["front_url"]))
    load = traffic()
    try:
        p = e.sluice("chaos", "run", "x.yaml", check=None, timeout=300)
    finally:
        load.stop()
    assert p.returncode == 0, p.stdout + p.stderr
    with open(p.stdout.strip().splitlines()[-1]) as f:
        j = json.load(f)
    by_phase = {r["phase"]: r for r in j["sluice"]["runs"]}
    assert by_phase["during"]["status"] == "failed", by_phase["during"]
    assert by_phase["during"]["rollouts"][0]["phase"] == "Degraded", by_phase["during"]
    for phase in ("before", "after"):
        assert by_phase[phase]["status"] == "succeeded", by_phase[phase]
        assert by_phase[phase]["rollouts"][0]["phase"] == "Healthy", by_phase[phase]
    assert {r["activity"]["name"]: r["output"] for r in j["run"]}["aborted"] == 1, j["run"]
    fault = j["sluice"]["faults"][0]
    assert fault["kind"] == "delivery" and fault["rolledBack"] is True, fault
    assert j["steady_states"]["during"][0]["steady_state_met"], j["steady_states"]
    assert set(serving_versions()) == {"v1-c"}


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
        for folder, _ in run_e2e.FOLDERS:  # a failed test's rollout may wait for a promote
            run_e2e.stop_rollouts(folder)
        STACK.down()


if __name__ == "__main__":
    sys.exit(main())
