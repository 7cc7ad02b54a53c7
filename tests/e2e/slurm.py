#!/usr/bin/env python3
"""End-to-end tests of executor: slurm (issue 17, docs/slurm.md) on a real single-node Slurm
cluster (scripts/slurm_cluster.sh), started once for the suite and stopped after it, also when a
test fails or the suite is interrupted.

Usage: slurm.py SLUICE [--only SUBSTRING]
Uses run_e2e.py's helpers; prints one line per failure and ends with "e2e-slurm: N passed, M
failed". Needs root (the cluster's daemons run as root) and Debian's slurm-wlm and munge
(scripts/deps.sh test).
"""
import atexit, os, signal, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env, crash, pipeline  # noqa: E402

ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CLUSTER = os.path.join(ROOT_DIR, "scripts", "slurm_cluster.sh")
# A folder of its own, so that a cluster someone else runs under the default one is not touched.
CLUSTER_DIR = f"/tmp/sluice-slurm-e2e-{os.getpid()}"
os.environ["SLUICE_SLURM_DIR"] = CLUSTER_DIR
os.environ["SLUICE_SLURM_PORT"] = os.environ.get("SLUICE_SLURM_PORT", "6917")
os.environ["SLURM_CONF"] = os.path.join(CLUSTER_DIR, "etc", "slurm.conf")
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def cluster(action):
    return subprocess.run(["bash", CLUSTER, action], capture_output=True, text=True, timeout=120)


def stop_cluster(*_):
    cluster("purge")


def slurm_jobs(run):
    """The run's jobs as squeue lists them (every job Sluice submits has the comment "sluice run
    RUN"): one dict per job or array task."""
    p = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-O",
                        "JobID:|,ArrayJobID:|,ArrayTaskID:|,State:|,exit_code:|,Comment:|,Name:|"],
                       capture_output=True, text=True, timeout=30)
    jobs = []
    for line in p.stdout.splitlines():
        f = line.split("|")
        if len(f) >= 7 and f[5].strip() == f"sluice run {run}":
            jobs.append({"id": f[0].strip(), "array": f[1].strip(), "task": f[2].strip(),
                         "state": f[3].strip(), "exit": f[4].strip(), "name": f[6].strip()})
    return jobs


def attempts(e, run, task):
    return [a for a in e.status(run)["attempts"] if a["task"] == task]


SLURM = "  defaults: {executor: slurm}\n"


@test
def a_pipeline_runs_on_slurm_and_its_outputs_flow():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: a
      run: [sh, -c, 'echo 41 > n; mkdir out; echo data > out/f; echo "on $SLURM_JOB_ID"']
      resources: {cpu: 2, memory: 64Mi}
      outputs:
        params: [{name: n, from: {file: n}}]
        artifacts: [{name: out, path: out}]
    - name: b
      run: [sh, -c, 'cat "$0/f"; expr "$1" + 1', "${{ tasks.a.outputs.artifacts.out }}", "${{ tasks.a.outputs.params.n }}"]
      outputs:
        params: [{name: m, from: {stdout: text}}]
""", SLURM))
    p = e.sluice("run", "p.yaml", check=0, timeout=120)
    run = p.stdout.splitlines()[0]
    t = e.tasks(run)
    assert t["b"]["outputs"]["params"]["m"] == "data\n42", t["b"]
    jobs = slurm_jobs(run)
    assert len(jobs) == 2 and all(j["state"] == "COMPLETED" for j in jobs), jobs
    # Its log is where `sluice logs` reads it, and says which job ran it.
    logs = e.sluice("logs", run, "a", check=0).stdout
    assert "on " + jobs[0]["id"] in logs or "on " + jobs[1]["id"] in logs, logs


@test
def a_failing_task_is_retried_as_new_jobs_and_fails_with_its_exit_code():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: bad
      run: [sh, -c, 'echo try $SLUICE_ATTEMPT >&2; exit 3']
      retry: {limit: 2, backoff: {initial: 100ms}}
""", SLURM))
    p = e.sluice("run", "p.yaml", check=1, timeout=120)
    run = p.stdout.splitlines()[0]
    a = attempts(e, run, "bad")
    assert [x["class"] for x in a] == ["exit", "exit", "exit"], a
    assert all(x["exitCode"] == 3 for x in a), a
    jobs = slurm_jobs(run)
    assert len(jobs) == 3 and all(j["state"] == "FAILED" and j["exit"] == "768" for j in jobs), jobs
    err = e.sluice("logs", run, "bad", check=0)
    assert "try 3" in err.stdout + err.stderr, err


