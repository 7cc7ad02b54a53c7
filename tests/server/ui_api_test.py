#!/usr/bin/env python3
"""What the web UI reads besides runs, and its login's limit (docs/api.md "Chaos experiments",
docs/ui.md "Security"): one `sluice server` on a state folder where two real experiments ran
(`sluice chaos run`, one whose hypothesis held and one that deviated). The chaos routes serve
what `sluice chaos ls` lists and `sluice chaos report` writes; ids from the URL that name no
experiment (path traversal among them) are 404s; a viewer reads, a worker does not. Every JSON
answer is checked against docs/openapi.yaml (api_test.call). Then failed logins from one
address are limited (429 with Retry-After), last, since the limit holds for a minute.

Usage: ui_api_test.py SLUICE [--only SUBSTRING]
Prints one line per failure and ends with "server-ui: N passed, M failed".
"""
import json, os, re, sys

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


PIPELINE = """apiVersion: sluice/v1
kind: Pipeline
metadata: {name: chaos-small}
spec:
  tasks:
    - name: step
      run: [sh, -c, 'echo step']
      retry: {limit: 3, backoff: {initial: 10ms, factor: 1}, on: [75]}
    - {name: last, needs: [step], run: [sh, -c, 'echo last']}
"""


def experiment(name, fault):
    return f"""apiVersion: sluice/v1
kind: Experiment
metadata: {{name: {name}}}
spec:
  title: {name} <b>escaped</b>
  target: {{pipeline: pipeline.yaml, runs: 1, timeout: 1m}}
  steadyStateHypothesis:
    title: every run succeeds
    probes:
      - {{name: success-rate, runs: {{}}, tolerance: "value == 1.0"}}
  method:
    - name: the-fault
      fault: {{task: {fault}}}
  runtime:
    hypothesis: {{strategy: continuously}}
"""


ENV = None
SERVER = None
TOKENS = {}
IDS = {}


def setup():
    global ENV, SERVER
    ENV = Env()
    ENV.write("pipeline.yaml", PIPELINE)
    ENV.write("holds.yaml", experiment("holds", "{exit: 75, task: step, attempt: 1}"))
    ENV.write("deviates.yaml", experiment("deviates", "{exit: 1, task: last}"))
    for name, rc in (("holds", 0), ("deviates", 1)):
        path = ENV.sluice("chaos", "run", f"{name}.yaml", check=rc, timeout=180).stdout.strip().splitlines()[-1]
        IDS[name] = os.path.basename(os.path.dirname(path))
    for role in ("viewer", "worker", "admin"):
        TOKENS[role] = ENV.sluice("token", "create", "--user", f"u-{role}", "--role", role,
                                  check=0).stdout.strip()
    SERVER = Server(ENV, shared=True)


def journal_file(name):
    with open(os.path.join(ENV.state, "chaos", IDS[name], "journal.json")) as f:
        return json.load(f)


@test
def a_viewer_lists_the_experiments_as_chaos_ls_does_and_a_worker_may_not():
    listed = call(SERVER, "GET", "/api/v1/chaos/experiments", TOKENS["viewer"])["items"]
    assert listed == json.loads(ENV.sluice("-o", "json", "chaos", "ls", check=0).stdout), listed
    outcome = {x["name"]: (x["status"], x["deviated"]) for x in listed}
    assert outcome == {"holds": ("completed", False), "deviates": ("completed", True)}, outcome
    call(SERVER, "GET", "/api/v1/chaos/experiments", TOKENS["worker"], want=403)
    call(SERVER, "GET", "/api/v1/chaos/experiments", None, want=401)
    # A folder without a journal (an experiment still running) is not an experiment.
    os.makedirs(os.path.join(ENV.state, "chaos", "2099-01-01T00-00-00-running"))
    assert len(call(SERVER, "GET", "/api/v1/chaos/experiments", TOKENS["viewer"])["items"]) == 2
    call(SERVER, "GET", "/api/v1/chaos/experiments/2099-01-01T00-00-00-running", TOKENS["viewer"], want=404)


@test
def an_experiments_journal_is_the_file_chaos_run_wrote():
    for name in ("holds", "deviates"):
        got = call(SERVER, "GET", f"/api/v1/chaos/experiments/{IDS[name]}", TOKENS["viewer"])
        assert got == journal_file(name), name
    call(SERVER, "GET", f"/api/v1/chaos/experiments/{IDS['holds']}", TOKENS["worker"], want=403)


