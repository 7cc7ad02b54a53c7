#!/usr/bin/env python3
"""The CLI against a server (issue 13, docs/cli.md "Against a server"): one `sluice server` on a
free loopback port over a state folder of its own for the whole suite. Example pipelines run
locally (in another state folder) and with --server; the outputs of status, runs, events and logs
are compared: byte for byte for the same run read locally and over the API, and after
normalising run ids and times between the local run and the remote one. Also: exit codes of
failing runs, the login file (mode 0600, precedence of flags and variables), commands the API
cannot do, Ctrl-C detaching from a followed run, a followed run whose server restarts mid-run
(no progress line missing or doubled), logs -f, resume and rollback, approvals with the voter
from the token, breakers, policy eval and audit verify/export.

Usage: cli_parity_test.py SLUICE [--only SUBSTRING]
Ends with "cli-parity: N passed, M failed".
"""
import json, os, re, shutil, signal, socket, stat, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import run_e2e  # noqa: E402
from run_e2e import Env, pipeline  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


SERVED = None   # the server's state folder (an Env)
LOCAL = None    # the state folder of local runs
LOCALS = {}     # example name -> the state folder of its local run (caches apart)
SERVER = None   # the server process
URL = None
TOKENS = {}
CONFIG = None   # XDG_CONFIG_HOME of the client commands


def client_env(**extra):
    """The environment of a client command: no SLUICE_SERVER or SLUICE_TOKEN unless given, and a
    config folder of the suite's own."""
    e = {k: v for k, v in os.environ.items() if k not in ("SLUICE_SERVER", "SLUICE_TOKEN", "SLUICE_HOME")}
    e["XDG_CONFIG_HOME"] = CONFIG
    e.update(extra)
    return e


def remote(*args, check=None, token="operator", env=None, stdin=None, timeout=300):
    """`sluice --server URL ARGS` with a token (by role) in SLUICE_TOKEN; `token` None: none."""
    extra = dict(env or {})
    if token:
        extra.setdefault("SLUICE_TOKEN", TOKENS[token])
    argv = [run_e2e.SLUICE, "--server", URL, *args] if "--server" not in args else [run_e2e.SLUICE, *args]
    p = subprocess.run(argv, cwd=SERVED.dir, capture_output=True, text=True, timeout=timeout,
                       env=client_env(**extra), input=stdin)
    if check is not None and p.returncode != check:
        raise AssertionError(f"remote {' '.join(args)}: exit {p.returncode}, want {check}\n"
                             f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}")
    return p


def local(state_env, *args, check=None):
    return state_env.sluice(*args, check=check, timeout=300, env={"XDG_CONFIG_HOME": CONFIG})


TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DURATION = re.compile(r"\b(\d+ms|\d+\.\d+s|\d+m\d\ds|\d+h\d\dm)\b")


def normalise(text, ids):
    for run_id in ids:
        text = text.replace(run_id, "RUN")
    text = DURATION.sub("D", TIME.sub("T", text))
    return "\n".join(re.sub(r" +", " ", line).rstrip() for line in text.splitlines())


def setup():
    global SERVED, LOCAL, SERVER, URL, CONFIG
    SERVED, LOCAL = Env(), Env()
    CONFIG = os.path.join(SERVED.dir, "config")
    for role in ("viewer", "operator", "approver", "admin"):
        TOKENS[role] = local(SERVED, "token", "create", "--user", f"u-{role}", "--role", role,
                             check=0).stdout.strip()
    # One user with two tokens: alice submits with the one and may try to approve with the other.
    for role in ("operator", "approver"):
        TOKENS["alice-" + role] = local(SERVED, "token", "create", "--user", "alice", "--role", role,
                                        check=0).stdout.strip()
    SERVER = subprocess.Popen(SERVED.argv(["server", "--listen", "127.0.0.1:0"]), cwd=SERVED.dir,
                              stdout=subprocess.PIPE, text=True,
                              stderr=open(os.path.join(SERVED.dir, "server.log"), "w"))
    line = SERVER.stdout.readline().strip()
    assert line.startswith("sluice server listening on http://127.0.0.1:"), line
    URL = line.rsplit(" ", 1)[1]


# Example pipelines the API takes (no secret params, no approvals by a second account, no
# --policies), with the params that keep each run in a folder of its own.
RUNS = {}  # name -> (local run id, remote run id, local exit code, remote exit code)


def run_both(name, path, *params):
    LOCALS[name] = Env()
    target = LOCALS[name].dir  # the examples' output folders, one per run
    lp = local(LOCALS[name], "run", path, *[a.replace("DIR", target + "/l") for a in params])
    rp = remote("run", path, *[a.replace("DIR", target + "/r") for a in params])
    RUNS[name] = (lp.stdout.splitlines()[0], rp.stdout.splitlines()[0], lp.returncode, rp.returncode)
    return lp, rp


