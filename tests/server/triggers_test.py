#!/usr/bin/env python3
"""Webhook triggers (issue 13, "Triggers, notifications, retention"; docs/triggers.md): a Trigger
applied with `sluice trigger apply`, fired with POST /api/v1/namespaces/default/triggers/NAME and
its own token, on one `sluice server` for the whole suite.

Usage: triggers_test.py SLUICE [--only SUBSTRING]
Prints one line per failure and ends with "server-triggers: N passed, M failed".
"""
import hashlib, hmac, json, os, subprocess, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402
from run_e2e import Env  # noqa: E402
from api_test import Server, call, check_schema  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


PIPELINE = """apiVersion: sluice/v1
kind: Pipeline
metadata: {name: hooked}
spec:
  params:
    - {name: ref, type: string}
    - {name: size, type: int, default: 1}
  tasks:
    - name: show
      run: [sh, -c, 'echo "$REF $SIZE"']
      env: {REF: "${{ params.ref }}", SIZE: "${{ params.size }}"}
      outputs: {params: [{name: seen, from: {stdout: text}}]}
"""

TRIGGER = """apiVersion: sluice/v1
kind: Trigger
metadata:
  name: %s
  labels: {team: data}
spec:
  pipeline: pipeline.yaml
  params:
    ref: "${{ body.ref }}"
    size: "${{ body.size }}"
  when: "${{ headers['x-github-event'] == 'push' }}"
"""

POLICY = """apiVersion: sluice/v1
kind: Policy
metadata: {name: small-batches}
spec:
  match: {pipelines: [hooked]}
  rules:
    - name: size
      expression: "object.params.size <= 10"
      message: "size above 10"
"""

ENV = None
SERVER = None
TOKENS = {}
PATH = "/api/v1/namespaces/default/triggers/"


def setup():
    global ENV, SERVER
    ENV = Env()
    ENV.write("pipeline.yaml", PIPELINE)
    for name in ("hook", "spare"):
        ENV.write(f"{name}.yaml", TRIGGER % name)
    os.makedirs(os.path.join(ENV.state, "policies"), exist_ok=True)
    ENV.write("state/policies/small.yaml", POLICY)
    for role in ("viewer", "operator"):
        TOKENS[role] = ENV.sluice("token", "create", "--user", f"u-{role}", "--role", role,
                                  check=0).stdout.strip()
    for name in ("hook", "spare"):
        applied = json.loads(ENV.sluice("trigger", "apply", f"{name}.yaml", "-o", "json", check=0).stdout)
        assert applied["applied"][0]["created"] is True, applied
        TOKENS[name] = applied["applied"][0]["token"]
    SERVER = Server(ENV, shared=True)


def remote(*args, token="operator", check=None):
    env = {"SLUICE_SERVER": f"http://127.0.0.1:{SERVER.port}", "SLUICE_TOKEN": TOKENS[token]}
    return ENV.sluice(*args, env=env, check=check)


def fire(body, token="hook", name="hook", event="push", headers=None, want=201):
    h = {"Content-Type": "application/json", "X-GitHub-Event": event, **(headers or {})}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    status, got, raw = SERVER.request("POST", PATH + name, TOKENS.get(token, token), data, h)
    assert status == want, f"fire: {status}, want {want}: {raw[:300]!r}"
    check_schema("POST", PATH + name, status, got, raw)
    return json.loads(raw)


def audit(action):
    records = [json.loads(x) for x in ENV.sluice("audit", "export", check=0).stdout.splitlines()]
    return [r for r in records if r["action"] == action]


def runs():
    return [r["id"] for r in json.loads(ENV.sluice("runs", "-o", "json", check=0).stdout)]


def wait_done(run):
    ENV.wait_for(lambda: ENV.status(run)["status"] in ("succeeded", "failed"), f"{run} to end", 300)
    assert ENV.status(run)["status"] == "succeeded", (ENV.status(run), SERVER.log())


