#!/usr/bin/env python3
"""End-to-end tests of `sluice server` (issue 13): one server on loopback for the whole suite, on
a state folder whose runs were made by the local CLI; every JSON answer is checked against
docs/openapi.yaml, and the API's documents are compared with the CLI's `-o json` ones.

Usage: api_test.py SLUICE [--only SUBSTRING]
Prints one line per failure and ends with "server: N passed, M failed".
"""
import hashlib, http.client, json, os, re, socket, subprocess, sys, tempfile, threading, time

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

    def __init__(self, env, *extra, shared=False, environ=None):
        self.env = env
        self.proc = subprocess.Popen(env.argv(["server", "--listen", "127.0.0.1:0", *extra]),
                                     cwd=env.dir, stdout=subprocess.PIPE,
                                     env=dict(os.environ, **(environ or {})),
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
    ENV.write("breakers.yaml", BREAKER)
    ENV.write("arts.yaml", pipeline("""
    - {name: make, breaker: flaky-api, run: [sh, -c, 'printf model-bytes > m.bin; mkdir d; echo x > d/f'],
       outputs: {artifacts: [{name: model, path: m.bin}, {name: folder, path: d}]}}
""", "  imports: [breakers.yaml]\n"))
    RUNS["arts"] = ENV.sluice("run", "arts.yaml", check=0).stdout.splitlines()[0]
    for role in ("viewer", "operator", "approver", "admin", "worker"):
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
    # "other" is admin of namespace ml only: default's runs are, to it, runs that do not exist
    # (judged in default, where it has no role).
    assert call(SERVER, "GET", "/api/v1/runs", TOKENS["elsewhere"]) == {"items": []}
    for method, tail in (("GET", ""), ("POST", "/cancel")):
        hidden = call(SERVER, method, f"/api/v1/runs/{RUNS['ok']}{tail}", TOKENS["elsewhere"], want=403, body=b"{}")
        missing = call(SERVER, method, f"/api/v1/runs/no-such-run{tail}", TOKENS["elsewhere"], want=403, body=b"{}")
        assert hidden == missing and "no role in namespace" in hidden["error"]["message"], (hidden, missing)
    denied = call(SERVER, "GET", "/api/v1/namespaces/default/runs", TOKENS["elsewhere"], want=403)
    assert "no role in namespace" in denied["error"]["message"], denied
    me = call(SERVER, "GET", "/api/v1/whoami", TOKENS["elsewhere"])
    assert me == {"user": "other", "roles": {"ml": "admin"},
                  "may": {"ml": ["read", "submit", "operate", "approve", "admin", "work"]}}, me


@test
def runs_belong_to_the_namespace_they_were_submitted_to():
    team = ENV.sluice("token", "create", "--user", "tina", "--role", "team-a=operator", check=0).stdout.strip()
    every = ENV.sluice("token", "create", "--user", "ivy", "--role", "*=viewer", check=0).stdout.strip()
    body = {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED, "lib/c.yaml": LIB}, "params": {"n": 1}}
    submit(SERVER, team, body, want=403)  # no role in default
    made = submit(SERVER, team, body, ns="team-a")
    st = wait_finished(SERVER, team, made["id"])
    assert st["status"] == "succeeded" and st["namespace"] == "team-a", st
    # The team sees its run and only its runs; default's viewer does not see it at all.
    mine = call(SERVER, "GET", "/api/v1/runs", team)["items"]
    assert [r["id"] for r in mine] == [made["id"]] and mine[0]["namespace"] == "team-a", mine
    assert call(SERVER, "GET", "/api/v1/namespaces/team-a/runs", team)["items"] == mine
    viewer = TOKENS["viewer"]
    assert made["id"] not in [r["id"] for r in call(SERVER, "GET", "/api/v1/runs?limit=500", viewer)["items"]]
    hidden = call(SERVER, "GET", f"/api/v1/runs/{made['id']}", viewer, want=404)
    missing = call(SERVER, "GET", f"/api/v1/runs/{made['id']}x", viewer, want=404)
    assert (hidden["error"]["message"], missing["error"]["message"]) == \
        (f'no run "{made["id"]}"', f'no run "{made["id"]}x"'), (hidden, missing)
    call(SERVER, "GET", f"/api/v1/runs/{made['id']}/events", viewer, want=404)
    call(SERVER, "POST", f"/api/v1/runs/{made['id']}/cancel", viewer, want=403, body=b"{}")  # as for none
    call(SERVER, "GET", "/api/v1/runs?namespace=team-a", viewer, want=403)
    call(SERVER, "GET", f"/api/v1/runs/{RUNS['ok']}", team, want=403)
    # "*" reads every namespace; the store and the local CLI keep the namespace.
    both = {r["id"]: r["namespace"] for r in call(SERVER, "GET", "/api/v1/runs?limit=500", every)["items"]}
    assert both[made["id"]] == "team-a" and both[RUNS["ok"]] == "default", both
    local = json.loads(ENV.sluice("status", made["id"], "-o", "json", check=0).stdout)
    assert local["namespace"] == "team-a", local
    audit = ENV.sluice("audit", "export", check=0).stdout
    assert any(json.loads(l).get("run") == made["id"] and '"namespace":"team-a"' in l.replace(" ", "")
               for l in audit.splitlines() if l.startswith("{")), audit[-600:]
    # The CLI against the server names the namespace with --namespace (or $SLUICE_NAMESPACE).
    env = {"SLUICE_SERVER": f"http://127.0.0.1:{SERVER.port}", "SLUICE_TOKEN": team}
    listed = ENV.sluice("--namespace", "team-a", "runs", "-o", "json", check=0, env=env).stdout
    assert [r["id"] for r in json.loads(listed)] == [made["id"]], listed
    bad = ENV.sluice("--namespace", "Team_A", "runs", check=2, env=env)
    assert "--namespace" in bad.stderr, bad.stderr
    local = ENV.sluice("--namespace", "team-a", "runs", check=2)
    assert "for a server" in local.stderr, local.stderr


