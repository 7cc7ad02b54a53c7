#!/usr/bin/env python3
"""End-to-end tests of the sluice binary with real processes.

Usage: run_e2e.py SLUICE [--kills N] [--only SUBSTRING]
Each test runs in its own temp folder with its own state dir. Prints one line per failure and
ends with "e2e: N passed, M failed".
"""
import atexit, gc, json, os, pwd, random, shutil, signal, subprocess, sys, tempfile, time, traceback, weakref

# A suite started in the background of a shell without job control has SIGINT ignored (under
# nohup, SIGHUP), and its children would inherit that (sluice keeps an ignored signal ignored,
# as nohup asks): the tests that interrupt a run need the defaults in the sluice they start.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # likewise under nohup: the hangup tests need it

SLUICE = os.path.abspath(sys.argv[1])
KILLS = int(sys.argv[sys.argv.index("--kills") + 1]) if "--kills" in sys.argv else 24
TESTS = []
STARTED = []  # background sluice processes: run_suite stops what a test left running
# Every Env's folder and the Env: run_suite removes the folders a passing test made whose Env
# nothing holds any more (a test may keep one for later tests; a failing test's stay to be read).
FOLDERS = []
ANY_FAILED = False  # a failed test keeps every folder of its process, to be looked at


def _remove_folders():
    """At exit, when every test passed: the folders still held (a suite's shared Envs, Envs a
    test kept in a global), which run_suite cannot remove while they may be in use."""
    if not ANY_FAILED:
        for folder, _ in FOLDERS:
            shutil.rmtree(folder, ignore_errors=True)


atexit.register(_remove_folders)
# The group of a state folder shared by several accounts in the identity tests: a number is
# enough (setpriv --groups), so no group is added to the machine. They act as real accounts
# every Debian system has (daemon, bin, sys), which needs root.
SHARED_GID = 4242
ROOT = os.geteuid() == 0


def test(fn):
    TESTS.append(fn)
    return fn


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-e2e-")
        FOLDERS.append((self.dir, weakref.ref(self)))
        self.state = os.path.join(self.dir, "state")
        self.binary = SLUICE

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def share(self):
        """Makes the state folder one that several operating-system accounts share, as
        docs/security.md describes: a group (SHARED_GID, no name needed), a setgid and sticky
        folder, and group-writable files. Commands then run as real accounts (account=...) through setpriv."""
        os.chmod(self.dir, 0o755)
        os.makedirs(self.state, exist_ok=True)
        os.chown(self.state, 0, SHARED_GID)
        os.chmod(self.state, 0o3770)
        self.binary = os.path.join(self.dir, "sluice")  # where every account can run it
        shutil.copy(SLUICE, self.binary)

    def argv(self, args, account=None, wrapper=()):
        who = ()
        if account:
            pw = pwd.getpwnam(account)
            who = ("setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                   f"--groups={SHARED_GID}", "--")
        return [*wrapper, *who, self.binary, "--state-dir", self.state, *args]

    def sluice(self, *args, check=None, timeout=60, env=None, account=None):
        e = dict(os.environ, **(env or {}))
        p = subprocess.run(self.argv(args, account), cwd=self.dir, capture_output=True, text=True,
                           timeout=timeout, env=e)
        if check is not None and p.returncode != check:
            raise AssertionError(f"sluice {' '.join(args)}{' as ' + account if account else ''}: "
                                 f"exit {p.returncode}, want {check}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def start(self, *args, wrapper=(), account=None):
        """Starts sluice in the background; returns the process and its first line (run id)."""
        proc = subprocess.Popen(self.argv(args, account, wrapper), cwd=self.dir,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        STARTED.append(proc)
        return proc, proc.stdout.readline().strip()

    def status(self, run):
        return json.loads(self.sluice("status", run, "-o", "json", check=0).stdout)

    def tasks(self, run):
        return {t["name"]: t for t in self.status(run)["tasks"]}

    def wait_for(self, pred, what, tries=150):
        for _ in range(tries):
            if pred():
                return
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + what)

    def awaiting(self):
        return json.loads(self.sluice("-o", "json", "approvals", check=0).stdout)


def pipeline(tasks, extra=""):
    return f"apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {{name: e2e}}\nspec:\n{extra}  tasks:\n{tasks}"


def rollout_pids(folder):
    """The rollout processes (sluice-net rollout-exec) of runs under FOLDER."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "rollout-exec" in cmd and folder in cmd:
            out.append(int(pid))
    return out


def stop_rollouts(folder):
    """Kills the rollout processes of runs under FOLDER: a failed test may leave a rollout paused
    for a promote that never comes, and nothing may be left running."""
    for pid in rollout_pids(folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def engine_pid(e, run):
    """The run's engine process: the pid its lock records. (The process a caller starts is the
    engine's grandparent, with the run's keeper between them: src/env/keeper_posix.h.)"""
    path = os.path.join(e.state, "runs", run, "lock")
    for _ in range(500):
        try:
            pid = int(open(path).read().strip() or "0")
            if pid > 0:
                return pid
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    raise AssertionError("no engine pid in " + path)


def crash(e, proc, run):
    """What a crash of sluice is (a segfault, the OOM killer, kill -9 of the run's pid): the
    engine dies by SIGKILL; the process the caller started then ends as it did."""
    try:
        os.kill(engine_pid(e, run), signal.SIGKILL)
    except ProcessLookupError:
        return proc.wait()  # it ended by itself meanwhile
    assert proc.wait() == -signal.SIGKILL, f"the started process exited {proc.returncode}"


@test
def runs_dag_passes_outputs_and_artifacts():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: a
      run: [sh, -c, 'echo 41 > n; mkdir out; echo data > out/f']
      outputs:
        params: [{name: n, from: {file: n}}]
        artifacts: [{name: out, path: out}]
    - name: b
      run: [sh, -c, 'cat "$0/f"; expr "$1" + 1', "${{ tasks.a.outputs.artifacts.out }}", "${{ tasks.a.outputs.params.n }}"]
      outputs:
        params: [{name: m, from: {stdout: text}}]
"""))
    p = e.sluice("run", "p.yaml", check=0)
    run = p.stdout.splitlines()[0]
    t = e.tasks(run)
    assert t["b"]["outputs"]["params"]["m"] == "data\n42", t["b"]
    art = t["a"]["outputs"]["artifacts"]["out"]
    assert os.path.exists(art + "/f") and not os.access(art + "/f", os.W_OK) or os.geteuid() == 0
    assert oct(os.stat(art + "/f").st_mode & 0o222) == "0o0", "artifact must be read-only"
    runs = json.loads(e.sluice("runs", "-o", "json", check=0).stdout)
    assert set(runs[0]) >= {"id", "pipeline", "status", "started", "finished"}, runs
    assert runs[0]["status"] == "succeeded"


@test
def failure_exits_1_and_blocks_downstream():
    e = Env()
    e.write("p.yaml", pipeline("""
    - {name: bad, run: [sh, -c, 'exit 3']}
    - {name: after, needs: [bad], run: [true]}
    - {name: other, run: [true]}
"""))
    p = e.sluice("run", "p.yaml", check=1)
    t = e.tasks(p.stdout.splitlines()[0])
    assert t["bad"]["state"] == "failed" and t["after"]["state"] == "upstream-failed"
    assert t["other"]["state"] == "succeeded"


@test
def retries_until_success_and_records_attempts():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: flaky
      run: [sh, -c, 'test "$SLUICE_ATTEMPT" -ge 3']
      retry: {limit: 3, backoff: {initial: 10ms, factor: 2}}
    - name: never
      run: [sh, -c, 'exit 2']
      retry: {limit: 3, except: [2], backoff: {initial: 10ms}}
"""))
    p = e.sluice("run", "p.yaml", check=1)
    st = e.status(p.stdout.splitlines()[0])
    t = {x["name"]: x for x in st["tasks"]}
    assert t["flaky"]["state"] == "succeeded" and t["flaky"]["attempts"] == 3, t["flaky"]
    assert t["never"]["state"] == "failed" and t["never"]["attempts"] == 1, t["never"]


@test
def timeout_kills_the_whole_process_group():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: slow
      script: |
        sleep 30 &
        echo $! > child.pid
        sleep 30
      timeout: 300ms
"""))
    t0 = time.time()
    p = e.sluice("run", "p.yaml", check=1)
    assert time.time() - t0 < 10, "timeout did not stop the task"
    run = p.stdout.splitlines()[0]
    st = e.status(run)
    assert st["attempts"][0]["class"] == "timeout", st["attempts"]
    pidfile = [os.path.join(r, "child.pid") for r, _, f in os.walk(e.state) if "child.pid" in f][0]
    pid = int(open(pidfile).read())
    time.sleep(0.2)
    alive = os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2]
    assert not alive, "the background child survived the timeout"


@test
def background_children_do_not_outlive_a_successful_attempt():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: quick
      script: |
        sleep 30 &
        echo $! > bg.pid
"""))
    p = e.sluice("run", "p.yaml", check=0)
    pidfile = [os.path.join(r, "bg.pid") for r, _, f in os.walk(e.state) if "bg.pid" in f][0]
    pid = int(open(pidfile).read())
    time.sleep(0.2)
    alive = os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2]
    assert not alive, "a background child outlived its attempt"


@test
def when_false_skips_and_skip_propagates():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: gate
      when: "${{ params.go }}"
      run: [sh, -c, 'echo 1']
      outputs: {params: [{name: x, from: {stdout: text}}]}
    - {name: reader, run: [echo, "${{ tasks.gate.outputs.params.x }}"]}
    - {name: free, run: [true]}
""", "  params: [{name: go, type: bool, default: false}]\n"))
    p = e.sluice("run", "p.yaml", check=0)
    t = e.tasks(p.stdout.splitlines()[0])
    assert t["gate"]["state"] == "skipped" and t["reader"]["state"] == "skipped", t
    p = e.sluice("run", "p.yaml", "-p", "go=true", check=0)
    t = e.tasks(p.stdout.splitlines()[0])
    assert t["reader"]["state"] == "succeeded", t


@test
def foreach_gathers_outputs_in_item_order():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: sq
      forEach: [3, 1, 2]
      parallelism: 2
      run: [sh, -c, 'sleep 0.0$0; expr $0 \\* $0', "${{ item }}"]
      outputs: {params: [{name: v, from: {stdout: json}}]}
    - {name: sum, run: [echo, "${{ tasks.sq.outputs.params.v }}"], outputs: {params: [{name: s, from: {stdout: json}}]}}
"""))
    p = e.sluice("run", "p.yaml", check=0)
    t = e.tasks(p.stdout.splitlines()[0])
    assert t["sum"]["outputs"]["params"]["s"] == [9, 1, 4], t["sum"]


@test
def cache_reuses_outputs_on_second_run():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: work
      run: [sh, -c, 'echo 7']
      cache: true
      outputs: {params: [{name: v, from: {stdout: text}}]}
"""))
    e.sluice("run", "p.yaml", check=0)
    p = e.sluice("run", "p.yaml", check=0)
    t = e.tasks(p.stdout.splitlines()[0])
    assert t["work"]["state"] == "cached" and t["work"]["outputs"]["params"]["v"] == "7", t
    assert "work" in e.sluice("cache", "ls", check=0).stdout
    e.sluice("cache", "clear", check=0)
    p = e.sluice("run", "p.yaml", check=0)
    assert e.tasks(p.stdout.splitlines()[0])["work"]["state"] == "succeeded"


