#!/usr/bin/env python3
"""The API under load (issue 13's performance item): CLIENTS clients each read a run's status once
a second while STREAMS event streams (all runs, from the start) stay open and a run of TASKS
builtin:noop tasks (plus TASKS/20 one-process tasks) executes on the same state folder. Prints
the p50/p99/max latency of the reads (made while a run executed: the run starts again when it
ends, until SECONDS have passed) and how many events each stream received (every run's).

Usage: bench/api_load.py build/sluice [--clients 200] [--streams 50] [--tasks 10000] [--seconds 20]
                         [--stream-clients curl|python]
Not a test: the figures go to bench/RESULTS.md by hand.
"""
import argparse, http.client, json, os, shutil, subprocess, sys, tempfile, threading, time


def server_quantile(port, token, q):
    """The bucket bound (ms) under which the server answered a fraction q of the status reads, by
    its own clock (sluice_api_request_duration_seconds): what the reads' latency is apart from
    this benchmark's clients (200 Python threads)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
    buckets = []
    for line in c.getresponse().read().decode().splitlines():
        if line.startswith("sluice_api_request_duration_seconds_bucket{") and 'route="/api/v1/runs/{id}"' in line:
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    if not buckets:
        return None
    total = buckets[-1][1]
    return next((round(le * 1000, 1) for le, n in buckets if n >= q * total), None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sluice")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--stream-clients", choices=["curl", "python"], default="curl",
                    help="consume the streams in curl processes (default) or in this process's "
                         "threads, which then compete with the readers for Python's GIL")
    a = ap.parse_args()
    sluice = os.path.abspath(a.sluice)
    d = tempfile.mkdtemp(prefix="sluice-api-load-")
    state = os.path.join(d, "state")
    env = dict(os.environ, SLUICE_HOME=state)
    run = lambda *args, **kw: subprocess.run([sluice, *args], env=env, cwd=d, capture_output=True, text=True, **kw)
    small = os.path.join(d, "small.yaml")
    open(small, "w").write("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: small}\nspec:\n"
                           "  tasks:\n    - {name: a, run: [sh, -c, 'true']}\n")
    status_run = run("run", small).stdout.splitlines()[0]
    token = run("token", "create", "--user", "bench", "--role", "viewer").stdout.strip()
    big = os.path.join(d, "big.yaml")
    with open(big, "w") as f:
        f.write("apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: big}\nspec:\n  tasks:\n")
        for i in range(a.tasks):
            f.write(f"    - {{name: n{i}, run: ['builtin:noop']}}\n")
        for i in range(a.tasks // 20):
            f.write(f"    - {{name: p{i}, run: [sh, -c, 'true']}}\n")
    server = subprocess.Popen([sluice, "server", "--listen", "127.0.0.1:0", "--max-streams",
                               str(max(a.streams + 10, 64))], env=env, cwd=d,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(server.stdout.readline().strip().rsplit(":", 1)[1])
    stop = threading.Event()
    received = [0] * a.streams
    lat, errors = [], []

    def stream_process(i):
        # A stream's consumer in a process of its own (curl), so that parsing the streams does
        # not take the GIL from the readers whose latency is measured.
        return subprocess.Popen(
            ["curl", "-sN", "-o", os.path.join(d, f"stream-{i}"), "-H", f"Authorization: Bearer {token}",
             f"http://127.0.0.1:{port}/api/v1/events/stream"])

    def stream(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/api/v1/events/stream", headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        while not stop.is_set():
            line = r.readline()
            if not line:
                break
            if line.startswith(b"id: "):
                received[i] += 1
        c.close()

    def reader(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        time.sleep(i / a.clients)  # spread over the second
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                c.request("GET", f"/api/v1/runs/{status_run}", headers={"Authorization": "Bearer " + token})
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    errors.append(r.status)
            except Exception as e:  # noqa: BLE001 - a benchmark reports every failure
                errors.append(repr(e))
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            lat.append((t0, time.perf_counter() - t0))
            time.sleep(max(0, 1 - (time.perf_counter() - t0)))
        c.close()

    procs = [stream_process(i) for i in range(a.streams)] if a.stream_clients == "curl" else []
    threads = [] if procs else [threading.Thread(target=stream, args=(i,), daemon=True)
                                for i in range(a.streams)]
    threads += [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(a.clients)]
    for t in threads:
        t.start()
    # The run executes again as soon as it ends, until SECONDS have passed: a 10,000-task run
    # takes about a second here, and a p99 wants every read to be made beside one.
    began = time.perf_counter()
    runs, codes = [], []

    def execute():
        while time.perf_counter() - began < a.seconds:
            t = time.perf_counter()
            codes.append(subprocess.run([sluice, "run", big], env=env, cwd=d,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode)
            runs.append((t, time.perf_counter()))

    waiter = threading.Thread(target=execute)
    waiter.start()
    waiter.join()
    stop.set()
    ended = [runs[-1][1]]
    rc = max(codes)
    ran = sum(e - b for b, e in runs) / len(runs)
    for i, p in enumerate(procs):
        p.terminate()
        p.wait()
        received[i] = sum(1 for l in open(os.path.join(d, f"stream-{i}"), "rb") if l.startswith(b"id: "))
    server_p99 = server_quantile(port, token, 0.99)
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(d, ignore_errors=True)  # 16 runs of 10,500 tasks leave ~2 GB
    # The reads made while a run executed (all but those that began after the last one ended).
    during = sorted(l for t, l in lat if began <= t < ended[0])
    q = lambda xs, p: round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1000, 2) if xs else None
    print(json.dumps({"reads": len(during), "p50_ms": q(during, 0.5), "p99_ms": q(during, 0.99),
                      "max_ms": q(during, 1), "errors": len(errors),
                      "stream_events_min": min(received), "stream_events_max": max(received),
                      "run_exit": rc, "runs": len(runs), "run_seconds": round(ran, 2),
                      "server_p99_ms_at_most": server_p99}))


if __name__ == "__main__":
    sys.exit(main())