@test
def central_pools_bound_a_namespaces_runs_and_are_checked_at_submission():
    pools = os.path.join(ENV.state, "pools.yaml")
    with open(pools, "w") as f:
        f.write("apiVersion: sluice/v1\nkind: Pools\nspec:\n  pools:\n"
                "    - {name: lane, namespace: team-p, capacity: 1}\n  mutexes:\n    - {name: deploy}\n")
    os.chmod(pools, 0o644)
    team = ENV.sluice("token", "create", "--user", "pat", "--role", "team-p=operator", check=0).stdout.strip()
    log = os.path.join(ENV.dir, "lane.log")
    tasks = "".join(f"    - {{name: t{i}, run: [sh, -c, 'echo start >> {log}; sleep 0.3; echo end >> {log}'], "
                    f"resources: {{lane: 1}}}}\n" for i in range(3))
    body = {"pipeline": "p.yaml", "files": {"p.yaml": pipeline(tasks)}}
    made = submit(SERVER, team, body, ns="team-p")
    assert wait_finished(SERVER, team, made["id"])["status"] == "succeeded"
    assert open(log).read() == "start\nend\n" * 3, open(log).read()  # one at a time
    # A run in default has no "lane": refused at submission with the task's place, nothing stored.
    before = len(call(SERVER, "GET", "/api/v1/runs?limit=500", TOKENS["operator"])["items"])
    err = submit(SERVER, TOKENS["operator"], body, want=400)["error"]["message"]
    assert 'task "t0" asks for pool "lane", which neither spec.pools nor' in err, err
    assert len(call(SERVER, "GET", "/api/v1/runs?limit=500", TOKENS["operator"])["items"]) == before
    # The team sees its own pool and the shared mutex; default's viewer only the mutex.
    mine = {(p["namespace"], p["name"]): p for p in call(SERVER, "GET", "/api/v1/pools", team)["items"]}
    assert set(mine) == {("team-p", "lane"), ("", "deploy")}, mine
    assert mine[("team-p", "lane")]["used"] == 0 and mine[("", "deploy")]["kind"] == "mutex", mine
    seen = [(p["namespace"], p["name"]) for p in call(SERVER, "GET", "/api/v1/pools", TOKENS["viewer"])["items"]]
    assert seen == [("", "deploy")], seen
    # The CLI against the server prints what it prints here; /metrics has the gauges.
    every = ENV.sluice("token", "create", "--user", "paula", "--role", "*=viewer", check=0).stdout.strip()
    env = {"SLUICE_SERVER": f"http://127.0.0.1:{SERVER.port}", "SLUICE_TOKEN": every}
    remote = ENV.sluice("pools", "-o", "json", check=0, env=env).stdout
    assert json.loads(remote) == json.loads(ENV.sluice("pools", "-o", "json", check=0).stdout), remote
    metrics = SERVER.request("GET", "/metrics")[2].decode()
    assert 'sluice_pool_capacity{pool="lane",namespace="team-p"} 1' in metrics, metrics[-800:]
    os.remove(pools)


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
        # The state folder's CLI lists every namespace; these tokens read "default".
        cli = [r for r in json.loads(ENV.sluice("runs", "-o", "json", check=0).stdout)
               if r["namespace"] == "default"]
        assert runs["items"] == cli, (role, runs["items"], cli)
    for run in RUNS.values():
        api = call(SERVER, "GET", f"/api/v1/runs/{run}", TOKENS["viewer"])
        cli = json.loads(ENV.sluice("status", run, "-o", "json", check=0).stdout)
        assert api == cli, (api, cli)
        events = call(SERVER, "GET", f"/api/v1/runs/{run}/events", TOKENS["viewer"])
        cli_events = json.loads(ENV.sluice("events", run, "-o", "json", check=0).stdout)
        assert events["items"] == cli_events, (events["items"], cli_events)
        assert events["next"] is None
    # The shortest prefix (from the random part on) that no other run of the folder shares.
    ids = [r["id"] for r in json.loads(ENV.sluice("runs", "-n", "1000", "-o", "json", check=0).stdout)]
    n = next(n for n in range(17, 25) if sum(i.startswith(RUNS["ok"][:n]) for i in ids) == 1)
    prefix = call(SERVER, "GET", f"/api/v1/runs/{RUNS['ok'][:n]}", TOKENS["viewer"])
    assert prefix["id"] == RUNS["ok"]


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
    assert 'sluice_api_request_duration_seconds_bucket{route="/api/v1/runs",code="200",le="+Inf"}' in text
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
        for method in ops:
            # Actions name a run that does not exist, so that this walk changes nothing.
            path = template.replace("{id}", RUNS["ok"] if method == "get" else "no-such-run")
            if template.endswith("/stream"):
                s = Stream(SERVER, path, TOKENS["admin"])
                status, data = s.status, b""
                s.close()
            else:
                status, _, data = SERVER.request(method.upper(), path, TOKENS["admin"])
            assert status != 404 or b"no route" not in data, (method, template)


