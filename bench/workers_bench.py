#!/usr/bin/env python3
"""Server + workers against the server's own local engine (issue 13, docs/workers.md).

Starts `sluice server` on a fresh state folder and 2 `sluice worker`s with 4 slots each on
loopback, submits N one-process tasks (`true`) with executor: worker, then the same with
executor: local, and prints the wall time and tasks/s of each. With --chain the tasks form a
chain, so the time per task is the latency from one task's end to the next one's start.

Usage: bench/workers_bench.py build/sluice [N] [--chain]
"""
import http.client, json, os, subprocess, sys, tempfile, time

SLUICE = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 300
CHAIN = "--chain" in sys.argv


def main():
    d = tempfile.mkdtemp(prefix="sluice-workers-bench-")
    state = os.path.join(d, "state")
    sluice = lambda *a: subprocess.run([SLUICE, "--state-dir", state, *a], capture_output=True,
                                       text=True, check=True).stdout.strip()
    admin = sluice("token", "create", "--user", "bench", "--role", "admin")
    worker = sluice("token", "create", "--user", "workers", "--role", "worker")
    server = subprocess.Popen([SLUICE, "--state-dir", state, "server", "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(server.stdout.readline().strip().rsplit(":", 1)[1])
    workers = [subprocess.Popen([SLUICE, "worker", "--server", f"http://127.0.0.1:{port}",
                                 "--slots", "4", "--work-dir", os.path.join(d, f"w{i}")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env=dict(os.environ, SLUICE_TOKEN=worker)) for i in range(2)]
    for w in workers:
        w.stdout.readline()  # registered

    def call(method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request(method, path, body=body, headers={"Authorization": "Bearer " + admin,
                                                    "Content-Type": "application/json"})
        return json.loads(c.getresponse().read())

    def run(executor):
        tasks = "".join(f"    - {{name: t{i}, executor: {executor}, run: [true]"
                        f"{', needs: [t%d]' % (i - 1) if CHAIN and i else ''}}}\n" for i in range(N))
        text = f"apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {{name: b}}\nspec:\n  tasks:\n{tasks}"
        start = time.time()
        rid = call("POST", "/api/v1/namespaces/default/runs",
                   json.dumps({"pipeline": "p.yaml", "files": {"p.yaml": text}}))["id"]
        while (status := call("GET", f"/api/v1/runs/{rid}")["status"]) not in ("succeeded", "failed"):
            time.sleep(0.02)
        return time.time() - start, status

    try:
        for executor in ("worker", "local"):
            took, status = run(executor)
            print(f"{N} {'chained ' if CHAIN else ''}one-process tasks, executor: {executor}: "
                  f"{took:.2f} s, {N / took:.0f} tasks/s, {took / N * 1000:.1f} ms/task ({status})")
    finally:
        for w in workers:
            w.terminate()
            w.wait()
        server.terminate()
        server.wait()


main()
