#!/usr/bin/env python3
"""End-to-end tests of chaos experiments (issue 15, docs/chaos.md): `sluice chaos run` on the
examples of examples/chaos against their small pipeline, with real `sluice run` processes.

Checks the journal against the documented shape and recomputes its figures from its own runs;
that faults are gone after the experiment (no target process left, later runs unfaulted); that
an interrupted experiment still rolls back and writes its journal; that a probe without data
fails; and bad experiment files.

Usage: chaos.py SLUICE   (ends with "e2e-chaos: N passed, M failed")
"""
import json, os, shutil, signal, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env  # noqa: E402

EXAMPLES = os.path.join(HERE, "..", "..", "examples", "chaos")
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def copy_examples(e):
    for name in os.listdir(EXAMPLES):
        if name.endswith(".yaml"):
            shutil.copy(os.path.join(EXAMPLES, name), os.path.join(e.dir, name))


def chaos(e, *args, check=None, timeout=180):
    return e.sluice("chaos", *args, check=check, timeout=timeout)


def journal(p):
    path = p.stdout.strip().splitlines()[-1]
    with open(path) as f:
        return json.load(f)


def target_processes(state):
    """`sluice run|resume` processes of this state folder still alive."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if state in l and (" run " in l or " resume " in l)]


RUN_KEYS = {"activity", "status", "output", "start", "end", "duration"}


def check_shape(j):
    """The journal's documented shape (docs/chaos.md, "The journal")."""
    for k in ("sluice-version", "platform", "node", "experiment", "start", "end", "duration",
              "status", "deviated", "steady_states", "run", "rollbacks", "sluice"):
        assert k in j, f"journal lacks {k}"
    assert j["status"] in ("completed", "failed", "aborted", "interrupted"), j["status"]
    for k in ("title", "description", "tags", "configuration", "steady-state-hypothesis",
              "method", "rollbacks", "runtime"):
        assert k in j["experiment"], f"experiment lacks {k}"
    ss = j["steady_states"]
    assert set(ss) == {"before", "during", "after"}, ss.keys()
    for state in [ss["before"], ss["after"], *ss["during"]]:
        if state is None:
            continue
        assert isinstance(state["steady_state_met"], bool)
        for r in state["probes"]:
            assert RUN_KEYS <= set(r) and "tolerance_met" in r, r
            assert r["status"] in ("succeeded", "failed")
    for r in j["run"] + j["rollbacks"]:
        assert RUN_KEYS <= set(r) and r["activity"]["type"] in ("probe", "action"), r
    s = j["sluice"]
    for k in ("id", "name", "file", "weight", "phases", "faults", "runs", "governance"):
        assert k in s, f"sluice lacks {k}"
    for f in s["faults"]:
        assert {"name", "kind", "spec", "faults", "start", "end", "rolledBack"} <= set(f), f
    for r in s["runs"]:
        assert {"run", "phase", "start", "end", "status", "tasks", "retries", "compensations",
                "resumed", "breakers"} <= set(r), r
        for t in r["tasks"]:
            for a in t["attempts"]:
                assert {"attempt", "start", "end", "status", "errorClass", "exitCode"} <= set(a), a
    g = s["governance"]
    assert {"decisions", "approvals", "audit"} <= set(g), g
    assert g["audit"]["verified"] is True and len(g["audit"]["head"]) == 64, g["audit"]


def runs_of(j, phase):
    return [r for r in j["sluice"]["runs"] if r["phase"] == phase]


def probe(state, name):
    return next(r for r in state["probes"] if r["activity"]["name"] == name)