@test
def examples_run_with_the_same_exit_codes_and_progress_locally_and_on_the_server():
    cases = [
        ("ml", os.path.join(EXAMPLES, "ml-pipeline", "pipeline.yaml"), "-p", "min_accuracy=0.5"),
        ("resilient", os.path.join(EXAMPLES, "resilient-pipeline", "pipeline.yaml"), "-p", "target=DIR"),
        ("retrain", os.path.join(EXAMPLES, "templates", "retrain.yaml"), "-p", "registry=DIR"),
        # An Argo Workflows file: the server runs the translation the CLI sends (issue 16).
        ("argo", os.path.join(EXAMPLES, "argo", "diamond.yaml"), "-p", "greeting=hi"),
    ]
    for name, path, *params in cases:
        lp, rp = run_both(name, path, *params)
        l_id, r_id, l_rc, r_rc = RUNS[name]
        assert l_rc == r_rc, (name, l_rc, r_rc, lp.stderr[-1500:], rp.stderr[-1500:])
        # The progress lines (stderr up to the final report) say the same, in some order.
        def progress(p, run_id):
            lines = normalise(p.stderr, [run_id]).splitlines()
            end = next((i for i, l in enumerate(lines) if l.startswith("run RUN ")), len(lines))
            return sorted(l for l in lines[:end] if not l.startswith(("  ", "    |", "    logs:")))
        assert progress(lp, l_id) == progress(rp, r_id), (name, lp.stderr, rp.stderr)
        final = [l for l in normalise(rp.stderr, [r_id]).splitlines() if l.startswith("run RUN ")]
        want = [l for l in normalise(lp.stderr, [l_id]).splitlines() if l.startswith("run RUN ")]
        assert final == want, (final, want)
    assert RUNS["ml"][2] == 0 and RUNS["resilient"][2] == 1 and RUNS["argo"][2] == 0, RUNS


def json_of(p):
    return json.loads(p.stdout)


@test
def the_same_run_reads_the_same_locally_and_over_the_api():
    for name, (_, run, _, _) in RUNS.items():
        for fmt in ([], ["-o", "json"]):
            for cmd in (["status", run], ["events", run]):
                here = local(SERVED, *cmd, *fmt, check=0).stdout
                there = remote(*cmd, *fmt, check=0, token="viewer").stdout
                assert here == there, (name, cmd, fmt, here[:1500], there[:1500])
    for fmt in ([], ["-o", "json"]):
        assert local(SERVED, "runs", *fmt, check=0).stdout == remote("runs", *fmt, check=0).stdout
    run = RUNS["resilient"][1]
    for task in ("train[0]", "deploy-prod"):
        here, there = local(SERVED, "logs", run, task, check=0), remote("logs", run, task, check=0)
        assert (here.stdout, here.stderr) == (there.stdout, there.stderr), (task, here, there)


@test
def a_local_run_and_a_remote_run_of_an_example_show_the_same_after_normalising():
    for name, (l_id, r_id, _, _) in RUNS.items():
        LOCAL = LOCALS[name]
        ls = json_of(local(LOCAL, "status", l_id, "-o", "json", check=0))
        rs = json_of(remote("status", r_id, "-o", "json", check=0))
        assert ls["status"] == rs["status"], name
        assert [(t["name"], t["state"], t["attempts"]) for t in ls["tasks"]] == \
            [(t["name"], t["state"], t["attempts"]) for t in rs["tasks"]], name
        lt = normalise(local(LOCAL, "status", l_id, check=0).stdout, [l_id])
        rt = normalise(remote("status", r_id, check=0).stdout, [r_id])
        assert lt == rt, (name, lt, rt)
        kinds = lambda evs: sorted((e["kind"], e.get("task", ""), e.get("attempt", 0), e.get("status", ""))
                                   for e in evs)
        le = json_of(local(LOCAL, "events", l_id, "-o", "json", check=0))
        re_ = json_of(remote("events", r_id, "-o", "json", check=0))
        assert kinds(le) == kinds(re_), name
        l_line = [l for l in normalise(local(LOCAL, "runs", check=0).stdout, [l_id]).splitlines() if "RUN" in l]
        r_line = [l for l in normalise(remote("runs", check=0).stdout, [r_id]).splitlines() if "RUN" in l]
        assert l_line == r_line, (l_line, r_line)
    l_id, r_id = RUNS["ml"][:2]
    assert local(LOCALS["ml"], "logs", l_id, "summary", check=0).stdout == remote("logs", r_id, "summary", check=0).stdout


