#!/usr/bin/env python3
"""Progressive delivery on a real stack, N times each (issue 14, docs/rollouts.md "Testing against
a real stack"): medians, min and max of

  abort    threshold breach -> 100 % stable: a canary with a 20 % error rate at 50 %, aborted by
           its Prometheus analysis. The figure is the rollout's own log line "all traffic back on
           SLOT N ms after the decision"; an observer outside Sluice cross-checks it (below).
  weights  weight decision -> weights live: every "weights ... live after N ms" line of a good
           canary (25 %, 50 %, 100 %), cross-checked by the same observer.
  switch   requests dropped (and retried once) per 10,000 in a blue/green switch under steady
           load: the load generator's counts, one switch per repetition.

Usage: bench/rollout_bench.py SLUICE [--n 7] [--only abort,weights,switch] [--write]
                               [--json FILE] [--note TEXT]

The stack (nginx + Prometheus, tests/rollouts/stack.py) starts once and is stopped at the end,
also on Ctrl-C, SIGTERM or a failure. Each repetition has a fresh state folder under one
temporary folder, removed after; the rounds interleave the three kinds (abort, weights, switch,
abort, ...) so that a machine that drifts from minute to minute weighs on all of them alike.
The pipelines, environments and templates are those of tests/e2e/rollouts.py, imported.

The observer is a thread that polls, every ~2 ms, the inode of nginx's upstream file (Sluice
renames a new file into place, then runs nginx -t, then sends SIGHUP; the rename's time is the
file's ctime) and the generation the route URL answers (a fresh connection each time, as
Sluice's own check does). It gives, per generation, "file renamed -> generation answered" and,
for an abort, "the Failed measurement's finish (its finishedUs in the store) -> the stable-only
generation answered", which includes what the rollout does between the measurement and its
decision. The load generator records every answer, so the clients' view is there too: when
the candidate first answered, and when the last request the old split answered started.

--write replaces (or appends) the section "## Progressive delivery (rollout_bench.py)" of
bench/RESULTS.md. Not a test: nothing here asserts a time.
"""
import argparse, datetime, json, os, re, shutil, signal, statistics, subprocess, sys
import tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "RESULTS.md")
HEADING = "## Progressive delivery (rollout_bench.py)"
KINDS = ("abort", "weights", "switch")
LIVE_RE = re.compile(r"weights (.+?) \(generation (\d+)\) live after (\d+) ms")
BACK_RE = re.compile(r"all traffic back on (\S+) (\d+) ms after the decision")

# Filled by load_helpers(): the e2e suite's modules, reused as they are.
run_e2e = rollouts = loadgen = stacklib = None


def load_helpers(binary):
    """Imports tests/e2e/rollouts.py and its helpers. run_e2e reads the binary from argv[1] at
    import, so argv holds just that for the moment of the import."""
    global run_e2e, rollouts, loadgen, stacklib
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
    sys.path.insert(0, os.path.join(ROOT, "tests", "rollouts"))
    argv, sys.argv = sys.argv, [sys.argv[0], binary]
    try:
        import run_e2e as r, rollouts as ro, loadgen as lg, stack as st  # noqa: E401
    finally:
        sys.argv = argv
    run_e2e, rollouts, loadgen, stacklib = r, ro, lg, st
    run_e2e.SLUICE = binary


class BenchError(Exception):
    """A repetition that did not do what it measures (one line, with the evidence)."""


# ---- the observer -----------------------------------------------------------------------------

