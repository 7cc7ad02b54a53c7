#!/usr/bin/env python3
"""End-to-end tests of `sluice server` (issue 13): one server on loopback for the whole suite, on
a state folder whose runs were made by the local CLI; every JSON answer is checked against
docs/openapi.yaml, and the API's documents are compared with the CLI's `-o json` ones.

Usage: api_test.py SLUICE [--only SUBSTRING]
Prints one line per failure and ends with "server: N passed, M failed".
"""
import http.client, json, os, socket, subprocess, sys, tempfile, threading, time

import yaml
import jsonschema

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import run_e2e  # noqa: E402
from run_e2e import Env, pipeline  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPENAPI = yaml.safe_load(open(os.path.join(REPO, "docs", "openapi.yaml")))
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Server:
    """A `sluice server` on a free loopback port over `env`'s state folder."""

    def __init__(self, env, *extra, shared=False):
        self.env = env
        self.proc = subprocess.Popen(env.argv(["server", "--listen", "127.0.0.1:0", *extra]),
                                     cwd=env.dir, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(env.dir, "server.log"), "w"),
                                     text=True)
        if not shared:  # run_suite stops a test's own server after it
            run_e2e.STARTED.append(self.proc)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("sluice server listening on http://127.0.0.1:"), line
        self.port = int(line.rsplit(":", 1)[1])

    def request(self, method, path, token=None, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0, "the server must exit 0 on SIGTERM"

    def log(self):
        return open(os.path.join(self.env.dir, "server.log")).read()


def route_of(path):
    """The openapi path template a concrete path answers to."""
    parts = path.split("?")[0].strip("/").split("/")
    for template in OPENAPI["paths"]:
        t = template.strip("/").split("/")
        if len(t) == len(parts) and all(a == b or a.startswith("{") for a, b in zip(t, parts)):
            return template
    return None


def check_schema(method, path, status, headers, data):
    """Checks an answer against docs/openapi.yaml: the route, method and status must be
    described there, and a JSON body must match its schema."""
    template = route_of(path)
    if template is None:  # an unknown route: only the error body is described
        schema = {"$ref": "#/components/schemas/Error"}
    else:
        op = OPENAPI["paths"][template].get(method.lower())
        if op is None:
            schema = {"$ref": "#/components/schemas/Error"}
        else:
            resp = op["responses"].get(str(status))
            assert resp is not None, f"{method} {template} answered {status}, not in openapi.yaml"
            if "$ref" in resp:
                resp = OPENAPI["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
            content = resp["content"]
            ctype = headers.get("Content-Type", "").split(";")[0]
            assert ctype in content, f"{method} {template} {status}: content type {ctype}"
            if ctype != "application/json":
                return
            schema = content[ctype]["schema"]
    root = {"components": OPENAPI["components"], "allOf": [schema]}
    jsonschema.validate(json.loads(data), root, cls=jsonschema.Draft202012Validator)


def call(server, method, path, token=None, want=200, body=None, headers=None):
    status, h, data = server.request(method, path, token, body, headers)
    assert status == want, f"{method} {path}: {status}, want {want}: {data[:300]!r}"
    check_schema(method, path, status, h, data)
    return json.loads(data) if h.get("Content-Type", "").startswith("application/json") else data


# One state folder with runs, one server on it, tokens of every role: made once for the suite.
ENV = None
SERVER = None
TOKENS = {}
RUNS = {}


def setup():
    global ENV, SERVER
    ENV = Env()
    ENV.write("ok.yaml", pipeline("""
    - {name: a, run: [sh, -c, 'echo 41'], outputs: {params: [{name: n, from: {stdout: text}}]}}
    - {name: b, forEach: [1, 2, 3], run: [sh, -c, 'echo "$0"', "${{ item }}"]}
"""))
    ENV.write("bad.yaml", pipeline("    - {name: boom, run: [sh, -c, 'echo no >&2; exit 3']}\n"))
    RUNS["ok"] = ENV.sluice("run", "ok.yaml", check=0).stdout.splitlines()[0]
    RUNS["bad"] = ENV.sluice("run", "bad.yaml", check=1).stdout.splitlines()[0]
    for role in ("viewer", "operator", "approver", "admin"):
        p = ENV.sluice("token", "create", "--user", f"u-{role}", "--role", role, check=0)
        TOKENS[role] = p.stdout.strip()
    TOKENS["elsewhere"] = ENV.sluice("token", "create", "--user", "other", "--role", "ml=admin",
                                     check=0).stdout.strip()
    SERVER = Server(ENV, shared=True)


@test
def health_and_readiness_need_no_token():
    assert call(SERVER, "GET", "/healthz") == {"status": "ok"}
    ready = call(SERVER, "GET", "/readyz")
    assert ready["status"] == "ready" and isinstance(ready["leader"], bool), ready


@test
def every_bad_credential_is_a_401_with_a_json_error():
    good = TOKENS["viewer"]
    tid = good.split(".")[1]
    revoked = ENV.sluice("token", "create", "--user", "gone", "--role", "viewer", check=0).stdout.strip()
    ENV.sluice("token", "revoke", revoked.split(".")[1], check=0)
    expired = ENV.sluice("token", "create", "--user", "late", "--role", "viewer", "--expires-in", "1s",
                         check=0).stdout.strip()
    time.sleep(1.1)
    cases = {
        "no header": None,
        "malformed": "nonsense",
        "wrong secret": good[:-1] + ("A" if good[-1] != "A" else "B"),
        "unknown id": "sluice.0000000000000000." + good.split(".")[2],
        "revoked": revoked,
        "expired": expired,
    }
    for what, token in cases.items():
        status, h, data = SERVER.request("GET", "/api/v1/runs", token)
        assert status == 401, (what, status, data)
        assert h.get("WWW-Authenticate", "").startswith("Bearer"), (what, h)
        check_schema("GET", "/api/v1/runs", status, h, data)
    status, _, _ = SERVER.request("GET", "/api/v1/runs", headers={"Authorization": "Basic eDp5"})
    assert status == 401
    assert tid in ENV.sluice("token", "list", check=0).stdout


@test
def a_role_in_another_namespace_gives_nothing_here():
    denied = call(SERVER, "GET", "/api/v1/runs", TOKENS["elsewhere"], want=403)
    assert "no role in namespace" in denied["error"]["message"], denied
    call(SERVER, "GET", f"/api/v1/runs/{RUNS['ok']}", TOKENS["elsewhere"], want=403)
    me = call(SERVER, "GET", "/api/v1/whoami", TOKENS["elsewhere"])
    assert me == {"user": "other", "roles": {"ml": "admin"}}, me


@test
def only_an_admin_lists_tokens_and_never_sees_a_secret():
    for role in ("viewer", "operator", "approver"):
        call(SERVER, "GET", "/api/v1/tokens", TOKENS[role], want=403)
    listed = call(SERVER, "GET", "/api/v1/tokens", TOKENS["admin"])
    text = json.dumps(listed)
    for t in TOKENS.values():
        assert t.split(".")[2] not in text, "a token's secret was served"
    assert {"u-viewer", "u-admin"} <= {t["user"] for t in listed["items"]}


@test
def the_api_serves_the_documents_the_cli_prints():
    for role in ("viewer", "operator", "approver", "admin"):
        runs = call(SERVER, "GET", "/api/v1/runs", TOKENS[role])
        cli = json.loads(ENV.sluice("runs", "-o", "json", check=0).stdout)
        assert runs["items"] == cli, (role, runs["items"], cli)
    for run in RUNS.values():
        api = call(SERVER, "GET", f"/api/v1/runs/{run}", TOKENS["viewer"])
        cli = json.loads(ENV.sluice("status", run, "-o", "json", check=0).stdout)
        assert api == cli, (api, cli)
        events = call(SERVER, "GET", f"/api/v1/runs/{run}/events", TOKENS["viewer"])
        cli_events = json.loads(ENV.sluice("events", run, "-o", "json", check=0).stdout)
        assert events["items"] == cli_events, (events["items"], cli_events)
        assert events["next"] is None
    prefix = call(SERVER, "GET", f"/api/v1/runs/{RUNS['ok'][:17]}", TOKENS["viewer"])
    assert prefix["id"] == RUNS["ok"] or len({r[:17] for r in RUNS.values()}) == 1


@test
def events_come_in_pages_that_join_up():
    run = RUNS["ok"]
    whole = call(SERVER, "GET", f"/api/v1/runs/{run}/events", TOKENS["viewer"])["items"]
    got, after = [], 0
    while True:
        page = call(SERVER, "GET", f"/api/v1/runs/{run}/events?after={after}&limit=3", TOKENS["viewer"])
        got += page["items"]
        assert len(page["items"]) <= 3
        if page["next"] is None:
            break
        after = page["next"]
    assert got == whole and len(whole) > 3


@test
def bad_requests_get_a_4xx_with_a_json_error_never_a_crash():
    v = TOKENS["viewer"]
    call(SERVER, "GET", "/api/v1/runs/no-such-run", v, want=404)
    call(SERVER, "GET", "/api/v1/nothing-here", v, want=404)
    call(SERVER, "GET", "/api/v1/runs?limit=-1", v, want=400)
    call(SERVER, "GET", "/api/v1/runs?limit=abc", v, want=400)
    call(SERVER, "GET", f"/api/v1/runs/{RUNS['ok']}/events?after=x", v, want=400)
    status, h, data = SERVER.request("DELETE", "/api/v1/runs", v)
    assert status == 405 and "GET" in h.get("Allow", ""), (status, h)
    check_schema("DELETE", "/api/v1/runs", status, h, data)
    status, h, data = SERVER.request("POST", "/healthz", body=b"x" * 10)
    assert status == 405, status
    # Hostile bytes in the path and the query.
    for path in ("/api/v1/runs/%00%ff", "/api/v1/runs/" + "a" * 5000, "/api/v1/runs?limit=" + "9" * 50):
        status, h, data = SERVER.request("GET", path, v)
        assert 400 <= status < 500, (path[:40], status)
        assert json.loads(data)["error"]["status"] == status
    # A request line that is not HTTP, then the server still answers.
    with socket.create_connection(("127.0.0.1", SERVER.port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        s.recv(4096)
    assert call(SERVER, "GET", "/healthz") == {"status": "ok"}


@test
def a_refused_request_body_is_never_read_as_the_next_request():
    smuggled = b"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n"
    for path, token in (("/api/v1/namespaces/default/runs", None), ("/healthz", None),
                        ("/nowhere", None), ("/api/v1/namespaces/default/runs", TOKENS["viewer"])):
        with socket.create_connection(("127.0.0.1", SERVER.port), timeout=10) as s:
            auth = f"Authorization: Bearer {token}\r\n" if token else ""
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {len(smuggled)}\r\n\r\n".encode()
                      + smuggled)
            s.settimeout(2)
            got = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except socket.timeout:
                pass
        assert got.count(b"HTTP/1.1 ") == 1, (path, got[:600])


@test
def a_bundle_changed_on_disk_is_not_run_again():
    body = {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED.replace("name: api", "name: tamper"),
                                            "lib/c.yaml": LIB}}
    made = submit(SERVER, TOKENS["operator"], body)
    wait_finished(SERVER, TOKENS["viewer"], made["id"])
    bundles = os.path.join(ENV.state, "bundles")
    for d in os.listdir(bundles):
        path = os.path.join(bundles, d, "lib", "c.yaml")
        if os.path.exists(path) and "tamper" in open(os.path.join(bundles, d, "p.yaml")).read():
            with open(path, "a") as f:
                f.write("# changed by a task\n")
    err = submit(SERVER, TOKENS["operator"], body, want=409)
    assert "changed on disk" in err["error"]["message"], err


@test
def idle_connections_do_not_starve_the_others():
    idle = [socket.create_connection(("127.0.0.1", SERVER.port), timeout=10) for _ in range(40)]
    try:
        results = []

        def read():
            results.append(SERVER.request("GET", "/api/v1/runs", TOKENS["viewer"])[0])

        threads = [threading.Thread(target=read) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == [200] * 20, results
    finally:
        for s in idle:
            s.close()


@test
def metrics_count_requests_by_route_and_code_and_runs_by_status():
    call(SERVER, "GET", "/api/v1/runs/no-such-run", TOKENS["viewer"], want=404)
    call(SERVER, "GET", "/api/v1/runs", TOKENS["viewer"])
    text = call(SERVER, "GET", "/metrics").decode()
    assert 'sluice_api_requests_total{route="/api/v1/runs/{id}",method="GET",code="404"}' in text
    assert 'sluice_api_request_duration_seconds_bucket{route="/api/v1/runs",le="+Inf"}' in text
    by_status = {}
    for r in json.loads(ENV.sluice("runs", "-n", "1000", "-o", "json", check=0).stdout):
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    for status, n in by_status.items():
        assert f'sluice_runs{{status="{status}"}} {n}' in text, (status, n, text[-800:])
    assert 'sluice_tasks{state="succeeded"}' in text
    for line in text.splitlines():
        assert line.startswith("#") or line.rsplit(" ", 1)[1].replace(".", "").replace("e-", "").isdigit(), line


@test
def json_logs_and_a_clean_stop():
    e = Env()
    e.write("ok.yaml", pipeline("    - {name: a, run: [sh, -c, 'true']}\n"))
    e.sluice("run", "ok.yaml", check=0)
    s = Server(e, "--log-format", "json")
    call(s, "GET", "/healthz")
    s.stop()
    lines = [json.loads(l) for l in s.log().splitlines() if l.strip()]
    requests = [l for l in lines if l["msg"] == "request"]  # besides the leader's lines
    assert any(l["path"] == "/healthz" and l["status"] == 200 and l["route"] == "/healthz" for l in requests), lines
    assert all(set(l) >= {"time", "level", "msg"} for l in lines), lines


@test
def a_server_that_cannot_listen_says_why():
    e = Env()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = e.sluice("server", "--listen", f"127.0.0.1:{port}", check=3)
        assert "cannot listen on" in p.stderr, p.stderr
    p = e.sluice("server", "--listen", "nonsense", check=2)
    assert "expected HOST:PORT" in p.stderr, p.stderr
    p = e.sluice("server", "--store", "mysql://x", check=2)
    assert "sqlite:DIR" in p.stderr, p.stderr


@test
def the_openapi_file_describes_every_route_the_server_has():
    # Each documented path answers something other than "no route" on its documented methods.
    for template, ops in OPENAPI["paths"].items():
        path = template.replace("{id}", RUNS["ok"])
        for method in ops:
            status, _, data = SERVER.request(method.upper(), path, TOKENS["admin"])
            assert status != 404 or b"no route" not in data, (method, template)


OUTSIDE = None  # set by the test that needs it


LIB = """apiVersion: sluice/v1
kind: Component
metadata: {name: hello, version: 1.0.0}
spec:
  params: [{name: n, type: int, required: true}]
  run: [sh, -c, 'echo "hi $0"', "${{ params.n }}"]
  outputs: {params: [{name: said, from: {stdout: text}}]}
"""
SUBMITTED = ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: api}\nspec:\n  imports: [lib]\n"
             "  params: [{name: n, type: int, default: 1}]\n  tasks:\n"
             "    - {name: a, uses: hello@1, with: {n: '${{ params.n }}'}}\n")


def submit(server, token, body, want=201, ns="default"):
    return call(server, "POST", f"/api/v1/namespaces/{ns}/runs", token, want,
                body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def wait_finished(server, token, run):
    for _ in range(300):
        st = call(server, "GET", f"/api/v1/runs/{run}", token)
        if st["status"] in ("succeeded", "failed", "cancelled", "compensated"):
            return st
        time.sleep(0.1)
    raise AssertionError(f"run {run} did not finish: {st['status']}")


@test
def a_server_on_a_relative_state_folder_takes_pipelines_with_imports():
    e = Env()
    op = e.sluice("token", "create", "--user", "ops", "--role", "operator", check=0).stdout.strip()
    s = Server(e, "--store", "sqlite:state")  # relative to the server's folder, e.dir
    made = submit(s, op, {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED, "lib/c.yaml": LIB}})
    assert wait_finished(s, op, made["id"])["status"] == "succeeded"
    s.stop()


@test
def a_running_task_is_seen_spawned_while_it_runs():
    """An attempt's pid is recorded after the turn that started it; it reaches the store within
    the publishing delay (docs/store.md), not when the task ends."""
    op = TOKENS["operator"]
    slow = SUBMITTED.replace("uses: hello@1, with: {n: '${{ params.n }}'}", "run: [sleep, '4']")
    made = submit(SERVER, op, {"pipeline": "p.yaml", "files": {"p.yaml": slow, "lib/c.yaml": LIB}})
    kinds = []
    for _ in range(40):
        kinds = [e["kind"] for e in call(SERVER, "GET", f"/api/v1/runs/{made['id']}/events", op)["items"]]
        if "attempt.spawned" in kinds:
            break
        time.sleep(0.05)
    assert "attempt.spawned" in kinds and "attempt.finished" not in kinds, kinds
    call(SERVER, "POST", f"/api/v1/runs/{made['id']}/cancel", op, want=202)


@test
def an_operator_submits_a_pipeline_with_its_imports_and_the_server_runs_it():
    body = {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED, "lib/c.yaml": LIB}, "params": {"n": 5}}
    submit(SERVER, TOKENS["viewer"], body, want=403)
    submit(SERVER, TOKENS["approver"], body, want=403)
    made = submit(SERVER, TOKENS["operator"], body)
    assert made["submittedBy"] == "u-operator" and made["pipeline"] == "api", made
    st = wait_finished(SERVER, TOKENS["viewer"], made["id"])
    assert st["status"] == "succeeded", st
    assert st["tasks"][0]["outputs"]["params"]["said"] == "hi 5", st["tasks"]
    assert st["components"][0]["version"] == "1.0.0", st["components"]
    # The run is the CLI's too, and its audit record names the token's user.
    assert ENV.sluice("status", made["id"], "-o", "json", check=0).stdout.strip() == json.dumps(st, separators=(",", ":")) or \
        json.loads(ENV.sluice("status", made["id"], "-o", "json", check=0).stdout) == st
    audit = ENV.sluice("audit", "export", check=0).stdout
    assert '"actor":"u-operator","action":"run.submitted"' in audit.replace(" ", ""), audit[-800:]
    # The same files again: the same bundle, two runs.
    bundles = sorted(os.listdir(os.path.join(ENV.state, "bundles")))
    again = submit(SERVER, TOKENS["admin"], body)
    assert again["id"] != made["id"]
    assert sorted(os.listdir(os.path.join(ENV.state, "bundles"))) == bundles