@test
def a_fire_starts_a_run_of_the_pipeline_with_params_mapped_from_the_body():
    answer = fire({"ref": "main", "size": 3})
    run = answer["run"]
    assert answer["trigger"] == "hook" and answer["submittedBy"] == "trigger:hook", answer
    wait_done(run)
    assert ENV.tasks(run)["show"]["outputs"]["params"]["seen"].strip() == "main 3"
    submitted = [r for r in audit("run.submitted") if r["run"] == run]
    assert [r["actor"] for r in submitted] == ["trigger:hook"], submitted
    assert submitted[0]["details"]["labels"] == {"team": "data", "sluice.trigger": "hook"}, submitted
    created = json.loads(ENV.sluice("events", run, "-o", "json", check=0).stdout)[0]
    assert "sluice.trigger" in json.dumps(created), created
    # The run's labels are in its status, locally and over the API (checked against openapi.yaml).
    labels = {"team": "data", "sluice.trigger": "hook"}
    assert ENV.status(run)["labels"] == labels, ENV.status(run)
    status, h, raw = SERVER.request("GET", f"/api/v1/runs/{run}", TOKENS["viewer"])
    check_schema("GET", f"/api/v1/runs/{run}", status, h, raw)
    assert status == 200 and json.loads(raw)["labels"] == labels, raw[:300]
    assert json.loads(remote("status", run, "-o", "json", token="viewer", check=0).stdout)["labels"] == labels


@test
def only_the_triggers_own_token_fires_it_and_it_opens_nothing_else():
    before = runs()
    fire({"ref": "x", "size": 1}, token=None, want=401)
    fire({"ref": "x", "size": 1}, token="sluice.0000000000000000." + "A" * 43, want=401)
    fire({"ref": "x", "size": 1}, token="not-a-token", want=401)
    fire({"ref": "x", "size": 1}, token="operator", want=401)   # a user's token fires nothing
    fire({"ref": "x", "size": 1}, token="spare", want=401)      # nor another trigger's
    fire({"ref": "x", "size": 1}, name="no-such", want=404)
    for method, path in (("GET", "/api/v1/runs"), ("GET", "/api/v1/namespaces/default/triggers"),
                         ("POST", PATH + "hook/rotate")):
        status, _, _ = SERVER.request(method, path, TOKENS["hook"], b"{}")
        assert status == 401, (method, path, status)
    assert runs() == before


@test
def a_malformed_body_or_a_param_that_does_not_map_is_a_400():
    before = runs()
    for body, says in ((b"{not json", "not JSON"), ({"size": 3}, "ref"),
                       ({"ref": 7, "size": 3}, "must be a string"), ({"ref": "a", "size": "big"}, "must be int")):
        err = fire(body, want=400)["error"]["message"]
        assert says in err and "\n" not in err, (body, err)
    assert runs() == before


@test
def a_false_when_skips_with_202_and_is_audited():
    before = runs()
    answer = fire({"ref": "main", "size": 3}, event="ping", want=202)
    assert "is false" in answer["skipped"], answer
    skipped = audit("trigger.skipped")
    assert skipped and skipped[-1]["actor"] == "trigger:hook" and skipped[-1]["subject"] == "hook", skipped
    assert runs() == before


@test
def a_redelivered_webhook_with_the_same_idempotency_key_starts_no_second_run():
    key = {"Idempotency-Key": "delivery-72d4"}
    first = fire({"ref": "v1", "size": 2}, headers=key)
    again = fire({"ref": "v1", "size": 2}, headers=key, want=200)
    assert again["run"] == first["run"] and first["run"].startswith("trig-hook-"), (first, again)
    other = fire({"ref": "v1", "size": 2}, headers={"Idempotency-Key": "delivery-other"})
    assert other["run"] != first["run"]
    assert sum(1 for r in runs() if r in (first["run"], other["run"])) == 2
    for r in (first["run"], other["run"]):
        wait_done(r)


@test
def an_admission_policy_denies_a_fire_with_403_and_records_it():
    before = runs()
    err = fire({"ref": "main", "size": 50}, want=403)["error"]
    assert "size above 10" in err["message"] and err["decisions"][0]["policy"] == "small-batches", err
    denied = audit("run.denied")
    assert denied and denied[-1]["actor"] == "trigger:hook", denied
    assert runs() == before


@test
def changing_triggers_needs_an_operator_and_is_audited():
    before = [r for a in ("applied", "rotated", "removed") for r in audit("trigger." + a)]
    body = json.dumps({"trigger": "t.yaml", "files": {"t.yaml": TRIGGER % "x"}})
    call(SERVER, "PUT", "/api/v1/namespaces/default/triggers", TOKENS["viewer"], want=403, body=body)
    call(SERVER, "POST", PATH + "hook/rotate", TOKENS["viewer"], want=403, body=b"{}")
    call(SERVER, "DELETE", PATH + "hook", TOKENS["viewer"], want=403)
    listed = call(SERVER, "GET", "/api/v1/namespaces/default/triggers", TOKENS["viewer"])
    assert [t["name"] for t in listed["items"]] == ["hook", "spare"], listed
    assert remote("trigger", "rm", "hook", token="viewer").returncode == 2
    assert [r for a in ("applied", "rotated", "removed") for r in audit("trigger." + a)] == before
    assert len(before) == 2 and before[0]["subject"] == "hook", before  # the setup's applies