class Observer:
    """Watches nginx from outside Sluice on its own thread: each time the upstream file's inode
    changes (a new file renamed into place) it reads the generation written in it, and each time
    the route URL answers a generation other than the one it answered last, it notes that.
    Times are time.monotonic(), as the load generator's; epoch_to_mono() converts the store's
    wall-clock times. Owned by one repetition: start(), then stop()."""

    def __init__(self, upstream_file, route_url):
        self.file, self.url = upstream_file, route_url
        self.files = []    # (t, generation) of each new file in place
        self.answers = []  # (t, generation) of each change of the route URL's answer
        self.polls = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="observer", daemon=True)

    def start(self):
        self.offset = time.time() - time.monotonic()
        st = self._stat()
        self.inode = st.st_ino if st else None
        self.base = self._answer()  # the previous rollout's generation, live now
        self.t0 = time.monotonic()
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.elapsed = time.monotonic() - self.t0
        return self

    def epoch_to_mono(self, seconds):
        return seconds - self.offset

    def poll_ms(self):
        return 1000 * self.elapsed / max(1, self.polls)

    def _stat(self):
        try:
            return os.stat(self.file)
        except OSError:
            return None

    def _answer(self):
        code, body = stacklib.http_get(self.url, timeout=1)
        return int(body.strip()) if code == 200 and body.strip().isdigit() else None

    def _run(self):
        last = self.base
        while not self.stopping.is_set():
            st = self._stat()
            if st and st.st_ino != self.inode:
                self.inode = st.st_ino
                try:
                    with open(self.file) as f:
                        m = re.search(r"generation (\d+)", f.readline())
                except OSError:
                    m = None
                if m:
                    # The rename set the file's ctime (the kernel's coarse clock, a few ms): a
                    # better time than this thread's, which a busy machine can hold up.
                    at = min(time.monotonic(), self.epoch_to_mono(st.st_ctime_ns / 1e9))
                    self.files.append((at, int(m.group(1))))
            g = self._answer()
            if g is not None and g != last:
                self.answers.append((time.monotonic(), g))
                last = g
            self.polls += 1
            time.sleep(0.001)

    def renamed(self, generation):
        """When the file of GENERATION was first seen in place, or None."""
        return next((t for t, g in self.files if g == generation), None)

    def answering(self, at):
        """The generation the route URL answered at time AT."""
        before = [g for t, g in self.answers if t <= at]
        return before[-1] if before else self.base

    def live(self, generation):
        """(renamed, answered, collided) for GENERATION. collided: the route URL already
        answered that number, from the previous configuration, when its file was renamed in:
        nothing outside can tell by the number when the new one is live (answered is None)."""
        r = self.renamed(generation)
        if r is None:
            return None, None, False
        if self.answering(r) == generation:
            return r, None, True
        a = next((t for t, g in self.answers if g == generation and t >= r), None)
        return r, a, False


def first_answer_ms(events, version, since):
    """Milliseconds from SINCE to the first answer from VERSION that arrived after it."""
    ends = [ended for started, ended, v, code, retried in events if v == version and ended >= since]
    return 1000 * (min(ends) - since) if ends else None


def last_start_ms(events, version, since):
    """Milliseconds from SINCE to the start of the last request VERSION answered."""
    starts = [started for started, ended, v, code, retried in events if v == version]
    return 1000 * (max(starts) - since) if starts else None


# ---- one repetition ---------------------------------------------------------------------------

def make_rep_class():
    class RepEnv(run_e2e.Env):
        """run_e2e.Env in the bench's own temporary folder, not registered for the suite's
        clean-up: the bench removes it after the repetition."""

        def __init__(self, root, name):
            self.dir = tempfile.mkdtemp(prefix=name + "-", dir=root)
            self.state = os.path.join(self.dir, "state")
            self.binary = run_e2e.SLUICE
    return RepEnv


def log_lines(e, run):
    return rollouts.task_log(e, run).splitlines()


def epoch_of(stamp):
    """Seconds since the epoch of a log line's "2026-12-07T07:42:15.906Z"."""
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def live_lines(lines):
    """[{weights, generation, ms, end}] of a deploy log's "live after" lines, in order; end is
    the line's time (epoch s), when the rollout saw the generation live."""
    out = []
    for line in lines:
        m = LIVE_RE.search(line)
        if m:
            out.append({"weights": m.group(1), "generation": int(m.group(2)),
                        "ms": int(m.group(3)), "end": epoch_of(line.split()[0])})
    return out


