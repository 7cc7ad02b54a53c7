#!/usr/bin/env python3
"""Proves the rollout test stack without Sluice (issue 14, docs/rollouts.md, "Testing against a real stack").

Usage: stack_selftest.py [SLUICE]   (SLUICE is accepted like the other suites and not used)

One pass over a real stack: nginx and Prometheus come up; v1 starts on blue and v2 on green
through the slots' start commands; blue/green flips under keep-alive load, written the way Sluice
writes them (candidate file, nginx -t, rename, SIGHUP, generation polled), drop no request and
both versions answer; v2's error rate set to 0.2 at run time shows in Prometheus' error ratio;
down leaves no process and no port behind. Also checks the load generator's retry rule against
a socket server that closes idle connections. Prints the figures it measures (no assertion
depends on them), one line per failure, and ends with "stack-selftest: N passed, M failed".
"""
import json, os, socket, statistics, subprocess, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen  # noqa: E402
import stack  # noqa: E402
from model_server import alive, cmdline  # noqa: E402

passed, failed = [], []


def check(name, ok, detail=""):
    (passed if ok else failed).append(name)
    if not ok:
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def figure(name, value):
    print(f"figure {name}: {value}", flush=True)


def ms(seconds):
    return round(seconds * 1000, 1)


def spread(values):
    """"median M ms, max X ms" of seconds."""
    if not values:
        return "none"
    return f"median {ms(statistics.median(values))} ms, max {ms(max(values))} ms (n={len(values)})"


# ---- the load generator's retry rule, against a server that misbehaves on purpose ----------

def _tiny_server(behaviour):
    """A loopback server: answers each connection's first request with a keep-alive 200, then
    on the second request either closes at once ("close-idle": what a retired nginx worker does
    to an idle connection) or sends half a status line and closes ("close-partial")."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    body = b'{"version": "tiny"}'
    ok = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          + str(len(body)).encode() + b"\r\n\r\n" + body)

    def read_request(c):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                return False
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        n = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:")), 0)
        while len(rest) < n:
            rest += c.recv(4096)
        return True

    def conn(c):
        with c:
            if not read_request(c):
                return
            c.sendall(ok)
            if not read_request(c):
                return
            if behaviour == "close-partial":
                c.sendall(b"HTTP/1.1 2")
                time.sleep(0.05)  # the bytes reach the client before the reset does
            # SO_LINGER 0: a reset, as a worker's close of a connection with unread data gives
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")

    def accept():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=conn, args=(c,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    return ls


def test_retry_rule():
    for behaviour, want_retries, want_dropped in (("close-idle", 1, 0), ("close-partial", 0, 1)):
        ls = _tiny_server(behaviour)
        try:
            g = loadgen.LoadGen(f"http://127.0.0.1:{ls.getsockname()[1]}", threads=1, count=2,
                                timeout=2)
            s = g.start().wait().summary()
        finally:
            ls.close()
        check(f"loadgen_{behaviour}_gives_{want_retries}_retry_{want_dropped}_dropped",
              s["retries"] == want_retries and s["dropped"] == want_dropped
              and s["sent"] == 2 and s["sent"] == sum(s["by_code"].values()) + s["dropped"], s)


def test_missing_binaries(tmp):
    d = os.path.join(tmp, "no-binaries")
    r = subprocess.run([sys.executable, stack.__file__, "up", d], capture_output=True,
                       text=True, env={"PATH": "/nonexistent"}, timeout=30)
    lines = r.stderr.strip().splitlines()
    check("missing_prometheus_fails_with_one_line_naming_the_packages",
          r.returncode == 1 and len(lines) == 1 and "nginx-light prometheus" in lines[0]
          and "prometheus not found" in lines[0], (r.returncode, r.stderr))


# ---- the stack ------------------------------------------------------------------------------

def switch_figures(events, switches, end):
    """Per switch: SIGHUP -> first answer of the new colour, SIGHUP -> start of the last request
    the old colour answered, retries in the switch's interval."""
    first_new, last_old, retries = [], [], []
    for k, sw in enumerate(switches):
        h = sw["hup_at"]
        nxt = switches[k + 1]["hup_at"] if k + 1 < len(switches) else end
        mine = [e for e in events if h <= e[0] < nxt]
        new = [e[1] - h for e in events if e[2] == sw["to"] and h <= e[1] < nxt]
        old = [e[0] - h for e in mine if e[2] == sw["from"]]
        if new:
            first_new.append(min(new))
        if old:
            last_old.append(max(old))
        retries.append(sum(1 for e in mine if e[4]))
    return first_new, last_old, retries