@test
def a_bad_submission_is_a_400_that_names_the_problem_and_stores_nothing():
    global OUTSIDE
    OUTSIDE = ENV.write("outside.yaml", LIB)  # a valid component on the server's disk, outside any bundle
    before = len(json.loads(ENV.sluice("runs", "-o", "json", check=0).stdout))
    op = TOKENS["operator"]
    cases = [
        ("not json", b"{nope", "not JSON"),
        ("unknown field", {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED}, "x": 1}, 'field "x"'),
        ("escape", {"pipeline": "../p.yaml", "files": {"../p.yaml": SUBMITTED}}, "relative path"),
        ("absolute", {"pipeline": "/etc/p.yaml", "files": {"/etc/p.yaml": SUBMITTED}}, "relative path"),
        ("missing pipeline", {"pipeline": "q.yaml", "files": {"p.yaml": SUBMITTED}}, "not one of the files"),
        ("yaml", {"pipeline": "p.yaml", "files": {"p.yaml": "spec: [\n"}}, "p.yaml:"),
        ("missing import", {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED}}, "does not exist"),
        ("bad param", {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED, "lib/c.yaml": LIB},
                       "params": {"n": "many"}}, "n"),
        ("file and folder", {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED, "lib": "x",
                                                             "lib/c.yaml": LIB}}, "file and a folder"),
        ("import outside", {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED.replace(
            "imports: [lib]", f"imports: [{OUTSIDE}]")}}, "outside the files"),
    ]
    for what, body, says in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        err = call(SERVER, "POST", "/api/v1/namespaces/default/runs", op, 400, body=raw)
        assert says in err["error"]["message"], (what, err)
        # (The loader names a missing import by its resolved path, cut short: not checked.)
        assert what == "missing import" or ENV.state not in err["error"]["message"], (what, err)
    err = submit(SERVER, TOKENS["elsewhere"], {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED}}, want=400, ns="ml")
    assert "namespace" in err["error"]["message"], err
    assert len(json.loads(ENV.sluice("runs", "-o", "json", check=0).stdout)) == before
    assert not [d for d in os.listdir(os.path.join(ENV.state, "bundles")) if ".tmp-" in d]
    status, h, data = SERVER.request("POST", "/api/v1/namespaces/default/runs", op, body=b"x" * (17 << 20))
    assert status == 413, status


