#!/usr/bin/env python3
"""End-to-end tests of issue 11, sections 4 and 5 and the file modes of section 3: files a task
controls, bounded inputs, permissions of the state folder, and concurrency on one state folder.

Usage: trust_files.py SLUICE
Uses run_e2e.py's helpers; prints one line per failure and ends with "e2e-files: N passed, M
failed". Needs root for the permission test (it runs a reader as nobody with setpriv).
"""
import os, re, shutil, stat, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env, pipeline, SLUICE  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def parallel_first_runs_on_a_new_state_folder_all_succeed():
    # Creating the store (schema, WAL) and drawing run ids must be safe when 10 sluice processes
    # meet a state folder that does not exist yet ("table events already exists", "database is
    # locked", "UNIQUE constraint failed: runs.id" before).
    e = Env()
    e.write("p.yaml", pipeline("    - {name: a, run: [true]}\n"))
    for trial in range(8):
        state = os.path.join(e.dir, f"state{trial}")
        procs = [subprocess.Popen([SLUICE, "--state-dir", state, "run", "p.yaml"], cwd=e.dir,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(10)]
        outs = [(p.wait(60), *p.communicate()) for p in procs]
        bad = [err for rc, out, err in outs if rc != 0]
        assert not bad, f"trial {trial}: {len(bad)} of 10 failed: {bad[0]}"
        ids = {out.splitlines()[0] for rc, out, err in outs}
        assert len(ids) == 10, ids


def listing(root):
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            yield os.path.join(dirpath, n)


def as_nobody(*argv):
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv],
                          capture_output=True, text=True)