@test
def a_retried_fault_holds_the_hypothesis_and_the_journal_adds_up():
    e = Env()
    copy_examples(e)
    p = chaos(e, "run", "flaky-register.yaml", check=0)
    j = journal(p)
    check_shape(j)
    assert j["status"] == "completed" and j["deviated"] is False, (j["status"], j["deviated"])
    for phase in ("before", "during", "after"):
        runs = runs_of(j, phase)
        assert len(runs) == 4 and all(r["status"] == "succeeded" for r in runs), runs
    # The figures recomputed from the journal's own runs.
    during = runs_of(j, "during")
    retries = sum(a["attempt"] > 1 for r in during for t in r["tasks"] if t["name"] == "register"
                  for a in t["attempts"])
    method = {r["activity"]["name"]: r for r in j["run"]}
    assert method["register-retries"]["output"] == retries, (method, retries)
    assert method["flaky-register"]["output"] == "SLUICE_FAULTS=exit=75@task:register~0.4"
    struck = [a for r in during for t in r["tasks"] for a in t["attempts"] if a["exitCode"] == 75]
    assert len(struck) == retries, (struck, retries)  # each strike was retried, and only those
    assert not [a for r in runs_of(j, "after") for t in r["tasks"] for a in t["attempts"]
                if a["exitCode"] == 75], "a fault outlived its phase"
    train = sorted((time_of(a["end"]) - time_of(a["start"])) for r in runs_of(j, "before")
                   for t in r["tasks"] if t["name"] == "train" for a in t["attempts"])
    p95 = probe(j["steady_states"]["before"], "train-p95")["output"]
    assert abs(p95 - train[-1]) < 0.002, (p95, train)  # nearest rank of 4 samples: the largest
    fault = j["sluice"]["faults"][0]
    assert fault["rolledBack"] and fault["start"] <= fault["end"], fault
    assert not target_processes(e.state)
    ls = json.loads(e.sluice("-o", "json", "chaos", "ls", check=0).stdout)
    assert [x["name"] for x in ls] == ["flaky-register"] and ls[0]["status"] == "completed", ls