@test
def the_report_is_what_chaos_report_writes_served_inert():
    rid = IDS["deviates"]
    ENV.sluice("chaos", "report", rid, "--html", "r.html", "--markdown", "r.md", check=0)
    status, headers, body = SERVER.request("GET", f"/api/v1/chaos/experiments/{rid}/report",
                                           TOKENS["viewer"])
    assert status == 200, (status, body[:300])
    assert headers["Content-Type"] == "text/html; charset=utf-8", headers
    # The same page, naming the journal by its id where the CLI names its file (the server's
    # paths stay its own).
    path = os.path.join(ENV.state, "chaos", rid, "journal.json")
    assert body.decode() == open(os.path.join(ENV.dir, "r.html")).read().replace(path, rid)
    assert ENV.state not in body.decode()
    assert "&lt;b&gt;escaped&lt;/b&gt;" in body.decode() and "<b>escaped" not in body.decode()
    csp = headers["Content-Security-Policy"]
    for part in ("default-src 'none'", "sandbox", "frame-ancestors 'self'"):
        assert part in csp, csp
    assert "script-src" not in csp, csp
    assert headers["X-Content-Type-Options"] == "nosniff", headers
    status, headers, body = SERVER.request(
        "GET", f"/api/v1/chaos/experiments/{rid}/report?format=markdown", TOKENS["viewer"])
    assert status == 200 and headers["Content-Type"] == "text/markdown; charset=utf-8", headers
    # (Markdown escapes the file's path: compare the journal's line by its id.)
    cli = re.sub(r"(?m)^Journal [^;]*;", f"Journal {rid};", open(os.path.join(ENV.dir, "r.md")).read())
    assert body.decode() == cli
    assert "sandbox" in headers["Content-Security-Policy"], headers
    err = call(SERVER, "GET", f"/api/v1/chaos/experiments/{rid}/report?format=pdf", TOKENS["viewer"], want=400)
    assert "html or markdown" in err["error"]["message"], err
    call(SERVER, "GET", f"/api/v1/chaos/experiments/{rid}/report", TOKENS["worker"], want=403)


@test
def ids_that_name_no_experiment_reach_no_file():
    # Files an id must never reach: the state folder's own, and a journal outside chaos/.
    os.makedirs(os.path.join(ENV.state, "outside"), exist_ok=True)
    with open(os.path.join(ENV.state, "outside", "journal.json"), "w") as f:
        json.dump(journal_file("holds"), f)
    bad = ["..", ".", "%2e%2e", "..%2foutside", "%2e%2e%2foutside", "..%2F..%2Fetc",
           "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "nope", "holds", IDS["holds"][:-1],
           IDS["holds"] + "%00", "%00", "~", "*", IDS["holds"] + "%2f.."]
    for b in bad:
        for suffix in ("", "/report", "/report?format=markdown"):
            status, _, data = SERVER.request("GET", f"/api/v1/chaos/experiments/{b}{suffix}", TOKENS["admin"])
            assert status in (400, 404), (b, suffix, status, data[:200])
            assert b"steady_states" not in data and b"<html" not in data, (b, suffix)
    # Not even through the router's other paths.
    for raw in ("/api/v1/chaos/experiments/../../runs", "/api/v1/chaos/experiments/./x/../outside"):
        status, _, data = SERVER.request("GET", raw, TOKENS["admin"])
        assert b"steady_states" not in data, (raw, status)
    msg = call(SERVER, "GET", "/api/v1/chaos/experiments/nope", TOKENS["viewer"], want=404)
    assert msg["error"]["message"] == 'no experiment "nope" (sluice chaos ls)', msg


@test
def failed_logins_from_one_address_are_limited_with_retry_after():
    def login(token):
        status, headers, data = SERVER.request("POST", "/ui/login", None,
                                               json.dumps({"token": token}).encode(),
                                               {"Content-Type": "application/json"})
        return status, headers, json.loads(data)
    assert login(TOKENS["viewer"])[0] == 200  # a success neither counts nor clears
    for i in range(10):
        status, _, _ = login(f"sluice.{i:016x}.wrong")
        assert status == 401, (i, status)
    status, headers, data = login("sluice.0000000000000000.wrong")
    assert status == 429, status
    assert 1 <= int(headers["Retry-After"]) <= 60, headers
    assert "too many failed logins" in data["error"]["message"], data
    # The address is refused whatever it sends until the minute passes, a good token included;
    # the API's bearer tokens are not the login page's and still work.
    assert login(TOKENS["viewer"])[0] == 429
    call(SERVER, "GET", "/api/v1/chaos/experiments", TOKENS["viewer"])


if __name__ == "__main__":
    try:
        setup()
        rc = run_e2e.run_suite(TESTS, "server-ui")
    finally:
        if SERVER:
            SERVER.stop()
    sys.exit(rc)