@test
def other_users_can_read_nothing_of_the_state_folder():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("skip other_users_can_read_nothing_of_the_state_folder: needs root and setpriv")
        return
    e = Env()
    os.chmod(e.dir, 0o755)  # the parent lets anyone through: only the state folder protects
    e.write("p.yaml", pipeline("""
    - name: a
      run: [sh, -c, 'echo token-in-the-log; umask > mask; echo key > id; chmod 600 id; echo pub > pub']
      outputs:
        params: [{name: mask, from: {file: mask}}]
        artifacts: [{name: id, path: id}, {name: pub, path: pub}]
"""))
    old = os.umask(0o022)
    try:
        run = e.sluice("run", "p.yaml", check=0).stdout.splitlines()[0]
    finally:
        os.umask(old)
    assert e.tasks(run)["a"]["outputs"]["params"]["mask"] == "0022", "tasks get the caller's umask"
    assert stat.S_IMODE(os.stat(e.state).st_mode) == 0o700, oct(os.stat(e.state).st_mode)
    work = os.path.join(e.state, "runs", run, "tasks", "a@1")
    for path in listing(e.state):
        if path.startswith(work + "/"):
            continue  # the task's own files, with its own umask, inside a 0700 folder
        st = os.lstat(path)
        assert st.st_mode & 0o077 == 0, f"{path} is {oct(st.st_mode)}"
    arts = e.tasks(run)["a"]["outputs"]["artifacts"]
    assert stat.S_IMODE(os.stat(arts["id"]).st_mode) == 0o400, oct(os.stat(arts["id"]).st_mode)
    for path in [os.path.join(e.state, "sluice.db"), arts["id"], arts["pub"],
                 os.path.join(e.state, "runs", run, "tasks", "a@1.stdout.log"),
                 os.path.join(work, "pub")]:
        r = as_nobody("cat", path)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (path, r.stdout, r.stderr)
    r = as_nobody("ls", e.state)
    assert r.returncode != 0, r.stdout
    # A state folder shared through a Unix group (setgid): the group gets what the owner has.
    shared = os.path.join(e.dir, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o3770)
    r = subprocess.run([SLUICE, "--state-dir", shared, "run", "p.yaml"], cwd=e.dir,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for path in listing(shared):
        if "@1/" in path:
            continue  # the task's own files
        st = os.lstat(path)
        assert st.st_mode & 0o007 == 0, f"{path} is {oct(st.st_mode)}"
    assert stat.S_IMODE(os.stat(os.path.join(shared, "sluice.db")).st_mode) == 0o660
    # A state folder an older sluice left open (0755) is closed when it is next used.
    os.chmod(e.state, 0o755)
    e.sluice("runs", check=0)
    assert stat.S_IMODE(os.stat(e.state).st_mode) == 0o700, oct(os.stat(e.state).st_mode)


@test
def links_out_of_the_attempt_folder_are_an_outputs_error():
    e = Env()
    e.write("p.yaml", pipeline("""
    - {name: shadow, run: [ln, -s, /etc/shadow, leak], outputs: {params: [{name: x, from: {file: leak}}]}}
    - {name: zero, run: [ln, -s, /dev/zero, z], outputs: {params: [{name: x, from: {file: z}}]}}
    - {name: root, run: [ln, -s, /, r], outputs: {artifacts: [{name: r, path: r}]}}
""", "  failFast: false\n"))
    p = e.sluice("run", "p.yaml", check=1, timeout=30)
    run = p.stdout.splitlines()[0]
    st = e.status(run)
    for t in st["tasks"]:
        assert t["state"] == "failed" and "leads out of the task's folder" in t["message"], t
    classes = {a["task"]: a["class"] for a in st["attempts"]}
    assert set(classes.values()) == {"outputs-error"}, st["attempts"]
    assert not os.path.exists(os.path.join(e.state, "artifacts", "sha256"))


@test
def an_import_that_is_not_a_sluice_file_is_refused_without_its_content():
    e = Env()
    secret = e.write("shadow", "s3cr3t:*:20228:0:99999:7:::\nbin:*:20228:0:99999:7:::\n")
    for target, want in [(secret, "not a sluice document"), ("/dev/zero", "it is a device")]:
        e.write("p.yaml", pipeline("    - {name: a, run: [true]}\n", f"  imports: [{target}]\n"))
        p = e.sluice("validate", "p.yaml", check=2, timeout=20)
        assert want in p.stderr and "s3cr3t" not in p.stderr + p.stdout, p.stderr
    fifo = os.path.join(e.dir, "fifo.yaml")
    os.mkfifo(fifo)
    p = e.sluice("validate", fifo, check=2, timeout=20)
    assert "it is a FIFO" in p.stderr, p.stderr


@test
def progress_shows_only_what_was_committed():
    # A commit that fails (a full disk, here an injected fault) stops the run: no progress line
    # may tell of an event that the store does not hold.
    e = Env()
    tasks = "".join(f"    - {{name: t{i}, run: [true]}}\n" for i in range(4))
    tasks += "    - {name: bad, needs: [t0], run: [sh, -c, 'exit 1']}\n"
    tasks += "".join(f"    - {{name: u{i}, needs: [bad], run: [true]}}\n" for i in range(3))
    e.write("p.yaml", pipeline(tasks))
    for n in range(2, 9):
        shutil.rmtree(e.state, ignore_errors=True)
        p = e.sluice("run", "-j", "1", "p.yaml", env={"SLUICE_FAULTS": f"commit-fail@{n}"})
        if p.returncode != 3:
            continue
        run = p.stdout.splitlines()[0]
        events = e.sluice("events", run, check=0).stdout
        finished = set(re.findall(r"task\.(?:finished|skipped)\s+(\S+)", events))
        for m in re.finditer(r"^(succeeded|failed|cancelled|blocked|skipped)\s+(\w+)", p.stderr, re.M):
            assert m.group(2) in finished, f"commit-fail@{n}: shown but never committed: {m.group(0)}\n{p.stderr}\n{events}"
        for m in re.finditer(r"^started\s+(\w+)", p.stderr, re.M):
            assert re.search(rf"attempt\.started\s+{m.group(1)}\b", events), m.group(0)


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "e2e-files"))