@test
def failures_exit_as_they_do_locally():
    e = Env()
    e.write("bad.yaml", pipeline("    - {name: boom, run: [sh, -c, 'echo no >&2; exit 3']}\n"))
    e.write("broken.yaml", "spec: [\n")
    for f, rc in (("bad.yaml", 1), ("broken.yaml", 2)):
        path = os.path.join(e.dir, f)
        lp = local(LOCAL, "run", path, check=rc)
        rp = remote("run", path, check=rc)
        if rc == 2:
            assert lp.stderr == rp.stderr and len(rp.stderr.splitlines()) == 1, (lp.stderr, rp.stderr)
        else:
            assert "  boom failed: " in rp.stderr and "    | no" in rp.stderr, rp.stderr
    for args in (["status", "no-such-run"], ["events", "no-such-run"], ["logs", RUNS["ml"][1], "nope"]):
        p = remote(*args, check=2)
        assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("sluice: "), p.stderr
    assert remote("status", "no-such-run").stderr == local(SERVED, "status", "no-such-run").stderr
    # A viewer may read but not submit: one line, exit 2 like a local refusal.
    p = remote("run", os.path.join(e.dir, "bad.yaml"), token="viewer", check=2)
    assert len(p.stderr.splitlines()) == 1, p.stderr


@test
def commands_the_api_cannot_do_say_so_and_never_run_locally():
    for args in (["token", "list"], ["cache", "ls"], ["eval", "1"], ["policy", "test", "d"]):
        p = remote(*args, check=2)
        what = " ".join(args[:2]) if args[0] == "policy" else args[0]
        assert p.stderr.startswith(f"sluice: {what} is not available against a server ({URL})"), p.stderr
        assert len(p.stderr.splitlines()) == 1 and p.stdout == "", p.stderr
    p = remote("run", "x.yaml", "-j", "2", check=2)
    assert "-j/--jobs" in p.stderr and "not available against a server" in p.stderr, p.stderr
    p = remote("resume", "r", "-j", "2", check=2)
    assert "-j/--jobs" in p.stderr and "not available against a server" in p.stderr, p.stderr
    p = remote("policy", "eval", "policies.yaml", "--input", "i.json", check=2)
    assert "give no FILE" in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr
    assert remote("version", check=0).stdout.startswith("sluice ")


def config_file():
    return os.path.join(CONFIG, "sluice", "login.json")


@test
def login_keeps_the_token_in_a_private_file_and_logout_removes_it():
    shutil.rmtree(CONFIG, ignore_errors=True)
    p = remote("login", "--server", URL + "/", token=None, stdin="nonsense\n", check=2)
    assert len(p.stderr.splitlines()) == 1 and "refused the token" in p.stderr, p.stderr
    assert not os.path.exists(config_file())
    p = remote("login", "--server", URL, "--token-stdin", token=None, stdin=TOKENS["viewer"] + "\n", check=0)
    assert "logged in to " + URL + " as u-viewer" in p.stdout, p.stdout
    assert stat.S_IMODE(os.stat(config_file()).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(config_file())).st_mode) == 0o700
    assert json.load(open(config_file())) == {"server": URL, "token": TOKENS["viewer"]}
    assert remote("whoami", token=None, check=0).stdout == "u-viewer (roles: default=viewer)\n"
    # Logging in again replaces the file (atomically: no temporary file is left).
    remote("login", "--server", URL, token=None, stdin=TOKENS["operator"], check=0)
    assert json.load(open(config_file()))["token"] == TOKENS["operator"]
    assert os.listdir(os.path.dirname(config_file())) == ["login.json"]
    # A login file others may read is refused, not used.
    os.chmod(config_file(), 0o644)
    p = remote("whoami", token=None, check=2)
    assert "may be read by others" in p.stderr, p.stderr
    os.chmod(config_file(), 0o600)
    assert remote("logout", token=None, check=0).stdout.startswith("logged out")
    assert not os.path.exists(config_file())
    p = remote("whoami", token=None, check=2)
    assert "no token for " + URL in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr


@test
def flags_win_over_variables_and_variables_over_the_login_file():
    remote("login", "--server", URL, token=None, stdin=TOKENS["operator"], check=0)
    try:
        # SLUICE_SERVER alone, the token from the file.
        p = subprocess.run([run_e2e.SLUICE, "whoami"], capture_output=True, text=True,
                           env=client_env(SLUICE_SERVER=URL))
        assert p.returncode == 0 and p.stdout.startswith("u-operator"), p
        # SLUICE_TOKEN wins over the file.
        p = subprocess.run([run_e2e.SLUICE, "whoami"], capture_output=True, text=True,
                           env=client_env(SLUICE_SERVER=URL, SLUICE_TOKEN=TOKENS["viewer"]))
        assert p.stdout.startswith("u-viewer"), p
        # --server wins over SLUICE_SERVER.
        p = subprocess.run([run_e2e.SLUICE, "--server", URL, "whoami"], capture_output=True, text=True,
                           env=client_env(SLUICE_SERVER="http://127.0.0.1:1"))
        assert p.returncode == 0 and p.stdout.startswith("u-operator"), p
        # The file's token is never sent to another server.
        p = subprocess.run([run_e2e.SLUICE, "whoami"], capture_output=True, text=True,
                           env=client_env(SLUICE_SERVER="http://127.0.0.1:1"))
        assert p.returncode == 2 and "no token for http://127.0.0.1:1" in p.stderr, p
        # No server named: local, whatever the login file says.
        p = subprocess.run([run_e2e.SLUICE, "--state-dir", LOCALS["ml"].state, "runs"], capture_output=True,
                           text=True, env=client_env())
        assert p.returncode == 0 and RUNS["ml"][0] in p.stdout and RUNS["ml"][1] not in p.stdout, p
        p = subprocess.run([run_e2e.SLUICE, "whoami"], capture_output=True, text=True,
                           env=client_env(SLUICE_SERVER=""))
        assert p.returncode == 0 and "roles:" not in p.stdout, p
    finally:
        remote("logout", token=None, check=0)


@test
def ctrl_c_detaches_from_a_followed_run_which_goes_on():
    e = Env()
    slow = e.write("slow.yaml", pipeline("    - {name: wait, run: [sleep, '30']}\n"))
    proc = subprocess.Popen([run_e2e.SLUICE, "--server", URL, "run", slow], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=client_env(SLUICE_TOKEN=TOKENS["operator"]))
    run_e2e.STARTED.append(proc)
    run = proc.stdout.readline().strip()
    for _ in range(100):  # its task has started (the engine publishes attempt.started at once)
        st = json_of(remote("status", run, "-o", "json", check=0))
        if st["status"] == "running" and st["attempts"]:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=10) == 130, rest
    assert f"detached from run {run}" in rest, rest
    assert f"sluice status {run} --server {URL}" in rest and f"sluice cancel {run} --server {URL}" in rest, rest
    assert json_of(remote("status", run, "-o", "json", check=0))["status"] == "running"
    assert remote("cancel", run, check=0).stdout.startswith(f"cancelling {run}")
    for _ in range(100):
        if json_of(remote("status", run, "-o", "json", check=0))["status"] == "cancelled":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the run was not cancelled")
    assert remote("cancel", run, check=2).stderr.strip().endswith("already finished (cancelled)")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(state_env, port):
    """`sluice server` on STATE_ENV's folder and a fixed port (so that a restart serves the same
    URL); returns the process once it listens."""
    proc = subprocess.Popen(state_env.argv(["server", "--listen", f"127.0.0.1:{port}"]), cwd=state_env.dir,
                            stdout=subprocess.PIPE, text=True,
                            stderr=open(os.path.join(state_env.dir, "server.log"), "a"))
    run_e2e.STARTED.append(proc)
    line = proc.stdout.readline().strip()
    assert line.startswith("sluice server listening on "), line
    return proc


def wait_until(pred, what, tries=300):
    for _ in range(tries):
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def progress_lines(stderr, run_id):
    """The progress lines of a followed run (stderr up to its final report), in order."""
    lines = normalise(stderr, [run_id]).splitlines()
    end = next((i for i, l in enumerate(lines) if l.startswith("run RUN ")), len(lines))
    return [l for l in lines[:end] if l.strip()]


def task_state(state_env, run, task):
    st = json.loads(local(state_env, "status", run, "-o", "json", check=0).stdout)
    return next((t["state"] for t in st["tasks"] if t["name"] == task), None), st["status"]


# Eight steps one after the other: their progress lines come in one order, locally and remotely.
STEPS = pipeline("".join(
    f"    - {{name: s{i}, {'needs: [s%d], ' % (i - 1) if i else ''}run: [sh, -c, 'sleep 0.3; echo {i}']}}\n"
    for i in range(8)))


