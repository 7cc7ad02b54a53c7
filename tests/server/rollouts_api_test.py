#!/usr/bin/env python3
"""Rollouts and environments over the API (issue 14, docs/api.md "Rollouts and environments"):
one `sluice server` on loopback for the whole suite, over a state folder with two environments
whose slots and router are `sh -c` no-ops (a `command` router, health commands), so that real
deploy tasks run real rollouts without nginx. A canary that pauses (`pause: {}`) waits for a
person; the tests act on it with every role. Every JSON answer is checked against
docs/openapi.yaml (api_test.check_schema), and the CLI with --server prints what the local CLI
prints.

Usage: rollouts_api_test.py SLUICE [--only SUBSTRING]
Prints one line per failure and ends with "rollouts-api: N passed, M failed".
"""
import json, os, shutil, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import run_e2e  # noqa: E402
from run_e2e import Env  # noqa: E402
from api_test import Server, call  # noqa: E402  (its tests are not run here)

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


NOOP = "[sh, -c, 'true']"


def environment(name, port, promotion=""):
    slots = "".join(f"""    - name: {slot}
      address: 127.0.0.1:{port + k}
      start: {NOOP}
      stop: {NOOP}
      health: {{command: {NOOP}}}
""" for k, slot in enumerate(("blue", "green")))
    return (f"apiVersion: sluice/v1\nkind: Environment\nmetadata: {{name: {name}}}\nspec:\n"
            f"  slots:\n{slots}  router:\n    command:\n      apply: {NOOP}\n{promotion}")


PROD_PROMOTION = """  promotion:
    approval: {approvers: [carol, erin], forbidSelfApproval: true}
"""

PIPELINE = """apiVersion: sluice/v1
kind: Pipeline
metadata: {name: deliver}
spec:
  params:
    - {name: model, type: string}
    - {name: version, type: string}
  tasks:
    - name: deploy
      deploy:
        environment: ENVIRONMENT
        model: ${{ params.model }}
        version: ${{ params.version }}
        strategy:
          canary:
            steps: [{setWeight: 50}, {pause: {}}]
            scaleDownDelay: 0s
            abortScaleDownDelay: 0s
"""

ENV = None
SERVER = None
TOKENS = {}


def setup():
    global ENV, SERVER
    ENV = Env()
    os.makedirs(os.path.join(ENV.state, "environments"), exist_ok=True)
    text = "---\n".join([environment("staging", 18601), environment("prod", 18611, PROD_PROMOTION)])
    os.chmod(ENV.write("state/environments/env.yaml", text), 0o644)
    for version in ("v1", "v2", "v3"):
        ENV.write(f"{version}.json", json.dumps({"version": version}))
    for user, role in (("u-viewer", "viewer"), ("u-operator", "operator"), ("u-approver", "approver"),
                       ("carol", "admin"), ("erin", "approver"), ("u-worker", "worker")):
        TOKENS[user] = ENV.sluice("token", "create", "--user", user, "--role", role, check=0).stdout.strip()
    SERVER = Server(ENV, shared=True)


def submit(token, env_name, version):
    body = {"pipeline": "p.yaml", "files": {"p.yaml": PIPELINE.replace("ENVIRONMENT", env_name)},
            "params": {"model": os.path.join(ENV.dir, f"{version}.json"), "version": version}}
    return call(SERVER, "POST", "/api/v1/namespaces/default/runs", token, 201,
                body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})["id"]


def wait(pred, what, tries=600):
    for _ in range(tries):
        got = pred()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what + "\n" + SERVER.log()[-3000:])


def run_status(run):
    return call(SERVER, "GET", f"/api/v1/runs/{run}", TOKENS["u-viewer"])["status"]


def finished(run):
    return wait(lambda: (s := run_status(run)) in ("succeeded", "failed", "cancelled") and s,
                f"run {run} to finish")


def rollout(run, token="u-viewer", want=200):
    return call(SERVER, "GET", f"/api/v1/runs/{run}/rollouts/deploy", TOKENS[token], want)