@test
def cache_misses_when_a_script_the_task_runs_changes():
    e = Env()
    script = e.write("step.sh", "echo one\n")
    e.write("p.yaml", pipeline(f"""
    - name: work
      run: [sh, "{script}"]
      cache: true
      outputs: {{params: [{{name: v, from: {{stdout: text}}}}]}}
"""))
    e.sluice("run", "p.yaml", check=0)
    p = e.sluice("run", "p.yaml", check=0)
    assert e.tasks(p.stdout.splitlines()[0])["work"]["state"] == "cached"
    e.write("step.sh", "echo two\n")
    p = e.sluice("run", "p.yaml", check=0)
    t = e.tasks(p.stdout.splitlines()[0])["work"]
    assert t["state"] == "succeeded" and t["outputs"]["params"]["v"] == "two", t


@test
def killed_run_shows_interrupted_until_resumed():
    e = Env()
    e.write("p.yaml", pipeline("    - {name: long, run: [sleep, '1'], retry: {limit: 1, on: [lost]}}\n"))
    proc, run = e.start("run", "p.yaml")
    time.sleep(0.3)
    crash(e, proc, run)
    runs = json.loads(e.sluice("runs", "-o", "json", check=0).stdout)
    assert runs[0]["status"] == "interrupted", runs
    assert e.status(run)["status"] == "interrupted"
    e.sluice("resume", run, check=0)
    assert e.status(run)["status"] == "succeeded"
    e.sluice("resume", run, check=2)  # finished runs cannot be resumed


@test
def status_after_a_kill_shows_what_only_the_journal_held():
    """Events reach the tables up to 25 ms after their commit; a run killed sooner left them in
    its journal. status and events publish them (as resume would) when nobody runs the run."""
    e = Env()
    e.write("p.yaml", pipeline("""    - {name: a, run: ['true']}
    - {name: b, needs: [a], run: [sleep, '2'], retry: {limit: 1, on: [lost]}}
"""))
    proc, run = e.start("run", "p.yaml")
    b_folder = os.path.join(e.state, "runs", run, "tasks", "b@1")
    for _ in range(5000):  # b's folder exists once a's end is committed (write-ahead)
        if os.path.exists(b_folder):
            break
        time.sleep(0.001)
    crash(e, proc, run)
    tasks = e.tasks(run)
    assert tasks.get("a", {}).get("state") == "succeeded", tasks
    assert tasks.get("b", {}).get("state") == "running", tasks
    assert not os.path.exists(os.path.join(e.state, "runs", run, "journal")), "journal left"
    kinds = [x["kind"] for x in json.loads(e.sluice("events", run, "-o", "json", check=0).stdout)]
    assert kinds.count("task.finished") == 1 and "attempt.started" in kinds, kinds
    e.sluice("resume", run, check=0)  # kills the orphaned sleep, runs b again
    assert e.status(run)["status"] == "succeeded"


@test
def cache_entries_expire_after_their_ttl():
    e = Env()
    e.write("p.yaml", pipeline("""
    - {name: work, run: [echo, hi], cache: {ttl: 1s}, outputs: {params: [{name: v, from: {stdout: text}}]}}
"""))
    e.sluice("run", "p.yaml", check=0)
    p = e.sluice("run", "p.yaml", check=0)
    assert e.tasks(p.stdout.splitlines()[0])["work"]["state"] == "cached"
    time.sleep(1.2)
    p = e.sluice("run", "p.yaml", check=0)
    assert e.tasks(p.stdout.splitlines()[0])["work"]["state"] == "succeeded"


@test
def pools_bound_how_many_tasks_run_at_once():
    e = Env()
    log = os.path.join(e.dir, "intervals")
    e.write("p.yaml", pipeline(f"""
    - name: w
      forEach: [1, 2, 3]
      resources: {{db: 1}}
      script: |
        start=$(date +%s%N); sleep 0.3; echo "$start $(date +%s%N)" >> "{log}"
""", "  pools: {db: 1}\n"))
    e.sluice("run", "p.yaml", "-j", "3", check=0)
    spans = sorted(tuple(map(int, l.split())) for l in open(log))
    assert len(spans) == 3
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 >= a1, f"two tasks of pool db ran at once: {spans}"


@test
def logs_follow_prints_until_the_attempt_ends():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: talk
      script: |
        for i in 1 2 3; do echo "line $i"; sleep 0.2; done
        echo oops >&2
"""))
    proc, run = e.start("run", "p.yaml")
    time.sleep(0.1)
    f = e.sluice("logs", run, "talk", "-f", timeout=20)
    proc.wait(timeout=20)
    assert f.returncode == 0, f.stderr
    assert f.stdout.split() == ["line", "1", "line", "2", "line", "3"], f.stdout
    assert "oops" in f.stderr


@test
def terminal_shows_a_live_status_line():
    e = Env()
    e.write("p.yaml", pipeline("    - {name: a, run: [sleep, '0.3']}\n    - {name: b, needs: [a], run: [true]}\n"))
    # script(1) gives sluice a pseudo-terminal; NO_COLOR keeps the text plain.
    cmd = f"{SLUICE} --state-dir {e.state} run p.yaml"
    p = subprocess.run(["script", "-qfec", cmd, "/dev/null"], cwd=e.dir, capture_output=True,
                       timeout=30, env=dict(os.environ, NO_COLOR="1"))
    p.stdout = p.stdout.decode()  # bytes: text mode would turn the \r into newlines
    assert p.returncode == 0, p.stdout
    assert "[0/2 0:00] running: a" in p.stdout, repr(p.stdout)  # with the time since it began
    assert "\r" in p.stdout and "\x1b[K" in p.stdout, repr(p.stdout)
    assert "\x1b[3" not in p.stdout, "NO_COLOR must disable colors"
    assert "started   a" not in p.stdout, "a terminal gets a status line, not a line per event"


@test
def validate_writes_nothing_and_bad_params_exit_2():
    e = Env()
    e.write("p.yaml", pipeline("    - {name: a, run: [true]}\n", "  params: [{name: n, type: int, required: true}]\n"))
    e.sluice("validate", "p.yaml", check=0)
    assert not os.path.exists(e.state), "validate wrote state"
    p = e.sluice("run", "p.yaml", check=2)
    assert "required" in p.stderr
    p = e.sluice("run", "p.yaml", "-p", "n=abc", check=2)
    assert "must be int" in p.stderr, p.stderr
    e.sluice("run", "p.yaml", "-p", "n=4", check=0)
    e.sluice("status", "nosuchrun", check=2)


@test
def eval_prints_json_or_the_error_with_its_column():
    e = Env()
    p = e.sluice("eval", "acc >= 0.9 && size(labels) > 2", "--var", "acc=0.93",
                 "--var", 'labels=["a","b","c"]', check=0)
    assert p.stdout.strip() == "true", p.stdout
    e.write("vars.json", '{"xs": [1, 2, 3]}')
    p = e.sluice("eval", "xs.map(x, x * 2)", "--vars", "vars.json", check=0)
    assert p.stdout.strip() == "[2,4,6]", p.stdout
    p = e.sluice("eval", "1 + 'a'", check=2)
    assert "column 3" in p.stderr, p.stderr
    p = e.sluice("eval", "nosuch > 1", check=2)
    assert "undeclared variable" in p.stderr, p.stderr


@test
def conditions_may_use_macros_types_and_has_on_outputs():
    e = Env()
    e.write("p.yaml", pipeline("""
    - {name: up, run: [echo, "7"], outputs: {params: [{name: x, from: {stdout: json}}]}}
    - name: down
      when: "${{ has(tasks.up.outputs.params.x) && type(params.n) == int && params.xs.all(v, v > 0) }}"
      run: [echo, ok]
""", "  params: [{name: n, type: int, default: 3}, {name: xs, type: list, default: [1, 2]}]\n"))
    p = e.sluice("run", "p.yaml", check=0)
    assert e.tasks(p.stdout.splitlines()[0])["down"]["state"] == "succeeded"


@test
def graph_renders_dot_and_mermaid():
    e = Env()
    e.write("p.yaml", pipeline("    - {name: a, run: [true]}\n    - {name: b, needs: [a], run: [true]}\n"))
    dot = e.sluice("graph", "p.yaml", "--format", "dot", check=0).stdout
    assert "digraph" in dot and "->" in dot
    mm = e.sluice("graph", "p.yaml", "--format", "mermaid", check=0).stdout
    assert mm.startswith("flowchart") and "-->" in mm


@test
def interrupt_cancels_cleanly():
    e = Env()
    e.write("p.yaml", pipeline("    - {name: long, run: [sleep, '30']}\n    - {name: after, needs: [long], run: [true]}\n"))
    proc, run = e.start("run", "p.yaml")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=20)
    assert rc == 1, rc
    st = e.status(run)
    assert st["status"] == "cancelled", st["status"]
    t = {x["name"]: x["state"] for x in st["tasks"]}
    assert t == {"long": "cancelled", "after": "cancelled"}, t


@test
def hangup_cancels_but_nohup_keeps_running():
    e = Env()
    e.write("p.yaml", pipeline("    - {name: long, run: [sleep, '1']}\n"))
    proc, run = e.start("run", "p.yaml")
    time.sleep(0.3)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=20) == 1
    assert e.status(run)["status"] == "cancelled"
    proc, run = e.start("run", "p.yaml", wrapper=("nohup",))
    time.sleep(0.3)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=20) == 0
    assert e.status(run)["status"] == "succeeded"


@test
def cancel_command_stops_a_live_run():
    e = Env()
    e.write("p.yaml", pipeline("    - {name: long, run: [sleep, '30']}\n"))
    proc, run = e.start("run", "p.yaml")
    time.sleep(0.5)
    e.sluice("cancel", run, check=0)
    assert proc.wait(timeout=20) == 1
    assert e.status(run)["status"] == "cancelled"


@test
def resume_kills_the_lost_attempt_before_retrying():
    e = Env()
    d = os.path.join(e.dir, "marks")
    os.mkdir(d)
    e.write("p.yaml", pipeline(f"""
    - name: slow
      script: |
        echo started > "$D/started.$SLUICE_ATTEMPT"
        sleep 2
        echo "$SLUICE_ATTEMPT" >> "$D/done"
      env: {{D: "{d}"}}
      retry: {{limit: 2, on: [lost], backoff: {{initial: 10ms}}}}
"""))
    proc, run = e.start("run", "p.yaml")
    for _ in range(200):
        if os.path.exists(os.path.join(d, "started.1")):
            break
        time.sleep(0.02)
    # The keeper that would have told its end dies too: only then is the attempt lost.
    kill_keepers(e, run)
    crash(e, proc, run)
    e.sluice("resume", run, check=0)
    time.sleep(0.5)
    done = open(os.path.join(d, "done")).read().split()
    assert done == ["2"], f"the lost attempt kept running: {done}"
    classes = [a["class"] for a in e.status(run)["attempts"]]
    assert classes == ["lost", ""], classes


# --- Tasks that outlive a crash (issue 12 §4): the run's keeper ------------------------------

def keeper_pids(e, run):
    """The keepers of `run` that hold their lock (keepers/PID.lock) now."""
    d = os.path.join(e.state, "runs", run, "keepers")
    pids = []
    for name in os.listdir(d) if os.path.isdir(d) else []:
        if name.endswith(".lock") and os.path.exists(f"/proc/{name[:-5]}"):
            pids.append(int(name[:-5]))
    return pids


def kill_keepers(e, run):
    for _ in range(200):
        if keeper_pids(e, run):
            break
        time.sleep(0.01)
    for pid in keeper_pids(e, run):
        os.kill(pid, signal.SIGKILL)


@test
def resume_adopts_the_attempts_that_outlived_sluice():
    """kill -9 sluice while one task runs and another has ended: resume waits for the first and
    records the real ends and outputs of both; neither runs again."""
    e = Env()
    d = os.path.join(e.dir, "marks")
    os.mkdir(d)
    e.write("p.yaml", pipeline(f"""
    - name: quick
      script: |
        echo "$SLUICE_ATTEMPT" >> "$D/quick"
        echo 7 > n.txt
        exit 0
      env: {{D: "{d}"}}
      outputs: {{params: [{{name: n, from: {{file: n.txt}}}}]}}
      retry: {{limit: 2, on: [lost]}}
    - name: failing
      script: |
        echo "$SLUICE_ATTEMPT" >> "$D/failing"
        for i in $(seq 1000); do [ -e "$D/go" ] && break; sleep 0.02; done
        exit 3
      env: {{D: "{d}"}}
      retry: {{limit: 2, on: [lost]}}
    - name: slow
      script: |
        echo "$SLUICE_ATTEMPT" >> "$D/slow"
        for i in $(seq 1000); do [ -e "$D/go" ] && break; sleep 0.02; done
        sleep 0.5
        echo done > out.txt
      env: {{D: "{d}"}}
      outputs: {{params: [{{name: v, from: {{file: out.txt}}}}]}}
      retry: {{limit: 2, on: [lost]}}
    - name: after
      needs: [slow, quick]
      run: [echo, "${{{{ tasks.slow.outputs.params.v }}}}-${{{{ tasks.quick.outputs.params.n }}}}"]
      outputs: {{params: [{{name: said, from: {{stdout: text}}}}]}}