@test
def a_followed_run_survives_a_server_restart_with_no_progress_line_missing_or_doubled():
    e = Env()
    token = local(e, "token", "create", "--user", "u-op", "--role", "operator", check=0).stdout.strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(e, port)
    path = e.write("steps.yaml", STEPS)
    client = subprocess.Popen([run_e2e.SLUICE, "--server", url, "run", path], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=client_env(SLUICE_TOKEN=token))
    run_e2e.STARTED.append(client)
    try:
        run = client.stdout.readline().strip()
        wait_until(lambda: task_state(e, run, "s1")[0] == "succeeded", "s1 to succeed")
        # kill -9: the client's stream drops mid-run; the run's engine, a process of its own, goes on.
        server.kill()
        server.wait()
        time.sleep(1.0)
        assert task_state(e, run, "s7")[1] == "running", "the run ended before the restart"
        assert client.poll() is None, client.stderr.read()
        server = start_server(e, port)
        out, err = client.communicate(timeout=120)
        assert client.returncode == 0, err
        here = local(LOCAL, "run", path, check=0)
        want = progress_lines(here.stderr, here.stdout.splitlines()[0])
        assert progress_lines(err, run) == want, (err, here.stderr)
        assert len(want) >= 16, want  # a started and a succeeded line a step at least
        # It followed the restarted server's stream (resumed after the last event it showed).
        metrics = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
        assert any(l.startswith("sluice_api_requests_total") and "events/stream" in l
                   for l in metrics.splitlines()), metrics
    finally:
        server.terminate()
        server.wait(timeout=10)


@test
def logs_follow_streams_stdout_and_stderr_until_the_attempt_ends():
    e = Env()
    path = e.write("talk.yaml", pipeline(
        "    - {name: talk, run: [sh, -c, 'for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; sleep 0.2; done']}\n"))
    proc = subprocess.Popen([run_e2e.SLUICE, "--server", URL, "run", path], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=client_env(SLUICE_TOKEN=TOKENS["operator"]))
    run_e2e.STARTED.append(proc)
    run = proc.stdout.readline().strip()
    wait_until(lambda: json_of(remote("status", run, "-o", "json", check=0))["attempts"], "the attempt")
    p = remote("logs", run, "talk", "-f", check=0, token="viewer")
    assert p.stdout == "".join(f"out{i}\n" for i in range(1, 6)), p.stdout
    assert p.stderr == "".join(f"err{i}\n" for i in range(1, 6)), p.stderr
    assert proc.wait(timeout=60) == 0
    here = local(SERVED, "logs", run, "talk", "-f", check=0)
    assert (here.stdout, here.stderr) == (p.stdout, p.stderr)


RESUMABLE = pipeline("    - {name: a, run: ['true'], compensate: {run: [echo, undo]}}\n"
                     "    - {name: b, needs: [a], run: [sleep, '1'], retry: {limit: 1, on: [lost]}}\n")


@test
def resume_and_rollback_of_an_interrupted_served_run_print_and_exit_as_locally():
    e = Env()
    path = e.write("resumable.yaml", RESUMABLE)
    got = {}
    for where, state in (("local", LOCAL), ("remote", SERVED)):
        # A run of the CLI on the state folder, killed with its engine: interrupted (the server's
        # leader never resumes a run it did not start).
        proc, run = state.start("run", path)
        wait_until(lambda: task_state(state, run, "b")[0] == "running", "b to start")
        run_e2e.crash(state, proc, run)
        assert task_state(state, run, "b")[1] == "interrupted"
        again = (lambda *a, **k: local(state, *a, **k)) if where == "local" else remote
        resumed = again("resume", run)
        refused = again("resume", run, check=2)
        rolled = again("rollback", run)
        got[where] = (resumed.returncode, resumed.stdout.replace(run, "RUN"),
                      progress_lines(resumed.stderr, run),
                      [l for l in normalise(resumed.stderr, [run]).splitlines() if l.startswith("run RUN ")],
                      normalise(refused.stderr, [run]), rolled.returncode,
                      [l for l in normalise(rolled.stderr, [run]).splitlines() if l.startswith("run RUN ")])
        assert task_state(state, run, "b")[1] == "compensated", (where, task_state(state, run, "b"), rolled.stderr)
    assert got["local"] == got["remote"], got
    assert got["remote"][0] == 0 and got["remote"][5] == 0, got
    assert remote("resume", "no-such-run", check=2).stderr == local(SERVED, "resume", "no-such-run", check=2).stderr


GATED = pipeline(
    "    - {name: build, run: [echo, built]}\n"
    "    - name: sign-off\n      needs: [build]\n"
    "      approval: {approvers: [alice, u-approver, root], quorum: 1, instructions: look first}\n"
    "    - {name: deploy, needs: [sign-off], run: [echo, deployed]}\n")


def pending(state_env, run):
    listed = json.loads(local(state_env, "approvals", "-o", "json", check=0).stdout)
    return any(a["run"] == run and a["state"] == "pending" for a in listed)