def outside(obs, step):
    """What the observer saw of one logged step: rename -> answered, or the collision."""
    r, a, collided = obs.live(step["generation"])
    step["collided"] = collided
    step["outside_ms"] = None if r is None or a is None else 1000 * (a - r)
    step["renamed"] = r
    return step


def run_deploy(e, model_path, version):
    p = e.sluice("run", "p.yaml", "-p", f"model={model_path}", "-p", f"version={version}",
                 timeout=120)
    run = p.stdout.split()[0] if p.stdout.split() else ""
    return p, run


def rollout_status(e, run):
    return json.loads(e.sluice("rollout", "status", run, "deploy", "-o", "json", check=0).stdout)


def steady_load(rate):
    """The e2e cases' steady load (4 keep-alive clients), recording every answer."""
    return loadgen.LoadGen(rollouts.SE["front_url"], threads=4, rate=rate, duration=120,
                           record=True).start()


def observe():
    return Observer(rollouts.SE["nginx"]["upstream_file"], rollouts.SE["route_url"]).start()


def rep_abort(e, k):
    """A 20 %-error canary at 50 %, aborted by its first analysis under 150 requests/s."""
    rollouts.setup(e, [rollouts.environment("staging"), rollouts.error_rate_template()])
    e.write("p.yaml", rollouts.deploy_pipeline("staging", rollouts.CANARY_ANALYSED))
    rollouts.first_release(e, f"v1-abort{k}")
    stable = rollouts.history(e, "staging")[0]["slot"]
    obs, load = observe(), steady_load(150)
    try:
        bad = rollouts.model(e, "v2.json", f"v2-abort{k}", error_rate=0.2)
        p, run = run_deploy(e, bad, f"v2-abort{k}")
    finally:
        load.stop()
        obs.stop()
    st = rollout_status(e, run)
    failed = [m for m in st.get("measurements", []) if m["phase"] == "Failed"]
    lines = log_lines(e, run)
    back = [BACK_RE.search(x) for x in lines if BACK_RE.search(x)]
    if p.returncode != 1 or len(failed) != 1 or not back:
        raise BenchError(f"abort {k}: not aborted by one Failed measurement (exit {p.returncode},"
                         f" phase {st.get('phase')}, message {st.get('message')!r})")
    if abs(failed[0]["value"][0] - 0.2) > 0.1:
        raise BenchError(f"abort {k}: the Failed measurement read {failed[0]['value']}, not ~0.2")
    live = rollouts.live_split()
    if set(live) != {rollouts.SE["slots"][stable]["address"]}:
        raise BenchError(f"abort {k}: nginx serves {live}, not all on {stable}")
    steps = [outside(obs, s) for s in live_lines(lines)]
    abort = steps[-1]  # the abort's split: the last one the log shows
    if abort["collided"]:
        raise BenchError(f"abort {k}: the abort's generation {abort['generation']} was already "
                         f"live; the figure would not be a wait")
    _, answered, _ = obs.live(abort["generation"])
    breach = obs.epoch_to_mono(failed[0]["finishedUs"] / 1e6) if failed[0].get("finishedUs") else None
    # The clients' view: nginx's old workers take new connections for ~100 ms after SIGHUP, so
    # the canary goes on answering after the route URL first shows the new generation.
    last_bad = last_start_ms(load.events, f"v2-abort{k}", breach) if breach else None
    return {"back_ms": int(back[0].group(2)), "abort_step": abort,
            "measured": failed[0]["value"][0], "poll_ms": obs.poll_ms(),
            "breach_ms": 1000 * (answered - breach) if breach and answered else None,
            "breach_last_bad_ms": last_bad,
            "rename_last_bad_ms": last_start_ms(load.events, f"v2-abort{k}", abort["renamed"]),
            "steps": steps}


