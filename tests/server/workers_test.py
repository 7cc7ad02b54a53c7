#!/usr/bin/env python3
"""End-to-end tests of `sluice worker` (issue 13, docs/workers.md): one `sluice server` with a
short lease time and two workers on loopback, each with a work folder of its own outside the
server's state folder (as on another machine), started once for the suite. Answers of the worker
routes are checked against docs/openapi.yaml.

Usage: workers_test.py SLUICE [--only SUBSTRING]
Prints one line per failure and ends with "workers: N passed, M failed".
"""
import http.client, json, os, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402
from run_e2e import Env  # noqa: E402
from api_test import Server, call, check_schema  # noqa: E402

TESTS = []
LEASE_S = 3
ENV = SERVER = None
TOKENS = {}
WORKERS = {}  # name -> Worker
STOPPED = []  # workers replaced in WORKERS (their folders are removed at the end)


def test(fn):
    TESTS.append(fn)
    return fn


class Worker:
    """A `sluice worker` of the suite's server, with a work folder outside the state folder."""

    def __init__(self, name, labels, slots=2, extra=(), work_dir=None):
        self.name = name
        self.dir = work_dir or tempfile.mkdtemp(prefix=f"sluice-worker-{name}-")
        self.log = os.path.join(self.dir, "worker.log")
        argv = [run_e2e.SLUICE, "worker", "--server", f"http://127.0.0.1:{SERVER.port}",
                "--labels", labels, "--slots", str(slots), "--work-dir", self.dir,
                "--name", name, *extra]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(self.log, "w"),
                                     text=True, env=dict(os.environ, SLUICE_TOKEN=TOKENS["worker"]))
        line = self.proc.stdout.readline().strip()
        assert line.startswith("sluice worker w-") and "registered" in line, (line, self.stderr())
        if name in WORKERS:
            STOPPED.append(WORKERS[name])
        WORKERS[name] = self

    def stderr(self):
        return open(self.log).read()

    def ran(self, run, task, attempt):
        """Whether this worker ran that attempt (its folder is under this worker's work dir)."""
        return os.path.isdir(os.path.join(self.dir, "runs", run, "tasks", f"{task}@{attempt}"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            assert self.proc.wait(timeout=30) == 0, self.stderr()


def request(method, path, token, body=None, want=200):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    return call(SERVER, method, path, token, want, body=data,
                headers={"Content-Type": "application/json"} if data is not None else None)


def submit(text, files=None):
    body = {"pipeline": "pipeline.yaml", "files": {"pipeline.yaml": text, **(files or {})}}
    return request("POST", "/api/v1/namespaces/default/runs", TOKENS["admin"], body, 201)["id"]


def wait_finished(run, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = request("GET", f"/api/v1/runs/{run}", TOKENS["admin"])
        if st["status"] in ("succeeded", "failed", "cancelled"):
            return st
        time.sleep(0.1)
    raise AssertionError(f"run {run} did not finish: {st['status']}\n{engine_log(run)}")


def engine_log(run):
    try:
        return open(os.path.join(ENV.state, "runs", run, "engine.log")).read()[-2000:]
    except OSError:
        return ""


def tasks_of(st):
    return {t["name"]: t for t in st["tasks"]}


def attempts_of(st, task):
    return sorted((a for a in st["attempts"] if a["task"] == task), key=lambda a: a["attempt"])


def log_of(run, task, attempt=0):
    status, _, data = SERVER.request(
        "GET", f"/api/v1/runs/{run}/tasks/{task}/logs?attempt={attempt}", TOKENS["admin"])
    assert status == 200, (status, data)
    return data.decode()


def pipeline(tasks):
    return f"apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {{name: workers}}\nspec:\n  tasks:\n{tasks}"


def setup():
    global ENV, SERVER
    ENV = Env()
    for name, role in (("admin", "admin"), ("worker", "worker"), ("viewer", "viewer"),
                       ("other-worker", "worker")):
        TOKENS[name] = ENV.sluice("token", "create", "--user", f"u-{name}", "--role", role,
                                  check=0).stdout.strip()
    SERVER = Server(ENV, "--lease-time", str(LEASE_S), shared=True)
    Worker("a", "zone=a,pool=x")
    Worker("b", "zone=b,pool=x")


@test
def a_local_run_of_a_worker_pipeline_says_it_needs_a_server():
    e = Env()
    f = e.write("p.yaml", pipeline("    - {name: w, executor: worker, run: [echo, hi]}\n"))
    p = e.sluice("run", f, check=2, timeout=20)
    assert "needs `sluice server`" in p.stderr and "p.yaml:6:" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


@test
def worker_tasks_run_on_workers_and_pass_params_and_artifacts_downstream():
    run = submit(pipeline(
        "    - name: make\n      executor: worker\n"
        "      script: |\n        echo made on $(pwd)\n        printf 0.93 > acc\n"
        "        printf 'weights-1' > model.bin\n"
        "      outputs:\n        params: [{name: acc, from: {file: acc}, type: number}]\n"
        "        artifacts: [{name: model, path: model.bin}]\n"
        "    - name: use\n      executor: worker\n"
        "      run: [sh, -c, 'echo \"acc=$0 model=$(cat $1)\"', '${{ tasks.make.outputs.params.acc }}',\n"
        "            '${{ tasks.make.outputs.artifacts.model }}']\n"
        "    - name: here\n"
        "      run: [cat, '${{ tasks.make.outputs.artifacts.model }}']\n"))
    st = wait_finished(run)
    assert st["status"] == "succeeded", (st, engine_log(run))
    assert tasks_of(st)["make"]["outputs"]["params"]["acc"] == 0.93, tasks_of(st)["make"]
    assert "acc=0.93 model=weights-1" in log_of(run, "use"), log_of(run, "use")
    assert "weights-1" in log_of(run, "here"), "the local task reads the uploaded artifact"
    assert "made on " + WORKERS["a"].dir in log_of(run, "make") or \
        "made on " + WORKERS["b"].dir in log_of(run, "make"), log_of(run, "make")


@test
def placement_labels_route_each_task_to_the_worker_that_has_them():
    run = submit(pipeline(
        "    - {name: in-a, executor: worker, placement: {labels: {zone: a}}, run: [pwd]}\n"
        "    - {name: in-b, executor: worker, placement: {labels: {zone: b}}, run: [pwd]}\n"
        "    - {name: in-a2, executor: worker, placement: {labels: {zone: a, pool: x}}, run: [pwd]}\n"))
    st = wait_finished(run)
    assert st["status"] == "succeeded", (st, engine_log(run))
    assert WORKERS["a"].ran(run, "in-a", 1) and not WORKERS["b"].ran(run, "in-a", 1)
    assert WORKERS["b"].ran(run, "in-b", 1) and not WORKERS["a"].ran(run, "in-b", 1)
    assert WORKERS["a"].ran(run, "in-a2", 1)
    assert WORKERS["b"].dir in log_of(run, "in-b"), log_of(run, "in-b")


@test
def a_timeout_kills_the_attempt_on_its_worker_and_is_recorded_as_a_timeout():
    run = submit(pipeline("    - {name: slow, executor: worker, timeout: 1s, run: [sleep, '30']}\n"))
    started = time.time()
    st = wait_finished(run, timeout=20)
    first = attempts_of(st, "slow")[0]
    assert st["status"] == "failed" and first["class"] == "timeout", (first, engine_log(run))
    assert time.time() - started < LEASE_S + 5, "killed by the worker, not left to its lease"


@test
def cancelling_a_run_kills_its_attempt_on_the_worker():
    run = submit(pipeline("    - {name: long, executor: worker, placement: {labels: {zone: b}}, "
                          "run: [sh, -c, 'echo started; sleep 60']}\n"))
    deadline = time.time() + 20
    while time.time() < deadline:
        status, _, data = SERVER.request("GET", f"/api/v1/runs/{run}/tasks/long/logs", TOKENS["admin"])
        if status == 200 and b"started" in data:
            break
        time.sleep(0.1)
    assert "started" in log_of(run, "long"), "its log never reached the server"
    request("POST", f"/api/v1/runs/{run}/cancel", TOKENS["admin"], None, 202)
    st = wait_finished(run, timeout=20)
    assert st["status"] == "cancelled", st
    deadline = time.time() + 10
    while time.time() < deadline and attempt_processes(run):
        time.sleep(0.1)
    assert not attempt_processes(run), "the worker killed the attempt's process"


def attempt_processes(run):
    """The pids of processes that carry `run`'s marks (SLUICE_RUN_ID)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"SLUICE_RUN_ID={run}".encode() in env:
            pids.append(int(pid))
    return pids


def kill_attempt_processes(run):
    """Kills what an attempt of `run` a killed worker left running (found by its marks)."""
    for pid in attempt_processes(run):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@test
def a_worker_killed_mid_task_loses_its_attempt_and_the_retry_runs_on_the_other():
    run = submit(pipeline(
        "    - name: slow\n      executor: worker\n      placement: {labels: {pool: x}}\n"
        "      retry: {limit: 1}\n"
        "      script: |\n        if [ \"$SLUICE_ATTEMPT\" = 1 ]; then sleep 60; fi\n        echo second\n"))
    try:
        holder = None
        deadline = time.time() + 20
        while holder is None and time.time() < deadline:
            holder = next((w for w in WORKERS.values() if w.ran(run, "slow", 1)), None)
            time.sleep(0.05)
        assert holder, "no worker took the attempt"
        other = WORKERS["b" if holder.name == "a" else "a"]
        killed_at = time.time()
        holder.proc.kill()
        holder.proc.wait()
        st = wait_finished(run, timeout=LEASE_S * 5 + 20)
        assert st["status"] == "succeeded", (st, engine_log(run))
        first, second = attempts_of(st, "slow")
        assert first["status"] == "failed" and first["class"] == "lost", first
        assert time.time() - killed_at >= LEASE_S - 0.5, "lost only once its lease expired"
        assert other.ran(run, "slow", 2) and not holder.ran(run, "slow", 2)
        assert "second" in log_of(run, "slow", 2)
    finally:
        kill_attempt_processes(run)
        if WORKERS.get("a") and WORKERS["a"].proc.poll() is not None:
            Worker("a", "zone=a,pool=x")
        if WORKERS.get("b") and WORKERS["b"].proc.poll() is not None:
            Worker("b", "zone=b,pool=x")


@test
def a_worker_killed_with_kill_9_takes_its_attempts_processes_with_it():
    k = Worker("k", "zone=k", slots=1)
    run = submit(pipeline(
        "    - name: t\n      executor: worker\n      placement: {labels: {zone: k}}\n"
        "      script: |\n        sleep 60 &\n        sleep 61\n"))
    try:
        deadline = time.time() + 20
        while len(attempt_processes(run)) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(attempt_processes(run)) >= 2, "the shell (or its last sleep) and the other sleep run"
        k.proc.kill()
        k.proc.wait()
        deadline = time.time() + 5
        while attempt_processes(run) and time.time() < deadline:
            time.sleep(0.05)
        assert attempt_processes(run) == [], "what the worker ran died with it"
    finally:
        kill_attempt_processes(run)
        request("POST", f"/api/v1/runs/{run}/cancel", TOKENS["admin"], None, 202)


@test
def a_result_for_an_expired_lease_is_refused_and_its_attempt_killed():
    w = request("POST", "/api/v1/workers", TOKENS["worker"],
                {"version": version(), "labels": {"zone": "late"}, "slots": 1})["worker"]
    run = submit(pipeline("    - {name: t, executor: worker, placement: {labels: {zone: late}}, "
                          "run: [echo, hi]}\n"))
    items = []
    deadline = time.time() + 20
    while not items and time.time() < deadline:
        items = request("POST", f"/api/v1/workers/{w}/lease", TOKENS["worker"],
                        {"slots": 1, "labels": {"zone": "late"}, "waitSeconds": 1})["items"]
    assert items and items[0]["request"]["task"] == "t", items
    lease = items[0]["lease"]
    st = wait_finished(run, timeout=LEASE_S * 5 + 20)  # no heartbeat: the lease expires
    assert st["status"] == "failed" and attempts_of(st, "t")[0]["class"] == "lost", st
    end = {"how": "exited", "exitCode": 0, "signal": 0, "message": ""}
    err = request("POST", f"/api/v1/workers/{w}/leases/{lease}/end", TOKENS["worker"], end, 409)
    assert "not held" in err["error"]["message"], err
    hb = request("POST", f"/api/v1/workers/{w}/heartbeat", TOKENS["worker"], {"leases": [lease]})
    assert hb["kill"] == [lease] and hb["extended"] == [], hb


@test
def noop_tasks_on_workers_run_as_attempts_that_end_at_once():
    run = submit(pipeline(
        "".join(f"    - {{name: n{i}, executor: worker, run: [builtin:noop]}}\n" for i in range(20))
        + "    - {name: here, run: [builtin:noop]}\n"
        + "    - {name: after, executor: worker, needs: [n0, n19], run: [echo, done]}\n"))
    st = wait_finished(run)
    assert st["status"] == "succeeded", (st, engine_log(run))
    for i in range(20):
        attempts = attempts_of(st, f"n{i}")
        assert len(attempts) == 1 and attempts[0]["status"] == "succeeded", attempts
    assert attempts_of(st, "here") == [], "a local noop takes no attempt"
    assert any(w.ran(run, "after", 1) for w in WORKERS.values())
    assert not any(w.ran(run, "n0", 1) for w in WORKERS.values()), "a noop runs no process"


@test
def a_batch_of_ends_is_recorded_at_once_and_a_lease_not_held_is_refused_alone():
    w = request("POST", "/api/v1/workers", TOKENS["worker"],
                {"version": version(), "labels": {"zone": "batch"}, "slots": 2})["worker"]
    run = submit(pipeline(
        "    - {name: x, executor: worker, placement: {labels: {zone: batch}}, run: [echo, x]}\n"
        "    - {name: y, executor: worker, placement: {labels: {zone: batch}}, run: [echo, y]}\n"))
    items = []
    deadline = time.time() + 20
    while len(items) < 2 and time.time() < deadline:
        items += request("POST", f"/api/v1/workers/{w}/lease", TOKENS["worker"],
                         {"slots": 2 - len(items), "labels": {"zone": "batch"},
                          "waitSeconds": 1})["items"]
    assert len(items) == 2, items
    end = {"how": "exited", "exitCode": 0, "signal": 0, "message": "",
           "outputs": {"params": {}, "artifacts": []}}
    body = {"ends": [{"lease": items[0]["lease"], "end": end}, {"lease": "nope", "end": end},
                     {"lease": items[1]["lease"], "end": end}]}
    got = request("POST", f"/api/v1/workers/{w}/ends", TOKENS["worker"], body)
    assert [r["recorded"] for r in got["results"]] == [True, False, True], got
    assert "not held" in got["results"][1]["error"], got
    request("POST", f"/api/v1/workers/{w}/ends", TOKENS["worker"], {"ends": [{"lease": 1}]}, 400)
    st = wait_finished(run)
    assert st["status"] == "succeeded", (st, engine_log(run))


def metric(name):
    status, _, data = SERVER.request("GET", "/metrics")
    assert status == 200, status
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


@test
def metrics_show_the_lease_queue_depth_and_the_workers_connected():
    assert metric("sluice_workers_connected") >= 2, "workers a and b heartbeat"
    before = metric("sluice_work_queue_depth")
    run = submit(pipeline("    - {name: t, executor: worker, placement: {labels: {zone: none}}, "
                          "run: [echo, hi]}\n"))
    deadline = time.time() + 20
    while metric("sluice_work_queue_depth") < before + 1 and time.time() < deadline:
        time.sleep(0.05)
    assert metric("sluice_work_queue_depth") == before + 1, "no worker has zone=none"
    request("POST", f"/api/v1/runs/{run}/cancel", TOKENS["admin"], None, 202)
    wait_finished(run)
    assert metric("sluice_work_queue_depth") == before, "a cancelled queued row leaves the queue"


def ready_to_start():
    """The ready -> start histogram of /metrics: [(le, cumulative count)], sum, count."""
    status, _, data = SERVER.request("GET", "/metrics")
    assert status == 200, status
    buckets, total, count = [], None, None
    for line in data.decode().splitlines():
        if line.startswith('sluice_task_ready_to_start_seconds_bucket{le="'):
            le = line.split('"')[1]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[1])))
        elif line.startswith("sluice_task_ready_to_start_seconds_sum "):
            total = float(line.split()[1])
        elif line.startswith("sluice_task_ready_to_start_seconds_count "):
            count = float(line.split()[1])
    assert buckets and total is not None and count is not None, data.decode()
    return buckets, total, count


@test
def metrics_count_every_started_attempt_in_the_ready_to_start_histogram():
    _, sum_before, before = ready_to_start()
    run = submit(pipeline(
        "    - {name: w1, executor: worker, run: [echo, one]}\n"
        "    - {name: w2, executor: worker, needs: [w1], run: [builtin:noop]}\n"
        "    - {name: l1, run: [echo, here]}\n"
        "    - {name: l2, needs: [l1, w2], run: [echo, after]}\n"
        "    - {name: skipped, run: [builtin:noop]}\n"))
    st = wait_finished(run)
    assert st["status"] == "succeeded", (st, engine_log(run))
    started = len(st["attempts"])
    assert started == 4, st["attempts"]
    buckets, total, count = ready_to_start()
    assert count - before == started, (count, before, started, "local and worker attempts, "
                                       "not the local builtin, which takes no attempt")
    assert total >= sum_before, (total, sum_before)
    les = [le for le, _ in buckets]
    assert les == sorted(les) and les[0] == 0.001 and les[-2] == 10 and les[-1] == float("inf"), les
    counts = [n for _, n in buckets]
    assert counts == sorted(counts), f"buckets are cumulative: {buckets}"
    assert counts[-1] == count, (buckets, count)


def version():
    return json.loads(ENV.sluice("-o", "json", "version", check=0).stdout)["version"]


@test
def a_worker_of_another_version_is_refused():
    err = request("POST", "/api/v1/workers", TOKENS["worker"],
                  {"version": "0.0.0-other", "slots": 1}, 409)
    assert "0.0.0-other" in err["error"]["message"] and version() in err["error"]["message"], err
    request("POST", "/api/v1/workers", TOKENS["viewer"], {"version": version()}, 403)
    # Only the token's user that registered a worker speaks for it.
    mine = request("POST", "/api/v1/workers", TOKENS["worker"], {"version": version()})["worker"]
    request("POST", f"/api/v1/workers/{mine}/heartbeat", TOKENS["other-worker"], {"leases": []}, 403)
    request("POST", f"/api/v1/workers/{mine}/lease", TOKENS["other-worker"], {"slots": 1}, 403)
    request("POST", "/api/v1/workers/w-unknown/heartbeat", TOKENS["worker"], {"leases": []}, 404)
    status, _, data = SERVER.request("GET", "/api/v1/runs", TOKENS["worker"])
    assert (status, json.loads(data)) == (200, {"items": []}), "a worker's token reads no run"
    status, _, _ = SERVER.request("GET", "/api/v1/namespaces/default/runs", TOKENS["worker"])
    assert status == 403, status


@test
def blobs_are_verified_by_digest_and_never_sent_twice():
    import hashlib
    data = b"blob-content"
    digest = hashlib.sha256(data).hexdigest()
    route = f"/api/v1/workers/blobs/{digest}/file.bin"
    status, _, _ = SERVER.request("HEAD", route, TOKENS["worker"])
    assert status == 404
    request("PUT", route.replace(digest, "0" * 64), TOKENS["worker"], data, 400)
    request("PUT", route, TOKENS["worker"], data, 201)
    status, _, _ = SERVER.request("HEAD", route, TOKENS["worker"])
    assert status == 200
    status, _, body = SERVER.request("GET", route, TOKENS["worker"])
    assert status == 200 and body == data
    path = os.path.join(ENV.state, "artifacts", "sha256", digest[:2], digest, "file.bin")
    assert open(path, "rb").read() == data


@test
def a_draining_worker_finishes_what_it_holds_takes_nothing_new_and_exits_0():
    d = Worker("d", "zone=d", slots=1)
    run = submit(pipeline(
        "    - {name: one, executor: worker, placement: {labels: {zone: d}}, run: [sleep, '1.5']}\n"
        "    - {name: two, executor: worker, placement: {labels: {zone: d}}, needs: [one], run: [echo, two]}\n"))
    deadline = time.time() + 20
    while not d.ran(run, "one", 1) and time.time() < deadline:
        time.sleep(0.05)
    assert d.ran(run, "one", 1), "the worker did not take it"
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=30) == 0, d.stderr()
    assert "draining" in d.stderr(), d.stderr()
    deadline = time.time() + 10  # the engine records the end it reported
    while time.time() < deadline:
        st = request("GET", f"/api/v1/runs/{run}", TOKENS["admin"])
        if tasks_of(st)["one"]["state"] != "running":
            break
        time.sleep(0.05)
    assert tasks_of(st)["one"]["state"] == "succeeded", st
    assert not d.ran(run, "two", 1), "a draining worker takes nothing new"
    request("POST", f"/api/v1/runs/{run}/cancel", TOKENS["admin"], None, 202)


def restart_server():
    """Stops the suite's server and starts another on the same state folder and port."""
    global SERVER
    port = SERVER.port
    SERVER.stop()
    for _ in range(50):  # the port is free again at once (SO_REUSEADDR); retry a bind race
        server = Server.__new__(Server)
        server.env = ENV
        server.proc = subprocess.Popen(
            ENV.argv(["server", "--listen", f"127.0.0.1:{port}", "--lease-time", str(LEASE_S)]),
            cwd=ENV.dir, stdout=subprocess.PIPE, stderr=open(os.path.join(ENV.dir, "server.log"), "a"),
            text=True)
        line = server.proc.stdout.readline().strip()
        if line.endswith(f":{port}"):
            server.port = port
            SERVER = server
            return
        server.proc.wait()
        time.sleep(0.1)
    raise AssertionError("the server could not listen on its port again")


@test
def what_finished_while_the_server_was_down_is_recorded_not_run_again():
    run = submit(pipeline(
        "    - name: t\n      executor: worker\n      placement: {labels: {zone: a}}\n"
        "      retry: {limit: 2}\n"
        "      script: |\n        sleep 1.5\n        echo once >> ../../ran-t\n        printf 7 > n\n"
        "      outputs: {params: [{name: n, from: {file: n}, type: int}]}\n"
        "    - {name: after, executor: worker, run: [echo, '${{ tasks.t.outputs.params.n }}']}\n"))
    deadline = time.time() + 20
    while not WORKERS["a"].ran(run, "t", 1) and time.time() < deadline:
        time.sleep(0.05)
    assert WORKERS["a"].ran(run, "t", 1), "worker a did not take it"
    SERVER.stop()
    time.sleep(LEASE_S + 1.5)  # the attempt ends meanwhile, and longer than a lease time passes
    restart_server()
    st = wait_finished(run, timeout=LEASE_S * 5 + 20)
    assert st["status"] == "succeeded", (st, engine_log(run))
    assert [a["attempt"] for a in attempts_of(st, "t")] == [1], attempts_of(st, "t")
    assert "7" in log_of(run, "after")
    ran = open(os.path.join(WORKERS["a"].dir, "runs", run, "ran-t")).read()
    assert ran == "once\n", ran


@test
def a_worker_restarted_while_the_server_is_down_still_reports_what_ended():
    r = Worker("r", "zone=r", slots=1)
    run = submit(pipeline(
        "    - name: t\n      executor: worker\n      placement: {labels: {zone: r}}\n"
        "      script: |\n        sleep 1\n        echo once >> ../../ran-t\n"))
    deadline = time.time() + 20
    while not r.ran(run, "t", 1) and time.time() < deadline:
        time.sleep(0.05)
    assert r.ran(run, "t", 1), "worker r did not take it"
    SERVER.stop()
    kept = os.path.join(r.dir, "ends")
    deadline = time.time() + 10
    while not (os.path.isdir(kept) and os.listdir(kept)) and time.time() < deadline:
        time.sleep(0.05)
    assert os.listdir(kept), "the end is kept on disk while the server is down"
    r.proc.send_signal(signal.SIGTERM)
    assert r.proc.wait(timeout=10) == 0, "drained: its end is kept for the next start"
    restart_server()
    Worker("r", "zone=r", slots=1, work_dir=r.dir)
    st = wait_finished(run, timeout=LEASE_S * 5 + 20)
    assert st["status"] == "succeeded", (st, engine_log(run))
    assert [a["attempt"] for a in attempts_of(st, "t")] == [1], attempts_of(st, "t")
    assert open(os.path.join(r.dir, "runs", run, "ran-t")).read() == "once\n"
    deadline = time.time() + 5
    while os.listdir(kept) and time.time() < deadline:
        time.sleep(0.05)
    assert os.listdir(kept) == [], "a reported end is no longer kept"


@test
def the_team_server_workers_example_runs_on_two_workers():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                          "team-server", "try-workers.sh")
    p = subprocess.run([script, run_e2e.SLUICE], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert " succeeded" in p.stdout and "rows=1000 model=500500" in p.stdout, p.stdout


@test
def the_team_example_runs_the_ml_pipeline_on_two_workers_over_postgresql():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                          "team-server", "try-the-team.sh")
    p = subprocess.run([script, run_e2e.SLUICE], capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    assert "PostgreSQL at postgresql://" in p.stdout and "succeeded" in p.stdout, p.stdout
    assert "is in namespace ml" in p.stdout, p.stdout
    ran = " ".join(l.split(":", 1)[1] for l in p.stdout.splitlines() if l.startswith(("  one:", "  two:")))
    # A worker reuses an ended attempt's folder for its next one: one of the two may hide the
    # other's, never a local task's.
    assert "summary@1" in ran or "report@1" in ran, ("the worker tasks ran on a worker", p.stdout)
    assert "prepare@1" not in ran, "a local task ran beside the engine"


if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    try:
        setup()
        rc = run_e2e.run_suite([t for t in TESTS if only in t.__name__], "workers")
    finally:
        for w in list(WORKERS.values()) + STOPPED:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
            shutil.rmtree(w.dir, ignore_errors=True)
        if SERVER:
            SERVER.stop()
    sys.exit(rc)