@test
def a_timeout_ends_the_job_with_the_timeout_class():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: slow
      run: [sleep, "300"]
      timeout: 3s
""", SLURM))
    p = e.sluice("run", "p.yaml", check=1, timeout=120)
    run = p.stdout.splitlines()[0]
    a = attempts(e, run, "slow")
    assert [x["class"] for x in a] == ["timeout"], a
    e.wait_for(lambda: [j["state"] for j in slurm_jobs(run)] == ["CANCELLED"], "scancel")


@test
def cancel_scancels_the_running_job():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: long
      run: [sleep, "300"]
""", SLURM))
    proc, run = e.start("run", "p.yaml")
    e.wait_for(lambda: [j["state"] for j in slurm_jobs(run)] == ["RUNNING"], "the job to run",
               tries=300)
    e.sluice("cancel", run, check=0)
    assert proc.wait(timeout=60) != 0
    e.wait_for(lambda: [j["state"] for j in slurm_jobs(run)] == ["CANCELLED"], "scancel")
    assert e.status(run)["status"] == "cancelled", e.status(run)
    assert [x["class"] for x in attempts(e, run, "long")] == ["cancelled"]


@test
def cancel_of_a_run_whose_sluice_died_scancels_its_jobs():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: long
      run: [sleep, "300"]
""", SLURM))
    proc, run = e.start("run", "p.yaml")
    e.wait_for(lambda: [j["state"] for j in slurm_jobs(run)] == ["RUNNING"], "the job to run",
               tries=300)
    crash(e, proc, run)
    e.sluice("cancel", run, check=0, timeout=60)
    e.wait_for(lambda: [j["state"] for j in slurm_jobs(run)] == ["CANCELLED"], "scancel")
    assert e.status(run)["status"] == "cancelled", e.status(run)


@test
def a_for_each_fan_out_is_one_job_array():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: sq
      forEach: [1, 2, 3, 4, 5]
      parallelism: 2
      run: [sh, -c, 'expr "$0" \\* "$0"', "${{ item }}"]
      outputs:
        params: [{name: v, from: {stdout: text}}]
""", SLURM))
    p = e.sluice("run", "p.yaml", check=0, timeout=120)
    run = p.stdout.splitlines()[0]
    t = e.tasks(run)
    assert [t[f"sq[{k}]"]["outputs"]["params"]["v"] for k in range(5)] == ["1", "4", "9", "16", "25"], t
    jobs = slurm_jobs(run)
    assert len(jobs) == 5, jobs
    assert len({j["array"] for j in jobs}) == 1, jobs  # one job array
    assert sorted(j["task"] for j in jobs) == ["0", "1", "2", "3", "4"], jobs
    shown = subprocess.run(["scontrol", "show", "job", jobs[0]["array"]], capture_output=True,
                           text=True, timeout=30).stdout
    assert "ArrayTaskThrottle=2" in shown, shown


@test
def resume_after_kill_9_adopts_running_jobs_and_records_ended_ones_without_rerunning():
    e = Env()
    log = os.path.join(e.dir, "starts")
    e.write("p.yaml", pipeline(f"""
    - name: long
      run: [sh, -c, 'echo long >> {log}; sleep 6; echo done > r']
      outputs:
        params: [{{name: r, from: {{file: r}}}}]
    - name: short
      run: [sh, -c, 'echo short >> {log}; sleep 1; exit 5']
    - name: fine
      run: [sh, -c, 'echo fine >> {log}; sleep 1; echo ok']
      outputs:
        params: [{{name: o, from: {{stdout: text}}}}]
""", SLURM))
    proc, run = e.start("run", "p.yaml")
    e.wait_for(lambda: sorted(j["state"] for j in slurm_jobs(run)) == ["RUNNING"] * 3,
               "three running jobs", tries=300)
    crash(e, proc, run)
    # While sluice is dead, two jobs end; the long one still runs when it resumes.
    e.wait_for(lambda: sorted(j["state"] for j in slurm_jobs(run)) == ["COMPLETED", "FAILED", "RUNNING"],
               "two jobs to end", tries=300)
    e.sluice("resume", run, check=1, timeout=120)  # short failed: the run fails
    t = e.tasks(run)
    assert t["long"]["state"] == "succeeded" and t["long"]["outputs"]["params"]["r"] == "done", t
    assert t["fine"]["state"] == "succeeded" and t["fine"]["outputs"]["params"]["o"] == "ok", t
    short = attempts(e, run, "short")
    assert [(x["class"], x["exitCode"]) for x in short] == [("exit", 5)], short
    for task in ("long", "fine"):
        assert len(attempts(e, run, task)) == 1, attempts(e, run, task)
    assert len(slurm_jobs(run)) == 3, slurm_jobs(run)  # nothing submitted again
    assert sorted(open(log).read().split()) == ["fine", "long", "short"]