OUTSIDE = None  # set by the test that needs it
BROKEN = None


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
def the_servers_own_credentials_never_reach_a_task():
    """The server's environment is its own: an admin's SLUICE_TOKEN or SLUICE_SERVER, a
    PGPASSWORD, do not reach the engines' tasks (whose logs viewers read), and a SLUICE_SERVER
    does not send the engines to a server."""
    e = Env()
    op = e.sluice("token", "create", "--user", "ops", "--role", "operator", check=0).stdout.strip()
    s = Server(e, environ={"SLUICE_TOKEN": "sluice.0000000000000000.ADMINSECRET",
                           "SLUICE_SERVER": "http://127.0.0.1:9", "PGPASSWORD": "pgsecret",
                           "SOME_SECRET": "hunter2"})
    p = ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: env}\nspec:\n  tasks:\n"
         "    - {name: show, run: [env]}\n")
    made = submit(s, op, {"pipeline": "p.yaml", "files": {"p.yaml": p}})
    assert wait_finished(s, op, made["id"])["status"] == "succeeded"
    log = call(s, "GET", f"/api/v1/runs/{made['id']}/tasks/show/logs", op).decode()
    for secret in ("ADMINSECRET", "pgsecret", "hunter2", "SLUICE_SERVER", "SLUICE_SERVED_ENGINE"):
        assert secret not in log, (secret, log)
    assert "PATH=" in log, log
    s.stop()


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
    global OUTSIDE, BROKEN
    OUTSIDE = ENV.write("outside.yaml", LIB)  # a valid component on the server's disk, outside any bundle
    BROKEN = ENV.write("broken.yaml", "db_password: [hunter2\n")  # and a broken file with a secret
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
        # Not even a parse error may quote a file of the server's: it is refused before it is read.
        ("broken file outside", {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED.replace(
            "imports: [lib]", f"imports: [{BROKEN}]")}}, "outside the files"),
        ("relative escape", {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED.replace(
            "imports: [lib]", "imports: [../../../broken.yaml]")}}, "outside the files"),
    ]
    for what, body, says in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        err = call(SERVER, "POST", "/api/v1/namespaces/default/runs", op, 400, body=raw)
        assert says in err["error"]["message"], (what, err)
        # (The loader names a missing import by its resolved path, cut short: not checked.)
        assert what == "missing import" or ENV.state not in err["error"]["message"], (what, err)
        assert "hunter2" not in json.dumps(err), (what, err)
    err = submit(SERVER, TOKENS["admin"], {"pipeline": "p.yaml", "files": {"p.yaml": SUBMITTED}}, want=400,
                 ns="Not_A_Namespace")
    assert "not a namespace name" in err["error"]["message"], err
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



# --- Event streams and logs that follow (issue 13, "A live event stream") ---------------------

class Stream:
    """An open streamed answer: SSE messages or raw bytes, read as they come."""

    def __init__(self, server, path, token=None, headers=None, timeout=30):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        self.conn.request("GET", path, headers=h)
        self.r = self.conn.getresponse()
        self.status, self.headers = self.r.status, dict(self.r.getheaders())
        self.comments = []

    def message(self):
        """The next SSE message as {"id", "event", "data"}, or None at the end of the stream."""
        msg = {}
        while True:
            line = self.r.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if line == "":
                if msg:
                    return msg
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            field, _, value = line.partition(": ")
            msg[field] = json.loads(value) if field == "data" else value

    def messages(self, until=lambda m: False):
        out = []
        while True:
            m = self.message()
            if m is None:
                return out
            out.append(m)
            if until(m):
                return out

    def close(self):
        self.conn.close()


def check_event_message(m):
    assert m["id"] == str(m["data"]["seq"]) and m["event"] == m["data"]["kind"], m
    event = dict(m["data"])
    assert isinstance(event.pop("run"), str)
    jsonschema.validate(event, {"components": OPENAPI["components"],
                                "$ref": "#/components/schemas/Event"},
                        cls=jsonschema.Draft202012Validator)


@test
def a_run_stream_goes_on_past_other_runs_events_to_its_end():
    """Two runs at once: the stream of one is shown the other's events too and must not stop at
    them (it once stalled there for good, sending only keep-alives)."""
    op = TOKENS["operator"]
    chain = ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: interleaved}\nspec:\n  tasks:\n"
             + "".join(f"    - {{name: t{i}, run: [sleep, '0.3']{', needs: [t' + str(i - 1) + ']' if i else ''}}}\n"
                       for i in range(4)))
    a = submit(SERVER, op, {"pipeline": "p.yaml", "files": {"p.yaml": chain}})["id"]
    b = submit(SERVER, op, {"pipeline": "p.yaml", "files": {"p.yaml": chain}})["id"]
    s = Stream(SERVER, f"/api/v1/runs/{a}/events/stream", op, timeout=30)
    kinds = []
    while (m := s.message()) is not None:
        assert m["data"]["run"] == a, m
        kinds.append(m["event"])
    s.close()
    assert kinds[-1] == "run.finished" and kinds.count("attempt.finished") == 4, kinds
    wait_finished(SERVER, op, b)


@test
def a_run_stream_sends_every_event_with_its_position_and_ends_with_the_run():
    run = RUNS["ok"]
    events = call(SERVER, "GET", f"/api/v1/runs/{run}/events", TOKENS["viewer"])["items"]
    s = Stream(SERVER, f"/api/v1/runs/{run}/events/stream", TOKENS["viewer"])
    assert s.status == 200 and s.headers["Content-Type"].startswith("text/event-stream"), s.headers
    got = s.messages()  # the run finished: the stream ends by itself
    s.close()
    assert [m["data"]["seq"] for m in got] == [e["seq"] for e in events], (got, events)
    for m in got:
        check_event_message(m)
        assert m["data"]["run"] == run
    assert got[-1]["event"] == "run.finished"
    # Resumed after the third: the rest, by header or by query, and nothing once past the end.
    third = got[2]["id"]
    for h, q in (({"Last-Event-ID": third}, ""), ({}, f"?after={third}")):
        s = Stream(SERVER, f"/api/v1/runs/{run}/events/stream{q}", TOKENS["viewer"], headers=h)
        rest = s.messages()
        s.close()
        assert [m["id"] for m in rest] == [m["id"] for m in got[3:]], rest
    s = Stream(SERVER, f"/api/v1/runs/{run}/events/stream", TOKENS["viewer"],
               headers={"Last-Event-ID": got[-1]["id"]})
    assert s.messages() == [] and s.status == 200
    s.close()
    call(SERVER, "GET", f"/api/v1/runs/{run}/events/stream", TOKENS["viewer"], want=400,
         headers={"Last-Event-ID": "x"})
    call(SERVER, "GET", "/api/v1/runs/no-such-run/events/stream", TOKENS["viewer"], want=404)
    call(SERVER, "GET", f"/api/v1/runs/{run}/events/stream", TOKENS["elsewhere"], want=403)
    call(SERVER, "GET", f"/api/v1/runs/{run}/events/stream", None, want=401)


