#!/usr/bin/env python3
"""Server + workers against the server's own local engine (issue 13, docs/workers.md).

Starts `sluice server` on a fresh state folder (its store SQLite, or with --pg a throw-away
PostgreSQL from scripts/pg.sh) and W `sluice worker`s with S slots each on loopback, submits N
tasks with executor: worker, then (unless --worker-only) the same with executor: local, and
prints the wall time and tasks/s of each: the cost of the split, side by side.

  --noop       the tasks are `run: [builtin:noop]`: a worker ends each at once, no process, so
               this measures the control plane's path (lease, end, the engine's commits)
  --chain      the tasks form a chain: the time per task is one task's end to the next start
  --latency    a chain of one-process tasks that print their start time (ns); prints the
               p50/p99 of ready -> process start on an idle worker (ready = the attempt's
               start event in the store), and the p50 of its three parts: the engine's queueing,
               the server's grant, the worker's spawn (from the work row's times)
  --store sqlite|postgresql  (default sqlite; --pg is the same as --store postgresql)
  --workers W  (default 2)   --slots S  (default 4)   --worker-only

Usage: bench/workers_bench.py build/sluice [N] [options]
"""
import http.client, json, os, shutil, sqlite3, subprocess, sys, tempfile, time

SLUICE = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 300
FLAGS = sys.argv[2:]
CHAIN = "--chain" in FLAGS or "--latency" in FLAGS
NOOP = "--noop" in FLAGS
LATENCY = "--latency" in FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def opt_text(name, default):
    return FLAGS[FLAGS.index(name) + 1] if name in FLAGS else default


def opt(name, default):
    return int(FLAGS[FLAGS.index(name) + 1]) if name in FLAGS else default


WORKERS, SLOTS = opt("--workers", 2), opt("--slots", 4)
PG = "--pg" in FLAGS or opt_text("--store", "sqlite") == "postgresql"
LEASE_US = 30_000_000  # the server's default --lease-time


def body(i, executor):
    if LATENCY:
        return f"script: 'date +%s%N'"
    return "run: [builtin:noop]" if NOOP else "run: [true]"


def main():
    d = tempfile.mkdtemp(prefix="sluice-workers-bench-")
    state = os.path.join(d, "state")
    pg_dir = store = None
    if PG:
        pg_dir = subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "start"], check=True,
                                capture_output=True, text=True).stdout.strip()
        store = open(os.path.join(pg_dir, "url")).read().strip()
    glob = [SLUICE, "--state-dir", state] + (["--store", store] if store else [])
    sluice = lambda *a: subprocess.run([*glob, *a], capture_output=True, text=True,
                                       check=True).stdout.strip()
    admin = sluice("token", "create", "--user", "bench", "--role", "admin")
    worker = sluice("token", "create", "--user", "workers", "--role", "worker")
    server = subprocess.Popen([SLUICE, "--state-dir", state, "server", "--listen", "127.0.0.1:0",
                               *(["--store", store] if store else [])],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(server.stdout.readline().strip().rsplit(":", 1)[1])
    workers = [subprocess.Popen([SLUICE, "worker", "--server", f"http://127.0.0.1:{port}",
                                 "--slots", str(SLOTS), "--work-dir", os.path.join(d, f"w{i}")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env=dict(os.environ, SLUICE_TOKEN=worker)) for i in range(WORKERS)]
    for w in workers:
        w.stdout.readline()  # registered

    def call(method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request(method, path, body=body, headers={"Authorization": "Bearer " + admin,
                                                    "Content-Type": "application/json"})
        return json.loads(c.getresponse().read())

    def run(executor):
        tasks = "".join(f"    - {{name: t{i}, executor: {executor}, {body(i, executor)}"
                        f"{', needs: [t%d]' % (i - 1) if CHAIN and i else ''}}}\n" for i in range(N))
        text = f"apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {{name: b}}\nspec:\n  tasks:\n{tasks}"
        start = time.time()
        rid = call("POST", "/api/v1/namespaces/default/runs",
                   json.dumps({"pipeline": "p.yaml", "files": {"p.yaml": text}}))["id"]
        # The runs' list, not the run's status: a status carries every task and attempt (10,000
        # of each), which made the server and this script spend more on polling than the run.
        def status():
            return next(r["status"] for r in call("GET", "/api/v1/runs?limit=5")["items"]
                        if r["id"] == rid)
        while (st := status()) not in ("succeeded", "failed"):
            time.sleep(0.02)
        status = st
        return time.time() - start, status, rid

    def rows(sql):  # the store's rows for `sql` (its only parameter, the run id, inlined)
        if not PG:
            return sqlite3.connect(os.path.join(state, "sluice.db")).execute(sql).fetchall()
        out = subprocess.run(["psql", "-At", "-F", "\t", store, "-c", sql], check=True,
                             capture_output=True, text=True).stdout
        return [tuple(int(f) if f.lstrip("-").isdigit() else f for f in line.split("\t"))
                for line in out.splitlines() if line]

    def latencies(rid):
        ready = {}
        for task, t in rows(f"SELECT task, time_us FROM events WHERE run_id='{rid}' AND "
                            "kind='attempt.started'"):
            ready.setdefault(task, t)
        # The work row says when the engine queued the attempt (created_us) and when a worker
        # was granted it (its lease's expiry less the lease time; a chain's attempts end before
        # their first heartbeat renews it): the path split in three.
        work = {task: (created, expires - LEASE_US) for task, created, expires in rows(
            f"SELECT task, created_us, lease_expires_us FROM work WHERE run_id='{rid}'")}
        out, parts = [], []
        for task, t in ready.items():
            for i in range(WORKERS):
                log = os.path.join(d, f"w{i}", "runs", rid, "tasks", f"{task}@1.stdout.log")
                if os.path.exists(log):
                    started = int(open(log).read().strip()) // 1000
                    out.append((started - t) / 1000)
                    if task in work:
                        queued, granted = work[task]
                        parts.append(((queued - t) / 1000, (granted - queued) / 1000,
                                      (started - granted) / 1000))
        return sorted(out), parts

    try:
        for executor in ("worker",) if "--worker-only" in FLAGS or LATENCY else ("worker", "local"):
            took, status, rid = run(executor)
            kind = "noop" if NOOP else "one-process"
            print(f"{N} {'chained ' if CHAIN else ''}{kind} tasks, executor: {executor}, "
                  f"{WORKERS} workers x {SLOTS} slots, {'PostgreSQL' if PG else 'SQLite'}: "
                  f"{took:.2f} s, {N / took:.0f} tasks/s, {took / N * 1000:.2f} ms/task ({status})")
            if LATENCY:
                lat, parts = latencies(rid)
                pct = lambda xs, q: sorted(xs)[min(len(xs) - 1, len(xs) * q // 100)]
                if lat:
                    print(f"ready -> start on an idle worker over {len(lat)} attempts: p50 "
                          f"{pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms")
                if parts:
                    names = ("ready -> queued (engine)", "queued -> granted (server)",
                             "granted -> process start (worker)")
                    print("  " + "; ".join(f"{n}: p50 {pct([p[k] for p in parts], 50):.2f} ms"
                                           for k, n in enumerate(names)))
    finally:
        for w in workers:
            w.terminate()
            w.wait()
        server.terminate()
        server.wait()
        if pg_dir:
            subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "stop", pg_dir])
        shutil.rmtree(d, ignore_errors=True)  # a 10,000-task run leaves ~50 MB


main()