def test_flips(s, versions):
    colour_of = {"blue": versions["blue"], "green": versions["green"]}
    g = loadgen.LoadGen(s.env()["front_url"], threads=4, rate=200, duration=120,
                        record=True).start()
    switches, gen, at = [], 0, "blue"
    try:
        time.sleep(0.5)
        for _ in range(6):
            to = "green" if at == "blue" else "blue"
            gen += 1
            r = s.route({to: 100, at: 0}, gen)
            r.update({"from": colour_of[at], "to": colour_of[to]})
            switches.append(r)
            at = to
            time.sleep(0.7)
    finally:
        summary = g.stop()
    end = time.monotonic()
    print(json.dumps({"flip_load": summary}), flush=True)
    check("six_generations_went_live", s.generation() == 6, s.generation())
    check("flips_drop_no_request", summary["dropped"] == 0 and summary["sent"] > 0, summary)
    check("flips_answer_only_200", set(summary["by_code"]) == {"200"}, summary["by_code"])
    check("both_versions_answered", summary["by_version"].get("v1", 0) > 0
          and summary["by_version"].get("v2", 0) > 0, summary["by_version"])
    first_new, last_old, retries = switch_figures(g.events, switches, end)
    figure("nginx -t of a candidate", spread([x["check_s"] for x in switches]))
    figure("SIGHUP -> generation live (polled)", spread([x["live_s"] for x in switches]))
    figure("SIGHUP -> first answer of the new colour", spread(first_new))
    figure("SIGHUP -> start of the last request the old colour answered", spread(last_old))
    figure("retries per switch", f"{retries} ({summary['retries']} in "
           f"{summary['sent']} requests, {summary['dropped']} dropped)")
    figure("load p50/p99 through nginx", f"{summary['p50_ms']} / {summary['p99_ms']} ms")


def test_bad_candidate(s):
    n = s.env()["nginx"]
    before = s.generation()
    with open(n["candidate_file"], "w") as f:
        f.write(stack.upstream_conf({s.env()["slots"]["blue"]["address"]: 100}, 99)
                .replace("weight=100", "weight=0"))
    r = subprocess.run(n["test_candidate"], capture_output=True, text=True)
    os.unlink(n["candidate_file"])
    check("nginx_t_rejects_a_candidate_with_weight_0",
          r.returncode != 0 and "weight" in r.stderr and s.generation() == before,
          (r.returncode, r.stderr))