@test
def admission_runs_at_submission_and_a_denial_creates_no_run():
    e, _ = run_e2e.central_env()
    token = e.sluice("token", "create", "--user", "dora", "--role", "operator", check=0).stdout.strip()
    s = Server(e)
    p = ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: ship}\nspec:\n"
         "  params: [{name: target, default: dev}]\n  tasks:\n"
         "    - {name: ship, run: [echo, '${{ params.target }}']}\n")
    denied = submit(s, token, {"pipeline": "p.yaml", "files": {"p.yaml": p}, "params": {"target": "prod"}},
                    want=403)
    assert denied["error"]["decisions"][0]["policy"] == "no-prod", denied
    assert json.loads(e.sluice("runs", "-o", "json", check=0).stdout) == []
    assert '"action":"run.denied"' in e.sluice("audit", "export", check=0).stdout.replace(" ", "")
    ok = submit(s, token, {"pipeline": "p.yaml", "files": {"p.yaml": p}})
    assert wait_finished(s, token, ok["id"])["status"] == "succeeded"


@test
def logs_come_by_byte_range_per_attempt_and_stream():
    v = TOKENS["viewer"]
    ok, bad = RUNS["ok"], RUNS["bad"]
    out = call(SERVER, "GET", f"/api/v1/runs/{ok}/tasks/a/logs", v)
    assert out == b"41\n", out
    status, h, data = SERVER.request("GET", f"/api/v1/runs/{bad}/tasks/boom/logs?stream=stderr", v)
    assert status == 200 and data == b"no\n" and h["X-Sluice-Next-Offset"] == "3", (status, h, data)
    assert h["X-Sluice-Attempt"] == "1" and h["X-Sluice-Running"] == "false"
    status, h, data = SERVER.request("GET", f"/api/v1/runs/{bad}/tasks/boom/logs?stream=stderr&offset=1&limit=1", v)
    assert data == b"o" and h["X-Sluice-Next-Offset"] == "2", (data, h)
    status, h, data = SERVER.request("GET", f"/api/v1/runs/{bad}/tasks/boom/logs?stream=stderr&offset=99", v)
    assert data == b"" and h["X-Sluice-Next-Offset"] == "99", (data, h)
    item = call(SERVER, "GET", f"/api/v1/runs/{ok}/tasks/b%5B1%5D/logs", v)
    assert item == b"2\n", item
    assert item == ENV.sluice("logs", ok, "b[1]", check=0).stdout.encode()
    call(SERVER, "GET", f"/api/v1/runs/{ok}/tasks/nope/logs", v, want=404)
    call(SERVER, "GET", f"/api/v1/runs/{ok}/tasks/a/logs?attempt=2", v, want=404)
    call(SERVER, "GET", f"/api/v1/runs/{ok}/tasks/a/logs?stream=both", v, want=400)
    call(SERVER, "GET", f"/api/v1/runs/{ok}/tasks/a/logs", TOKENS["elsewhere"], want=403)


