#!/usr/bin/env python3
"""End-to-end test of notifications (issue 13, docs/notifications.md): one `sluice server` with
a STATE/notifications.yaml and one real HTTP receiver on loopback for the whole suite. The runs
come from `sluice run` on the server's state folder (the leader reads every run's events).

Usage: notifications_test.py SLUICE [--only SUBSTR] (ends "server-notifications: N passed, M failed").
"""
import http.server, json, os, socket, subprocess, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402
from run_e2e import Env  # noqa: E402
from api_test import Server, call  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Receiver:
    """An HTTP server on a loopback port that records every POST by path and answers each path
    with the statuses scripted for it (then 200)."""

    def __init__(self, port=0):
        self.got, self.script, self.lock = [], {}, threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    queue = outer.script.get(self.path, [])
                    status = queue.pop(0) if queue else 200
                    outer.got.append({"path": self.path, "status": status, "body": json.loads(body),
                                      "auth": self.headers.get("Authorization"),
                                      "type": self.headers.get("Content-Type")})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def answered(self, path, status=None):
        with self.lock:
            return [g for g in self.got if g["path"] == path and (status is None or g["status"] == status)]

    def stop(self):
        self.http.shutdown()
        self.http.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


ENV = Env()
RECEIVER = None
LATER_PORT = free_port()  # nothing listens here until a_receiver_that_was_down_gets_it_later
SERVER = None
ADMIN = VIEWER = None
CONFIG = """apiVersion: sluice/v1
kind: Notifications
metadata: {{name: e2e}}
spec:
  delivery: {{attempts: 6, backoff: 200ms, maxBackoff: 1s, timeout: 2s}}
  hooks:
    - name: all
      url: http://127.0.0.1:{port}/all
      on: [run.failed, run.succeeded, approval.requested, breaker.opened]
      headers: {{Authorization: "Bearer ${{NOTIFY_TOKEN}}"}}
    - {{name: flaky, url: "http://127.0.0.1:{port}/flaky", on: [run.succeeded], pipelines: [flaky]}}
    - {{name: refuses, url: "http://127.0.0.1:{port}/refuses", on: [run.succeeded], pipelines: [refused]}}
    - {{name: later, url: "http://127.0.0.1:{later}/later", on: [run.succeeded], pipelines: [later]}}
    - {{name: restart, url: "http://127.0.0.1:{port}/restart", on: [run.succeeded], pipelines: [restarted]}}
    - {{name: ml-only, url: "http://127.0.0.1:{port}/ml", on: [run.failed, run.succeeded], namespaces: [ml]}}
    - {{name: etl-only, url: "http://127.0.0.1:{port}/etl", on: [run.failed, run.succeeded], pipelines: [etl]}}
"""
BREAKER = """apiVersion: sluice/v1
kind: Breaker
metadata: {name: flaky-api}
spec:
  slidingWindowType: COUNT_BASED
  slidingWindowSize: 10
  minimumNumberOfCalls: 2
  failureRateThreshold: 50
  waitDurationInOpenState: 30s
"""


def named(name, tasks, extra=""):
    return f"apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {{name: {name}}}\nspec:\n{extra}  tasks:\n{tasks}"


def run(name, tasks="    - {name: a, run: [echo, hi]}\n", want=0, extra=""):
    ENV.write(name + ".yaml", named(name, tasks, extra))
    return ENV.sluice("run", name + ".yaml", check=want).stdout.splitlines()[0]


def start_server():
    global SERVER
    SERVER = Server(ENV, shared=True, environ={"NOTIFY_TOKEN": "s3cret"})


def rows(*extra):
    return json.loads(ENV.sluice("notifications", "ls", "-o", "json", *extra, check=0).stdout)


def row_of(hook, run_id):
    found = [r for r in rows() if r["hook"] == hook and r["run"] == run_id]
    return found[0] if found else None


def wait_row(hook, run_id, state, what):
    ENV.wait_for(lambda: (row_of(hook, run_id) or {}).get("state") == state, what, 200)
    return row_of(hook, run_id)


def for_run(path, run_id):
    return [g for g in RECEIVER.answered(path) if g["body"]["sluice"].get("run") == run_id]


def setup():
    global RECEIVER, ADMIN, VIEWER
    RECEIVER = Receiver()
    os.makedirs(ENV.state, exist_ok=True)
    ENV.write("state/notifications.yaml", CONFIG.format(port=RECEIVER.port, later=LATER_PORT))
    ENV.write("breakers.yaml", BREAKER)
    ADMIN = ENV.sluice("token", "create", "--user", "ann", "--role", "admin", check=0).stdout.strip()
    VIEWER = ENV.sluice("token", "create", "--user", "vic", "--role", "viewer", check=0).stdout.strip()
    start_server()