def rep_weights(e, k):
    """A good canary (25 %, pause 1 s, 50 %, pause 1 s, 100 %) under 150 requests/s."""
    rollouts.setup(e, [rollouts.environment("staging")])
    e.write("p.yaml", rollouts.deploy_pipeline("staging", rollouts.CANARY_PLAIN))
    rollouts.first_release(e, f"v1-weights{k}")
    obs, load = observe(), steady_load(150)
    try:
        good = rollouts.model(e, "v2.json", f"v2-weights{k}")
        p, run = run_deploy(e, good, f"v2-weights{k}")
    finally:
        summary = load.stop()
        obs.stop()
    steps = [outside(obs, s) for s in live_lines(log_lines(e, run))]
    if p.returncode != 0 or len(steps) != 3:
        raise BenchError(f"weights {k}: exit {p.returncode}, {len(steps)} weight changes "
                         f"logged (want 3): {steps}")
    # The candidate had no traffic before its first step: its first answer after that file
    # is in place shows from outside when the step went live, whatever the generation says.
    first = steps[0]
    if first["renamed"] is not None:
        first["first_candidate_ms"] = first_answer_ms(load.events, f"v2-weights{k}",
                                                      first["renamed"])
    return {"steps": steps, "poll_ms": obs.poll_ms(), "load_dropped": summary["dropped"]}


def rep_switch(e, k):
    """One blue/green switch under 4 keep-alive clients at 200 requests/s (the e2e case's load),
    the load running from 0.5 s before the deploy to 0.5 s after it."""
    rollouts.setup(e, [rollouts.environment("staging")])
    e.write("p.yaml", rollouts.deploy_pipeline("staging", rollouts.BLUE_GREEN))
    rollouts.first_release(e, f"v1-switch{k}")
    obs, load = observe(), steady_load(200)
    try:
        time.sleep(0.5)
        v2 = rollouts.model(e, "v2.json", f"v2-switch{k}")
        p, run = run_deploy(e, v2, f"v2-switch{k}")
        time.sleep(0.5)
    finally:
        s = load.stop()
        obs.stop()
    steps = [outside(obs, x) for x in live_lines(log_lines(e, run))]
    if p.returncode != 0 or not steps:
        raise BenchError(f"switch {k}: exit {p.returncode}: {p.stderr.strip()[-200:]}")
    if not (s["by_version"].get(f"v1-switch{k}") and s["by_version"].get(f"v2-switch{k}")):
        raise BenchError(f"switch {k}: both versions should answer under load: {s}")
    step = steps[-1]
    r = step["renamed"]
    return {"sent": s["sent"], "dropped": s["dropped"], "retries": s["retries"],
            "not_200": s["sent"] - s["dropped"] - s["ok"], "errors": s["errors"],
            "step": step,
            "first_new_ms": first_answer_ms(load.events, f"v2-switch{k}", r) if r else None,
            "last_old_ms": last_start_ms(load.events, f"v1-switch{k}", r) if r else None}


REPS = {"abort": rep_abort, "weights": rep_weights, "switch": rep_switch}


# ---- clean-up between repetitions -------------------------------------------------------------