@test
def applying_again_keeps_the_token_and_rotating_replaces_it():
    again = json.loads(remote("trigger", "apply", "hook.yaml", "-o", "json", check=0).stdout)
    assert again["applied"] == [{"name": "hook", "created": False}], again
    fire({}, event="ping", want=202)  # the token still works: a 202 comes after the token check
    rotated = json.loads(remote("trigger", "rotate", "hook", "-o", "json", check=0).stdout)
    new = rotated["applied"][0]["token"]
    assert new != TOKENS["hook"]
    fire({}, event="ping", want=401)
    old, TOKENS["hook"] = TOKENS["hook"], new
    fire({}, event="ping", want=202)
    assert [r["actor"] for r in audit("trigger.rotated")] == ["u-operator"]
    text = ENV.sluice("trigger", "rotate", "hook", check=0)
    assert text.stdout.startswith("hook sluice.") and "not shown again" in text.stderr, text
    TOKENS["hook"] = text.stdout.split()[1]
    fire({}, event="ping", want=202)


@test
def the_cli_lists_the_same_triggers_locally_and_against_the_server():
    for fmt in ([], ["-o", "json"]):
        here = ENV.sluice("trigger", "ls", *fmt, check=0).stdout
        there = remote("trigger", "ls", *fmt, token="viewer", check=0).stdout
        assert here == there and "hook" in here, (here, there)
    item = json.loads(ENV.sluice("trigger", "ls", "-o", "json", check=0).stdout)[0]
    assert item["pipeline"] == "hooked" and item["params"] == ["ref", "size"], item
    assert TOKENS["hook"].split(".")[1] == item["tokenId"], item


@test
def a_bad_trigger_file_is_one_located_error_and_stores_nothing():
    cases = {
        "  pipelin: pipeline.yaml\n": "t.yaml:6:3: unknown key \"pipelin\"",
        "  pipeline: pipeline.yaml\n  params: {ref: \"${{ body. }}\"}\n": "t.yaml:7:",
        "  pipeline: pipeline.yaml\n  params: {ref: \"${{ params.x }}\"}\n": "read the request",
        "  pipeline: pipeline.yaml\n  params: {reff: main}\n": "unknown param \"reff\"",
        "  pipeline: pipeline.yaml\n  params: {ref: main, size: many}\n": "must be int",
        "  pipeline: pipeline.yaml\n  when: yes\n": "when must be a condition",
    }
    for spec, says in cases.items():
        ENV.write("t.yaml", "apiVersion: sluice/v1\nkind: Trigger\nmetadata:\n  name: t\nspec:\n" + spec)
        p = ENV.sluice("trigger", "apply", "t.yaml", check=2)
        assert says in p.stderr and p.stderr.count("\n") == 1, (spec, p.stderr)
        r = remote("trigger", "apply", "t.yaml", check=2)
        assert r.stderr == p.stderr, (r.stderr, p.stderr)
    assert "\"t\"" not in ENV.sluice("trigger", "ls", "-o", "json", check=0).stdout


@test
def removing_a_trigger_makes_its_webhook_a_404():
    assert remote("trigger", "rm", "spare", check=0).stdout == "removed trigger spare\n"
    fire({"ref": "x", "size": 1}, token="spare", name="spare", want=404)
    assert [r["subject"] for r in audit("trigger.removed")] == ["spare"]
    assert ENV.sluice("trigger", "rm", "spare", check=2).stderr.startswith("sluice: no trigger")



def deliver(name, body, headers, want):
    """POSTs `body` (bytes) to trigger `name` with `headers` only (no bearer token)."""
    h = {"Content-Type": "application/json", "X-GitHub-Event": "push", **headers}
    status, got, raw = SERVER.request("POST", PATH + name, None, body, h)
    assert status == want, f"{name}: {status}, want {want}: {raw[:300]!r}"
    return json.loads(raw)