@test
def a_succeeded_and_a_failed_run_are_posted_as_slack_compatible_json():
    ok = run("train")
    bad = run("train", "    - {name: fit, run: [sh, -c, 'echo boom >&2; exit 3']}\n", want=1)
    ENV.wait_for(lambda: for_run("/all", ok) and for_run("/all", bad), "both runs posted", 200)
    good, failed = for_run("/all", ok)[0], for_run("/all", bad)[0]
    assert good["body"]["text"] == f"run {ok} (train) succeeded", good
    assert good["type"] == "application/json" and good["auth"] == "Bearer s3cret", good
    s = failed["body"]["sluice"]
    assert (s["event"], s["run"], s["pipeline"], s["namespace"], s["status"], s["task"]) == \
        ("run.failed", bad, "train", "default", "failed", "fit"), s
    assert failed["body"]["text"].startswith(f"run {bad} (train) failed: task fit: "), failed
    assert s["id"].startswith("event:") and s["api"] == f"/api/v1/runs/{bad}", s
    assert "s3cret" not in SERVER.log() and "s3cret" not in json.dumps(rows()), "a secret was shown"


@test
def an_approval_request_names_the_run_the_gate_and_who_may_approve():
    gate = "    - name: sign-off\n      approval: {approvers: [alice, bob], timeout: 1s}\n" \
           "    - {name: ship, needs: [sign-off], run: [echo, shipped]}\n"
    gated = run("gated", gate, want=1)  # nobody approves: the deadline rejects it
    ENV.wait_for(lambda: len(for_run("/all", gated)) == 2, "the request and the failure", 200)
    asked = [g["body"] for g in for_run("/all", gated) if g["body"]["sluice"]["event"] == "approval.requested"]
    assert len(asked) == 1, for_run("/all", gated)
    assert asked[0]["text"] == f"run {gated} (gated) waits for approval of task sign-off: alice, bob may approve", asked
    assert asked[0]["sluice"]["task"] == "sign-off" and asked[0]["sluice"]["approvers"] == ["alice", "bob"], asked


@test
def a_breaker_that_trips_is_posted_with_its_reason():
    task = "    - {name: call, breaker: flaky-api, run: [sh, -c, 'exit 1']}\n"
    for _ in range(2):
        run("caller", task, want=1, extra="  imports: [breakers.yaml]\n")
    ENV.wait_for(lambda: [g for g in RECEIVER.answered("/all") if g["body"]["sluice"]["event"] == "breaker.opened"],
                 "breaker.opened", 200)
    opened = [g["body"] for g in RECEIVER.answered("/all") if g["body"]["sluice"]["event"] == "breaker.opened"]
    assert len(opened) == 1, opened
    assert opened[0]["sluice"]["breaker"] == "flaky-api" and opened[0]["sluice"]["state"] == "open", opened
    assert opened[0]["text"].startswith("breaker flaky-api opened (closed -> open): "), opened
    assert opened[0]["sluice"]["reason"] in opened[0]["text"], opened


@test
def server_errors_are_retried_with_backoff_until_delivered():
    RECEIVER.script["/flaky"] = [500, 500]
    r = run("flaky")
    row = wait_row("flaky", r, "delivered", "the third attempt")
    assert row["attempts"] == 3 and row["lastStatus"] == 200 and row["delivered"], row
    got = for_run("/flaky", r)
    assert [g["status"] for g in got] == [500, 500, 200], got
    metrics = SERVER.request("GET", "/metrics")[2].decode()
    for line in ('sluice_notification_deliveries_total{hook="flaky",result="retried"} 2',
                 'sluice_notification_deliveries_total{hook="flaky",result="delivered"} 1'):
        assert line in metrics, metrics


@test
def a_client_error_fails_the_delivery_without_retrying():
    RECEIVER.script["/refuses"] = [400]
    r = run("refused")
    row = wait_row("refuses", r, "failed", "the refusal")
    assert row["attempts"] == 1 and row["lastStatus"] == 400, row
    assert "answered 400" in row["lastError"], row
    time.sleep(0.6)  # past the first backoff: nothing more is sent
    assert len(for_run("/refuses", r)) == 1
    assert [x["hook"] for x in rows("--failed")] == ["refuses"], rows("--failed")
    assert 'sluice_notification_deliveries_total{hook="refuses",result="failed"} 1' in \
        SERVER.request("GET", "/metrics")[2].decode()


@test
def a_receiver_that_was_down_gets_the_delivery_later():
    r = run("later")
    ENV.wait_for(lambda: (row_of("later", r) or {}).get("attempts", 0) >= 1, "a first attempt", 200)
    first = row_of("later", r)
    assert first["state"] == "pending" and first["lastStatus"] is None and first["lastError"], first
    late = Receiver(LATER_PORT)
    try:
        row = wait_row("later", r, "delivered", "the receiver once up")
        assert row["attempts"] >= 2 and len(late.answered("/later")) == 1, row
    finally:
        late.stop()