def phase_is(run, phase):
    def check():
        status, _, data = SERVER.request("GET", f"/api/v1/runs/{run}/rollouts/deploy", TOKENS["u-viewer"])
        return status == 200 and json.loads(data)["phase"] == phase
    try:
        wait(check, f"the rollout of {run} to be {phase}")
    except AssertionError as e:
        status, _, data = SERVER.request("GET", f"/api/v1/runs/{run}", TOKENS["u-viewer"])
        raise AssertionError(f"{e}\nrollout: {rollout(run)}\nrun: {data[:3000]!r}") from None
    return rollout(run)


def approve_deploy(run, token):
    """The environment's approval of the deploy task itself (prod), voted over the API."""
    url = f"/api/v1/runs/{run}/tasks/deploy/approve"
    wait(lambda: SERVER.request("POST", url, TOKENS[token], body=b"")[0] == 200,
         f"the deploy of {run} to await approval")


def command(run, what, token, want=200):
    return call(SERVER, "POST", f"/api/v1/runs/{run}/rollouts/deploy/{what}", TOKENS[token], want, body=b"")


def audit(run):
    return [(r["actor"], r["action"]) for r in
            (json.loads(l) for l in ENV.sluice("audit", "export", check=0).stdout.splitlines() if l.strip())
            if r["run"] == run and r["action"].startswith("rollout.")]


def remote(*args, token="carol"):
    env = {k: v for k, v in os.environ.items() if k not in ("SLUICE_SERVER", "SLUICE_HOME")}
    env.update(SLUICE_TOKEN=TOKENS[token], XDG_CONFIG_HOME=os.path.join(ENV.dir, "config"))
    return subprocess.run([run_e2e.SLUICE, "--server", f"http://127.0.0.1:{SERVER.port}", *args],
                          cwd=ENV.dir, capture_output=True, text=True, timeout=120, env=env)


STAGING = {}  # the staging runs: v1 (released), v2 (paused, then aborted)


@test
def staging_roles_pause_resume_and_abort_a_paused_canary_audited_by_the_token_user():
    v1 = submit(TOKENS["u-operator"], "staging", "v1")
    assert finished(v1) == "succeeded", SERVER.log()[-3000:]
    v2 = submit(TOKENS["u-operator"], "staging", "v2")
    paused = phase_is(v2, "Paused")
    assert paused["run"] == v2 and paused["environment"] == "staging" and paused["task"] == "deploy", paused
    assert paused["state"]["weight"] == 50, paused
    STAGING.update(v1=v1, v2=v2)
    # The document is the local command's, byte for byte.
    local = ENV.sluice("rollout", "status", v2, "deploy", "-o", "json", check=0).stdout
    assert SERVER.request("GET", f"/api/v1/runs/{v2}/rollouts/deploy", TOKENS["u-viewer"])[2].decode() + "\n" == local
    # Roles: a viewer acts on nothing; an approver may not pause or abort; an operator may not
    # promote or resume; a worker reads nothing.
    for what in ("promote", "pause", "resume", "abort"):
        err = command(v2, what, "u-viewer", 403)
        assert "may not" in err["error"]["message"], err
    command(v2, "pause", "u-approver", 403)
    command(v2, "abort", "u-approver", 403)
    command(v2, "promote", "u-operator", 403)
    command(v2, "resume", "u-operator", 403)
    rollout(v2, "u-worker", 403)
    assert SERVER.request("GET", f"/api/v1/runs/{v2}/rollouts/deploy")[0] == 401
    assert SERVER.request("POST", f"/api/v1/runs/{v2}/rollouts/deploy/abort", "sluice.0000000000000000.x")[0] == 401
    # A body cannot name another actor.
    err = call(SERVER, "POST", f"/api/v1/runs/{v2}/rollouts/deploy/pause", TOKENS["u-operator"], 400,
               body=json.dumps({"user": "carol"}).encode())
    assert "token's user" in err["error"]["message"], err
    done = command(v2, "pause", "u-operator")
    assert done["by"] == "u-operator" and done["command"] == "pause" and done["environment"] == "staging", done
    assert done["auditSeq"] > 0, done
    assert rollout(v2)["lastCommandBy"] == "u-operator"
    # staging has no approval: any approver may resume (the role is still needed).
    assert command(v2, "resume", "u-approver")["by"] == "u-approver"
    assert command(v2, "abort", "u-operator")["by"] == "u-operator"
    phase_is(v2, "Degraded")
    assert finished(v2) == "failed"
    assert audit(v2) == [("u-operator", "rollout.pause"), ("u-approver", "rollout.resume"),
                         ("u-operator", "rollout.abort")], audit(v2)
    # Ended: every command is a 409; the role is judged first.
    for what, who in (("abort", "u-operator"), ("pause", "u-operator"), ("promote", "u-approver")):
        err = command(v2, what, who, 409)
        assert "has ended (Degraded)" in err["error"]["message"], err
    # No such rollout, no such run.
    err = call(SERVER, "GET", f"/api/v1/runs/{v1}/rollouts/nope", TOKENS["u-viewer"], 404)
    assert "has no rollout" in err["error"]["message"], err
    call(SERVER, "POST", f"/api/v1/runs/{v1}/rollouts/nope/abort", TOKENS["u-operator"], 404, body=b"")
    call(SERVER, "POST", f"/api/v1/runs/{v1}/rollouts/nope/promote", TOKENS["u-approver"], 404, body=b"")
    call(SERVER, "GET", "/api/v1/runs/no-such-run/rollouts/deploy", TOKENS["u-viewer"], 404)
    assert audit(v1) == []