SLOWISH = ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: slowish}\nspec:\n  tasks:\n"
           "    - {name: one, run: [sh, -c, 'sleep 0.5; echo one']}\n"
           "    - {name: two, needs: [one], run: [sh, -c, 'echo two']}\n")


@test
def streams_follow_a_live_run_and_the_all_runs_stream_resumes_from_any_position():
    last = call(SERVER, "GET", f"/api/v1/runs/{RUNS['ok']}/events", TOKENS["viewer"])["items"][-1]["seq"]
    every = Stream(SERVER, "/api/v1/events/stream", TOKENS["viewer"], headers={"Last-Event-ID": str(last)})
    nowhere = Stream(SERVER, "/api/v1/events/stream", TOKENS["elsewhere"])
    assert every.status == 200 and nowhere.status == 200
    made = submit(SERVER, TOKENS["operator"], {"pipeline": "s.yaml", "files": {"s.yaml": SLOWISH}})
    live = Stream(SERVER, f"/api/v1/runs/{made['id']}/events/stream", TOKENS["viewer"])
    got = live.messages()
    live.close()
    kinds = [m["event"] for m in got]
    assert kinds[-1] == "run.finished" and "attempt.started" in kinds, kinds
    mine = every.messages(until=lambda m: m["data"]["run"] == made["id"] and m["event"] == "run.finished")
    every.close()
    for m in mine:
        check_event_message(m)
    assert all(int(m["id"]) > last for m in mine)
    ids = [int(m["id"]) for m in mine]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [m for m in mine if m["data"]["run"] == made["id"]] == got
    # A token that reads in no namespace of these runs sees none of their events.
    nowhere.conn.sock.settimeout(1.5)
    try:
        assert nowhere.message() is None
    except (socket.timeout, TimeoutError):
        pass
    nowhere.close()


@test
def quiet_streams_send_keep_alives_and_never_take_the_threads_reads_need():
    e = Env()
    e.write("ok.yaml", pipeline("    - {name: a, run: [sh, -c, 'true']}\n"))
    e.sluice("run", "ok.yaml", check=0)
    token = e.sluice("token", "create", "--user", "v", "--role", "viewer", check=0).stdout.strip()
    e.sluice("server", "--max-streams", "8", "--max-connections", "8", check=2)
    s = Server(e, "--idle-timeout", "2", "--max-streams", "3", "--max-connections", "8")
    streams = [Stream(s, "/api/v1/events/stream", token, headers={"Last-Event-ID": "999999"})
               for _ in range(3)]
    assert [x.status for x in streams] == [200] * 3
    busy = Stream(s, "/api/v1/events/stream", token)
    assert busy.status == 503 and busy.headers.get("Retry-After"), (busy.status, busy.headers)
    busy.close()
    for _ in range(10):  # reads go on while the streams stay open
        assert call(s, "GET", "/api/v1/runs", token)["items"]
    streams[0].conn.sock.settimeout(3)
    first = streams[0].r.readline()  # nothing happens: the next line is the keep-alive comment
    assert first == b": keep-alive\n", first
    assert "sluice_api_open_streams 3" in call(s, "GET", "/metrics").decode()
    for x in streams:
        x.close()
    for _ in range(50):  # a closed stream is noticed at its next keep-alive, and frees its place
        again = Stream(s, "/api/v1/events/stream", token)
        again.close()
        if again.status == 200:
            break
        time.sleep(0.2)
    assert again.status == 200


@test
def logs_follow_streams_new_bytes_until_the_attempt_ends():
    ticker = ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: ticker}\nspec:\n  tasks:\n"
              "    - {name: tick, run: [sh, -c, 'for i in 1 2 3 4; do echo $i; sleep 0.3; done']}\n")
    made = submit(SERVER, TOKENS["operator"], {"pipeline": "t.yaml", "files": {"t.yaml": ticker}})
    for _ in range(100):
        if call(SERVER, "GET", f"/api/v1/runs/{made['id']}", TOKENS["viewer"])["attempts"]:
            break
        time.sleep(0.05)
    s = Stream(SERVER, f"/api/v1/runs/{made['id']}/tasks/tick/logs?follow=true", TOKENS["viewer"])
    assert s.status == 200 and s.headers["X-Sluice-Attempt"] == "1", (s.status, s.headers)
    first = s.r.readline()
    running = call(SERVER, "GET", f"/api/v1/runs/{made['id']}", TOKENS["viewer"])["status"] == "running"
    rest = s.r.read()  # ends by itself once the attempt has ended
    s.close()
    assert first + rest == b"1\n2\n3\n4\n", first + rest
    assert running, "the first bytes came while the attempt still ran"
    # A finished attempt: the whole log at once, then the end; from an offset, the rest.
    s = Stream(SERVER, f"/api/v1/runs/{RUNS['ok']}/tasks/a/logs?follow=true&offset=1", TOKENS["viewer"])
    assert s.r.read() == b"1\n"
    s.close()
    call(SERVER, "GET", f"/api/v1/runs/{RUNS['ok']}/tasks/a/logs?follow=maybe", TOKENS["viewer"], want=400)


def audit_has(actor, action, run):
    records = [json.loads(l) for l in ENV.sluice("audit", "export", check=0).stdout.splitlines() if l.strip()]
    return any(r["actor"] == actor and r["action"] == action and r.get("run_id", r.get("run")) == run
               for r in records), records[-3:]