def pids_under(folder):
    """Processes whose command line names FOLDER: a repetition's sluice, its engine and its
    rollout processes (the model servers' command lines name the stack's folder, not this)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if folder in cmd:
            out.append(int(pid))
    return out


def end_rep(e, stack):
    """Leaves nothing of a repetition: its processes killed, both slots stopped, nginx back on
    generation 0 (blue, 100 %), its folder removed. The next one starts as the first did."""
    for pid in pids_under(e.dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for slot in stacklib.SLOTS:
        stack.stop_slot(slot)
    try:
        stack.route({"blue": 100}, 0)
    except stacklib.StackError as ex:
        print(f"rollout-bench: could not reset nginx: {ex}", file=sys.stderr)
    shutil.rmtree(e.dir, ignore_errors=True)


# ---- figures ----------------------------------------------------------------------------------

def stats(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"n": len(v), "median": statistics.median(v), "min": min(v), "max": max(v)}


def per10k(part, whole):
    return 10000 * part / whole if whole else None


def figures(results):
    """Rows of the table: (what, stats, unit, source). A row whose text starts with two
    spaces qualifies the row above it."""
    rows = []
    ab, we, sw = results["abort"], results["weights"], results["switch"]
    if ab:
        rows += [
            ("threshold breach → 100 % stable (rollout log)", stats([r["back_ms"] for r in ab]),
             "ms", "`all traffic back on SLOT N ms after the decision`"),
            ("  outside: Failed measurement finished → stable-only generation answered",
             stats([r["breach_ms"] for r in ab]), "ms", "store `finishedUs`, observer"),
            ("  outside: the abort's file renamed in → its generation answered",
             stats([r["abort_step"]["outside_ms"] for r in ab]), "ms", "observer"),
            ("  clients: Failed measurement finished → start of the last request the canary "
             "answered", stats([r["breach_last_bad_ms"] for r in ab]), "ms",
             "store `finishedUs`, load generator"),
            ("  clients: the abort's file renamed in → start of the last request the canary "
             "answered", stats([r["rename_last_bad_ms"] for r in ab]), "ms",
             "observer, load generator"),
        ]
    if we:
        steps = [s for r in we for s in r["steps"]]
        new = [s for s in steps if not s["collided"]]
        old = [s for s in steps if s["collided"]]
        rows += [
            ("weight decision → weights live (rollout log, every step: 25, 50, 100 %)",
             stats([s["ms"] for s in steps]), "ms", "`weights … (generation G) live after N ms`"),
            ("  the steps whose generation was new at the route URL",
             stats([s["ms"] for s in new]), "ms", "rollout log"),
            ("  outside, those steps: file renamed in → generation answered",
             stats([s["outside_ms"] for s in new]), "ms", "observer"),
            ("  the steps whose generation number was already live (see note)",
             stats([s["ms"] for s in old]), "ms", "rollout log"),
            ("  clients, the first step: file renamed in → first answer from the candidate",
             stats([r["steps"][0].get("first_candidate_ms") for r in we]), "ms",
             "observer, load generator"),
        ]
    if sw:
        sent = sum(r["sent"] for r in sw)
        dropped, retries = sum(r["dropped"] for r in sw), sum(r["retries"] for r in sw)
        rows += [
            ("blue/green switch under load: requests dropped",
             stats([per10k(r["dropped"], r["sent"]) for r in sw]), "",
             f"load generator; pooled {dropped} of {sent:,}"),
            ("  retried once (a reused connection closed before any byte came back)",
             stats([per10k(r["retries"], r["sent"]) for r in sw]), "",
             f"pooled {retries} of {sent:,}; {min(r['retries'] for r in sw)}–"
             f"{max(r['retries'] for r in sw)} per switch"),
            ("  answers other than 200", stats([per10k(r["not_200"], r["sent"]) for r in sw]),
             "", f"pooled {sum(r['not_200'] for r in sw)}"),
            ("  the switch's weights live (rollout log)",
             stats([r["step"]["ms"] for r in sw]), "ms",
             f"generation already live in {sum(r['step']['collided'] for r in sw)} of {len(sw)}"),
            ("  clients: file renamed in → first answer from the new colour",
             stats([r["first_new_ms"] for r in sw]), "ms", "observer, load generator"),
            ("  clients: file renamed in → start of the last request the old colour answered",
             stats([r["last_old_ms"] for r in sw]), "ms", "observer, load generator"),
        ]
    return rows


def fmt(x, unit):
    if x is None:
        return "–"
    if unit == "ms":
        return f"{x:.0f}"
    return f"{x:.1f}" if x else "0"


def table(rows):
    out = ["| what | samples | median | min | max | unit | source |",
           "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for what, s, unit, how in rows:
        sub = what.startswith("  ")
        what = ("↳ " if sub else "") + what.strip()
        unit = unit or "per 10,000"
        if s is None:
            out.append(f"| {what} | 0 | – | – | – | {unit} | {how} |")
            continue
        med = fmt(s["median"], unit)
        out.append(f"| {what} | {s['n']} | {med if sub else '**' + med + '**'} | "
                   f"{fmt(s['min'], unit)} | {fmt(s['max'], unit)} | {unit} | {how} |")
    return "\n".join(out)


def versions():
    def version(argv, pattern):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        m = re.search(pattern, p.stdout + p.stderr)
        return m.group(1) if m else "?"
    nginx = stacklib.find_binary("nginx", ["/usr/sbin", "/sbin"]) or "nginx"
    return ("nginx " + version([nginx, "-v"], r"nginx/(\S+)"),
            version(["prometheus", "--version"], r"version (\S+)"))


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), shared with other engineers' builds and tests"


def collisions(results):
    """(steps logged with a generation the route URL already answered, steps logged)."""
    steps = [x for r in results["abort"] + results["weights"] for x in r["steps"]]
    steps += [r["step"] for r in results["switch"]]
    return sum(x["collided"] for x in steps), len(steps)


def section(args, rows, meta, results):
    collided, logged = collisions(results)
    only = f" --only {args.only}" if args.only else ""
    note = ""
    if collided:
        note = f"""