def time_of(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@test
def an_unretried_fault_deviates_during_and_recovers_after():
    e = Env()
    copy_examples(e)
    p = chaos(e, "run", "flaky-publish.yaml", check=1)
    j = journal(p)
    check_shape(j)
    assert j["deviated"] is True
    during = j["steady_states"]["during"][0]
    rate = sum(r["status"] == "succeeded" for r in runs_of(j, "during")) / 3
    assert probe(during, "success-rate")["output"] == rate and rate < 0.9, (during, rate)
    assert during["steady_state_met"] is False
    assert j["steady_states"]["after"]["steady_state_met"] is True
    compensated = sum(r["status"] == "compensated" for r in runs_of(j, "during"))
    assert {r["activity"]["name"]: r["output"] for r in j["run"]}["compensations"] == compensated


@test
def a_killed_run_a_failed_commit_and_a_full_disk_are_resumed_to_success():
    e = Env()
    copy_examples(e)
    for name in ("killed-run.yaml", "store-commit-fail.yaml", "disk-full.yaml",
                 "scheduled-run-killed.yaml"):
        j = journal(chaos(e, "run", name, check=0))
        check_shape(j)
        during = runs_of(j, "during")
        assert all(r["status"] == "succeeded" and r["resumed"] >= 1 for r in during), during
        assert all(r["resumed"] == 0 for r in runs_of(j, "after")), runs_of(j, "after")
    assert not target_processes(e.state)


NO_DATA = """apiVersion: sluice/v1
kind: Experiment
metadata: {name: no-data}
spec:
  target: {pipeline: pipeline.yaml, runs: 1}
  steadyStateHypothesis:
    probes:
      - name: missing-task
        taskDuration: {task: nope}
        tolerance: "value < 1000.0"
  method:
    - name: never
      fault: {task: {exit: 1, task: publish}}
"""


@test
def a_probe_without_data_fails_and_no_fault_is_injected():
    e = Env()
    copy_examples(e)
    e.write("no-data.yaml", NO_DATA)
    j = journal(chaos(e, "run", "no-data.yaml", check=1))
    check_shape(j)
    before = j["steady_states"]["before"]
    r = before["probes"][0]
    assert r["status"] == "failed" and r["tolerance_met"] is False, r
    assert "no data" in r["exception"][0], r
    # As Chaos Toolkit: the method does not run on a system not in its steady state.
    assert j["status"] == "failed" and j["run"] == [] and runs_of(j, "during") == [], j["run"]


HANG = """apiVersion: sluice/v1
kind: Experiment
metadata: {name: hang}
spec:
  target: {pipeline: pipeline.yaml, runs: 3}
  method:
    - name: register-hangs
      fault: {task: {hang: true, task: register}}
    - name: busy
      fault: {resource: {cpu: 1}}
  rollbacks:
    - name: note
      command: {argv: [sh, -c, "echo rolled back > rollback.txt"]}
"""


@test
def an_interrupted_experiment_rolls_back_and_keeps_its_journal():
    e = Env()
    copy_examples(e)
    e.write("hang.yaml", HANG)
    proc = subprocess.Popen(e.argv(("chaos", "run", "hang.yaml")), cwd=e.dir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not hung_attempts(e):
        time.sleep(0.1)
    assert hung_attempts(e), "the fault never struck"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    with open(out.strip().splitlines()[-1]) as f:
        j = json.load(f)
    check_shape(j)
    assert j["status"] == "interrupted", j["status"]
    assert [r["status"] for r in j["rollbacks"]] == ["succeeded"], j["rollbacks"]
    with open(os.path.join(e.dir, "rollback.txt")) as f:
        assert f.read().strip() == "rolled back"
    assert j["sluice"]["faults"][0]["rolledBack"] is True
    assert runs_of(j, "during")[-1]["status"] == "cancelled", runs_of(j, "during")
    assert runs_of(j, "after") == []
    assert not target_processes(e.state) and not hung_attempts(e)
    assert not stress_processes(), stress_processes()


def hung_attempts(e):
    """The stand-ins of a hang fault (`exec sleep 2147483647`) that run in this test's folder."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() != b"sleep\x002147483647\x00":
                    continue
            if os.readlink(f"/proc/{pid}/cwd").startswith(e.dir):
                found.append(pid)
        except OSError:
            continue
    return found


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_beside_a_web_service(e, service, experiment):
    """Runs the experiment (which deviates: exit 1) while `python3 -m http.server` serves the
    test's folder on 127.0.0.1:SERVICE; its journal."""
    web = subprocess.Popen([sys.executable, "-m", "http.server", str(service), "--bind",
                            "127.0.0.1"], cwd=e.dir, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        e.wait_for(lambda: port_open(service), "the web service")
        return journal(chaos(e, "run", experiment, check=1))
    finally:
        web.terminate()
        web.wait()


@test
def a_slow_dependency_through_the_fault_proxy_deviates_and_the_proxy_is_gone_after():
    e = Env()
    copy_examples(e)
    service, listen = free_port(), free_port()
    path = os.path.join(e.dir, "slow-dependency.yaml")
    e.write("slow-dependency.yaml",
            open(path).read().replace("18001", str(listen)).replace("8000", str(service)))
    j = run_beside_a_web_service(e, service, "slow-dependency.yaml")
    check_shape(j)
    ss = j["steady_states"]
    assert ss["before"]["steady_state_met"] and ss["after"]["steady_state_met"], ss
    assert not ss["during"][0]["steady_state_met"], ss["during"]
    fault = j["run"][0]["output"]
    assert fault["fault"] == "latency 1.2s downstream", fault
    assert fault["counters"]["accepted"] >= 6, fault  # every run of before and during used it
    slow = [time_of(a["end"]) - time_of(a["start"]) for r in runs_of(j, "during")
            for t in r["tasks"] for a in t["attempts"]]
    assert min(slow) >= 1.2, slow
    assert j["sluice"]["faults"][0]["kind"] == "dependency"
    assert not port_open(listen), "the fault proxy outlived its experiment"


CONTINUOUS = """apiVersion: sluice/v1
kind: Experiment
metadata: {name: continuous}
spec:
  target:
    pipeline: fetch-pipeline.yaml
    params: {url: "http://127.0.0.1:LISTEN/"}
    runs: 3
    timeout: 1m
  steadyStateHypothesis:
    probes:
      - name: health
        metric:
          provider:
            web: {url: "http://127.0.0.1:LISTEN/health.json", jsonPath: "$.ok", timeout: 600ms}
        tolerance: "value == true"
        interval: 200ms
  method:
    - name: slow-service
      fault:
        dependency: {listen: "127.0.0.1:LISTEN", upstream: "127.0.0.1:SERVICE", latency: 1200ms}
  runtime:
    hypothesis: {strategy: continuously, failFast: true}
"""


@test
def a_probe_with_an_interval_is_checked_while_the_faults_are_on_and_fails_fast():
    e = Env()
    copy_examples(e)
    service, listen = free_port(), free_port()
    e.write("health.json", '{"ok": true}')
    e.write("continuous.yaml", CONTINUOUS.replace("LISTEN", str(listen)).replace("SERVICE", str(service)))
    j = run_beside_a_web_service(e, service, "continuous.yaml")
    check_shape(j)
    ss = j["steady_states"]
    assert ss["before"]["steady_state_met"], ss["before"]
    checks = [c for c in ss["during"] if c.get("continuous")]
    assert checks and not checks[0]["steady_state_met"], ss["during"]
    assert checks[0]["probes"][0]["status"] == "failed", checks[0]
    # failFast: the first faulted run was cancelled, no other started, no after phase.
    assert len(runs_of(j, "during")) == 1 and runs_of(j, "after") == [], runs_of(j, "during")
    assert j["deviated"] is True
    assert not port_open(listen), "the fault proxy outlived its experiment"


SECRETS = """apiVersion: sluice/v1
kind: Experiment
metadata: {name: secrets}
spec:
  target: {pipeline: pipeline.yaml, runs: 1}
  secrets:
    - {name: token, env: CHAOS_TEST_TOKEN}
  steadyStateHypothesis:
    probes:
      - name: authorised
        metric:
          provider:
            command: {run: [sh, -c, 'printf "{\\"seen\\": \\"%s\\"}" "$0"', "${{ args.token }}"]}
        tolerance: "value.seen == 'tok-8d1f0c'"
  method:
    - name: flaky
      fault: {task: {exit: 75, task: register, attempt: 1}}
"""


@test
def secrets_reach_the_probes_and_never_the_journal():
    e = Env()
    copy_examples(e)
    e.write("secrets.yaml", SECRETS)
    missing = chaos(e, "run", "secrets.yaml", check=2)
    assert "CHAOS_TEST_TOKEN is not set" in missing.stderr, missing.stderr
    assert not os.path.exists(os.path.join(e.state, "chaos")), "a refused experiment wrote"
    p = e.sluice("chaos", "run", "secrets.yaml", check=0, env={"CHAOS_TEST_TOKEN": "tok-8d1f0c"})
    path = p.stdout.strip().splitlines()[-1]
    text = open(path).read()
    assert "tok-8d1f0c" not in text, "a secret value reached the journal"
    j = json.loads(text)
    assert j["steady_states"]["before"]["steady_state_met"], j["steady_states"]["before"]
    assert j["steady_states"]["before"]["probes"][0]["output"] == {"seen": "***"}, j["steady_states"]
    assert j["experiment"]["secrets"] == [{"name": "token", "env": "CHAOS_TEST_TOKEN"}], j["experiment"]


@test
def resource_pressure_is_put_on_during_the_phase_and_taken_off_after():
    e = Env()
    copy_examples(e)
    j = journal(chaos(e, "run", "cpu-memory-pressure.yaml", check=0))
    check_shape(j)
    fault = j["sluice"]["faults"][0]
    assert fault["kind"] == "resource" and fault["rolledBack"], fault
    assert j["run"][0]["output"].startswith("stress-ng --quiet --cpu 2 --vm 1 --vm-bytes 128M")
    assert not stress_processes(), stress_processes()


@test
def the_report_adds_up_loads_nothing_and_renders_in_chromium():
    e = Env()
    copy_examples(e)
    publish = journal(chaos(e, "run", "flaky-publish.yaml", check=1))
    register = journal(chaos(e, "run", "flaky-register.yaml", check=0))
    ids = [publish["sluice"]["id"], register["sluice"]["id"]]
    html, md = os.path.join(e.dir, "r.html"), os.path.join(e.dir, "r.md")
    chaos(e, "report", *ids, "--html", html, "--markdown", md, check=0)
    text = open(md).read()
    # The figures, recomputed from the journals' runs.
    for j in (publish, register):
        ok = sum(r["status"] == "succeeded" for r in runs_of(j, "during"))
        n = len(runs_of(j, "during"))
        row = next(l for l in text.splitlines() if l.startswith(f"| {j['sluice']['name']} |"))
        assert f"({ok} of {n} runs)" in row, (row, ok, n)
    # The score (Litmus's, docs/chaos.md): the mean of each experiment's probe success, both
    # of weight 10.
    def probe_success(j):
        ss = j["steady_states"]
        runs = [*ss["before"]["probes"], *[p for d in ss["during"] for p in d["probes"]],
                *ss["after"]["probes"], *[r for r in j["run"] if r["activity"]["type"] == "probe"]]
        ok = sum(r["status"] == "succeeded" and r.get("tolerance_met") is not False for r in runs)
        return 100.0 * ok / len(runs)
    score = (probe_success(publish) + probe_success(register)) / 2
    assert f"Resilience score: **{score:.1f}**" in text, (score, text[:300])
    pages = open(html).read()
    for bad in ("<script src", "<link", "http://", "https://", "url("):
        assert bad not in pages.replace("http://www.w3.org/2000/svg", ""), bad
    assert "a retry on exit(75) of publish" in text, text
    rc = subprocess.run(["sh", os.path.join(HERE, "..", "chaos", "report_screenshot.sh"),
                         html, os.path.join(e.dir, "r.png"), "7cc48f", "e0766c"],
                        capture_output=True, text=True)
    assert rc.returncode == 0, (rc.returncode, rc.stdout, rc.stderr)


def stress_processes():
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if "stress-ng" in l and "ps -eo" not in l]


def port_open(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@test
def a_dry_run_says_what_it_would_do_and_does_nothing():
    e = Env()
    copy_examples(e)
    p = chaos(e, "run", "--dry-run", "flaky-register.yaml", check=0)
    assert "SLUICE_FAULTS=exit=75@task:register~0.4" in p.stdout, p.stdout
    assert "phase after" in p.stdout and "hypothesis probe success-rate" in p.stdout, p.stdout
    assert not os.path.exists(os.path.join(e.state, "chaos"))
    assert not os.path.exists(os.path.join(e.state, "sluice.db"))


CONTROL_PLANE = """apiVersion: sluice/v1
kind: Experiment
metadata: {name: control-plane}
spec:
  target:
    pipeline: worker-pipeline.yaml
    runs: 1
    timeout: 2m
    server: {servers: 2, workers: 2, leaseTime: 2s}
  steadyStateHypothesis:
    probes:
      - name: success-rate
        runs: {}
        tolerance: "value == 1.0"
      - name: ready
        metric: {provider: {web: {url: "${{ args.server }}/readyz", jsonPath: "$.status"}}}
        tolerance: "value == 'ready'"
  method:
    - name: kill-a-worker
      fault: {process: {kill: worker, after: 1200ms, restart: 500ms}}
    - name: kill-the-leader
      fault: {process: {kill: leader, after: 1500ms, restart: 1s}}
    - name: kill-the-engine
      fault: {process: {kill: engine, after: 2500ms}}
  runtime:
    hypothesis: {strategy: continuously}
"""


def control_plane_processes(state):
    """`sluice server|worker` processes (sluice-net after its exec) of this state folder."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if state in l and (" server " in l or " worker " in l)]


@test
def the_control_plane_loses_a_worker_its_leader_and_an_engine_and_the_run_goes_on():
    e = Env()
    copy_examples(e)
    e.write("control-plane.yaml", CONTROL_PLANE)
    j = journal(chaos(e, "run", "control-plane.yaml", check=0))
    check_shape(j)
    [during] = runs_of(j, "during")
    assert during["status"] == "succeeded", during
    attempts = {t["name"]: t["attempts"] for t in during["tasks"]}
    lost = [a for t in attempts.values() for a in t if a["errorClass"] == "lost"]
    assert lost, attempts  # the killed worker's attempt, retried elsewhere
    outputs = {r["activity"]["name"]: r["output"] for r in j["run"]}
    events = outputs["kill-a-worker"]["events"]
    kills = [x for x in events if x["action"] == "kill -9"]
    targets = [x["target"] for x in kills]
    assert any(t.startswith("worker-") for t in targets), events
    assert any(t.startswith("server-") for t in targets), events
    assert any(t.startswith("the engine of") for t in targets), events
    restarted = [x["target"] for x in events if x["action"] == "restarted"]
    assert sorted(restarted) == sorted(t for t in targets if not t.startswith("the engine")), events
    for phase in ("before", "during", "after"):
        st = j["steady_states"][phase] if phase != "during" else j["steady_states"]["during"][0]
        assert st["steady_state_met"], (phase, st)
    assert not control_plane_processes(e.state), control_plane_processes(e.state)


@test
def a_worker_fails_over_when_the_leader_is_killed_and_loses_no_attempt():
    e = Env()
    copy_examples(e)
    j = journal(chaos(e, "run", "leader-killed.yaml", check=0))
    during = runs_of(j, "during")
    assert all(r["status"] == "succeeded" and r["retries"] == 0 for r in during), during
    events = {r["activity"]["name"]: r["output"] for r in j["run"]}["kill-the-leader"]["events"]
    assert [x["action"] for x in events].count("kill -9") == 2, events
    assert not control_plane_processes(e.state), control_plane_processes(e.state)


SERVED_HANG = """apiVersion: sluice/v1
kind: Pipeline
metadata: {name: served-hang}
spec:
  tasks:
    - {name: wait, executor: worker, run: [sleep, "60"]}
"""


@test
def an_interrupted_served_experiment_cancels_its_run_and_stops_its_control_plane():
    e = Env()
    e.write("served-hang.yaml", SERVED_HANG)
    e.write("x.yaml", "apiVersion: sluice/v1\nkind: Experiment\nmetadata: {name: x}\nspec:\n"
            "  target: {pipeline: served-hang.yaml, runs: 1, server: {workers: 1}}\n"
            "  method:\n    - {name: k, fault: {process: {kill: worker, after: 30s}}}\n")
    proc = subprocess.Popen(e.argv(("chaos", "run", "x.yaml")), cwd=e.dir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and "sleep 60" not in subprocess.run(
            ["ps", "-eo", "args"], capture_output=True, text=True).stdout:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, (proc.returncode, err)
    with open(out.strip().splitlines()[-1]) as f:
        j = json.load(f)
    assert j["status"] == "interrupted", j["status"]
    assert runs_of(j, "before")[-1]["status"] == "cancelled", runs_of(j, "before")
    assert not control_plane_processes(e.state), control_plane_processes(e.state)


@test
def every_example_is_a_valid_experiment():
    e = Env()
    copy_examples(e)
    names = [n for n in sorted(os.listdir(EXAMPLES))
             if n.endswith(".yaml") and "pipeline" not in n and not n.endswith(".schedule.yaml")]
    assert len(names) >= 8, names
    for name in names:
        p = chaos(e, "run", "--dry-run", name, check=0)
        assert "phase during" in p.stdout, (name, p.stdout)


@test
def bad_experiment_files_get_one_located_line():
    e = Env()
    copy_examples(e)
    cases = {
        "typo.yaml": ("  taget: {pipeline: pipeline.yaml}\n", "unknown key \"taget\""),
        "rate.yaml": ("  target: {pipeline: pipeline.yaml}\n  method:\n    - name: f\n"
                      "      fault: {task: {exit: 75, task: x, rate: 2}}\n",
                      "rate must be above 0 and at most 1"),
        "tolerance.yaml": ("  target: {pipeline: pipeline.yaml}\n  steadyStateHypothesis:\n"
                           "    probes:\n      - {name: p, runs: {}, tolerance: \"valu > 1\"}\n"
                           "  method: []\n", "unknown name \"valu\""),
        "missing.yaml": ("  target: {pipeline: nowhere.yaml}\n  method: []\n",
                         "the target does not load"),
        "unserved.yaml": ("  target: {pipeline: pipeline.yaml}\n  method:\n    - name: k\n"
                          "      fault: {process: {kill: worker, after: 1s}}\n",
                          "kill: worker needs target.server"),
        "served-task.yaml": ("  target: {pipeline: pipeline.yaml, server: {workers: 1}}\n"
                             "  method:\n    - name: t\n      fault: {task: {exit: 1, task: x}}\n",
                             "with target.server use process, dependency or resource faults"),
    }
    for name, (spec, want) in cases.items():
        e.write(name, "apiVersion: sluice/v1\nkind: Experiment\nmetadata: {name: bad}\nspec:\n" + spec)
        p = chaos(e, "run", name, check=2)
        assert f"{name}:" in p.stderr and want in p.stderr, (name, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not os.path.exists(os.path.join(e.state, "chaos"))


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "e2e-chaos"))
