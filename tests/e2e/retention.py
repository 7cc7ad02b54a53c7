#!/usr/bin/env python3
"""End-to-end tests of retention (issue 13): `sluice prune --older-than` deletes the records,
folders and unreferenced artifacts of runs that finished long ago, keeps their audit records
and a tombstone, and leaves running and recent runs alone.

Usage: retention.py SLUICE
Uses run_e2e.py's helpers; prints one line per failure and ends with "e2e-retention: N passed,
M failed". Needs root for the test with another account (setpriv).
"""
import glob, json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env, pipeline  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# One task that stores an artifact whose content is the param `word`.
ARTIFACT = pipeline("""    - name: make
      run: [sh, -c, 'echo "$0" > out; echo made', "${{ params.word }}"]
      outputs:
        artifacts: [{name: out, path: out}]
""", "  params:\n    - {name: word, type: string}\n")


def run_ok(e, *params):
    p = e.sluice("run", "p.yaml", *[x for kv in params for x in ("-p", kv)], check=0)
    return p.stdout.splitlines()[0]


def artifact_dirs(e):
    return sorted(glob.glob(os.path.join(e.state, "artifacts", "sha256", "*", "*")))


def age(paths, seconds):
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


@test
def prune_deletes_old_runs_keeps_recent_ones_and_the_audit_chain():
    e = Env()
    e.write("p.yaml", ARTIFACT)
    old = run_ok(e, "word=old")
    time.sleep(2.2)
    new = run_ok(e, "word=new")
    assert len(artifact_dirs(e)) == 2, artifact_dirs(e)
    out = e.sluice("prune", "--older-than", "2s", check=0).stdout
    assert f"pruned {old}" in out and new not in out, out
    # The pruned run's records and folder are gone; its tombstone says what happened.
    st = e.sluice("status", old, check=2)
    assert f"run {old} was pruned by" in st.stderr and "finished more" not in st.stderr, st.stderr
    assert "sluice prune --older-than 2s" in st.stderr, st.stderr
    assert not os.path.exists(os.path.join(e.state, "runs", old))
    listed = [r["id"] for r in json.loads(e.sluice("runs", "-o", "json", check=0).stdout)]
    assert listed == [new], listed
    # The recent run is whole.
    assert e.status(new)["status"] == "succeeded"
    assert "made" in e.sluice("logs", new, "make", check=0).stdout
    # The audit chain holds and records the prune.
    e.sluice("audit", "verify", check=0)
    records = [json.loads(line) for line in e.sluice("audit", "export", check=0).stdout.splitlines()]
    pruned = [r for r in records if r["action"] == "run.pruned"]
    assert [r["run"] for r in pruned] == [old], pruned
    assert any(r["action"] == "run.submitted" and r["run"] == old for r in records)
    # The old run's artifact is not referenced any more, but young: kept a while.
    assert len(artifact_dirs(e)) == 2
    age(artifact_dirs(e), 2 * 3600)
    out = e.sluice("prune", "--older-than", "1h", check=0).stdout
    assert "collected 1 unreferenced artifacts" in out, out
    left = artifact_dirs(e)
    assert len(left) == 1, left
    assert open(glob.glob(os.path.join(left[0], "*"))[0]).read() == "new\n"  # the kept run's


@test
def artifacts_a_run_refers_to_are_kept_however_the_state_folder_is_named():
    e = Env()
    e.write("p.yaml", ARTIFACT)
    run_ok(e, "word=kept")
    age(artifact_dirs(e), 2 * 3600)
    os.symlink(e.state, os.path.join(e.dir, "link"))
    for state in (e.state + "/", os.path.join(e.dir, "link")):
        p = subprocess.run([e.binary, "--state-dir", state, "prune", "--older-than", "30d"],
                           cwd=e.dir, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and "collected 0 unreferenced artifacts" in p.stdout, (state, p)
    assert len(artifact_dirs(e)) == 1


@test
def a_dry_run_changes_nothing():
    e = Env()
    e.write("p.yaml", ARTIFACT)
    run = run_ok(e, "word=x")
    before = e.sluice("events", run, check=0).stdout
    out = e.sluice("prune", "--older-than", "0s", "--dry-run", check=0).stdout
    assert f"would prune {run}" in out, out
    assert e.sluice("events", run, check=0).stdout == before
    assert os.path.isdir(os.path.join(e.state, "runs", run))
    assert not [r for r in e.sluice("audit", "export", check=0).stdout.splitlines() if "run.pruned" in r]


@test
def a_run_still_running_is_never_pruned():
    e = Env()
    e.write("slow.yaml", pipeline("    - {name: wait, run: [sleep, '30']}\n"))
    proc, run = e.start("run", "slow.yaml")
    e.wait_for(lambda: e.status(run)["status"] == "running", "the run to start")
    out = e.sluice("prune", "--older-than", "0s", check=0).stdout
    assert run not in out, out
    e.sluice("cancel", run, check=0)
    proc.wait(30)


@test
def event_numbers_keep_growing_after_the_newest_run_is_pruned():
    e = Env()
    e.write("p.yaml", ARTIFACT)
    run_ok(e, "word=a")
    last = run_ok(e, "word=b")
    seqs = [ev["seq"] for ev in json.loads(e.sluice("events", last, "-o", "json", check=0).stdout)]
    e.sluice("prune", "--older-than", "0s", check=0)
    again = run_ok(e, "word=c")
    first = json.loads(e.sluice("events", again, "-o", "json", check=0).stdout)[0]["seq"]
    assert first > max(seqs) + 1, (first, seqs)  # the tombstones came after, and stay


@test
def bad_durations_and_other_accounts_are_refused():
    e = Env()
    p = e.sluice("prune", "--older-than", "soon", check=2)
    assert p.stderr.count("\n") == 1 and "--older-than \"soon\": not a duration" in p.stderr, p.stderr
    e.share()
    e.write("p.yaml", ARTIFACT)
    os.chmod(os.path.join(e.dir, "p.yaml"), 0o644)
    run = run_ok(e, "word=x")
    p = e.sluice("prune", "--older-than", "0s", check=2, account="daemon")
    assert "may not prune runs here" in p.stderr, p.stderr
    assert e.status(run)["status"] == "succeeded"
    # users.yaml grants the right (it once refused "prune" as an unknown right).
    os.chmod(e.write("state/users.yaml", "users:\n  - {name: root}\n  - {name: daemon, rights: [prune]}\n"), 0o640)
    e.sluice("prune", "--older-than", "0s", check=0, account="daemon")
    assert "was pruned by daemon" in e.sluice("status", run).stderr


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "e2e-retention"))