@test
def approvals_over_the_api_take_the_voter_from_the_token_with_the_local_rules():
    e = Env()
    path = e.write("gated.yaml", GATED)
    # alice submits on the server, root here; each waits for sign-off.
    proc = subprocess.Popen([run_e2e.SLUICE, "--server", URL, "run", path], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=client_env(SLUICE_TOKEN=TOKENS["alice-operator"]))
    run_e2e.STARTED.append(proc)
    run = proc.stdout.readline().strip()
    lproc, lrun = LOCAL.start("run", path)
    wait_until(lambda: pending(SERVED, run) and pending(LOCAL, lrun), "the approval requests")
    for fmt in ([], ["-o", "json"]):
        for flags in ([], ["--all"]):
            here = local(SERVED, "approvals", *flags, *fmt, check=0).stdout
            assert here == remote("approvals", *flags, *fmt, check=0, token="viewer").stdout, here
    assert "look first" in remote("approvals", check=0, token="viewer").stdout
    # Self-approval is refused as locally: alice's approver token, root here.
    there = remote("approve", run, "sign-off", token="alice-approver", check=2)
    here = local(LOCAL, "approve", lrun, "sign-off", check=2)
    assert "forbidSelfApproval" in there.stderr, there.stderr
    assert normalise(there.stderr.replace("alice", "U"), [run]) == \
        normalise(here.stderr.replace("root", "U"), [lrun]), (there.stderr, here.stderr)
    # A role that may not vote: one line, exit 2.
    p = remote("approve", run, "sign-off", token="operator", check=2)
    assert len(p.stderr.splitlines()) == 1, p.stderr
    # An approver's vote counts as the token's user, and the run goes on.
    ok = remote("approve", run, "sign-off", "--comment", "looks fine", token="approver", check=0)
    assert ok.stdout == f"approved sign-off of run {run} (1 of 1 approvals)\n", ok.stdout
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert remote("approve", run, "sign-off", token="approver", check=2).stderr.startswith("sluice: ")
    votes = [a for a in json_of(remote("approvals", "--all", "-o", "json", check=0))
             if a["run"] == run][0]["votes"]
    assert [(v["user"], v["comment"]) for v in votes] == [("u-approver", "looks fine")], votes
    records = [json.loads(l) for l in remote("audit", "export", token="admin", check=0).stdout.splitlines()]
    votes = [r for r in records if r["action"] == "approval.approved" and r["run"] == run
             and "round" in r["details"]]  # the vote's record, not the engine's of the request
    assert [r["actor"] for r in votes] == ["u-approver"], records[-3:]
    local(LOCAL, "cancel", lrun, check=0)
    lproc.wait(timeout=30)


ARGO_SUSPEND = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: gated}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: wait, template: wait}
    - - {name: deploy, template: say}
  - name: wait
    suspend: {}
  - name: say
    container: {image: shell, command: [echo, done]}