@test
def an_operator_cancels_a_running_run_and_the_audit_names_them():
    slow = ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: slow}\nspec:\n  tasks:\n"
            "    - {name: wait, run: [sleep, '30']}\n")
    made = submit(SERVER, TOKENS["operator"], {"pipeline": "slow.yaml", "files": {"slow.yaml": slow}})
    run = made["id"]
    lock = os.path.join(ENV.state, "runs", run, "lock")
    for _ in range(100):
        st = call(SERVER, "GET", f"/api/v1/runs/{run}", TOKENS["viewer"])
        if st["status"] == "running" and st["attempts"]:
            break
        time.sleep(0.1)
    call(SERVER, "POST", f"/api/v1/runs/{run}/cancel", TOKENS["viewer"], want=403)
    call(SERVER, "POST", f"/api/v1/runs/{run}/cancel", TOKENS["approver"], want=403)
    assert call(SERVER, "POST", f"/api/v1/runs/{run}/cancel", TOKENS["operator"], want=202)["cancelling"]
    st = wait_finished(SERVER, TOKENS["viewer"], run)
    assert st["status"] == "cancelled", st["status"]
    audit = ENV.sluice("audit", "export", check=0).stdout.replace(" ", "")
    assert f'"actor":"u-operator","action":"run.cancelled","run_id":"{run}"' in audit or \
        ('"actor":"u-operator"' in audit and '"action":"run.cancelled"' in audit), audit[-600:]
    err = call(SERVER, "POST", f"/api/v1/runs/{run}/cancel", TOKENS["operator"], want=409)
    assert "already finished" in err["error"]["message"], err
    call(SERVER, "POST", "/api/v1/runs/no-such-run/cancel", TOKENS["operator"], want=404)


@test
def the_team_server_example_reads_its_run_over_the_api():
    script = os.path.join(REPO, "examples", "team-server", "try-the-api.sh")
    p = subprocess.run([script, run_e2e.SLUICE], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert " succeeded [" in p.stdout and "'report:succeeded'" in p.stdout, p.stdout
    assert '"status":401' in p.stdout, p.stdout


if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    try:
        setup()
        rc = run_e2e.run_suite([t for t in TESTS if only in t.__name__], "server")
    finally:
        if SERVER:
            SERVER.stop()
    sys.exit(rc)