**{collided} of {logged} logged weight changes did not wait for nginx.** Each rollout
numbers its splits from 1 (`DeployState::generation` starts at 0 for every deploy), and the nginx
router's check of the route URL waits for that number. When the previous rollout also ended on
that number (a first release ends on generation 1; the next rollout's first split is generation
1 again), the route URL already answers it from the old configuration, so the first poll
succeeds: the log's `live after N ms` is the write and `nginx -t` only. That is every
blue/green switch after a first release and every canary's first step here. The observer saw
the route URL answer that number before the file was renamed in; the clients saw the new split
only ~100 ms later (the "clients" rows). Those steps are shown apart and left out of the rows
that compare the log with the observer.
"""
    return f"""{HEADING}

- When: {meta['date']}, {meta['minutes']:.1f} min in all.
- Machine: {machine()};
  load average {meta['load_before']} before, {meta['load_after']} after.
- Stack: {meta['nginx']} and Prometheus {meta['prometheus']} from Debian, the project's model
  servers (2 ms model), all on loopback, started once by `tests/rollouts/stack.py`.
- Command: `python3 bench/rollout_bench.py {args.binary_arg} --n {args.n}{only} --write`
  ({meta['note']}).

{table(rows)}

**Reading the figures.** The rollout's "live" is the first time its poll of the route URL
(every 10 ms, a fresh connection) is answered by a new nginx worker. nginx starts the new
workers at SIGHUP but lets the old ones go on accepting connections for 100 ms more (its master
sleeps 100 ms before telling them to quit), so that first answer comes anywhere between the
new workers' start and the old ones' end, depending on which worker takes the poll's
connection; the observer, polling every ~2 ms, sees a like spread. The clients see the whole
new split only when the old workers stop: the "clients" rows, steady at about 100 ms plus
`nginx -t`.
{note}
How each figure is measured:

- **Threshold breach → 100 % stable.** The e2e case's canary (`setWeight: 50`, then an analysis
  on Prometheus: the candidate's share of 500s over `[10s]`, `initialDelay: 3s`, success
  `< 0.05`) with a model whose error rate is 0.2, under 4 keep-alive clients at 150 requests/s.
  A repetition counts only if it aborts on one Failed measurement reading 0.2 ± 0.1 and leaves
  nginx serving the stable slot alone. The figure is the rollout's log line: from the abort
  decision to the stable-only generation answered at the route URL (write, rename, `nginx -t`,
  SIGHUP, then Sluice's poll of the route URL every 10 ms).
- **Weight decision → weights live.** The e2e case's good canary (25 %, pause 1 s, 50 %, pause
  1 s, then 100 %) under the same load: the three `live after N ms` lines of each log.