@test
def an_operator_resumes_an_interrupted_run_and_rolls_back_a_failed_one():
    ENV.write("long.yaml", pipeline("    - {name: long, run: [sleep, '1'], retry: {limit: 1, on: [lost]}}\n"))
    proc, run = ENV.start("run", "long.yaml")
    time.sleep(0.3)
    run_e2e.crash(ENV, proc, run)
    assert call(SERVER, "GET", f"/api/v1/runs/{run}", TOKENS["viewer"])["status"] == "interrupted"
    for role in ("viewer", "approver"):
        call(SERVER, "POST", f"/api/v1/runs/{run}/resume", TOKENS[role], want=403)
    done = call(SERVER, "POST", f"/api/v1/runs/{run}/resume", TOKENS["operator"], want=202)
    assert done == {"id": run, "action": "resume", "by": "u-operator"}, done
    assert wait_finished(SERVER, TOKENS["viewer"], run)["status"] == "succeeded"
    ok, tail = audit_has("u-operator", "run.resumed", run)
    assert ok, tail
    err = call(SERVER, "POST", f"/api/v1/runs/{run}/resume", TOKENS["operator"], want=409)
    assert "already finished" in err["error"]["message"], err
    call(SERVER, "POST", "/api/v1/runs/no-such-run/resume", TOKENS["operator"], want=404)
    # Rollback: only a finished run, by an operator or admin; the succeeded run is compensated.
    ENV.write("undo.yaml", pipeline("    - {name: setup, run: [echo, set], compensate: {run: [echo, undo]}}\n"))
    bad = ENV.sluice("run", "undo.yaml", check=0).stdout.splitlines()[0]
    call(SERVER, "POST", f"/api/v1/runs/{bad}/rollback", TOKENS["approver"], want=403)
    assert call(SERVER, "POST", f"/api/v1/runs/{bad}/rollback", TOKENS["admin"], want=202)["by"] == "u-admin"
    for _ in range(300):  # a loaded machine (CI: 2 cores) takes seconds
        st = call(SERVER, "GET", f"/api/v1/runs/{bad}", TOKENS["viewer"])
        if st["status"] == "compensated":
            break
        time.sleep(0.1)
    assert st["status"] == "compensated", st["status"]
    ok, tail = audit_has("u-admin", "run.rollback", bad)
    assert ok, tail
    err = call(SERVER, "POST", f"/api/v1/runs/{bad}/rollback", TOKENS["operator"], want=409)
    assert "compensated" in err["error"]["message"], err


GATED = ("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: gated}\nspec:\n  tasks:\n"
         "    - name: sign-off\n"
         "      approval: {approvers: [u-approver, u-admin, u-operator, u-second], quorum: 2}\n"
         "    - {name: ship, needs: [sign-off], run: [echo, shipped]}\n")


@test
def approvals_take_the_voter_from_the_token_with_the_local_rules():
    second = ENV.sluice("token", "create", "--user", "u-second", "--role", "approver", check=0).stdout.strip()
    made = submit(SERVER, TOKENS["admin"], {"pipeline": "g.yaml", "files": {"g.yaml": GATED}})
    run = made["id"]
    for _ in range(100):
        waiting = call(SERVER, "GET", f"/api/v1/runs/{run}/approvals", TOKENS["viewer"])["items"]
        if waiting:
            break
        time.sleep(0.1)
    assert [(a["run"], a["task"], a["state"]) for a in waiting] == [(run, "sign-off", "pending")], waiting
    assert any(a["run"] == run for a in call(SERVER, "GET", "/api/v1/approvals", TOKENS["viewer"])["items"])
    assert call(SERVER, "GET", "/api/v1/approvals", TOKENS["elsewhere"])["items"] == []
    url = f"/api/v1/runs/{run}/tasks/sign-off/approve"
    # Roles first: a viewer and an operator (even one the request lists) do not vote.
    call(SERVER, "POST", url, TOKENS["viewer"], want=403)
    call(SERVER, "POST", url, TOKENS["operator"], want=403)
    # The submitter may not approve its own run; nobody names another voter.
    err = call(SERVER, "POST", url, TOKENS["admin"], want=403)
    assert "forbidSelfApproval" in err["error"]["message"], err
    err = call(SERVER, "POST", url, TOKENS["approver"], want=400, body=json.dumps({"user": "u-second"}).encode())
    assert "voter is the token's user" in err["error"]["message"], err
    one = call(SERVER, "POST", url, TOKENS["approver"], body=json.dumps({"comment": "lgtm"}).encode())
    assert one == {"run": run, "task": "sign-off", "approve": True, "by": "u-approver",
                   "approvals": 1, "quorum": 2}, one
    call(SERVER, "POST", url, TOKENS["approver"], want=409)  # one vote per user and round
    call(SERVER, "POST", f"/api/v1/runs/{run}/tasks/ship/approve", second, want=409)
    assert call(SERVER, "POST", url, second)["approvals"] == 2
    assert wait_finished(SERVER, TOKENS["viewer"], run)["status"] == "succeeded"
    records = [json.loads(l) for l in ENV.sluice("audit", "export", check=0).stdout.splitlines() if l.strip()]
    votes = [(r["actor"], r["action"]) for r in records
             if r["run"] == run and r["action"].startswith("approval.") and r["actor"] != "sluice"]
    assert votes == [("u-approver", "approval.approved"), ("u-second", "approval.approved")], votes
    call(SERVER, "POST", url, second, want=409)  # decided
    call(SERVER, "POST", f"/api/v1/runs/{RUNS['ok']}/tasks/a/reject", TOKENS["approver"], want=409)