"""


@test
def an_argo_suspend_submitted_to_a_server_is_approved_by_the_tokens_user_or_the_named_approvers():
    e = Env()
    path = e.write("gated.yaml", ARGO_SUSPEND)
    # Argo lets the submitter resume: here the token's user, alice, whichever of her tokens votes.
    proc = subprocess.Popen([run_e2e.SLUICE, "--server", URL, "run", path, "--image-map",
                             "shell=/bin/sh", "--lenient"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=client_env(SLUICE_TOKEN=TOKENS["alice-operator"]))
    run_e2e.STARTED.append(proc)
    run = proc.stdout.readline().strip()
    wait_until(lambda: pending(SERVED, run), "the suspend's approval request")
    p = remote("approve", run, "main.wait", token="approver", check=2)
    assert "its approvers are alice" in p.stderr, p.stderr
    remote("approve", run, "main.wait", token="alice-approver", check=0)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    # --approvers names them, as for a local run.
    proc = subprocess.Popen([run_e2e.SLUICE, "--server", URL, "run", path, "--approvers",
                             "u-approver"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=client_env(SLUICE_TOKEN=TOKENS["alice-operator"]))
    run_e2e.STARTED.append(proc)
    run = proc.stdout.readline().strip()
    wait_until(lambda: pending(SERVED, run), "the second approval request")
    remote("approve", run, "main.wait", token="alice-approver", check=2)
    remote("approve", run, "main.wait", token="approver", check=0)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert remote("run", path, "--image-map", "shell", check=2).stderr.startswith(
        "sluice: --image-map expects IMAGE=PROGRAM"), "a bad --image-map is one line"


@test
def breakers_audit_and_policy_eval_read_the_same_locally_and_over_the_api():
    for fmt in ([], ["-o", "json"]):
        here = local(SERVED, "breakers", *fmt, check=0).stdout
        assert here == remote("breakers", *fmt, check=0, token="viewer").stdout, here
    names = [b["name"] for b in json_of(remote("breakers", "-o", "json", check=0))]
    assert names, "the resilient example leaves a breaker"
    there = remote("breakers", "reset", names[0], check=0)
    assert re.fullmatch(rf"({re.escape(names[0])}: \w+ -> \w+\n)+", there.stdout), there.stdout
    here = local(LOCALS["resilient"], "breakers", "reset", names[0], check=0)
    assert here.stdout == there.stdout, (here.stdout, there.stdout)
    listed = json_of(remote("breakers", "-o", "json", check=0))
    assert listed[0]["transitions"][-1]["who"] == "operator u-operator", listed
    p = remote("breakers", "open", "nosuch", check=2)
    assert p.stderr == local(SERVED, "breakers", "open", "nosuch", check=2).stderr
    remote("breakers", "open", names[0], token="viewer", check=2)
    # The audit log: the same check and the same lines; only admins read it.
    for fmt in ([], ["-o", "json"]):
        here = local(SERVED, "audit", "verify", *fmt, check=0).stdout
        assert here == remote("audit", "verify", *fmt, token="admin", check=0).stdout, here
    head = json_of(remote("audit", "verify", "-o", "json", token="admin", check=0))["head"]
    assert remote("audit", "verify", "--head", head, token="admin", check=0).stdout == \
        local(SERVED, "audit", "verify", "--head", head, check=0).stdout
    assert remote("audit", "export", token="admin", check=0).stdout == local(SERVED, "audit", "export", check=0).stdout
    remote("audit", "verify", token="operator", check=2)
    # policy eval: the server's central policies, as `policy eval` without FILE judges the state
    # folder's.
    central = os.path.join(SERVED.state, "policies")
    os.makedirs(central, exist_ok=True)
    policy = os.path.join(central, "parity.yaml")
    with open(policy, "w") as f:
        f.write("apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: parity}\nspec:\n"
                "  match: {labels: {team: parity}}\n  rules:\n    - name: small\n"
                "      expression: \"size(object.tasks) <= 3\"\n"
                "      messageExpression: \"string(size(object.tasks)) + ' tasks, above 3'\"\n")
    try:
        for size, rc in ((2, 0), (5, 1)):
            inp = SERVED.write(f"input{size}.json", json.dumps(
                {"object": {"name": "p", "labels": {"team": "parity"},
                            "tasks": [{"name": f"t{i}"} for i in range(size)]}}))
            for fmt in ([], ["-o", "json"]):
                here = local(SERVED, "policy", "eval", "--input", inp, *fmt, check=rc).stdout
                there = remote("policy", "eval", "--input", inp, *fmt, token="viewer", check=rc).stdout
                assert here == there and "parity" in here, (here, there)
        bad = SERVED.write("bad-input.json", "{\"no\": 1}")
        assert remote("policy", "eval", "--input", bad, check=2).stderr == \
            local(SERVED, "policy", "eval", "--input", bad, check=2).stderr
    finally:
        os.remove(policy)

# --- parity (issue 13): retry, rerun and waivers, locally and against the server.
FLAKY = pipeline("    - {name: first, run: [echo, one]}\n"
                 "    - {name: gate, needs: [first], run: [sh, -c, 'test -f \"$0\"', FLAG]}\n"
                 "    - {name: last, needs: [gate], run: [echo, done]}\n")


def shown_stderr(stderr, ids):
    """What a command showed on stderr, with run ids, times and durations normalised: its lines up
    to the final report (errors, decisions, progress) and the report's "run RUN ..." line (the
    rest names the state folder's paths)."""
    lines = normalise(re.sub(r"retried by [^:]+:", "retried by U:", stderr), ids).splitlines()
    end = next((i for i, l in enumerate(lines) if l.startswith("run RUN ")), len(lines))
    return [l for l in lines[:end] if l.strip()] + [l for l in lines[end:] if l.startswith("run RUN ")]


@test
def retry_and_rerun_print_and_exit_as_locally():
    e = Env()
    got = {}
    for where, state in (("local", LOCAL), ("remote", SERVED)):
        flag = os.path.join(e.dir, where + "-flag")
        path = e.write(f"flaky-{where}.yaml", FLAKY.replace("FLAG", flag))
        run = local(state, "run", path, check=1).stdout.splitlines()[0]
        again = (lambda *a, **k: local(state, *a, **k)) if where == "local" else remote
        steps = [again("retry", run, "first", check=2), again("retry", run, check=1)]
        open(flag, "w").close()
        steps += [again("retry", run, check=0), again("retry", run, check=2),
                  again("rerun", run, "--from", "nope", check=2),
                  again("rerun", run, "--from", "gate", check=0), again("rerun", run, check=0)]
        ids = [run] + [p.stdout.splitlines()[0] for p in steps[-2:]]
        got[where] = [(p.returncode, normalise(p.stdout, ids), shown_stderr(p.stderr, ids)) for p in steps]
        shown = json_of(local(state, "status", ids[1], "-o", "json", check=0))
        assert {t["name"]: t["state"] for t in shown["tasks"]}["first"] == "cached", (where, shown)
    assert got["local"] == got["remote"], got
    assert [rc for rc, _, _ in got["remote"]] == [2, 1, 0, 2, 2, 0, 0], got["remote"]
    p = remote("retry", "no-such-run", check=2)
    assert p.stderr == local(SERVED, "retry", "no-such-run", check=2).stderr, p.stderr
    p = remote("retry", "r", "-j", "2", check=2)
    assert "-j/--jobs" in p.stderr and "not available against a server" in p.stderr, p.stderr
    remote("rerun", "no-such-run", token="viewer", check=2)