- **"outside" rows: the observer,** a thread of the bench that polls the upstream file's inode
  and the route URL (a fresh connection each time), once every {meta['poll_ms']:.1f} ms on
  average. It times each generation from its file being renamed in (the file's ctime, which
  the rename sets, on the kernel's coarse clock; Sluice renames before `nginx -t`) to the
  route URL's first answer of it. For the abort it also times from the Failed measurement's
  `finishedUs` in the store, which adds the rollout's own time from the measurement to the
  decision.
- **"clients" rows: the load generator's answers** (by version, with start and end times). A
  route URL answer of the new generation means one new nginx worker is up; nginx then keeps
  its old workers taking connections for about 100 ms more (it waits before retiring them), so
  the old split still answers requests that start after the route URL shows the new
  generation. The time to the start of the last request the old version answered is the
  clients' "100 %" (within one request interval: 13 ms for the canary at 50 % of 150/s).
- **Dropped per 10,000.** One blue/green switch per repetition (`autoPromotionEnabled: true`,
  `scaleDownDelay: 1s`) under 4 keep-alive clients at 200 requests/s, from 0.5 s before the
  deploy to 0.5 s after it ({meta['switch_requests']} requests per switch). The load generator
  (`tests/rollouts/loadgen.py`) counts a request as dropped when it gets no answer; it retries
  once, on a fresh connection, only a reused connection that failed before any byte came back
  (an idle keep-alive connection closed by a retiring nginx worker), and counts those retries.
  The median is of the per-switch ratios; "pooled" sums all switches.
- Each repetition has a fresh state folder (removed after), starts with nginx on generation 0
  and both slots stopped, and first releases v1 (not timed); the three kinds take turns, round
  by round, so a machine that drifts weighs on all of them alike.
"""


def write_results(text):
    """Replaces HEADING's section of bench/RESULTS.md (up to the next "## " heading), or appends
    it when there is none."""
    old = open(RESULTS).read()
    start = old.find("\n" + HEADING + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + 1)
        new = old[:start + 1] + text + (old[nxt:] if nxt >= 0 else "")
    with open(RESULTS, "w") as f:
        f.write(new)


# ---- main -------------------------------------------------------------------------------------

def parse(argv):
    p = argparse.ArgumentParser(prog="rollout_bench.py", description=__doc__.split("\n")[0])
    p.add_argument("binary", help="the sluice binary (build/sluice)")
    p.add_argument("--n", type=int, default=7, help="repetitions of each kind (default 7)")
    p.add_argument("--only", default="", help="comma-separated kinds: abort,weights,switch")
    p.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    p.add_argument("--note", default="", help="a note for the section (e.g. why N is lower)")
    p.add_argument("--json", help="also write every repetition's figures to this file")
    a = p.parse_args(argv)
    a.kinds = [k for k in KINDS if not a.only or k in a.only.split(",")]
    bad = set(filter(None, a.only.split(","))) - set(KINDS)
    if bad or a.n < 1:
        p.error(f"unknown kind {sorted(bad)}" if bad else "--n must be at least 1")
    a.binary_arg = a.binary
    a.binary = os.path.abspath(a.binary)
    if not os.access(a.binary, os.X_OK):
        p.error(f"{a.binary_arg}: not an executable")
    return a


def load_average():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def brief(kind, r):
    """One line of a repetition's figures, as it ends."""
    def ms(x):
        return "–" if x is None else f"{x:.0f}"

    def steps(xs):
        return ", ".join(f"gen {x['generation']} {x['ms']} ms"
                         + (" (already live)" if x["collided"] else f" / {ms(x['outside_ms'])}")
                         for x in xs)
    if kind == "abort":
        return (f"back {r['back_ms']} ms; outside {ms(r['breach_ms'])} ms from the breach, "
                f"last canary answer {ms(r['breach_last_bad_ms'])} ms; read {r['measured']:.3f}; "
                f"log / observer: {steps(r['steps'])}")
    if kind == "weights":
        return (f"log / observer: {steps(r['steps'])}; first candidate answer "
                f"{ms(r['steps'][0].get('first_candidate_ms'))} ms after the first rename")
    return (f"{r['sent']} sent, {r['dropped']} dropped, {r['retries']} retried, "
            f"{r['not_200']} not 200; log {steps([r['step']])}; new colour first "
            f"{ms(r['first_new_ms'])} ms, old colour last {ms(r['last_old_ms'])} ms")


def run_all(args, stack, root):
    RepEnv = make_rep_class()
    results = {k: [] for k in KINDS}
    failures = []
    for i in range(args.n):
        for kind in args.kinds:
            e = RepEnv(root, f"{kind}{i}")
            t = time.monotonic()
            try:
                r = REPS[kind](e, i)
                results[kind].append(r)
                print(f"rollout-bench: {kind} {i + 1}/{args.n} ({time.monotonic() - t:.1f} s): "
                      f"{brief(kind, r)}", flush=True)
            except (BenchError, AssertionError, subprocess.TimeoutExpired) as ex:
                failures.append(f"{kind} {i + 1}: {ex}")
                print(f"rollout-bench: {kind} {i + 1}/{args.n} FAILED: {ex}", flush=True)
            finally:
                end_rep(e, stack)
    return results, failures


def main(argv):
    args = parse(argv)
    load_helpers(args.binary)  # also makes SIGINT raise KeyboardInterrupt (run_e2e)
    root = tempfile.mkdtemp(prefix="sluice-rollout-bench-")
    stack = stacklib.Stack()
    started, load_before = time.monotonic(), load_average()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        stack.up()
        rollouts.STACK, rollouts.SE = stack, stack.env()
        # Both targets known to Prometheus (up or down) before the first analysis: a target is
        # discovered about 5 s after Prometheus starts.
        stacklib.wait_for("Prometheus to know both slots",
                          lambda: stack.scalar('count(up{job="model"})') == 2, 30, step=0.2)
        results, failures = run_all(args, stack, root)
    except KeyboardInterrupt:
        print("rollout-bench: interrupted; stopping the stack", file=sys.stderr)
        return 130
    except stacklib.StackError as ex:
        print(f"rollout-bench: {ex}", file=sys.stderr)
        return 1
    finally:
        for pid in pids_under(root):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        problems = stack.down()
        shutil.rmtree(root, ignore_errors=True)
        for p in problems:
            print(f"rollout-bench: teardown: {p}", file=sys.stderr)
    rows = figures(results)
    print()
    print(table(rows))
    for f in failures:
        print(f"failed repetition: {f}")
    polls = [r["poll_ms"] for k in ("abort", "weights") for r in results[k]]
    sw = results["switch"]
    nginx, prom = versions()
    meta = {"date": date, "minutes": (time.monotonic() - started) / 60,
            "load_before": load_before, "load_after": load_average(), "nginx": nginx,
            "prometheus": prom, "poll_ms": statistics.median(polls) if polls else 0.0,
            "switch_requests": (f"{min(r['sent'] for r in sw)}–{max(r['sent'] for r in sw)}"
                                if sw else "–"),
            "note": "; ".join(filter(None, [args.note, f"N = {args.n} of each kind",
                                            f"{len(failures)} repetitions failed"
                                            if failures else ""]))}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "failures": failures, "meta": meta}, f, indent=1)
    if args.write:
        write_results(section(args, rows, meta, results))
        print(f"rollout-bench: wrote the section {HEADING!r} of {RESULTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