@test
def a_fan_out_whose_job_ids_never_reached_the_log_is_found_by_its_list_on_resume():
    """The commit after the array's sbatch fails (as if sluice died between them): resume finds
    each child's array task by its line in the array's list (docs/slurm.md) and adopts it, and
    nothing runs twice."""
    e = Env()
    log = os.path.join(e.dir, "starts")
    e.write("p.yaml", pipeline(f"""
    - name: f
      forEach: [1, 2, 3]
      run: [sh, -c, 'echo "$0" >> {log}; sleep 3; echo "v$0"', "${{{{ item }}}}"]
      outputs:
        params: [{{name: v, from: {{stdout: text}}}}]
""", SLURM))
    p = e.sluice("run", "p.yaml", check=3, timeout=120, env={"SLUICE_FAULTS": "commit-fail@2"})
    run = p.stdout.splitlines()[0]
    jobs = slurm_jobs(run)
    assert len(jobs) == 3 and len({j["array"] for j in jobs}) == 1, jobs
    tasks_dir = os.path.join(e.state, "runs", run, "tasks")
    assert [n for n in os.listdir(tasks_dir) if n.endswith(".array.list")] == ["f[0]@1.array.list"]
    e.sluice("resume", run, check=0, timeout=120)
    t = e.tasks(run)
    assert [t[f"f[{k}]"]["outputs"]["params"]["v"] for k in range(3)] == ["v1", "v2", "v3"], t
    for k in range(3):
        assert len(attempts(e, run, f"f[{k}]")) == 1, attempts(e, run, f"f[{k}]")
    assert len(slurm_jobs(run)) == 3, slurm_jobs(run)  # nothing submitted again
    assert sorted(open(log).read().split()) == ["1", "2", "3"]


@test
def what_slurm_refuses_or_can_never_run_fails_with_slurms_reason():
    e = Env()
    e.write("p.yaml", pipeline("""
    - name: huge
      run: [true]
      resources: {memory: 100Ti}
    - name: wide
      run: [true]
      resources: {cpu: 1000}
""", SLURM + "  failFast: false\n"))
    p = e.sluice("run", "p.yaml", check=1, timeout=120)
    run = p.stdout.splitlines()[0]
    huge = attempts(e, run, "huge")
    assert huge[0]["class"] == "spawn-error", huge
    assert "sbatch refused the job: " in huge[0]["message"], huge
    assert "node configuration is not available" in huge[0]["message"], huge
    # More CPUs than any node has: Slurm accepts it and would keep it pending forever.
    wide = attempts(e, run, "wide")
    assert [x["class"] for x in wide] == ["unschedulable"], wide
    assert "PartitionConfig" in wide[0]["message"], wide
    # (Slurm keeps a FAILED record of the job it refused, which Sluice never tracked.)
    wide_jobs = [j["state"] for j in slurm_jobs(run) if j["name"] == "sluice:wide"]
    assert wide_jobs == ["CANCELLED"], slurm_jobs(run)


@test
def the_example_runs_on_slurm():
    e = Env()
    example = os.path.join(ROOT_DIR, "examples", "slurm", "pipeline.yaml")
    p = e.sluice("run", example, check=0, timeout=120)
    run = p.stdout.splitlines()[0]
    assert e.status(run)["status"] == "succeeded"
    assert len(slurm_jobs(run)) >= 2


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("e2e-slurm: the test cluster's daemons run as root\ne2e-slurm: 0 passed, 1 failed")
        sys.exit(1)
    atexit.register(stop_cluster)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    up = cluster("up")
    if up.returncode != 0:
        print(f"e2e-slurm: the cluster did not start: {up.stdout}{up.stderr}")
        print("e2e-slurm: 0 passed, 1 failed")
        sys.exit(1)
    sys.exit(run_e2e.run_suite(TESTS, "e2e-slurm"))