@test
def prod_promotes_follow_the_environments_approval_as_a_vote_would():
    # carol (an admin, one of prod's approvers) submits; erin signs the deploy off.
    v1 = submit(TOKENS["carol"], "prod", "v1")
    approve_deploy(v1, "erin")
    assert finished(v1) == "succeeded", SERVER.log()[-3000:]
    v2 = submit(TOKENS["carol"], "prod", "v2")
    approve_deploy(v2, "erin")
    phase_is(v2, "Paused")
    # An approver that prod does not list: 403 naming its approvers.
    err = command(v2, "promote", "u-approver", 403)
    assert "u-approver may not promote this rollout" in err["error"]["message"], err
    assert "carol, erin" in err["error"]["message"], err
    # The submitter, though listed: forbidSelfApproval.
    err = command(v2, "promote", "carol", 403)
    assert "forbidSelfApproval" in err["error"]["message"], err
    err = command(v2, "resume", "carol", 403)
    assert "forbidSelfApproval" in err["error"]["message"], err
    assert rollout(v2)["phase"] == "Paused" and audit(v2) == []
    # The CLI against the server says the same, with the local exit code (2).
    p = remote("rollout", "promote", v2, "deploy", token="u-approver")
    assert p.returncode == 2 and "may not promote this rollout" in p.stderr, (p.returncode, p.stderr)
    # Pausing is an operator's (here an admin's) and needs no approval, even for the submitter.
    assert command(v2, "pause", "carol")["by"] == "carol"
    assert command(v2, "promote", "erin")["by"] == "erin"
    healthy = phase_is(v2, "Healthy")
    assert healthy["lastCommand"] == "promote" and healthy["lastCommandBy"] == "erin", healthy
    assert finished(v2) == "succeeded"
    assert audit(v2) == [("carol", "rollout.pause"), ("erin", "rollout.promote")], audit(v2)
    history = call(SERVER, "GET", "/api/v1/environments/prod/history", TOKENS["u-viewer"])["items"]
    assert [(h["version"], h["current"], h["run"]) for h in history] == [("v2", True, v2), ("v1", False, v1)], history


@test
def environments_and_their_history_are_the_local_documents():
    listed = call(SERVER, "GET", "/api/v1/environments", TOKENS["u-viewer"])["items"]
    assert listed == json.loads(ENV.sluice("env", "ls", "-o", "json", check=0).stdout), listed
    assert [e["environment"] for e in listed] == ["staging", "prod"], listed
    for name in ("staging", "prod", "never-released"):
        got = call(SERVER, "GET", f"/api/v1/environments/{name}/history?limit=1", TOKENS["u-operator"])["items"]
        assert got == json.loads(ENV.sluice("env", "history", name, "--limit", "1", "-o", "json",
                                            check=0).stdout), (name, got)
    assert call(SERVER, "GET", "/api/v1/environments/never-released/history", TOKENS["u-viewer"])["items"] == []
    call(SERVER, "GET", "/api/v1/environments/staging/history?limit=x", TOKENS["u-viewer"], 400)
    call(SERVER, "GET", "/api/v1/environments", TOKENS["u-worker"], 403)
    assert SERVER.request("GET", "/api/v1/environments")[0] == 401


