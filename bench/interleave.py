#!/usr/bin/env python3
"""Two sluice builds and make, run in turn, round after round, on the harness's DAGs.

hyperfine runs one command's runs back to back, so a machine that drifts from minute to minute
(this one does, by more than the 5 % a comparison must resolve) favours whichever ran in the
quiet minute. Here every round runs each tool once, in an order that rotates, so drift lands on
all of them alike; medians over many rounds then compare. Each run starts cold: its output
folder and its state are deleted first (not timed), as in run_bench.sh.

    bench/interleave.py NEW PREVIOUS [--rounds 20] [--shapes chain,fanout,layered,startup,engine]
                        [--engine-sizes 100000] [--engine-rounds 20] [--markdown FILE]

Prints one table per shape: median, p25-p75, x make, x previous; for the engine shapes also
tasks/s and the peak RSS (from /usr/bin/time -v). Needs make and /usr/bin/time; stdlib only.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"chain": 200, "fanout": 1000, "layered": 2000, "startup": 10}


def run_once(cmd, cwd, prepare):
    prepare()
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    if rc != 0:
        sys.exit(f"{' '.join(cmd)} exited {rc} in {cwd}")
    return elapsed


def reset(path, make_dir):
    shutil.rmtree(path, ignore_errors=True)
    if make_dir:
        os.makedirs(path)


def peak_rss_kb(cmd, cwd):
    out = subprocess.run(["/usr/bin/time", "-v"] + cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True).stderr
    for line in out.splitlines():
        if "Maximum resident set size" in line:
            return int(line.split(":")[1])
    return 0


def rounds_of(tools, rounds):
    """Samples per tool, each round running every tool once in a rotated order."""
    samples = {name: [] for name, _ in tools}
    for r in range(rounds):
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for name, run in order:
            samples[name].append(run())
    return samples


def table(title, samples, base="make", prev="sluice (previous)", extra=None):
    med = {k: statistics.median(v) for k, v in samples.items()}
    lines = [f"#### {title}", "",
             "| tool | runs | median | p25 – p75 | × make | × previous |" + (" " + extra[0] + " |" if extra else ""),
             "| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if extra else "")]
    for k, v in samples.items():
        q = statistics.quantiles(v, n=4) if len(v) >= 2 else [v[0], v[0], v[0]]
        vs_make = f"{med[k] / med[base]:.2f}×" if base in med else "–"
        vs_prev = f"{med[k] / med[prev]:.2f}×" if prev in med else "–"
        row = (f"| {k} | {len(v)} | **{fmt(med[k])}** | {fmt(q[0])} – {fmt(q[2])} | {vs_make} | "
               f"{vs_prev} |")
        if extra:
            row += f" {extra[1](k)} |"
        lines.append(row)
    return "\n".join(lines) + "\n"


def fmt(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.3f} s"


def process_shape(shape, n, bins, rounds, work):
    d = work / f"{shape}-{n}"
    subprocess.run([sys.executable, str(HERE / "gen_dags.py"), str(d), shape, str(n)], check=True,
                   stdout=subprocess.DEVNULL)
    out = d / "out"
    tools = []
    for name, binary in bins:
        state = d / f"state-{name.replace(' ', '-').strip('()')}"
        cmd = [binary, "run", "pipeline.yaml", "-j", "2", "--state-dir", str(state)]
        prep = (lambda st=state: (reset(st, False), reset(out, True))) if shape != "startup" \
            else (lambda st=state: reset(st, False))
        tools.append((name, lambda c=cmd, p=prep: run_once(c, d, p)))
    make_prep = (lambda: reset(out, True)) if shape != "startup" else (lambda: None)
    tools.append(("make", lambda: run_once(["make", "-j2", "-f", "Makefile"], d, make_prep)))
    for _, run in tools:  # one warm-up run each
        run()
    title = f"{shape}, {n} tasks ({rounds} interleaved rounds)"
    return table(title, rounds_of(tools, rounds))


def engine_shape(n, bins, rounds, work):
    d = work / f"engine-{n}"
    subprocess.run([sys.executable, str(HERE / "gen_dags.py"), str(d), "engine", str(n)],
                   check=True, stdout=subprocess.DEVNULL)
    tools, rss = [], {}
    for name, binary in bins:
        state = d / f"state-{name.replace(' ', '-').strip('()')}"
        cmd = [binary, "run", "pipeline.yaml", "-j", "2", "--state-dir", str(state)]
        tools.append((name, lambda c=cmd, st=state: run_once(c, d, lambda: reset(st, False))))
        reset(state, False)
        rss[name] = peak_rss_kb(cmd, d)
    samples = rounds_of(tools, rounds)
    med = {k: statistics.median(v) for k, v in samples.items()}
    extra = ("tasks/s (median) · peak RSS",
             lambda k: f"{n / med[k]:,.0f} · {rss[k] / 1024:,.0f} MiB")
    return table(f"engine, {n:,} builtin:noop tasks ({rounds} interleaved rounds)", samples,
                 base="none", extra=extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("new")
    ap.add_argument("previous")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--shapes", default="chain,fanout,layered,startup,engine")
    ap.add_argument("--engine-sizes", default="100000")
    ap.add_argument("--engine-rounds", type=int, default=20)
    ap.add_argument("--markdown")
    a = ap.parse_args()
    bins = [("sluice", os.path.abspath(a.new)), ("sluice (previous)", os.path.abspath(a.previous))]
    work = Path(tempfile.mkdtemp(prefix="sluice-interleave-"))
    parts = [f"Command: `bench/interleave.py {a.new} {a.previous} --rounds {a.rounds} "
             f"--shapes {a.shapes} --engine-sizes {a.engine_sizes} --engine-rounds "
             f"{a.engine_rounds}`\n"]
    try:
        for shape in a.shapes.split(","):
            if shape == "engine":
                for n in a.engine_sizes.split(","):
                    parts.append(engine_shape(int(n), bins, a.engine_rounds, work))
            else:
                parts.append(process_shape(shape, SIZES[shape], bins, a.rounds, work))
            print(parts[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.markdown:
        Path(a.markdown).write_text("\n".join(parts))


if __name__ == "__main__":
    main()