@test
def breakers_policy_eval_and_the_audit_log_over_the_api():
    listed = call(SERVER, "GET", "/api/v1/breakers", TOKENS["viewer"])["items"]
    assert listed == json.loads(ENV.sluice("breakers", "-o", "json", check=0).stdout), listed
    assert [b["name"] for b in listed] == ["flaky-api"] and listed[0]["state"] == "closed", listed
    call(SERVER, "POST", "/api/v1/breakers/flaky-api/open", TOKENS["viewer"], want=403)
    call(SERVER, "POST", "/api/v1/breakers/flaky-api/open", TOKENS["approver"], want=403)
    opened = call(SERVER, "POST", "/api/v1/breakers/flaky-api/open", TOKENS["operator"])
    assert opened["by"] == "u-operator" and opened["transitions"] == [{"from": "closed", "to": "forced-open"}] \
        or opened["transitions"][0]["from"] == "closed", opened
    assert call(SERVER, "GET", "/api/v1/breakers", TOKENS["viewer"])["items"][0]["state"] != "closed"
    reset = call(SERVER, "POST", "/api/v1/breakers/flaky-api/reset", TOKENS["operator"])
    assert reset["transitions"][-1]["to"] == "closed", reset
    err = call(SERVER, "POST", "/api/v1/breakers/flaky-apx/reset", TOKENS["operator"], want=404)
    assert "flaky-api" in err["error"]["message"], err  # did you mean
    records = [json.loads(l) for l in ENV.sluice("audit", "export", check=0).stdout.splitlines() if l.strip()]
    assert ("u-operator", "breaker.reset", "flaky-api") in [(r["actor"], r["action"], r["subject"]) for r in records]
    # The audit log: admin only, the CLI's documents.
    for role in ("viewer", "operator", "approver"):
        call(SERVER, "GET", "/api/v1/audit/verify", TOKENS[role], want=403)
        call(SERVER, "GET", "/api/v1/audit/export", TOKENS[role], want=403)
    verified = call(SERVER, "GET", "/api/v1/audit/verify", TOKENS["admin"])
    assert verified["ok"] and verified["records"] >= len(records), verified
    assert not call(SERVER, "GET", "/api/v1/audit/verify?head=" + "0" * 64, TOKENS["admin"])["ok"]
    exported = call(SERVER, "GET", "/api/v1/audit/export", TOKENS["admin"]).decode().splitlines()
    assert [json.loads(l) for l in exported][:len(records)] == records
    tail = call(SERVER, "GET", f"/api/v1/audit/export?after={records[-2]['seq']}", TOKENS["admin"]).decode()
    assert json.loads(tail.splitlines()[0]) == records[-1]
    # policy eval: the server's central policies on a posted input.
    e, _ = run_e2e.central_env()
    token = e.sluice("token", "create", "--user", "val", "--role", "viewer", check=0).stdout.strip()
    s = Server(e)
    judged = call(s, "POST", "/api/v1/policy/eval", token,
                  body=json.dumps({"object": {"name": "ship", "params": {"target": "prod"}}}).encode())
    assert judged["denied"] and judged["decisions"][0]["policy"] == "no-prod", judged
    fine = call(s, "POST", "/api/v1/policy/eval", token,
                body=json.dumps({"object": {"name": "ship", "params": {"target": "dev"}}}).encode())
    assert not fine["denied"], fine
    err = call(s, "POST", "/api/v1/policy/eval", token, want=400, body=b'{"params": {}}')
    assert '"object"' in err["error"]["message"], err


@test
def artifacts_download_by_digest_only_where_a_readable_run_recorded_them():
    run = RUNS["arts"]
    arts = {a["name"]: a for a in call(SERVER, "GET", f"/api/v1/runs/{run}/artifacts", TOKENS["viewer"])["items"]}
    model = arts["model"]
    assert model["task"] == "make" and model["file"] == "m.bin" and not model["folder"], arts
    digest = model["digest"].split(":", 1)[1]
    assert digest == hashlib.sha256(b"model-bytes").hexdigest()
    for path in (f"/api/v1/artifacts/sha256/{digest}", f"/api/v1/runs/{run}/artifacts/sha256/{digest}"):
        status, h, data = SERVER.request("GET", path, TOKENS["viewer"])
        assert status == 200 and data == b"model-bytes", (path, status, data)
        assert h["X-Sluice-Digest"] == "sha256:" + digest and "m.bin" in h["Content-Disposition"], h
    # Not recorded by that run, by no run, or by no run the token may read: the same 404.
    other = f"/api/v1/runs/{RUNS['ok']}/artifacts/sha256/{digest}"
    nowhere = "/api/v1/artifacts/sha256/" + "0" * 64
    hidden = f"/api/v1/artifacts/sha256/{digest}"
    msgs = [call(SERVER, "GET", p, t, want=404)["error"]["message"]
            for p, t in ((other, TOKENS["viewer"]), (nowhere, TOKENS["viewer"]), (hidden, TOKENS["elsewhere"]))]
    assert msgs[1].replace("0" * 64, digest) == msgs[2], msgs
    call(SERVER, "GET", "/api/v1/artifacts/sha256/NOTHEX", TOKENS["viewer"], want=400)
    folder = arts["folder"]["digest"].split(":", 1)[1]
    call(SERVER, "GET", f"/api/v1/artifacts/sha256/{folder}", TOKENS["viewer"], want=409)

# --- parity (issue 13): retry and rerun, waivers, run prefixes, over the API.
FLAKY = """    - {name: first, run: [echo, one]}
    - {name: gate, needs: [first], run: [sh, -c, 'test -f "$0"', "FLAG"]}
    - {name: last, needs: [gate], run: [echo, done]}
"""


