#!/usr/bin/python3
"""Where a sequential DAG's wall time goes, from the kernel's own process events.

Runs one command under `perf record` with three scheduler tracepoints (fork, exec, exit) and
splits its wall time into: the time before the first task process is forked, each task's
end to the next task's fork (the orchestrator's reaction), fork to exec (starting the
program), exec to exit (the program itself), and the last task's end to the command's end.
No instrumentation in the program is needed, so Sluice, make and ninja are measured the
same way, and no sampling noise enters: every figure is a difference of two kernel
timestamps.

Usage (from a folder made by gen_dags.py; out/ and the state are cleared before each run):
  bench/trace_gaps.py [--runs N] [--program touch] -- COMMAND...
Example:
  cd /tmp/pd/chain && /work/main/bench/trace_gaps.py --runs 3 -- \\
      /work/main/build/sluice run pipeline.yaml -j 2 --state-dir st
  cd /tmp/pd/chain && /work/main/bench/trace_gaps.py --runs 3 -- make -j2 -f Makefile
Needs perf with access to tracepoints (root, or kernel.perf_event_paranoid <= -1).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

EVENT = re.compile(r"\s(\d+\.\d+): sched:sched_process_(fork|exec|exit): (.*)")


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def one_run(command, program):
    for path in ("out", "st", ".ninja_log", ".ninja_deps"):
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    os.mkdir("out")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        events = ",".join(f"sched:sched_process_{k}" for k in ("fork", "exec", "exit"))
        subprocess.run(["perf", "record", "-q", "-e", events, "-o", data, "--"] + command,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        text = subprocess.run(["perf", "script", "-i", data], capture_output=True, text=True,
                              check=True).stdout
    fork, execs, exits, order, stamps = {}, {}, {}, [], []
    for line in text.splitlines():
        m = EVENT.search(line)
        if not m:
            continue
        t, kind, rest = float(m.group(1)) * 1e6, m.group(2), m.group(3)
        stamps.append(t)
        if kind == "fork":
            child = int(re.search(r"child_pid=(\d+)", rest).group(1))
            fork[child] = t
            order.append(child)
        elif kind == "exec" and f"/{program}" in rest:
            execs[int(re.search(r" pid=(\d+)", rest).group(1))] = t
        elif kind == "exit":
            exits[int(re.search(r" pid=(\d+)", rest).group(1))] = t
    tasks = [c for c in order if c in execs and c in exits]
    if not tasks:
        sys.exit(f"trace_gaps: no {program} process was traced; is --program right?")
    return {
        "tasks": len(tasks),
        "before first fork (ms)": (fork[tasks[0]] - stamps[0]) / 1e3,
        "end -> next fork (us)": [fork[b] - exits[a] for a, b in zip(tasks, tasks[1:])],
        "fork -> exec (us)": [execs[c] - fork[c] for c in tasks],
        "exec -> exit (us)": [exits[c] - execs[c] for c in tasks],
        "last end -> command end (ms)": (stamps[-1] - exits[tasks[-1]]) / 1e3,
        "span (ms)": (stamps[-1] - stamps[0]) / 1e3,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--program", default="touch", help="the task processes' program name")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    for i in range(args.runs):
        r = one_run(command, args.program)
        parts = [f"run {i + 1}: {r['tasks']} tasks, span {r['span (ms)']:.1f} ms",
                 f"before first fork {r['before first fork (ms)']:.1f} ms"]
        for key in ("end -> next fork (us)", "fork -> exec (us)", "exec -> exit (us)"):
            v = r[key]
            parts.append(f"{key.replace(' (us)', '')} p50 {quantile(v, .5):.0f} "
                         f"p90 {quantile(v, .9):.0f} p99 {quantile(v, .99):.0f} us "
                         f"(sum {sum(v) / 1e3:.1f} ms)")
        parts.append(f"last end -> command end {r['last end -> command end (ms)']:.1f} ms")
        print("\n  ".join(parts))


if __name__ == "__main__":
    main()