""", "  failFast: false\n"))
    proc, run = e.start("run", "p.yaml", "-j", "3")
    e.wait_for(lambda: all(os.path.exists(os.path.join(d, n)) for n in ("quick", "failing", "slow")),
               "the three tasks to start")
    time.sleep(0.2)  # quick has ended; its end may or may not have been recorded
    crash(e, proc, run)
    assert keeper_pids(e, run), "no keeper outlived sluice"
    open(os.path.join(d, "go"), "w").close()  # failing ends while nobody runs the run
    time.sleep(0.2)
    p = e.sluice("resume", run, check=1)  # waits for slow, then runs after
    st = e.status(run)
    t = e.tasks(run)
    assert t["slow"]["state"] == "succeeded" and t["slow"]["attempts"] == 1, (t["slow"], p.stderr)
    assert t["quick"]["state"] == "succeeded" and t["quick"]["attempts"] == 1, t["quick"]
    assert t["failing"]["state"] == "failed" and t["failing"]["attempts"] == 1, t["failing"]
    assert (t["after"].get("outputs") or {}).get("params", {}).get("said") == "done-7", (t["after"], p.stderr)
    codes = {a["task"]: (a["class"], a["exitCode"]) for a in st["attempts"]}
    assert codes["failing"][1] == 3 and codes["failing"][0] != "lost", codes
    for name in ("quick", "failing", "slow"):
        assert open(os.path.join(d, name)).read().split() == ["1"], name + " ran again"
    e.wait_for(lambda: not keeper_pids(e, run), "the keepers to end")


@test
def killing_the_started_process_is_a_crash_whose_task_resume_adopts():
    """kill -9 of the pid the caller started (the engine's grandparent) ends the run as a crash
    does: the keeper kills the engine and keeps the running task, which resume adopts."""
    e = Env()
    d = os.path.join(e.dir, "marks")
    os.mkdir(d)
    e.write("p.yaml", pipeline(f"""
    - name: slow
      script: |
        echo "$SLUICE_ATTEMPT" >> "$D/slow"
        sleep 0.6
        echo done > out.txt
      env: {{D: "{d}"}}
      outputs: {{params: [{{name: v, from: {{file: out.txt}}}}]}}
      retry: {{limit: 2, on: [lost]}}
"""))
    proc, run = e.start("run", "p.yaml")
    e.wait_for(lambda: os.path.exists(os.path.join(d, "slow")), "the task to start")
    engine = engine_pid(e, run)
    proc.kill()
    proc.wait()
    e.wait_for(lambda: not os.path.exists(f"/proc/{engine}"), "the engine to be killed")
    assert keeper_pids(e, run), "no keeper kept the task"
    e.sluice("resume", run, check=0)
    t = e.tasks(run)["slow"]
    assert t["state"] == "succeeded" and t["attempts"] == 1, t
    assert t["outputs"]["params"]["v"] == "done", t
    assert open(os.path.join(d, "slow")).read().split() == ["1"], "it ran again"


def crash_pipeline(sleep="0.1"):
    """30 tasks in layers; each records its attempt in effects/TASK, then sleeps a little."""
    lines = []
    for i in range(30):
        needs = [f"t{j}" for j in range(max(0, i - 7), i) if (i + j) % 3 == 0]
        lines.append(f"""    - name: t{i}
      needs: [{', '.join(needs)}]
      script: |
        echo "$SLUICE_ATTEMPT" >> "$EFFECTS/$SLUICE_TASK"
        sleep {sleep}{random.randint(1, 9)}
      env: {{EFFECTS: "${{{{ params.effects }}}}"}}
      retry: {{limit: 50, on: [lost], backoff: {{initial: 10ms, max: 50ms}}}}
""")
    return "".join(lines)


@test
def crash_loop_resume_finishes_every_task_once():
    """kill -9 sluice at random moments, resume each time; check every side effect."""
    e = Env()
    effects = os.path.join(e.dir, "effects")
    os.mkdir(effects)
    e.write("p.yaml", pipeline(crash_pipeline(), f"  params: [{{name: effects, type: string, default: '{effects}'}}]\n"))
    rng = random.Random(int(os.environ.get("SLUICE_CRASH_SEED", "7")))
    run = None
    kills = 0
    succeeded_before = {}
    for _ in range(KILLS * 3):
        args = ["run", "p.yaml", "-j", "3"] if run is None else ["resume", run, "-j", "3"]
        proc, line = e.start(*args)
        run = run or line
        time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is not None:
            break  # finished before we could kill it
        crash(e, proc, run)
        kills += 1
        # Tasks that had succeeded must never run again.
        for name, t in e.tasks(run).items():
            if name in succeeded_before:
                assert t["attempts"] == succeeded_before[name], f"{name} ran again after success"
            if t["state"] == "succeeded":
                succeeded_before[name] = t["attempts"]
        if kills >= KILLS:
            break
    time.sleep(0.3)  # let orphaned attempts of the last killed process finish
    p = e.sluice("resume", run, timeout=120) if e.status(run)["status"] not in ("succeeded",) else None
    st = e.status(run)
    assert st["status"] == "succeeded", (st["status"], p.stderr if p else "")
    attempts = {}
    for a in st["attempts"]:
        attempts.setdefault(a["task"], set()).add(a["attempt"])
    for t in st["tasks"]:
        assert t["state"] == "succeeded", t
        path = os.path.join(effects, t["name"])
        seen = [int(x) for x in open(path).read().split()]
        assert seen, f"{t['name']} never ran"
        # Write-ahead: every execution was recorded first, and no attempt ran twice.
        assert len(seen) == len(set(seen)), f"{t['name']} ran attempt twice: {seen}"
        assert set(seen) <= attempts[t["name"]], f"{t['name']} ran unrecorded attempts {seen}"
        # What was running at a kill was adopted by the next resume, not run again.
        assert len(seen) == 1, f"{t['name']} ran {len(seen)} times: {seen}"
    print(f"  crash loop: {kills} kills, run {run}")
    # Nothing is redone after a kill, so the run may finish within fewer lives than KILLS.
    assert kills >= min(KILLS, 12), f"only {kills} kills happened"


@test
def crash_loop_with_long_tasks_runs_no_task_twice():
    """Tasks longer than the gap between kills: every kill leaves some running. The run's keeper
    keeps them, and each resume adopts them, so every task runs exactly once."""
    e = Env()
    effects = os.path.join(e.dir, "effects")
    os.mkdir(effects)
    e.write("p.yaml", pipeline(crash_pipeline("0.3"), f"  params: [{{name: effects, type: string, default: '{effects}'}}]\n"))
    rng = random.Random(int(os.environ.get("SLUICE_CRASH_SEED", "7")))
    run, kills = None, 0
    for _ in range(36):
        args = ["run", "p.yaml", "-j", "3"] if run is None else ["resume", run, "-j", "3"]
        proc, line = e.start(*args)
        run = run or line
        time.sleep(rng.uniform(0.05, 0.25))
        if proc.poll() is not None:
            break
        crash(e, proc, run)
        kills += 1
        if kills >= 12:
            break
    if e.status(run)["status"] != "succeeded":
        e.sluice("resume", run, timeout=120)
    assert e.status(run)["status"] == "succeeded"
    twice = {}
    for t in e.tasks(run).values():
        seen = open(os.path.join(effects, t["name"])).read().split()
        if len(seen) != 1:
            twice[t["name"]] = seen
    assert not twice, f"ran more than once: {twice}"
    print(f"  long-task crash loop: {kills} kills, run {run}")
    assert kills >= 8, f"only {kills} kills happened"


@test
def resilient_example_falls_back_compensates_and_rolls_back():
    e = Env()
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                           "resilient-pipeline", "pipeline.yaml")
    target = os.path.join(e.dir, "cluster")
    p = e.sluice("run", example, "-p", f"target={target}", check=1)
    run = p.stdout.split("\n")[0]
    t = e.tasks(run)
    assert e.status(run)["status"] == "compensated", e.status(run)["status"]
    assert t["deploy-prod"]["state"] == "failed" and t["deploy-prod.catch[0]"]["state"] == "succeeded", t
    assert t["deploy-canary.compensate"]["state"] == "succeeded", t
    assert "deploy-prod.compensate" not in t, "an incomplete task was compensated"
    # Every registration ended with the fallback: retried 503s, then the open breaker.
    for k in range(3):
        assert t[f"register[{k}].fallback"]["state"] == "succeeded", t
    assert sorted(os.listdir(os.path.join(target, "queue"))) == [
        "model-base.pending", "model-large.pending", "model-small.pending"]
    assert not os.path.exists(os.path.join(target, "prod")), "the partial rollout was left behind"
    assert not os.path.exists(os.path.join(target, "canary")), "the canary was not undone"
    log = open(os.path.join(target, "notifications.log")).read()
    assert f"release {run}: compensated" in log and "deploy-prod" in log, log
    breakers = json.loads(e.sluice("breakers", "-o", "json", check=0).stdout)
    assert breakers[0]["name"] == "model-registry" and breakers[0]["state"] == "open", breakers
    # A healthy release, with the breaker closed by an operator, then rolled back.
    e.sluice("breakers", "close", "model-registry", check=0)
    p = e.sluice("run", example, "-p", f"target={target}", "-p", "registry_down=false",
                 "-p", "prod_healthy=true", check=0)
    run2 = p.stdout.split("\n")[0]
    assert e.tasks(run2)["register[0]"]["state"] == "succeeded"
    assert sorted(os.listdir(os.path.join(target, "prod"))) == ["shard-1", "shard-2", "shard-3"]
    e.sluice("rollback", run2, check=0)
    assert e.status(run2)["status"] == "compensated"
    assert not os.path.exists(os.path.join(target, "prod"))
    assert not os.path.exists(os.path.join(target, "canary"))
    again = e.sluice("rollback", run2, check=2)
    assert "only a succeeded or failed run can be rolled back" in again.stderr, again.stderr


def needs_root(fn):
    """Tests that act as several operating-system accounts: they need root (CI runs as root)."""
    def wrapped():
        if not ROOT:
            print(f"SKIP {fn.__name__}: acting as several accounts needs root")
            return
        fn()
    wrapped.__name__ = fn.__name__
    return wrapped


USERS_YAML = """users:
  - {name: root, rights: [act-as]}
  - {name: daemon, groups: [approvers, release-managers]}
  - {name: bin, groups: [approvers, release-managers]}
  - {name: sys}
  - {name: alice}
  - {name: bob}
  - {name: carol}
  - {name: dave}
"""


def write_users(e, text=USERS_YAML, mode=0o640):
    path = e.write("state/users.yaml", text)
    os.chmod(path, mode)
    return path


@test
@needs_root
def audit_log_records_who_did_what_and_catches_tampering():
    import sqlite3
    e = Env()
    e.write("p.yaml", pipeline("    - {name: a, run: [echo, hi], compensate: {run: [echo, undo]}}\n"))
    # The operating-system account acts; --as is a claim it needs the act-as right for.
    refused = e.sluice("--as", "alice", "run", "p.yaml", check=2)
    assert 'account "root" may not act as "alice"' in refused.stderr, refused.stderr
    refused = e.sluice("run", "p.yaml", check=2, env={"SLUICE_USER": "alice"})
    assert "may not act as" in refused.stderr, refused.stderr
    run = e.sluice("run", "p.yaml", check=0, env={"USER": "mallory"}).stdout.split("\n")[0]
    write_users(e)
    e.sluice("--as", "bob", "rollback", run, check=0)
    e.sluice("breakers", "open", "nosuch", check=2)  # refused: nothing recorded
    lines = [json.loads(l) for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    assert [(r["actor"], r["action"]) for r in lines] == [("root", "run.submitted"),
                                                        ("bob (by root)", "run.rollback")], lines
    assert lines[0]["details"]["specDigest"] == e.status(run)["specDigest"]
    ok = e.sluice("-o", "json", "audit", "verify", check=0)
    head = json.loads(ok.stdout)["head"]
    assert head == lines[-1]["hash"]
    who = json.loads(e.sluice("-o", "json", "--as", "bin", "whoami", check=0).stdout)
    assert who == {"name": "bin", "account": "root", "groups": ["approvers", "release-managers"],
                   "rights": ["act-as"]}, who
    refused = e.sluice("--as", "mallory", "run", "p.yaml", check=2)
    assert 'user "mallory" is not in' in refused.stderr, refused.stderr
    assert "group:" in e.sluice("--as", "group:approvers", "whoami", check=2).stderr
    assert len(e.sluice("audit", "export", check=0).stdout.splitlines()) == 2
    # users.yaml counts only when the state folder's owner alone can change it.
    users = os.path.join(e.state, "users.yaml")
    os.chmod(users, 0o664)
    assert "is not trusted" in e.sluice("whoami", check=2).stderr
    os.chmod(users, 0o644)
    os.chown(users, pwd.getpwnam("daemon").pw_uid, -1)
    assert "is not trusted" in e.sluice("whoami", check=2).stderr
    os.chown(users, 0, -1)
    # Tampering in SQLite is caught and named; a truncated tail needs the exported head.
    db = sqlite3.connect(os.path.join(e.state, "sluice.db"))
    db.execute("UPDATE audit SET actor='mallory' WHERE seq=1")
    db.commit()
    bad = e.sluice("audit", "verify", check=1)
    assert "BROKEN at record 1" in bad.stdout, bad.stdout
    db.execute("UPDATE audit SET actor='root' WHERE seq=1")
    db.execute("DELETE FROM audit WHERE seq=2")
    db.commit()
    e.sluice("audit", "verify", check=0)
    cut = e.sluice("audit", "verify", "--head", head, check=1)
    assert "removed" in cut.stdout, cut.stdout


@test
@needs_root
def governed_example_admits_gates_and_denies():
    e = Env()
    e.share()
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("governed-pipeline", "components"):  # where every account can read them
        shutil.copytree(os.path.join(here, "..", "..", "examples", name), os.path.join(e.dir, name))
    example = os.path.join(e.dir, "governed-pipeline")
    write_users(e)
    proc, run = e.start("run", os.path.join(example, "pipeline.yaml"), account="daemon")
    e.wait_for(lambda: e.awaiting(), "the approval request")
    assert "forbidSelfApproval" in e.sluice("approve", run, "sign-off", check=2, account="daemon").stderr
    assert "may not approve" in e.sluice("approve", run, "sign-off", check=2, account="sys").stderr
    e.sluice("approve", run, "sign-off", "--comment", "report read", check=0, account="bin")
    assert proc.wait(timeout=60) == 0
    assert e.tasks(run)["publish"]["state"] == "succeeded"
    decisions = e.status(run)["decisions"]
    got = {(d["stage"], d["policy"], d["rule"]): d["result"] for d in decisions}
    assert got[("admission", "production-ready", "pinned-components")] == "allow", got
    assert got[("gate", "model-quality", "accuracy")] in ("allow", "waived"), got
    assert all(len(d["policyHash"]) == 64 and len(d["inputDigest"]) == 64 for d in decisions)
    t = e.sluice("policy", "test", os.path.join(example, "policy-tests"), check=0)
    assert "policy tests: 5 passed, 0 failed" in t.stdout, t.stdout
    # The same policies deny a pipeline with an untimed task: no run is created, the attempt
    # is audited.
    e.write("bad.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: bad, labels: {team: ml-platform}}\n"
            "spec:\n  params: [{name: sweep, type: list, default: [1]}]\n  tasks:\n    - {name: a, run: [echo, hi]}\n")
    runs_before = len(json.loads(e.sluice("-o", "json", "runs", check=0).stdout))
    denied = e.sluice("run", "bad.yaml", "--policies", os.path.join(example, "policies"), check=1,
                      account="daemon")
    assert "tasks without a timeout: a" in denied.stderr and "admission denied" in denied.stderr, denied.stderr
    assert len(json.loads(e.sluice("-o", "json", "runs", check=0).stdout)) == runs_before
    last = json.loads(e.sluice("audit", "export", check=0).stdout.splitlines()[-1])
    assert last["action"] == "run.denied" and last["actor"] == "daemon", last
    assert e.sluice("validate", "bad.yaml", "--policies", os.path.join(example, "policies"), check=1)


APPROVAL_PIPELINE = pipeline(
    "    - {name: build, run: [echo, built]}\n"
    "    - name: sign-off\n      needs: [build]\n"
    "      approval: {approvers: [group:approvers], quorum: 1, instructions: look first}\n"
    "    - {name: deploy, needs: [sign-off], run: [echo, deployed]}\n")


@test
@needs_root
def approvals_quorum_self_approval_rejection_timeout_and_restart():
    e = Env()
    e.share()
    write_users(e)
    e.write("p.yaml", APPROVAL_PIPELINE)
    # daemon submits; daemon may not approve its own run; sys is no approver; bin rejects.
    proc, run = e.start("run", "p.yaml", account="daemon")
    e.wait_for(lambda: e.awaiting(), "the approval request")
    assert "forbidSelfApproval" in e.sluice("approve", run, "sign-off", check=2, account="daemon").stderr
    assert "may not approve" in e.sluice("approve", run, "sign-off", check=2, account="sys").stderr
    e.sluice("reject", run, "sign-off", "--comment", "dashboard red", check=0, account="bin")
    proc.wait(timeout=20)
    t = e.tasks(run)
    assert t["sign-off"]["state"] == "failed" and "rejected by bin: dashboard red" in t["sign-off"]["message"], t
    assert t["deploy"]["state"] == "upstream-failed", t
    att = [a for a in e.status(run)["attempts"] if a["task"] == "sign-off"]
    assert not att, "an approval-only task runs no process"
    # A run waiting for approval survives kill -9: the vote cast meanwhile is seen on resume.
    proc, run2 = e.start("run", "p.yaml", account="daemon")
    e.wait_for(lambda: any(a["run"] == run2 for a in e.awaiting()), "the second request")
    crash(e, proc, run2)
    e.sluice("approve", run2, "sign-off", check=0, account="bin")
    r = e.sluice("resume", run2, check=0, account="daemon")
    assert e.status(run2)["status"] == "succeeded", r.stderr
    assert "approved by bin" in e.tasks(run2)["sign-off"]["message"] or e.tasks(run2)["sign-off"]["state"] == "succeeded"
    # A timeout rejects; it never continues by itself.
    e.write("t.yaml", pipeline("    - name: gate\n      approval: {approvers: [bin], timeout: 1s}\n"
                               "    - {name: after, needs: [gate], run: [echo, no]}\n"))
    run3 = e.sluice("run", "t.yaml", check=1, account="daemon").stdout.split("\n")[0]
    assert "not approved within 1.0s" in e.tasks(run3)["gate"]["message"], e.tasks(run3)
    records = [json.loads(l) for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    votes = [(r["actor"], r["action"]) for r in records if r["actor"] != "sluice" and r["action"].startswith("approval.")]
    outcomes = [r["action"] for r in records if r["actor"] == "sluice" and r["action"].startswith("approval.")]
    assert votes == [("bin", "approval.rejected"), ("bin", "approval.approved")], votes
    assert outcomes == ["approval.rejected", "approval.approved", "approval.rejected"], outcomes
    e.sluice("audit", "verify", check=0)

# ---- Secrets (issue 11, section 3): values reach tasks and nothing Sluice keeps or shows. ----

def secrets_pipeline(e, vault, extra_task=""):
    return pipeline(f"""
    - name: use
      secrets:
        - {{name: api, env: API}}
        - {{name: key, file: key.pem}}
        - {{name: vault, env: VAULT}}
      env: {{TOK: "${{{{ params.token }}}}"}}
      script: |
        half() {{ v=$1; n=$((${{#v}} / 2)); printf '%s' "$v" | head -c $n; sleep 0.05; printf '%s\\n' "$v" | tail -c +$((n + 1)); }}
        for v in "$API" "$(cat key.pem)" "$VAULT" "$TOK"; do half "$v"; half "$v" >&2; done
        for v in "$API" "$(cat key.pem)" "$VAULT" "$TOK"; do printf '%s' "$v" | sha256sum | cut -c1-64; done > sums.txt
        printf '%s %s %s %s\\n' "$API" "$(cat key.pem)" "$VAULT" "$TOK" > all.txt
        mkdir -p art && cp all.txt art/copy.txt && cp key.pem art/key-copy.pem
        printf '{{"token": "%s"}}' "$TOK" > out.json
      outputs:
        params:
          - {{name: sums, from: {{file: sums.txt}}}}
          - {{name: all, from: {{file: all.txt}}}}
          - {{name: tok, from: {{file: out.json, json: token}}}}
          - {{name: printed, from: {{stdout: text}}}}
        artifacts:
          - {{name: art, path: art}}
{extra_task}""", f"""  params:
    - {{name: token, secret: true, required: true}}
  secrets:
    - {{name: api, env: E2E_API_TOKEN, version: "1"}}
    - {{name: key, file: secret.key}}
    - {{name: vault, command: [sh, {vault}]}}
""")


def secret_values(e):
    tag = os.urandom(6).hex()
    vals = {"api": f"env-SECRET-{tag}-a1", "key": f"file-SECRET-{tag}-b2",
            "vault": f"cmd-SECRET-{tag}-c3", "token": f"param-SECRET-{tag}-d4"}
    e.write("secret.key", vals["key"] + "\n")
    store = os.path.join(e.dir, "vault-store")
    os.mkdir(store)
    with open(os.path.join(store, "v"), "w") as f:
        f.write(vals["vault"])
    vault = e.write("vault.sh", f"cat {store}/v; echo\n")
    return vals, vault


def assert_nowhere(e, run, vals, task="use"):
    """No value in any file of the state folder (db bytes, logs, artifacts) nor in what the
    commands that read the run print."""
    for root, dirs, files in os.walk(e.state):
        for name in files + dirs:
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            data = open(path, "rb").read()
            for k, v in vals.items():
                assert v.encode() not in data, f"{k} value found in {path}"
    shown = [e.sluice("status", run, "-o", "json", check=0), e.sluice("status", run, check=0),
             e.sluice("events", run, check=0), e.sluice("audit", "export", check=0),
             e.sluice("logs", run, task, check=0), e.sluice("runs", check=0)]
    for p in shown:
        for k, v in vals.items():
            assert v not in p.stdout + p.stderr, f"{k} value shown by {p.args[3:]}"


@test
def secrets_reach_tasks_and_are_stored_nowhere():
    e = Env()
    vals, vault = secret_values(e)
    e.write("p.yaml", secrets_pipeline(e, vault))
    p = e.sluice("run", "p.yaml", "-p", f"token={vals['token']}", check=0,
                 env={"E2E_API_TOKEN": vals["api"]})
    run = p.stdout.splitlines()[0]
    for k, v in vals.items():
        assert v not in p.stdout + p.stderr, f"{k} value in sluice's own output"
    t = e.tasks(run)["use"]
    import hashlib
    want = [hashlib.sha256(vals[k].encode()).hexdigest() for k in ("api", "key", "vault", "token")]
    assert t["outputs"]["params"]["sums"].split() == want, "the task did not receive the values"
    assert t["outputs"]["params"]["all"] == "*** *** *** ***", t["outputs"]["params"]["all"]
    assert t["outputs"]["params"]["tok"] == "***"
    logs = e.sluice("logs", run, "use", check=0)
    assert logs.stdout == "***\n" * 4 and logs.stderr == "***\n" * 4, (logs.stdout, logs.stderr)
    art = t["outputs"]["artifacts"]["art"]
    assert open(os.path.join(art, "copy.txt")).read() == "*** *** *** ***\n"
    st = e.status(run)
    assert st["params"]["token"] == "***", st["params"]
    submitted = [json.loads(l) for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    details = [json.loads(r["details"]) if isinstance(r["details"], str) else r["details"]
               for r in submitted if r["action"] == "run.submitted"]
    assert details[0]["params"]["token"] == "***", details
    work = os.path.join(e.state, "runs", run, "tasks")
    assert not [n for n in os.listdir(work) if n.endswith(".secrets")], os.listdir(work)
    assert_nowhere(e, run, vals)


@test
def secrets_are_asked_for_again_on_resume_and_missing_ones_are_named():
    e = Env()
    vals, vault = secret_values(e)
    gate = os.path.join(e.dir, "go")
    e.write("p.yaml", secrets_pipeline(e, vault, f"""    - name: wait
      needs: [use]
      run: [sh, -c, 'while [ ! -e {gate} ]; do sleep 0.05; done']
      retry: {{limit: 2, on: [lost], backoff: {{initial: 10ms}}}}
"""))
    env = {"E2E_API_TOKEN": vals["api"], "SLUICE_PARAM_TOKEN": vals["token"]}
    proc = subprocess.Popen([SLUICE, "--state-dir", e.state, "run", "p.yaml"], cwd=e.dir,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, **env))
    run = proc.stdout.readline().strip()
    tasks = os.path.join(e.state, "runs", run, "tasks")
    for _ in range(400):
        if os.path.isdir(tasks) and any(n.startswith("wait@") for n in os.listdir(tasks)):
            break
        time.sleep(0.02)
    crash(e, proc, run)
    p = e.sluice("resume", run, check=2, env={"E2E_API_TOKEN": vals["api"], "SLUICE_PARAM_TOKEN": ""})
    # An empty variable is a value: it differs from the one submitted.
    assert 'secret param "token" differs' in p.stderr, p.stderr
    clean = {k: v for k, v in os.environ.items() if k not in ("SLUICE_PARAM_TOKEN", "E2E_API_TOKEN")}
    r = subprocess.run([SLUICE, "--state-dir", e.state, "resume", run], cwd=e.dir, env=clean,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'secret param "token" is needed again' in r.stderr, r.stderr
    assert "SLUICE_PARAM_TOKEN" in r.stderr, r.stderr
    r = subprocess.run([SLUICE, "--state-dir", e.state, "resume", run, "-p", f"token={vals['token']}"],
                       cwd=e.dir, env=clean, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'secret "api": the environment variable E2E_API_TOKEN is not set' in r.stderr, r.stderr
    open(gate, "w").close()
    p = e.sluice("resume", run, "-p", f"token={vals['token']}", check=0,
                 env={"E2E_API_TOKEN": vals["api"]})
    assert e.status(run)["status"] == "succeeded"
    assert_nowhere(e, run, vals)


@test
def a_failing_secret_command_names_the_secret_and_never_prints_its_output():
    e = Env()
    vals, _ = secret_values(e)
    bad = e.write("bad-vault.sh", f"echo {vals['vault']}; exit 3\n")
    e.write("p.yaml", pipeline("""
    - {name: a, run: [true], secrets: [{name: v, env: V}]}
""", f"  secrets:\n    - {{name: v, command: [sh, {bad}]}}\n"))
    p = e.sluice("run", "p.yaml", check=2)
    assert 'secret "v": command "sh" exited with status 3 (its output is not shown)' in p.stderr, p.stderr
    assert vals["vault"] not in p.stdout + p.stderr
    assert not os.path.exists(os.path.join(e.state, "runs")), "no run may be created"


@test
def secrets_example_publishes_with_masked_logs():
    e = Env()
    here = os.path.dirname(os.path.abspath(__file__))
    example = os.path.join(here, "..", "..", "examples", "secrets", "pipeline.yaml")
    env = {"REGISTRY_TOKEN": "tok-abc-123-xyz", "SLUICE_PARAM_WEBHOOK_KEY": "hook-987-secret"}
    run = e.sluice("run", example, check=0, env=env).stdout.splitlines()[0]
    logs = e.sluice("logs", run, "publish", check=0)
    assert logs.stdout == "pushing wine-classifier with token ***\nrecording in the catalogue as ci:***\n", logs.stdout
    assert logs.stderr == "notifying with key=***\n", logs.stderr
    assert "registry token visible to train: no" in e.sluice("logs", run, "train", check=0).stdout
    sign = e.sluice("logs", run, "sign", check=0).stdout
    assert sign.startswith("-rw-------") and "whose second line is ***\n" in sign, sign
    assert e.status(run)["params"]["webhook_key"] == "***"
    key = open(os.path.join(os.path.dirname(example), "signing-key.pem")).read().splitlines()[1]
    assert_nowhere(e, run, {"token": env["REGISTRY_TOKEN"], "hook": env["SLUICE_PARAM_WEBHOOK_KEY"],
                            "db": f"example-db-{os.getuid()}-s3cr3t", "key": key}, task="publish")


@test
@needs_root
def one_account_cannot_fake_a_quorum_or_approve_what_it_submitted():
    import sqlite3
    e = Env()
    e.share()
    write_users(e)
    e.write("q.yaml", pipeline("    - name: ship\n      approval: {approvers: [bob, carol, alice, bin], quorum: 2}\n"
                               "    - {name: deploy, needs: [ship], run: [echo, deployed]}\n"))
    # Submitted by root as dave: root may not approve it under another name.
    proc, run = e.start("--as", "dave", "run", "q.yaml")
    e.wait_for(lambda: e.awaiting(), "the approval request")
    self_vote = e.sluice("--as", "alice", "approve", run, "ship", check=2)
    assert "dave (by root) submitted it, the same account" in self_vote.stderr, self_vote.stderr
    e.sluice("cancel", run, check=0)
    proc.wait(timeout=20)
    # Submitted by daemon. root votes as bob, then as carol: the second is the same principal.
    proc, run = e.start("run", "q.yaml", account="daemon")
    e.wait_for(lambda: any(a["run"] == run for a in e.awaiting()), "the second request")
    e.sluice("--as", "bob", "approve", run, "ship", check=0)
    again = e.sluice("--as", "carol", "approve", run, "ship", check=2)
    assert "root has already voted on ship" in again.stderr and "(as bob)" in again.stderr, again.stderr
    # A vote row written straight into SQLite, without its audit record, counts for nothing.
    db = sqlite3.connect(os.path.join(e.state, "sluice.db"), timeout=10)
    db.execute("INSERT INTO approval_votes(run_id,task,round,account,user,approve,comment,time_us,"
               "audit_seq) VALUES(?,'ship',1,'sys','carol',1,'',0,1)", (run,))
    db.commit()
    time.sleep(1.2)  # the run's process polls twice a second
    pending = [a for a in e.awaiting() if a["run"] == run]
    assert pending and len(pending[0]["votes"]) == 1, pending
    assert proc.poll() is None, "a forged vote decided the approval"
    e.sluice("approve", run, "ship", check=0, account="bin")
    assert proc.wait(timeout=20) == 0
    records = [json.loads(l) for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    outcome = [r for r in records if r["run"] == run and r["actor"] == "sluice"][-1]
    assert outcome["details"]["message"] == "approved by bob (by root), bin", outcome
    e.sluice("audit", "verify", check=0)


@test
@needs_root
def a_vote_after_the_deadline_is_refused_with_no_process_watching():
    e = Env()
    e.share()
    write_users(e)
    e.write("t.yaml", pipeline("    - name: gate\n      approval: {approvers: [bin], timeout: 2s}\n"
                               "    - {name: deploy, needs: [gate], run: [echo, deployed]}\n"))
    proc, run = e.start("run", "t.yaml", account="daemon")
    e.wait_for(lambda: e.awaiting(), "the approval request")
    crash(e, proc, run)
    time.sleep(2.2)
    late = e.sluice("approve", run, "gate", check=2, account="bin")
    assert "timed out" in late.stderr, late.stderr
    e.sluice("resume", run, check=1, account="daemon")
    t = e.tasks(run)
    assert t["gate"]["state"] == "failed" and "not approved within 2.0s" in t["gate"]["message"], t
    assert t["deploy"]["state"] == "upstream-failed", t


@test
@needs_root
def an_approval_asked_again_by_a_group_retry_needs_new_votes():
    e = Env()
    e.share()
    write_users(e)
    os.makedirs(os.path.join(e.dir, "flags"), mode=0o777)
    os.chmod(os.path.join(e.dir, "flags"), 0o777)
    flag = os.path.join(e.dir, "flags", "deployed-once")
    e.write("g.yaml", pipeline(
        "    - name: sign-off\n      approval: {approvers: [bin]}\n"
        f"    - {{name: deploy, needs: [sign-off], run: [sh, -c, 'test -e {flag} || {{ touch {flag}; exit 1; }}']}}\n",
        "  groups:\n    - {name: release, tasks: [sign-off, deploy], retry: {limit: 1, backoff: {initial: 100ms}}}\n"))
    proc, run = e.start("run", "g.yaml", account="daemon")
    e.wait_for(lambda: e.awaiting(), "the first request")
    e.sluice("approve", run, "sign-off", check=0, account="bin")
    # deploy fails once; the group runs again and asks again: round 2, with no votes yet.
    e.wait_for(lambda: any(a["round"] == 2 for a in e.awaiting()), "the second round")
    time.sleep(1.2)  # the first round's vote must not decide it
    again = [a for a in e.awaiting() if a["run"] == run]
    assert again and again[0]["round"] == 2 and again[0]["votes"] == [], again
    assert proc.poll() is None
    e.sluice("approve", run, "sign-off", check=0, account="bin")
    assert proc.wait(timeout=30) == 0
    assert e.tasks(run)["deploy"]["state"] == "succeeded"


@test
def a_denied_pipeline_runs_none_of_its_secret_commands():
    # A secret command is the pipeline author's code: it runs only once admission let the run in.
    e = Env()
    flag = os.path.join(e.dir, "secret-command-ran")
    e.write("deny.yaml", "apiVersion: sluice/v1\nkind: Policy\nmetadata: {name: no-runs}\n"
            "spec:\n  stage: admission\n  rules:\n    - {name: never, expression: 'false'}\n")
    e.write("p.yaml", pipeline("    - {name: a, run: [sh, -c, 'echo \"$T\" > /dev/null'], secrets: [{name: tok, env: T}]}\n",
                               f"  secrets:\n    - {{name: tok, command: [sh, -c, 'touch {flag}; echo v']}}\n"))
    denied = e.sluice("run", "p.yaml", "--policies", "deny.yaml", check=1)
    assert "admission denied" in denied.stderr, denied.stderr
    assert not os.path.exists(flag), "the secret command of a denied pipeline ran"
    e.sluice("run", "p.yaml", check=0)
    assert os.path.exists(flag)


@test
def resume_and_rollback_refuse_a_pipeline_edited_in_the_store():
    import sqlite3
    e = Env()
    e.write("p.yaml", pipeline("    - {name: a, run: [sleep, '30'], compensate: {run: [echo, undo]}}\n",
                               "  params: [{name: target, default: staging}]\n"))
    proc, run = e.start("run", "p.yaml")
    e.wait_for(lambda: e.tasks(run).get("a", {}).get("state") == "running", "the task")
    crash(e, proc, run)
    db = sqlite3.connect(os.path.join(e.state, "sluice.db"), timeout=10)
    (original,) = db.execute("SELECT content FROM sources WHERE run_id=?", (run,)).fetchone()
    db.execute("UPDATE sources SET content=replace(content, 'sleep', 'echo')")
    db.commit()
    edited = e.sluice("resume", run, check=2)
    assert "its stored pipeline is not the one submitted" in edited.stderr, edited.stderr
    db.execute("UPDATE sources SET content=? WHERE run_id=?", (original, run))
    db.execute("UPDATE runs SET params='{\"target\":\"prod\"}'")
    db.commit()
    assert "params are not the ones submitted" in e.sluice("resume", run, check=2).stderr
    db.execute("UPDATE runs SET params='{\"target\":\"staging\"}'")
    db.commit()
    e.sluice("cancel", run, check=0)
    # A finished run: its compensation is what was submitted, or nothing runs.
    e.write("q.yaml", pipeline("    - {name: a, run: [echo, hi], compensate: {run: [echo, undo]}}\n"))
    run2 = e.sluice("run", "q.yaml", check=0).stdout.split("\n")[0]
    db.execute("UPDATE sources SET content=replace(content, 'undo', 'rm -rf') WHERE run_id=?", (run2,))
    db.commit()
    assert "not the one submitted" in e.sluice("rollback", run2, check=2).stderr
# --- Trust, section 2: policies the constrained cannot lift (issue 11) -------------------------

CENTRAL_DENY = """apiVersion: sluice/v1
kind: Policy
metadata: {name: no-prod}
spec:
  stage: admission
  rules:
    - name: not-prod
      expression: "object.params.target != 'prod'"
      message: nothing reaches prod from here
"""

OWN_WAIVER = """apiVersion: sluice/v1
kind: Waiver
metadata: {name: self-service}
spec:
  policy: no-prod
  justification: the submitter says this is fine, honestly
  grantedBy: mallory
  expires: 2099-01-01
"""


def central_env():
    """An Env whose state folder holds STATE/policies/no-prod.yaml (mode 0644, this account's)."""
    e = Env()
    os.makedirs(os.path.join(e.state, "policies"))
    path = os.path.join(e.state, "policies", "no-prod.yaml")
    with open(path, "w") as f:
        f.write(CENTRAL_DENY)
    os.chmod(path, 0o644)
    os.chmod(os.path.join(e.state, "policies"), 0o755)
    return e, path


@test
def central_policies_apply_without_policies_flag_and_cannot_be_self_waived():
    e, _ = central_env()
    os.makedirs(os.path.join(e.dir, "own"))
    os.makedirs(os.path.join(e.dir, "own2"))
    body = "    - {name: ship, run: [echo, '${{ params.target }}']}\n"
    e.write("p.yaml", pipeline(body, "  params: [{name: target, default: dev}]\n"))
    e.sluice("run", "p.yaml", check=0)
    # The reported attack: without --policies nothing but the state folder applies, and it does.
    r = e.sluice("run", "p.yaml", "-p", "target=prod", check=1)
    assert "policy deny    no-prod/not-prod" in r.stderr and "admission denied" in r.stderr, r.stderr
    # The pipeline's own waiver (grantedBy its submitter, expiring 2099) does not lift it.
    e.write("own/waiver.yaml", OWN_WAIVER)
    e.write("w.yaml", pipeline(body, "  params: [{name: target, default: prod}]\n  policies: [own]\n"))
    r = e.sluice("run", "w.yaml", check=1)
    assert "policy deny    no-prod/not-prod" in r.stderr and "waived" not in r.stderr, r.stderr
    r = e.sluice("validate", "w.yaml", check=1)
    assert "DENIED" in r.stdout, r.stdout
    # Nor does one from --policies.
    r = e.sluice("run", "w.yaml", "--policies", "own", check=1)
    assert "waived" not in r.stderr, r.stderr
    # A pipeline policy may not take a central policy's name.
    e.write("own2/p.yaml", CENTRAL_DENY.replace("nothing reaches", "own"))
    e.write("n.yaml", pipeline("    - {name: a, run: [echo]}\n", "  policies: [own2]\n"))
    r = e.sluice("validate", "n.yaml", check=2)
    assert 'policy "no-prod" has the name of a central policy' in r.stderr, r.stderr
    # A central waiver lifts it, and the decision says which waiver and who granted it.
    with open(os.path.join(e.state, "policies", "waiver.yaml"), "w") as f:
        f.write(OWN_WAIVER.replace("self-service", "freeze-exception").replace("mallory", "carol"))
    r = e.sluice("run", "w.yaml", check=0)
    assert "policy waived  no-prod/not-prod" in r.stderr and "granted by carol" in r.stderr, r.stderr
    records = [json.loads(l) for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    d = [x for x in records if x["action"] == "run.submitted"][-1]["details"]
    d = json.loads(d) if isinstance(d, str) else d
    waived = d["admission"]["notAllowed"][0]
    assert waived["source"] == "central" and waived["grantedBy"] == "carol", waived
    assert waived["waiver"] == "freeze-exception", waived


@test
def untrusted_central_policies_refuse_every_run():
    for how in ("group-writable", "other-owner", "symlink", "folder-writable"):
        e2, path2 = central_env()
        e2.write("p.yaml", pipeline("    - {name: a, run: [true]}\n"))
        if how == "group-writable":
            os.chmod(path2, 0o664)
        elif how == "other-owner":
            os.chown(path2, 65534, -1)
        elif how == "symlink":
            os.rename(path2, path2 + ".real")
            os.symlink(path2 + ".real", path2)
        else:
            os.chmod(os.path.dirname(path2), 0o777)
        for cmd in (("run", "p.yaml"), ("validate", "p.yaml")):
            r = e2.sluice(*cmd, check=2)
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and "is not trusted" in lines[0], (how, r.stderr)
        assert not os.path.exists(os.path.join(e2.state, "runs")), how


@test
def central_gate_policies_judge_every_task_they_match():
    e, path = central_env()
    with open(path, "w") as f:
        f.write("""apiVersion: sluice/v1
kind: Policy
metadata: {name: quality}
spec:
  stage: gate
  match: {tasks: [publish]}
  rules:
    - name: accurate
      expression: "double(object.tasks.evaluate.outputs.params.accuracy) >= 0.9"
""")
    e.write("p.yaml", pipeline("""    - name: evaluate
      run: [echo, '0.5']
      outputs: {params: [{name: accuracy, from: {stdout: text}}]}
    - {name: publish, needs: [evaluate], run: [echo, published]}
    - {name: other, needs: [evaluate], run: [echo, other]}
""", "  failFast: false\n"))
    r = e.sluice("run", "p.yaml", check=1)
    t = e.tasks(r.stdout.splitlines()[0])
    assert t["publish"]["state"] == "failed" and "quality" in t["publish"]["message"], t["publish"]
    assert t["other"]["state"] == "succeeded", t["other"]


@test
def waivers_of_central_policies_are_granted_by_the_right_and_count_only_when_audited():
    import sqlite3
    e, _ = central_env()
    e.write("w.yaml", pipeline("    - {name: ship, run: [echo, '${{ params.target }}']}\n",
                               "  params: [{name: target, default: prod}]\n"))
    e.sluice("run", "w.yaml", check=1)
    grant = ("waiver", "grant", "freeze", "--policy", "no-prod", "--justification",
             "the release train ships from here this week", "--expires", "2099-01-01")
    r = e.sluice(*grant, check=2)  # no users.yaml: no one has the right
    assert 'may not grant waivers: that needs the grant-waivers right' in r.stderr, r.stderr
    users = e.write("state/users.yaml", "users:\n  - {name: root, rights: [grant-waivers]}\n")
    os.chmod(users, 0o644)
    r = e.sluice("waiver", "grant", "x", "--policy", "no-such", "--justification",
                 "a long enough reason", "--expires", "2099-01-01", check=2)
    assert 'no central policy "no-such"' in r.stderr, r.stderr
    r = e.sluice(*grant, check=0)
    assert "granted waiver freeze of no-prod" in r.stdout, r.stdout
    r = e.sluice("run", "w.yaml", check=0)
    assert "policy waived  no-prod/not-prod" in r.stderr and "granted by root" in r.stderr, r.stderr
    listed = json.loads(e.sluice("waiver", "list", "-o", "json", check=0).stdout)
    assert [(w["name"], w["state"], w["grantedBy"]) for w in listed] == [("freeze", "in-force", "root")], listed
    # Revoked, the deny is back; a waiver row written straight into SQLite lifts nothing.
    r = e.sluice("waiver", "revoke", "freeze", check=0)
    assert "revoked waiver freeze" in r.stdout, r.stdout
    db = sqlite3.connect(os.path.join(e.state, "sluice.db"), timeout=10)
    doc = json.dumps({"apiVersion": "sluice/v1", "kind": "Waiver", "metadata": {"name": "forged"},
                      "spec": {"policy": "no-prod", "justification": "nobody granted this one",
                               "grantedBy": "root", "expires": "2099-01-01"}})
    db.execute("INSERT INTO waivers(name,document,granted_by,granted_us,audit_seq) "
               "VALUES('forged',?,'root',0,1)", (doc,))
    db.execute("UPDATE waivers SET revoked_us=0 WHERE name='freeze'")  # the revocation's record stands
    db.commit()
    r = e.sluice("run", "w.yaml", check=1)
    assert "policy deny    no-prod/not-prod" in r.stderr and "waived" not in r.stderr, r.stderr
    states = {w["name"]: w["state"] for w in json.loads(e.sluice("waiver", "list", "-o", "json", check=0).stdout)}
    assert states == {"forged": "unverified", "freeze": "revoked"}, states
    actions = [json.loads(l)["action"] for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    assert "waiver.granted" in actions and "waiver.revoked" in actions, actions
    e.sluice("audit", "verify", check=0)


# ---- issue 12 §3: what a new user trips on at the command line (branch i12-cli) ----

@test
def an_unknown_command_is_named_with_the_nearest_one_and_exit_2():
    e = Env()
    r = e.sluice("rnu", "x.yaml", check=2)
    assert r.stderr.strip() == 'sluice: unknown command "rnu" (did you mean "run"?); see sluice --help', r.stderr
    r = e.sluice("-o", "json", "cache", "lss", check=2)
    assert 'sluice cache: unknown command "lss" (did you mean "ls"?)' in r.stderr, r.stderr
    r = e.sluice("zzzzzzzz", check=2)
    assert r.stderr.strip() == 'sluice: unknown command "zzzzzzzz"; see sluice --help', r.stderr
    e.sluice("version", check=0)


@test
def params_come_from_a_file_typed_by_their_declarations_and_p_overrides_them():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: show
      run: [sh, -c, 'echo "$0|$1|$2|$3"', "${{ params.lr }}", "${{ params.epochs * 2 }}", "${{ params.tags[1] }}", "${{ params.version }}"]
      outputs: {params: [{name: line, from: {stdout: text}}]}
""", """  params:
    - {name: lr, type: number, default: 0.1}
    - {name: epochs, type: int, default: 1}
    - {name: tags, type: list, default: []}
    - {name: version, type: string, default: x}
"""))
    e.write("params.yaml", "lr: 0.01\nepochs: 5\ntags: [a, b]\nversion: 1.10\n")
    r = e.sluice("run", "p.yaml", "--params-file", "params.yaml", "-p", "epochs=7", check=0)
    t = e.tasks(r.stdout.splitlines()[0])
    assert t["show"]["outputs"]["params"]["line"] == "0.01|14|b|1.10", t["show"]
    e.write("params.json", '{"lr": 0.5, "tags": ["c", "d"]}')
    e.sluice("validate", "p.yaml", "--params-file", "params.json", check=0)
    # Errors name the file, line and column, and what was expected.
    e.write("bad.yaml", "lr: 0.01\nepochs: many\n")
    r = e.sluice("run", "p.yaml", "--params-file", "bad.yaml", check=2)
    assert r.stderr.strip() == 'bad.yaml:2:9: param "epochs" must be int, got "many"', r.stderr
    e.write("bad.yaml", "lr: 0.01\nepoch: 3\n")
    r = e.sluice("validate", "p.yaml", "--params-file", "bad.yaml", check=2)
    assert r.stderr.startswith('bad.yaml:2:1: unknown param "epoch" (did you mean "epochs"?)'), r.stderr
    e.write("bad.yaml", "- 1\n- 2\n")
    r = e.sluice("run", "p.yaml", "--params-file", "bad.yaml", check=2)
    assert "bad.yaml:1:1: a params file must be a map" in r.stderr, r.stderr
    e.write("bad.yaml", "lr: [1\n")
    r = e.sluice("run", "p.yaml", "--params-file", "bad.yaml", check=2)
    assert r.stderr.startswith("bad.yaml:2:1: "), r.stderr
    r = e.sluice("validate", "p.yaml", "-p", "epochs=x", check=2)
    assert 'param "epochs" must be int' in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(e.state, "sluice.db")) or \
        json.loads(e.sluice("runs", "-o", "json", check=0).stdout)[0]["status"] == "succeeded"


@test
def the_version_each_uses_resolved_to_shows_in_validate_status_and_events():
    e = Env()
    os.makedirs(os.path.join(e.dir, "lib"))
    for v in ("1.0.0", "1.1.0", "2.0.0"):
        e.write(f"lib/train-{v}.yaml", f"""apiVersion: sluice/v1
kind: Component
metadata: {{name: train, version: {v}}}
spec:
  run: [echo, "{v}"]
""")
    e.write("p.yaml", pipeline("""
    - {name: fit, uses: train@1}
    - {name: sweep, uses: train@1.0, forEach: [1, 2]}
""", "  imports: [lib]\n"))
    v = json.loads(e.sluice("validate", "p.yaml", "-o", "json", check=0).stdout)
    assert {(u["task"], u["uses"], u["version"]) for u in v["uses"]} == \
        {("fit", "train@1", "1.1.0"), ("sweep", "train@1.0", "1.0.0")}, v
    r = e.sluice("validate", "p.yaml", check=0)
    assert "  train@1 -> train@1.1.0 (fit)" in r.stdout, r.stdout
    run = e.sluice("run", "p.yaml", check=0).stdout.splitlines()[0]
    st = e.status(run)
    assert {t["name"]: t["component"] for t in st["tasks"]} == \
        {"fit": "train@1.1.0", "sweep": "train@1.0.0", "sweep[0]": "train@1.0.0",
         "sweep[1]": "train@1.0.0"}, st["tasks"]
    assert {(u["task"], u["version"]) for u in st["components"]} == {("fit", "1.1.0"), ("sweep", "1.0.0")}
    text = e.sluice("status", run, check=0).stdout
    assert "train@1 -> train@1.1.0 (fit)" in text and "train@1.0 -> train@1.0.0 (sweep)" in text, text
    events = json.loads(e.sluice("events", run, "-o", "json", check=0).stdout)
    created = [ev for ev in events if ev["kind"] == "run.created"][0]
    assert created["data"]["components"] == {"fit": "train@1.1.0", "sweep": "train@1.0.0"}, created


@test
def a_failed_tasks_summary_ends_with_its_stderr_and_names_the_logs_command_for_an_item():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: train
      forEach: [1, 2, 3]
      run: [sh, -c, 'if [ "$0" = 3 ]; then echo loading >&2; echo "lr is $TOKEN" >&2; echo >&2; echo "ValueError: lr < 0" >&2; exit 3; fi', "${{ item }}"]
      env: {TOKEN: "${{ params.token }}"}
    - name: guarded
      run: [sh, -c, 'exit 1']
      catch: [{run: [echo, caught]}]
""", "  failFast: false\n  params: [{name: token, secret: true}]\n"))
    r = e.sluice("run", "p.yaml", "-p", "token=hunter2", "-j", "1", check=1)
    run = r.stdout.splitlines()[0]
    lines = r.stderr.splitlines()
    at = lines.index("  train[2] failed: exited with 3")
    assert lines[at + 1:at + 5] == ["    | loading", "    | lr is ***", "    | ValueError: lr < 0",
                                   f"    logs: sluice logs {run} 'train[2]'"], lines
    assert "hunter2" not in r.stderr, r.stderr
    # Counts are of the pipeline's tasks; the catch handler is counted apart.
    assert f"run {run} failed (1 failed, 1 recovered; handlers: 1 succeeded)" in lines, lines
    r = e.sluice("logs", run, "train[2]", check=0)
    assert "ValueError" in r.stderr, r.stderr
    r = e.sluice("logs", run, "trian", check=2)
    assert 'did you mean "train' in r.stderr, r.stderr


@test
def a_runs_graph_is_colored_by_state_with_items_handlers_gates_and_finally_and_drawn_by_dot():
    e = Env()
    e.write("p.yaml", pipeline("""
    - {name: prep, run: [echo, hi]}
    - {name: sweep, needs: [prep], forEach: [1, 2, 3], run: [sh, -c, 'exit $(( $0 == 2 ))', "${{ item }}"]}
    - {name: flaky, run: [sh, -c, 'exit 1'], catch: [{run: [echo, caught]}]}
  finally:
    - {name: notify, run: [echo, done]}
""", "  failFast: false\n"))
    run = e.sluice("run", "p.yaml", check=1).stdout.splitlines()[0]
    dot = e.sluice("graph", run, check=0).stdout
    assert dot.startswith('digraph "e2e ' + run + ' (failed)"'), dot[:200]
    assert 'subgraph cluster_' in dot and 'label="forEach sweep"' in dot, dot
    assert 'label="sweep[1]\\nfailed", shape=box, style="filled,rounded", fillcolor="#f08080"' in dot, dot
    assert 'label="sweep[0]\\nsucceeded"' in dot and 'fillcolor="#8fd694"' in dot, dot
    assert 'style=dashed, color="#c07000", label="catch"' in dot, dot
    assert 'style=dotted, color="#606060", label="finally"' in dot, dot
    assert 'label="notify\\nfinally succeeded"' in dot, dot
    svg = e.sluice("graph", run, "--format", "svg", check=0).stdout
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "sweep[1]" in svg, svg[:300]
    r = e.sluice("graph", run[:17], "--format", "png", "-o", "run.png", check=0)
    with open(os.path.join(e.dir, "run.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # A pipeline file still gives its plain DOT and Mermaid.
    assert e.sluice("graph", "p.yaml", check=0).stdout.startswith('digraph "e2e" {')
    assert e.sluice("graph", "p.yaml", "--format", "mermaid", check=0).stdout.startswith("flowchart LR")
    r = e.sluice("graph", "nosuchrun", check=2)
    assert '"nosuchrun" is neither a pipeline file nor a run' in r.stderr, r.stderr
    # Without Graphviz's dot: a message that says how to get it; dot output needs nothing.
    r = e.sluice("graph", run, "--format", "svg", check=2, env={"PATH": "/nonexistent"})
    assert "apt-get install graphviz" in r.stderr, r.stderr


# --- issue 12, section 3 (spec): paths next to the pipeline, typed outputs, hyphens, math ---

@test
def working_dir_pipeline_and_pipeline_dir_reach_files_next_to_the_pipeline():
    e = Env()
    e.write("train.py", "print('trained')\n")
    e.write("p.yaml", pipeline("""
    - name: rel
      workingDir: pipeline
      run: [python3, train.py]
      outputs: {params: [{name: out, from: {stdout: text}}]}
    - name: abs
      run: [python3, "${{ pipeline.dir }}/train.py"]
    - name: where
      workingDir: pipeline
      script: 'pwd; echo 0.93 > "$SLUICE_ATTEMPT_DIR/acc"'
      outputs: {params: [{name: acc, type: number, from: {file: acc}}]}
    - name: best
      run: [echo, "${{ math.greatest(tasks.where.outputs.params.acc, 0.5) }}"]
      outputs: {params: [{name: v, from: {stdout: text}}]}
"""))
    p = e.sluice("run", "p.yaml", check=0)
    t = e.tasks(p.stdout.splitlines()[0])
    assert t["rel"]["outputs"]["params"]["out"] == "trained", t["rel"]
    assert t["abs"]["state"] == "succeeded", t["abs"]
    assert t["where"]["outputs"]["params"]["acc"] == 0.93, t["where"]
    assert t["best"]["outputs"]["params"]["v"] == "0.93", t["best"]
    assert not os.path.exists(os.path.join(e.dir, "acc")), "outputs belong in the attempt's folder"


@test
def an_output_that_is_not_its_declared_type_fails_the_task():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: eval
      run: [echo, n/a]
      outputs: {params: [{name: acc, type: number, from: {stdout: text}}]}
    - name: after
      run: [echo, "${{ tasks.eval.outputs.params.acc }}"]
"""))
    p = e.sluice("run", "p.yaml", check=1)
    st = e.status(p.stdout.splitlines()[0])
    a = [x for x in st["attempts"] if x["task"] == "eval"][0]
    assert a["class"] == "outputs-error", a
    assert a["message"] == 'output "acc" is declared number, but the task wrote "n/a"', a


@test
def hyphenated_task_names_need_no_backticks():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: flip-coin
      run: [echo, heads]
      outputs: {params: [{name: side, from: {stdout: text}}]}
    - name: heads
      when: "${{ tasks.flip-coin.outputs.params.side == 'heads' }}"
      run: [echo, "${{ params.max-depth - 1 }}"]
      outputs: {params: [{name: v, from: {stdout: text}}]}
""", extra="  params: [{name: max-depth, type: int, default: 3}]\n"))
    p = e.sluice("run", "p.yaml", check=0)
    t = e.tasks(p.stdout.splitlines()[0])
    assert t["heads"]["outputs"]["params"]["v"] == "2", t["heads"]


# --- Re-runs: sluice retry and sluice rerun (issue 12, section 2) ------------------------------

def counts(e, *names):
    """How many times each task wrote its mark (one line a run of it) into e.dir/NAME.count."""
    out = []
    for n in names:
        path = os.path.join(e.dir, n + ".count")
        out.append(open(path).read().count("x") if os.path.exists(path) else 0)
    return tuple(out)


def mark(e, name, then=""):
    """A command that counts its runs in e.dir/NAME.count, then runs `then`."""
    return f"[sh, -c, 'echo x >> {e.dir}/{name}.count{'; ' + then if then else ''}']"


@test
def retry_gives_failed_tasks_new_attempts_keeps_what_succeeded_and_runs_finally_again():
    e = Env()
    e.write("input.txt", "bad\n")
    e.write("p.yaml", pipeline(f"""
    - {{name: prep, run: {mark(e, "prep")}}}
    - {{name: side, run: {mark(e, "side")}}}
    - name: train
      needs: [prep]
      retry: 1
      run: {mark(e, "train", f"grep -q good {e.dir}/input.txt")}
    - {{name: report, needs: [train], run: {mark(e, "report")}}}
""", f"""  finally:
    - {{name: notify, run: [sh, -c, 'echo "$0" >> {e.dir}/notify.log', '${{{{ run.status }}}}']}}
"""))
    p = e.sluice("run", "p.yaml", check=1)
    run = p.stdout.splitlines()[0]
    assert counts(e, "prep", "side", "train", "report") == (1, 1, 2, 0)
    t = e.tasks(run)
    assert t["train"]["state"] == "failed" and t["report"]["state"] == "upstream-failed", t
    # Refused before anything is recorded: a task that succeeded, one the run does not have.
    r = e.sluice("retry", run, "prep", check=2)
    assert 'task "prep" succeeded; only tasks that failed' in r.stderr, r.stderr
    r = e.sluice("retry", run, "trian", check=2)
    assert 'the run has no task "trian"' in r.stderr and "train" in r.stderr, r.stderr
    e.write("input.txt", "good\n")  # the cause is fixed
    r = e.sluice("retry", run, check=0)
    assert r.stdout.splitlines()[0] == run, r.stdout
    # Only the failed task and what depends on it ran again; attempt numbers go on.
    assert counts(e, "prep", "side", "train", "report") == (1, 1, 3, 1)
    st = e.status(run)
    assert st["status"] == "succeeded", st
    t = {x["name"]: x for x in st["tasks"]}
    assert t["train"]["state"] == "succeeded" and t["train"]["attempts"] == 3, t["train"]
    assert t["report"]["started"] and t["report"]["started"] <= t["report"]["finished"], t["report"]
    assert [a["attempt"] for a in st["attempts"] if a["task"] == "train"] == [1, 2, 3], st["attempts"]
    # finally ran again when the retried run ended, and saw its new status.
    assert open(os.path.join(e.dir, "notify.log")).read().split() == ["failed", "succeeded"]
    events = json.loads(e.sluice("events", run, "-o", "json", check=0).stdout)
    retried = [x for x in events if x["kind"] == "run.retried"]
    assert len(retried) == 1 and "train" in retried[0]["data"]["tasks"], retried
    audit = [json.loads(l) for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    assert (audit[-1]["action"], audit[-1]["run"]) == ("run.retried", run), audit[-1]
    assert audit[-1]["actor"] == pwd.getpwuid(os.getuid()).pw_name, audit[-1]
    assert audit[-1]["details"]["tasks"] == ["train", "report"], audit[-1]
    # A run that succeeded has nothing to retry.
    r = e.sluice("retry", run, check=2)
    assert "nothing to retry" in r.stderr, r.stderr
    e.sluice("audit", "verify", check=0)


@test
def retry_of_a_foreach_runs_only_its_failed_items_again():
    e = Env()
    e.write("p.yaml", pipeline(f"""
    - name: each
      forEach: [1, 2, 3]
      run: [sh, -c, 'echo x >> {e.dir}/item$0.count; test ! -e {e.dir}/broken$0', '${{{{ item }}}}']
    - {{name: after, needs: [each], run: {mark(e, "after")}}}
"""))
    e.write("broken2", "")
    # One at a time: item 2 fails, and failFast cancels item 3 before it starts.
    run = e.sluice("run", "p.yaml", "-j", "1", check=1).stdout.splitlines()[0]
    assert counts(e, "item1", "item2", "item3", "after") == (1, 1, 0, 0)
    assert e.tasks(run)["each[2]"]["state"] == "cancelled"
    os.remove(os.path.join(e.dir, "broken2"))
    e.sluice("retry", run, "-j", "1", check=0)
    assert counts(e, "item1", "item2", "item3", "after") == (1, 2, 1, 1)
    t = e.tasks(run)
    assert t["each"]["state"] == "succeeded" and t["each[1]"]["attempts"] == 2, t
    assert t["each[2]"]["attempts"] == 1 and t["each[0]"]["attempts"] == 1, t


@test
def a_retried_run_killed_midway_is_resumed_from_its_retry():
    e = Env()
    e.write("p.yaml", pipeline(f"""
    - {{name: a, run: {mark(e, "a", f"test -e {e.dir}/ok")}}}
    - {{name: b, needs: [a], retry: 1, run: {mark(e, "b", "sleep 2")}}}
"""))
    run = e.sluice("run", "p.yaml", check=1).stdout.splitlines()[0]
    e.write("ok", "")
    proc, same = e.start("retry", run)
    assert same == run
    e.wait_for(lambda: e.tasks(run).get("b", {}).get("state") == "running", "the retried run's b")
    crash(e, proc, run)
    e.sluice("resume", run, check=0)
    assert counts(e, "a")[0] == 2, counts(e, "a")  # a ran once more, in the retry only
    events = json.loads(e.sluice("events", run, "-o", "json", check=0).stdout)
    assert [x["kind"] for x in events].count("run.retried") == 1
    assert e.status(run)["status"] == "succeeded"

@test
def retry_refuses_a_compensated_run_and_a_running_one():
    e = Env()
    e.write("p.yaml", pipeline("""
    - {name: a, run: [echo, hi], compensate: {run: [echo, undo]}}
    - {name: b, needs: [a], run: [sh, -c, 'exit 1']}
"""))
    run = e.sluice("run", "p.yaml", check=1).stdout.splitlines()[0]
    assert e.status(run)["status"] == "compensated"
    r = e.sluice("retry", run, check=2)
    assert "its completed work was undone" in r.stderr and f"sluice rerun {run}" in r.stderr, r.stderr
    e.write("slow.yaml", pipeline("    - {name: s, run: [sleep, '30']}\n"))
    proc, slow = e.start("run", "slow.yaml")
    e.wait_for(lambda: e.tasks(slow).get("s", {}).get("state") == "running", "the task")
    r = e.sluice("retry", slow, check=2)
    assert "is being executed by another sluice process" in r.stderr, r.stderr
    os.kill(proc.pid, signal.SIGINT)
    proc.wait(timeout=30)
    actions = [json.loads(l)["action"] for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    assert "run.retried" not in actions, actions


@test
def rerun_from_reuses_upstream_results_of_the_stored_snapshot():
    e = Env()
    e.write("p.yaml", pipeline(f"""
    - name: prep
      run: [sh, -c, 'echo x >> {e.dir}/prep.count; echo 41 > n; mkdir out; echo data > out/f']
      outputs:
        params: [{{name: n, from: {{file: n}}}}]
        artifacts: [{{name: out, path: out}}]
    - name: train
      run: [sh, -c, 'echo x >> {e.dir}/train.count; cat "$0/f"; echo "$1 $2"', "${{{{ tasks.prep.outputs.artifacts.out }}}}", "${{{{ tasks.prep.outputs.params.n }}}}", "${{{{ params.lr }}}}"]
      outputs:
        params: [{{name: m, from: {{stdout: text}}}}]
    - {{name: report, needs: [train], run: {mark(e, "report")}}}
    - {{name: side, run: {mark(e, "side")}}}
""", "  params: [{name: lr, default: '0.1'}]\n"))
    first = e.sluice("run", "p.yaml", "-p", "lr=0.5", check=0).stdout.splitlines()[0]
    assert counts(e, "prep", "train", "report", "side") == (1, 1, 1, 1)
    # The file on disk changes; a rerun runs the snapshot the run was submitted with.
    e.write("p.yaml", pipeline("    - {name: other, run: [true]}\n"))
    r = e.sluice("rerun", first, "--from", "train", check=0)
    second = r.stdout.splitlines()[0]
    assert second != first and f"rerun of {first}: 1 task reused" in r.stderr, r.stderr
    assert counts(e, "prep", "train", "report", "side") == (1, 2, 2, 2)
    st = e.status(second)
    t = {x["name"]: x for x in st["tasks"]}
    assert t["prep"]["state"] == "cached" and t["prep"]["message"] == f"reused from run {first}", t["prep"]
    assert t["prep"]["attempts"] == 0 and t["train"]["outputs"]["params"]["m"] == "data\n41 0.5", t
    assert st["params"] == {"lr": "0.5"} and st["status"] == "succeeded", st
    assert e.tasks(first)["prep"]["outputs"]["artifacts"]["out"] == t["prep"]["outputs"]["artifacts"]["out"]
    audit = [json.loads(l) for l in e.sluice("audit", "export", check=0).stdout.splitlines()]
    sub = audit[-1]
    assert sub["action"] == "run.submitted" and sub["details"]["rerunOf"] == first, sub
    assert sub["details"]["from"] == "train", sub
    # Without --from everything runs again; -p changes a param.
    third = e.sluice("rerun", first, "-p", "lr=0.9", check=0).stdout.splitlines()[0]
    assert counts(e, "prep", "train", "report", "side") == (2, 3, 3, 3)
    assert e.tasks(third)["train"]["outputs"]["params"]["m"] == "data\n41 0.9"
    r = e.sluice("rerun", first, "--from", "trian", check=2)
    assert '--from trian: the pipeline has no task "trian"' in r.stderr and "train" in r.stderr, r.stderr
    # A task upstream of --from must have results to reuse; resume works on the new run.
    e.write("f.yaml", pipeline(f"""
    - {{name: a, run: [sh, -c, 'test -e {e.dir}/ok']}}
    - {{name: b, needs: [a], run: {mark(e, "b")}}}
"""))
    failed = e.sluice("run", "f.yaml", check=1).stdout.splitlines()[0]
    r = e.sluice("rerun", failed, "--from", "b", check=2)
    assert 'task "a" is upstream of it and is failed' in r.stderr, r.stderr


@test
def retry_and_rerun_are_judged_by_central_admission_policies_again():
    e, path = central_env()
    os.rename(path, path + ".off")  # not in force yet
    e.write("p.yaml", pipeline(f"    - {{name: a, run: [sh, -c, 'test -e {e.dir}/ok']}}\n",
                               "  params: [{name: target, default: prod}]\n"))
    run = e.sluice("run", "p.yaml", check=1).stdout.splitlines()[0]
    os.rename(path + ".off", path)
    runs_before = len(json.loads(e.sluice("-o", "json", "runs", check=0).stdout))
    r = e.sluice("rerun", run, check=1)
    assert "policy deny    no-prod/not-prod" in r.stderr and "admission denied" in r.stderr, r.stderr
    assert len(json.loads(e.sluice("-o", "json", "runs", check=0).stdout)) == runs_before
    last = json.loads(e.sluice("audit", "export", check=0).stdout.splitlines()[-1])
    assert last["action"] == "run.denied" and last["details"]["rerunOf"] == run, last
    e.write("ok", "")
    r = e.sluice("retry", run, check=1)
    assert "admission denied" in r.stderr and "was not retried" in r.stderr, r.stderr
    assert e.status(run)["status"] == "failed"
    last = json.loads(e.sluice("audit", "export", check=0).stdout.splitlines()[-1])
    assert last["action"] == "run.denied" and last["details"]["retryOf"] == run, last
    # -p may change what admission judges: a rerun for staging is let in.
    e.sluice("rerun", run, "-p", "target=staging", check=0)


def run_suite(tests, name):
    """Runs `tests` (those whose name holds --only's value), prints a traceback a failure and
    ends with "NAME: N passed, M failed"; returns the exit code."""
    passed = failed = 0
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    for fn in tests:
        if only not in fn.__name__:
            continue
        made = len(FOLDERS)  # those made before (a suite's shared Env) outlive the test
        ok = False
        try:
            fn()
            passed += 1
            ok = True
        except Exception:
            global ANY_FAILED
            ANY_FAILED = True
            failed += 1
            print(f"FAIL {fn.__name__}\n{traceback.format_exc()}")
        for proc in STARTED:  # a test that failed midway leaves its run waiting
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        STARTED.clear()
        if ok:  # a copied binary and run folders: ~200 MB a test, which filled the disk
            gc.collect()
            for folder, env in FOLDERS[made:]:
                if env() is None:
                    shutil.rmtree(folder, ignore_errors=True)
            FOLDERS[made:] = [(f, env) for f, env in FOLDERS[made:] if env() is not None]
    print(f"{name}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_suite(TESTS, "e2e"))