@test
def an_operator_retries_and_reruns_a_failed_run_and_the_audit_names_them():
    flag = os.path.join(ENV.dir, "flaky-flag")
    ENV.write("flaky.yaml", pipeline(FLAKY.replace("FLAG", flag)))
    run = ENV.sluice("run", "flaky.yaml", check=1).stdout.splitlines()[0]
    url = f"/api/v1/runs/{run}/retry"
    for role in ("viewer", "approver"):
        call(SERVER, "POST", url, TOKENS[role], want=403)
    call(SERVER, "POST", url, TOKENS["operator"], want=400, body=b'{"tasks": ["first"]}')  # did not fail
    call(SERVER, "POST", url, TOKENS["operator"], want=400, body=b'{"by": "someone-else"}')
    call(SERVER, "POST", "/api/v1/runs/no-such-run/retry", TOKENS["operator"], want=404)
    open(flag, "w").close()
    done = call(SERVER, "POST", url, TOKENS["operator"], want=202)
    assert done == {"id": run, "action": "retry", "by": "u-operator", "tasks": ["gate", "last"],
                    "decisions": []}, done
    assert wait_finished(SERVER, TOKENS["viewer"], run)["status"] == "succeeded"
    ok, tail = audit_has("u-operator", "run.retried", run)
    assert ok, tail
    err = call(SERVER, "POST", url, TOKENS["operator"], want=409)  # nothing failed any more
    assert run in err["error"]["message"], err
    # A rerun from the gate: a new run in the same namespace, its first task reused.
    call(SERVER, "POST", f"/api/v1/runs/{run}/rerun", TOKENS["viewer"], want=403)
    err = call(SERVER, "POST", f"/api/v1/runs/{run}/rerun", TOKENS["operator"], want=400,
               body=b'{"from": "nope"}')
    assert "nope" in err["error"]["message"], err
    made = call(SERVER, "POST", f"/api/v1/runs/{run}/rerun", TOKENS["operator"], want=201,
                body=b'{"from": "gate"}')
    new = made["id"]
    assert (made["rerunOf"], made["reused"], made["submittedBy"]) == (run, 1, "u-operator"), made
    st = wait_finished(SERVER, TOKENS["viewer"], new)
    assert st["status"] == "succeeded" and st["namespace"] == "default", st
    assert {t["name"]: t["state"] for t in st["tasks"]}["first"] == "cached", st["tasks"]
    events = call(SERVER, "GET", f"/api/v1/runs/{new}/events?limit=10000", TOKENS["viewer"])["items"]
    assert max(e["seq"] for e in events if e["kind"] == "task.finished" and e["task"] == "first") <= made["after"]
    ok, tail = audit_has("u-operator", "run.submitted", new)
    assert ok, tail


@test
def of_two_retries_at_once_one_wins_and_secret_params_stay_with_the_cli():
    flag = os.path.join(ENV.dir, "race-flag")
    ENV.write("race.yaml", pipeline(FLAKY.replace("FLAG", flag)))
    run = ENV.sluice("run", "race.yaml", check=1).stdout.splitlines()[0]
    open(flag, "w").close()
    got = []
    ask = lambda: got.append(SERVER.request("POST", f"/api/v1/runs/{run}/retry", TOKENS["operator"], b"")[0])
    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [202, 409], got
    assert wait_finished(SERVER, TOKENS["viewer"], run)["status"] == "succeeded"
    ok, tail = audit_has("u-operator", "run.retried", run)
    assert ok, tail
    records = [json.loads(l) for l in ENV.sluice("audit", "export", check=0).stdout.splitlines() if l.strip()]
    assert sum(r["action"] == "run.retried" and r["run"] == run for r in records) == 1, records[-4:]
    # Secret params' values are never stored: such runs are retried and rerun with the CLI.
    ENV.write("secret.yaml", pipeline("    - {name: use, run: [sh, -c, 'exit 1']}\n",
                                      "  params: [{name: token, secret: true}]\n"))
    secret = ENV.sluice("run", "secret.yaml", "-p", "token=s3cr3t", check=1).stdout.splitlines()[0]
    for action in ("retry", "rerun"):
        err = call(SERVER, "POST", f"/api/v1/runs/{secret}/{action}", TOKENS["operator"], want=400)
        assert "secret param" in err["error"]["message"], err


@test
def rerun_is_admitted_again_and_waivers_are_granted_by_the_tokens_admin():
    e, _ = run_e2e.central_env()
    tokens = {role: e.sluice("token", "create", "--user", f"w-{role}", "--role", role, check=0).stdout.strip()
              for role in ("viewer", "operator", "admin")}
    tokens["ml"] = e.sluice("token", "create", "--user", "w-ml", "--role", "ml=admin", check=0).stdout.strip()
    tokens["z"] = e.sluice("token", "create", "--user", "w-z", "--role", "team-z=viewer", check=0).stdout.strip()
    body = "    - {name: ship, run: [echo, '${{ params.target }}']}\n"
    params = "  params: [{name: target, default: dev}]\n"
    e.write("p.yaml", pipeline(body, params))
    run = e.sluice("run", "p.yaml", check=0).stdout.splitlines()[0]
    s = Server(e)
    # A prefix resolves among the runs the token may read: another team's run neither matches
    # nor makes it ambiguous.
    other = submit(s, tokens["ml"], {"pipeline": "p.yaml", "files": {"p.yaml": pipeline(body, params)}},
                   ns="ml")["id"]
    assert call(s, "GET", "/api/v1/runs/2", tokens["viewer"])["id"] == run
    assert call(s, "GET", "/api/v1/runs/2", tokens["ml"])["id"] == other
    # A prefix only unreadable runs share is answered as a missing run, never "ambiguous".
    assert call(s, "GET", "/api/v1/runs/2", tokens["z"], want=403) == \
        call(s, "GET", "/api/v1/runs/zzz", tokens["z"], want=403)
    hidden = call(s, "POST", f"/api/v1/runs/{other}/rerun", tokens["operator"], want=404)
    missing = call(s, "POST", "/api/v1/runs/no-such-run/rerun", tokens["operator"], want=404)
    assert hidden["error"]["message"].replace(other, "X") == missing["error"]["message"].replace("no-such-run", "X")
    wait_finished(s, tokens["ml"], other)
    again = call(s, "POST", f"/api/v1/runs/{other}/rerun", tokens["ml"], want=201)
    assert call(s, "GET", f"/api/v1/runs/{again['id']}", tokens["ml"])["namespace"] == "ml"
    # A rerun goes through admission: the central policy denies target=prod, and nothing is made.
    before = len(call(s, "GET", "/api/v1/runs", tokens["viewer"])["items"])
    denied = call(s, "POST", f"/api/v1/runs/{run}/rerun", tokens["operator"], want=403,
                  body=json.dumps({"params": {"target": "prod"}}).encode())
    assert [d["policy"] for d in denied["error"]["decisions"]] == ["no-prod"], denied
    assert len(call(s, "GET", "/api/v1/runs", tokens["viewer"])["items"]) == before
    # Waivers: listed by readers, granted by an admin as the token's user, never a named grantor.
    grant = {"name": "hotfix", "policy": "no-prod", "justification": "incident 42 needs prod",
             "expires": "2099-12-31"}
    call(s, "POST", "/api/v1/waivers", tokens["operator"], want=403, body=json.dumps(grant).encode())
    err = call(s, "POST", "/api/v1/waivers", tokens["admin"], want=400,
               body=json.dumps(dict(grant, grantedBy="mallory")).encode())
    assert "grantedBy" in err["error"]["message"], err
    err = call(s, "POST", "/api/v1/waivers", tokens["admin"], want=400,
               body=json.dumps(dict(grant, policy="no-such")).encode())
    assert "no-such" in err["error"]["message"], err
    made = call(s, "POST", "/api/v1/waivers", tokens["admin"], want=201, body=json.dumps(grant).encode())
    assert (made["grantedBy"], made["policy"], made["rule"]) == ("w-admin", "no-prod", ""), made
    call(s, "POST", "/api/v1/waivers", tokens["admin"], want=409, body=json.dumps(grant).encode())
    listed = call(s, "GET", "/api/v1/waivers", tokens["viewer"])["items"]
    assert listed == json.loads(e.sluice("waiver", "list", "-o", "json", check=0).stdout), listed
    assert [(w["name"], w["state"], w["grantedBy"]) for w in listed] == [("hotfix", "in-force", "w-admin")]
    records = [json.loads(l) for l in e.sluice("audit", "export", check=0).stdout.splitlines() if l.strip()]
    assert [(r["actor"], r["subject"]) for r in records if r["action"] == "waiver.granted"] == \
        [("w-admin", "hotfix")], records[-2:]
    waived = call(s, "POST", f"/api/v1/runs/{run}/rerun", tokens["operator"], want=201,
                  body=json.dumps({"params": {"target": "prod"}}).encode())
    assert [d["policy"] for d in waived["decisions"]] == ["no-prod"], waived
    call(s, "DELETE", "/api/v1/waivers/hotfix", tokens["operator"], want=403)
    gone = call(s, "DELETE", "/api/v1/waivers/hotfix", tokens["admin"])
    assert gone["revokedBy"] == "w-admin" and gone["auditSeq"] > made["auditSeq"], gone
    call(s, "DELETE", "/api/v1/waivers/hotfix", tokens["admin"], want=404)
    wait_finished(s, tokens["viewer"], waived["id"])