def test_error_ratio(s):
    g = loadgen.LoadGen(s.env()["front_url"], threads=4, rate=150, duration=60).start()
    ratio_q = ('sum(rate(requests_total{version="v2",code=~"5.."}[10s])) / '
               'sum(rate(requests_total{version="v2"}[10s]))')
    try:
        s.route({"blue": 50, "green": 50}, 7)
        # Pre-created code="500" series: v1's 5xx rate is 0, not an empty vector.
        v1_5xx = s.query('sum(rate(requests_total{version="v1",code="500"}[10s]))')
        check("v1_5xx_rate_is_0_not_empty", v1_5xx["data"]["result"]
              and float(v1_5xx["data"]["result"][0]["value"][1]) == 0.0, v1_5xx)
        changed = time.monotonic()
        s.set_model("green", errorRate=0.2)
        seen, first_nonzero, took = None, None, []
        end = changed + 30
        while time.monotonic() < end:
            t = time.monotonic()
            seen = s.scalar(ratio_q)
            took.append(time.monotonic() - t)
            if seen and first_nonzero is None:
                first_nonzero = time.monotonic() - changed
            if seen is not None and abs(seen - 0.2) <= 0.03:
                break
            time.sleep(0.25)
        settled = time.monotonic() - changed
    finally:
        summary = g.stop()
        s.set_model("green", errorRate=0.0)
    print(json.dumps({"error_ratio_load": summary}), flush=True)
    check("v2_error_ratio_reaches_0.2_in_prometheus", seen is not None
          and abs(seen - 0.2) <= 0.03, seen)
    fives, v2 = summary["by_code"].get("500", 0), summary["by_version"].get("v2", 0)
    check("nginx_passes_v2_500s_through_unretried", summary["dropped"] == 0 and v2 > 0
          and abs(fives - 0.2 * v2) <= 0.03 * v2 + 2, summary)
    unknown = s.query('sum(rate(requests_total{version="v9"}[10s]))')["data"]["result"]
    check("unknown_version_is_an_empty_vector", unknown == [], unknown)
    figure("errorRate 0.2 set -> first non-zero ratio", "none" if first_nonzero is None
           else f"{round(first_nonzero, 2)} s")
    figure("errorRate 0.2 set -> ratio within 0.2 +- 0.03", f"{round(settled, 2)} s "
           f"(ratio {seen})")
    figure("instant query latency", spread(took))


def main(argv):
    began = time.monotonic()
    tmp = stack.tempfile.mkdtemp(prefix="sluice-stack-selftest-")
    test_retry_rule()
    test_missing_binaries(tmp)
    s = stack.Stack()
    pids, ports = {}, []
    try:
        t = time.monotonic()
        s.up()
        e = s.env()
        figure("up (nginx generation 0 and Prometheus /-/ready)", f"{ms(time.monotonic() - t)} ms"
               f" (nginx {ms(e['nginx_ready_s'])} ms, prometheus {ms(e['prometheus_ready_s'])} ms)")
        check("nginx_answers_generation_0", s.generation() == 0, s.generation())
        versions = {"blue": "v1", "green": "v2"}
        for slot, v in versions.items():
            path = os.path.join(tmp, f"{v}.json")
            with open(path, "w") as f:
                json.dump({"version": v, "errorRate": 0, "latencyMs": 10}, f)
            s.start_slot(slot, path)
            h = subprocess.run(e["slots"][slot]["health"], capture_output=True, text=True)
            check(f"{slot}_slot_started_by_its_argv_passes_its_health_argv", h.returncode == 0,
                  h.stderr)
        waited = s.wait_targets_up(2)
        figure("Prometheus start -> both targets up", f"{round(time.monotonic() - t, 2)} s "
               f"(waited {round(waited, 2)} s after up)")
        test_bad_candidate(s)
        test_flips(s, versions)
        test_error_ratio(s)
        for slot in versions:
            pids[slot] = stack.read_pid(e["slots"][slot]["pidfile"])
        pids.update(e["pids"])
        ports = [e[k] for k in ("front_port", "prometheus_port", "blue_port", "green_port")]
        s.stop_slot("green")
        check("stop_command_stops_the_green_slot", not alive(pids["green"]), pids["green"])
    finally:
        t = time.monotonic()
        problems = s.down()
        figure("down", f"{ms(time.monotonic() - t)} ms")
    check("down_reports_no_problem", problems == [], problems)
    left = [p for p in pids.values() if p and alive(p)]
    check("down_leaves_no_process", not left, [(p, cmdline(p)) for p in left])
    strays = []
    for p in os.listdir("/proc"):
        if p.isdigit() and s.dir in cmdline(int(p)) and alive(int(p)):
            strays.append(cmdline(int(p)))
    check("no_process_mentions_the_stack_folder", not strays, strays)
    check("down_frees_the_ports", ports and all(stack._port_free(p) for p in ports), ports)
    check("down_removes_the_temporary_folder", not os.path.exists(s.dir), s.dir)
    stack.shutil.rmtree(tmp, ignore_errors=True)
    figure("selftest wall time", f"{round(time.monotonic() - began, 1)} s")
    print(f"stack-selftest: {len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