@test
def a_server_restarted_mid_backoff_delivers_and_sends_nothing_twice():
    RECEIVER.script["/restart"] = [500] * 100
    r = run("restarted")
    ENV.wait_for(lambda: (row_of("restart", r) or {}).get("attempts", 0) >= 1, "a first attempt", 200)
    SERVER.stop()
    before = len(RECEIVER.got)
    RECEIVER.script["/restart"] = []  # from now on 200
    pending = row_of("restart", r)
    assert pending["state"] == "pending", pending
    start_server()
    row = wait_row("restart", r, "delivered", "the delivery after the restart")
    assert row["attempts"] == pending["attempts"] + 1, (pending, row)
    time.sleep(1.5)  # several of the new leader's steps and delivery loops
    assert [g["path"] for g in RECEIVER.got[before:]] == ["/restart"], RECEIVER.got[before:]
    ids = [(g["path"], g["body"]["sluice"]["id"]) for g in RECEIVER.got if g["status"] == 200]
    assert len(ids) == len(set(ids)), "a delivery was sent again after it was delivered"


@test
def hooks_hear_only_of_their_namespaces_and_pipelines():
    etl = run("etl")
    ENV.wait_for(lambda: for_run("/etl", etl), "the etl hook", 200)
    time.sleep(0.5)
    assert {g["body"]["sluice"]["pipeline"] for g in RECEIVER.answered("/etl")} == {"etl"}
    assert RECEIVER.answered("/ml") == [], "runs of namespace default reached the ml hook"
    assert not [x for x in rows() if x["hook"] == "ml-only"]


@test
def operators_list_deliveries_over_the_api_and_the_cli():
    items = call(SERVER, "GET", "/api/v1/notifications?failed=true", ADMIN)["items"]
    assert [i["hook"] for i in items] == ["refuses"], items
    everything = call(SERVER, "GET", "/api/v1/notifications?limit=1000", ADMIN)["items"]
    assert everything == rows("--limit", "1000"), "the API and the local CLI differ"
    call(SERVER, "GET", "/api/v1/notifications", VIEWER, want=403)
    call(SERVER, "GET", "/api/v1/notifications?failed=maybe", ADMIN, want=400)
    remote = ENV.sluice("notifications", "ls", "--failed", check=0,
                        env={"SLUICE_SERVER": f"http://127.0.0.1:{SERVER.port}", "SLUICE_TOKEN": ADMIN})
    local = ENV.sluice("notifications", "ls", "--failed", check=0)
    assert remote.stdout == local.stdout and "refuses" in local.stdout, (remote.stdout, local.stdout)


@test
def hooks_changed_in_the_file_apply_without_a_restart_and_a_bad_edit_keeps_the_last():
    path = os.path.join(ENV.state, "notifications.yaml")
    before = open(path).read()
    added = before + "    - {name: added, url: \"http://127.0.0.1:%d/added\", on: [run.succeeded], pipelines: [added]}\n" % RECEIVER.port
    ENV.write("state/notifications.yaml", added)
    ENV.wait_for(lambda: "read 8 hooks from notifications.yaml" in SERVER.log(), "the reload", 100)
    r = run("added")
    wait_row("added", r, "delivered", "the new hook's delivery")
    # An edit that breaks the file is logged with its place; the hooks read last still work.
    ENV.write("state/notifications.yaml", added.replace("pipelines: [added]", "pipelinez: [added]"))
    ENV.wait_for(lambda: 'unknown key "pipelinez"' in SERVER.log(), "the bad edit logged", 100)
    assert "(the hooks read before stay in force)" in SERVER.log()
    again = run("added")
    wait_row("added", again, "delivered", "the kept hook's delivery")
    ENV.write("state/notifications.yaml", before)
    ENV.wait_for(lambda: SERVER.log().count("read 7 hooks from notifications.yaml") >= 1, "back to 7", 100)


@test
def a_bad_notifications_file_stops_the_server_with_file_line_column():
    e = Env()
    os.makedirs(e.state)
    text = CONFIG.format(port=1, later=2).replace("pipelines: [etl]", "pipeline: [etl]")
    path = e.write("state/notifications.yaml", text)
    line = text.splitlines()[15]
    p = e.sluice("server", "--listen", "127.0.0.1:0", check=2, env={"NOTIFY_TOKEN": "x"})
    want = f'{path}:16:{line.index("pipeline:") + 1}: unknown key "pipeline" in a hook (did you mean "pipelines"?)'
    assert p.stderr.strip() == want, (p.stderr, want)
    e.write("state/notifications.yaml", CONFIG.format(port=1, later=2))
    p = subprocess.run(e.argv(["server", "--listen", "127.0.0.1:0"]), capture_output=True, text=True,
                       timeout=30, env={k: v for k, v in os.environ.items() if k != "NOTIFY_TOKEN"})
    assert p.returncode == 2 and "the environment variable NOTIFY_TOKEN is not set" in p.stderr, p.stderr
    assert f"{path}:10:" in p.stderr, p.stderr


if __name__ == "__main__":
    try:
        setup()
        rc = run_e2e.run_suite(TESTS, "server-notifications")
    finally:
        if SERVER:
            SERVER.proc.terminate()
            SERVER.proc.wait(timeout=10)
        if RECEIVER:
            RECEIVER.stop()
    sys.exit(rc)