# --- end of parity


def route_table_of_docs():
    """The `| `METHOD PATH` | needs |` rows of docs/server.md."""
    rows = {}
    for line in open(os.path.join(REPO, "docs", "server.md")):
        m = re.match(r"\| `(GET|HEAD|POST|PUT|PATCH|DELETE) (/[^`]*)` \| ([a-z ]+) \|$", line.strip())
        if m:
            rows[(m.group(1), m.group(2))] = m.group(3)
    return rows


ALLOWS = {  # docs/server.md's role table
    "viewer": {"read"}, "operator": {"read", "submit", "operate"},
    "approver": {"read", "approve"}, "admin": {"read", "submit", "operate", "approve", "admin", "work"},
    "worker": {"work"},
}


@test
def the_role_matrix_holds_on_every_route_of_the_router():
    routes = json.loads(ENV.sluice("server", "--routes", check=0).stdout)
    table = {(r["method"], r["path"]): r["needs"] for r in routes}
    assert table == route_table_of_docs(), "docs/server.md's route table differs from the router's: " + \
        repr(set(table.items()) ^ set(route_table_of_docs().items()))
    for (method, template), needs in table.items():
        assert route_of(template) == template and method.lower() in OPENAPI["paths"][template], \
            f"{method} {template} is not in docs/openapi.yaml"
    # Placeholders that change nothing: reads see real runs, actions name ones that do not exist.
    values = {"ns": "elsewhere-ns", "task": "a", "digest": "0" * 64, "name": "no-such-breaker",
              "worker": "no-such-worker", "lease": "no-such-lease",
              "experiment": "no-such-experiment"}
    for (method, template), needs in table.items():
        path = template
        for k, v in values.items():
            path = path.replace("{" + k + "}", v)
        path = path.replace("{id}", RUNS["ok"] if method == "GET" else "no-such-run")
        if template.startswith("/api/v1/namespaces/{ns}/"):  # the tokens' roles are in default
            path = path.replace("elsewhere-ns", "default")
        for who in ("none", "bad", "viewer", "operator", "approver", "admin", "worker"):
            token = {"none": None, "bad": "sluice.0000000000000000.nope"}.get(who, TOKENS.get(who))
            s = Stream(SERVER, path, token) if method == "GET" else None
            if s:
                status = s.status
                s.close()
            else:
                status = SERVER.request(method, path, token, body=b"")[0]
            if needs == "trigger token":  # docs/triggers.md: no user token fires a trigger
                assert status in (401, 404), (method, template, who, status)
                continue
            if needs == "none":
                want_ok = True
            elif who in ("none", "bad"):
                assert status == 401, (method, template, who, status)
                continue
            else:
                want_ok = needs == "any token" or needs in ALLOWS[who]
            if want_ok:
                assert status not in (401, 403) and status < 500, (method, template, who, status)
                # A digest no run recorded, a task without a rollout and an experiment that did
                # not run are 404s to every role (tests/server/ui_api_test.py reads real ones).
                if method == "GET" and "{digest}" not in template and "/rollouts/" not in template \
                        and "{experiment}" not in template:
                    assert 200 <= status < 300, (method, template, who, status)
            else:
                assert status == 403, (method, template, who, status)

if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    try:
        setup()
        rc = run_e2e.run_suite([t for t in TESTS if only in t.__name__], "server")
    finally:
        if SERVER:
            SERVER.stop()
    sys.exit(rc)