@test
def waivers_are_granted_listed_and_revoked_over_the_api_as_the_tokens_user():
    central = os.path.join(SERVED.state, "policies")
    os.makedirs(central, exist_ok=True)
    policy = os.path.join(central, "no-prod.yaml")
    with open(policy, "w") as f:
        f.write(run_e2e.CENTRAL_DENY)
    try:
        assert remote("waiver", "list", token="viewer", check=0).stdout == "no waivers granted\n"
        args = ["waiver", "grant", "hotfix", "--policy", "no-prod", "--rule", "not-prod",
                "--justification", "incident 42 needs prod", "--expires", "2099-12-31"]
        p = remote(*args, token="operator", check=2)
        assert len(p.stderr.splitlines()) == 1, p.stderr
        p = remote(*args, token="admin", check=0)
        assert re.fullmatch(r"granted waiver hotfix of no-prod/not-prod until 2099-12-31T00:00:00\.000Z "
                            r"\(audit record \d+\)\n", p.stdout), p.stdout
        for fmt in ([], ["-o", "json"]):
            here = local(SERVED, "waiver", "list", *fmt, check=0).stdout
            assert here == remote("waiver", "list", *fmt, token="viewer", check=0).stdout, here
        assert json.loads(here)[0]["grantedBy"] == "u-admin", here
        p = remote(*args, token="admin", check=2)  # in force already
        assert "already granted" in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr
        p = remote("waiver", "revoke", "hotfix", token="admin", check=0)
        assert re.fullmatch(r"revoked waiver hotfix \(audit record \d+\)\n", p.stdout), p.stdout
        assert "revoked" in remote("waiver", "list", check=0).stdout
        p = remote("waiver", "revoke", "hotfix", token="admin", check=2)
        assert "no waiver" in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr
        records = [json.loads(l) for l in remote("audit", "export", token="admin", check=0).stdout.splitlines()]
        assert [(r["actor"], r["action"]) for r in records if r["subject"] == "hotfix"] == \
            [("u-admin", "waiver.granted"), ("u-admin", "waiver.revoked")], records[-3:]
    finally:
        os.remove(policy)


@test
def graph_of_a_run_draws_the_same_locally_and_over_the_api():
    e = Env()
    path = e.write("drawn.yaml", FLAKY.replace("FLAG", os.path.join(e.dir, "no-flag")))
    run = local(SERVED, "run", path, check=1).stdout.splitlines()[0]
    here = local(SERVED, "graph", run, check=0).stdout
    assert here.startswith("digraph") and "gate" in here, here
    assert remote("graph", run, token="viewer", check=0).stdout == here
    assert remote("graph", run[:-2], token="viewer", check=0).stdout == here  # a prefix
    out = os.path.join(e.dir, "run.dot")
    p = remote("graph", run, "-o", out, token="viewer", check=0)
    assert open(out).read() == here and p.stderr == f"wrote {out} ({len(here)} bytes)\n", p.stderr
    for args in (["no-such-run"], [run, "--format", "mermaid"]):
        assert remote("graph", *args, check=2).stderr == local(SERVED, "graph", *args, check=2).stderr
    # A pipeline file is drawn from the local file, as without --server.
    assert remote("graph", path, check=0).stdout == local(SERVED, "graph", path, check=0).stdout
# --- end of parity


@test
def the_team_server_cli_example_runs_the_ml_pipeline_on_a_server():
    script = os.path.join(EXAMPLES, "team-server", "try-the-cli.sh")
    p = subprocess.run([script, run_e2e.SLUICE], capture_output=True, text=True, timeout=300,
                       env=client_env())
    assert p.returncode == 0, p.stderr[-2000:]
    assert "status succeeded" in p.stdout and "logged out" in p.stdout, p.stdout
    assert "started   prepare (attempt 1)" in p.stderr, p.stderr[-2000:]
    assert ": 1 task reused" in p.stderr and "no waivers granted" in p.stdout, p.stderr[-2000:]


if __name__ == "__main__":
    try:
        setup()
        only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
        rc = run_e2e.run_suite([t for t in TESTS if only in t.__name__], "cli-parity")
    finally:
        if SERVER:
            SERVER.terminate()
            SERVER.wait(timeout=10)
    sys.exit(rc)