@test
def senders_that_sign_or_send_a_gitlab_token_fire_only_triggers_that_name_them():
    secrets = {}
    for name, kind in (("signed", "github"), ("gitlab", "gitlab")):
        ENV.write(f"{name}.yaml", TRIGGER % name + f"  signature: {kind}\n")
        p = ENV.sluice("trigger", "apply", f"{name}.yaml", check=0)
        secrets[name] = (p.stdout.split()[1], p.stderr.split("takes ")[1].split()[0])
    body = json.dumps({"ref": "main", "size": 2}).encode()
    token, signing = secrets["signed"]
    mac = "sha256=" + hmac.new(signing.encode(), body, hashlib.sha256).hexdigest()
    made = deliver("signed", body, {"X-Hub-Signature-256": mac}, 201)
    wait_done(made["run"])
    # The body as signed, byte for byte: one more space and the signature no longer holds.
    err = deliver("signed", body + b" ", {"X-Hub-Signature-256": mac}, 401)["error"]["message"]
    assert err == "the body's signature does not match", err
    deliver("signed", body, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, 401)
    deliver("gitlab", body, {"X-Gitlab-Token": secrets["gitlab"][0]}, 201)
    deliver("gitlab", body, {"X-Gitlab-Token": token}, 401)  # another trigger's token
    # A sender's header counts only for a trigger that names that sender; the bearer always does.
    err = deliver("hook", body, {"X-Hub-Signature-256": mac}, 401)["error"]["message"]
    assert "does not take X-Hub-Signature-256" in err, err
    deliver("signed", body, {"X-Gitlab-Token": token}, 401)
    deliver("signed", body, {"Authorization": "Bearer " + token}, 201)
    bad = TRIGGER % "typo" + "  signature: githbu\n"
    ENV.write("typo.yaml", bad)
    p = ENV.sluice("trigger", "apply", "typo.yaml", check=2)
    assert 'signature must be github (X-Hub-Signature-256) or gitlab (X-Gitlab-Token), not "githbu" (did you mean "github"?)' in p.stderr, p.stderr
    for name in secrets:
        ENV.sluice("trigger", "rm", name, check=0)


@test
def the_example_trigger_applies_and_answers_only_pushes_to_main():
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                           "triggers", "retrain-on-push.trigger.yaml")
    applied = json.loads(ENV.sluice("trigger", "apply", example, "-o", "json", check=0).stdout)
    TOKENS["example"] = applied["applied"][0]["token"]
    name = "retrain-on-push"
    # It takes GitHub's signature (signature: github) as well as its bearer token.
    signing = applied["applied"][0]["signingSecret"]
    ping = json.dumps({"zen": "hi"}).encode()
    mac = "sha256=" + hmac.new(signing.encode(), ping, hashlib.sha256).hexdigest()
    deliver(name, ping, {"X-Hub-Signature-256": mac, "X-GitHub-Event": "ping"}, 202)
    fire({"ref": "refs/heads/main"}, token="example", name=name, event="ping", want=202)
    fire({"ref": "refs/heads/dev", "seed": 3}, token="example", name=name, want=202)
    err = fire({"ref": "refs/heads/main"}, token="example", name=name, want=400)["error"]["message"]
    assert "param \"seed\"" in err, err
    remote("trigger", "rm", name, check=0)


@run_e2e.needs_root
def locally_only_the_owner_and_accounts_granted_manage_triggers_change_triggers():
    e = Env()
    e.share()
    for name, text in (("pipeline.yaml", PIPELINE), ("hook.yaml", TRIGGER % "hook")):
        os.chmod(e.write(name, text), 0o644)
    p = e.sluice("trigger", "apply", "hook.yaml", check=2, account="daemon")
    assert "may not change triggers here" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert json.loads(e.sluice("trigger", "ls", "-o", "json", check=0).stdout) == []
    users = run_e2e.USERS_YAML.replace("{name: sys}", "{name: sys, rights: [manage-triggers]}")
    run_e2e.write_users(e, users)
    e.sluice("trigger", "apply", "hook.yaml", check=0, account="sys")
    e.sluice("trigger", "rm", "hook", check=2, account="daemon")
    assert [r["actor"] for r in audit_of(e, "trigger.applied")] == ["sys"]


test(locally_only_the_owner_and_accounts_granted_manage_triggers_change_triggers)


def audit_of(e, action):
    records = [json.loads(x) for x in e.sluice("audit", "export", check=0).stdout.splitlines()]
    return [r for r in records if r["action"] == action]

if __name__ == "__main__":
    try:
        setup()
        rc = run_e2e.run_suite(TESTS, "server-triggers")
    finally:
        if SERVER:
            SERVER.stop()
    sys.exit(rc)