@test
def the_cli_against_the_server_prints_what_the_local_cli_prints():
    assert STAGING, "needs the staging test's runs"
    v2 = STAGING["v2"]
    cases = [("rollout", "status", v2, "deploy"), ("rollout", "status", v2, "deploy", "-o", "json"),
             ("rollout", "status", v2, "nope"), ("rollout", "status", "no-such-run", "deploy"),
             ("env", "ls"), ("env", "ls", "-o", "json"),
             ("env", "history", "prod"), ("env", "history", "staging", "--limit", "1", "-o", "json"),
             ("env", "history", "never-released"),
             ("rollout", "abort", v2, "deploy"), ("rollout", "abort", v2, "nope")]
    for args in cases:
        here = ENV.sluice(*args)
        there = remote(*args)
        assert (there.returncode, there.stdout) == (here.returncode, here.stdout), \
            (args, here.returncode, here.stdout, here.stderr, there.returncode, there.stdout, there.stderr)
        if here.returncode:
            assert there.stderr == here.stderr, (args, here.stderr, there.stderr)
    # sluice-net's own refusal (sluice itself forwards what it knows of to sluice-net).
    env = {k: v for k, v in os.environ.items() if k not in ("SLUICE_SERVER", "SLUICE_HOME")}
    env.update(SLUICE_TOKEN=TOKENS["carol"], XDG_CONFIG_HOME=os.path.join(ENV.dir, "config"))
    p = subprocess.run([os.path.join(os.path.dirname(run_e2e.SLUICE), "sluice-net"), "--server",
                        f"http://127.0.0.1:{SERVER.port}", "rollout", "report", v2, "deploy"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 2 and "rollout report is not available against a server" in p.stderr, p.stderr


@test
def rollout_retry_against_the_server_is_retry_of_the_task():
    assert STAGING, "needs the staging test's runs"
    v2 = STAGING["v2"]  # aborted: its deploy task failed
    env = {k: v for k, v in os.environ.items() if k not in ("SLUICE_SERVER", "SLUICE_HOME")}
    env.update(SLUICE_TOKEN=TOKENS["u-operator"], XDG_CONFIG_HOME=os.path.join(ENV.dir, "config"))
    # The client follows the run until it ends, as a local retry does. The retried deploy may
    # pause at its canary step again (then an abort ends it) or end at once; either way its
    # task fails again and the client exits 1.
    client = subprocess.Popen([run_e2e.SLUICE, "--server", f"http://127.0.0.1:{SERVER.port}",
                               "rollout", "retry", v2, "deploy"], cwd=ENV.dir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_e2e.STARTED.append(client)
    assert client.stdout.readline().strip() == v2

    def paused_again_or_ended():
        if client.poll() is not None:
            return True
        return rollout(v2)["phase"] == "Paused"  # it was Degraded before the retry
    wait(paused_again_or_ended, "the retried rollout to pause or the client to end")
    if client.poll() is None:
        command(v2, "abort", "u-operator")
    out, err = client.communicate(timeout=120)
    assert client.returncode == 1, (client.returncode, out, err)
    attempts = call(SERVER, "GET", f"/api/v1/runs/{v2}", TOKENS["u-viewer"])["attempts"]
    assert [a["attempt"] for a in attempts if a["task"] == "deploy"] == [1, 2], attempts
    records = [json.loads(l) for l in ENV.sluice("audit", "export", check=0).stdout.splitlines() if l.strip()]
    assert ("u-operator", "run.retried") in [(r["actor"], r["action"]) for r in records if r["run"] == v2]


def main():
    rc = 1
    try:
        setup()
        rc = run_e2e.run_suite(TESTS, "rollouts-api")
        return rc
    finally:
        if SERVER:
            SERVER.stop()
        if ENV:
            run_e2e.stop_rollouts(ENV.dir)
        if ENV and rc == 0:  # a failed suite's folder stays to be read
            shutil.rmtree(ENV.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
