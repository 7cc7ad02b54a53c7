#!/usr/bin/env python3
"""A small model server for the rollout tests (issue 14, docs/rollouts.md, "Testing against a real stack").

Serve:  model_server.py [--port P] [--model FILE] [--version V] [--error-rate R]
                        [--latency-ms MS] [--pidfile F] [--log F] [--daemon]
Stop:   model_server.py stop --pidfile F [--deadline S]   (TERM, KILL after S seconds)
Health: model_server.py health --url URL                  (exit 0 when URL answers 200)

FILE is JSON: {"version": "v2", "errorRate": 0.2, "latencyMs": 5}, or a folder holding such a
model.json. Any other file or folder (a real model artifact, e.g. the ML example's model/ with
model.pkl) is served as version "sha256:" + the first 12 hex digits of its content digest, with no
errors and no added latency. A flag given on the command line wins over the file. Routes:
  POST /predict      {"version": V, "prediction": ...}; every request whose turn falls on the
                     error rate (even spreading: at 0.2 every 5th) answers 500 {"version": V, ...}
  GET  /metrics      Prometheus text: requests_total{version,code} (code 200 and 500 exist at 0
                     from the start, so a 5xx ratio is 0 rather than an empty vector),
                     request_latency_seconds{version} histogram, model_info{version},
                     model_error_rate{version}
  GET  /healthz      200 "ok"
  GET|POST /config   read or change {"errorRate", "latencyMs"} at run time
--daemon detaches (double fork, setsid) and returns only once the socket listens and the pidfile
is written, so a slot's start command that runs it returns when the server answers. Standard
library only.
"""
import argparse, hashlib, json, os, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Model:
    """The served model's behaviour and its counters. Thread-safe: one lock guards all."""

    def __init__(self, version, error_rate, latency_ms):
        self.version = version
        self.lock = threading.Lock()
        self.counts = {"200": 0, "500": 0}
        self.buckets = [0] * len(BUCKETS)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.configure(error_rate, latency_ms)

    def configure(self, error_rate=None, latency_ms=None):
        with self.lock:
            if error_rate is not None:
                if not 0 <= error_rate <= 1:
                    raise ValueError(f"errorRate must be within [0, 1], got {error_rate}")
                self.error_rate = float(error_rate)
                self.turn = 0  # even spreading restarts with the new rate
            if latency_ms is not None:
                if latency_ms < 0:
                    raise ValueError(f"latencyMs must be >= 0, got {latency_ms}")
                self.latency_ms = float(latency_ms)

    def config(self):
        with self.lock:
            return {"version": self.version, "errorRate": self.error_rate,
                    "latencyMs": self.latency_ms}

    def next_fails(self):
        """Whether the next request fails: request n fails when floor(n * rate) steps up, which
        spreads failures evenly and makes the share exact over any multiple of 1/rate."""
        with self.lock:
            self.turn += 1
            eps = 1e-9
            n, r = self.turn, self.error_rate
            return int(n * r + eps) > int((n - 1) * r + eps), self.latency_ms

    def observe(self, code, seconds):
        with self.lock:
            self.counts[code] = self.counts.get(code, 0) + 1
            for i, le in enumerate(BUCKETS):
                if seconds <= le:
                    self.buckets[i] += 1
            self.latency_sum += seconds
            self.latency_count += 1

    def exposition(self):
        v = self.version.replace("\\", "\\\\").replace('"', '\\"')
        with self.lock:
            out = ["# HELP requests_total Predict requests answered, by status code.",
                   "# TYPE requests_total counter"]
            out += [f'requests_total{{version="{v}",code="{c}"}} {n}'
                    for c, n in sorted(self.counts.items())]
            out += ["# HELP request_latency_seconds Time to answer a predict request.",
                    "# TYPE request_latency_seconds histogram"]
            out += [f'request_latency_seconds_bucket{{version="{v}",le="{le}"}} {n}'
                    for le, n in zip(BUCKETS, self.buckets)]
            out += [f'request_latency_seconds_bucket{{version="{v}",le="+Inf"}} '
                    f'{self.latency_count}',
                    f'request_latency_seconds_sum{{version="{v}"}} {self.latency_sum}',
                    f'request_latency_seconds_count{{version="{v}"}} {self.latency_count}',
                    "# HELP model_info The served model version.", "# TYPE model_info gauge",
                    f'model_info{{version="{v}"}} 1',
                    "# HELP model_error_rate The injected error rate.",
                    "# TYPE model_error_rate gauge",
                    f'model_error_rate{{version="{v}"}} {self.error_rate}']
        return "\n".join(out) + "\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: nginx or the load generator reuse connections
    # http.server writes headers and body in two send() calls; with Nagle on, a kept-alive
    # peer's delayed ACK holds the body back about 40 ms (research/canary-stack.md).
    disable_nagle_algorithm = True
    model = None  # set by serve()

    def answer(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, "ok\n", "text/plain")
        elif self.path == "/metrics":
            self.answer(200, self.model.exposition(), "text/plain; version=0.0.4")
        elif self.path == "/config":
            self.answer(200, json.dumps(self.model.config()))
        else:
            self.answer(404, json.dumps({"error": f"no route GET {self.path}"}))

    def do_POST(self):
        raw = self.body()
        if self.path == "/predict":
            self.predict(raw)
        elif self.path == "/config":
            try:
                change = json.loads(raw or b"{}")
                self.model.configure(change.get("errorRate"), change.get("latencyMs"))
            except (ValueError, AttributeError, TypeError) as e:
                self.answer(400, json.dumps({"error": f"bad config: {e}"}))
                return
            self.answer(200, json.dumps(self.model.config()))
        else:
            self.answer(404, json.dumps({"error": f"no route POST {self.path}"}))

    def predict(self, raw):
        started = time.monotonic()
        fails, latency_ms = self.model.next_fails()
        if latency_ms > 0:
            time.sleep(latency_ms / 1000)
        v = self.model.version
        if fails:
            code, body = 500, {"version": v, "error": "injected failure"}
        else:
            code, body = 200, {"version": v, "prediction": len(raw) % 2}
        self.model.observe(str(code), time.monotonic() - started)
        self.answer(code, json.dumps(body))

    def log_message(self, fmt, *args):
        pass  # an access line per request would cost more than the model; errors still log


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a TERM must not wait for kept-alive connections to close
    # nginx opens a connection per proxied request; socketserver's backlog of 5 would overflow
    # in a burst and the kernel would answer with a SYN retry a second later.
    request_queue_size = 128


# ---- process helpers, shared with stack.py -------------------------------------------------

def alive(pid):
    """Whether PID runs. A zombie (state Z) counts as dead: orphans are reparented to a PID 1
    that reaps them late, and kill(pid, 0) succeeds on a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_pid(pid, first=signal.SIGTERM, deadline=10.0, expect=None):
    """Sends FIRST to PID, then KILL after DEADLINE seconds, and waits until it is dead.
    EXPECT, when given, must occur in the process' command line: a pidfile outliving its
    process must not get a recycled PID killed. Returns what happened, one word."""
    if not alive(pid):
        return "gone"
    if expect and expect not in cmdline(pid):
        return "not-ours"
    try:
        os.kill(pid, first)
    except ProcessLookupError:
        return "gone"
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if not alive(pid):
            return "stopped"
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return "stopped"
    end = time.monotonic() + 5
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.02)
    return "killed" if not alive(pid) else "unkillable"


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def write_pidfile(path, pid):
    tmp = f"{path}.tmp{pid}"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")
    os.replace(tmp, path)  # a reader never sees a half-written pid


# ---- serving ------------------------------------------------------------------------------

def digest(path):
    """sha256 over PATH's bytes, or over a folder's relative file names and bytes in order."""
    h = hashlib.sha256()
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, f) for root, _, fs in os.walk(path) for f in fs)
    for f in files:
        h.update(os.path.relpath(f, path).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 16), b""):
                h.update(chunk)
    return h.hexdigest()


def read_spec(path):
    """The model spec of PATH: its JSON (or its model.json), else a version from its digest."""
    if not os.path.exists(path):
        sys.exit(f"model_server: {path}: no such model file or folder")
    spec_file = os.path.join(path, "model.json") if os.path.isdir(path) else path
    try:
        with open(spec_file) as f:
            spec = json.load(f)
        if isinstance(spec, dict) and "version" in spec:
            return spec
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    try:
        return {"version": "sha256:" + digest(path)[:12]}
    except OSError as e:
        sys.exit(f"model_server: {path}: {e.strerror}")


def load_model(args):
    spec = read_spec(args.model) if args.model else {}
    version = args.version if args.version is not None else spec.get("version")
    if not version:
        sys.exit("model_server: no version: give --version or a --model file with \"version\"")
    rate = args.error_rate if args.error_rate is not None else spec.get("errorRate", 0)
    latency = args.latency_ms if args.latency_ms is not None else spec.get("latencyMs", 0)
    try:
        return Model(str(version), float(rate), float(latency))
    except (ValueError, TypeError) as e:
        sys.exit(f"model_server: {args.model or 'flags'}: {e}")


def serve(args, model, ready_fd=None):
    """Binds, writes the pidfile, tells READY_FD (the --daemon parent) and serves until TERM."""
    Handler.model = model
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        msg = f"model_server: cannot listen on 127.0.0.1:{args.port}: {e.strerror}"
        if ready_fd is not None:
            os.write(ready_fd, msg.encode())
        sys.exit(msg)
    if args.pidfile:
        write_pidfile(args.pidfile, os.getpid())
    print(f"model_server: {model.version} on 127.0.0.1:{args.port} pid {os.getpid()} "
          f"errorRate={model.error_rate} latencyMs={model.latency_ms}", flush=True)
    if ready_fd is not None:
        os.write(ready_fd, b"ok")
        os.close(ready_fd)
    # shutdown() waits for serve_forever() to return, so it cannot run in the signal handler,
    # which interrupts serve_forever() on this same thread.
    stop = lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        if args.pidfile and read_pid(args.pidfile) == os.getpid():
            os.unlink(args.pidfile)
        print(f"model_server: pid {os.getpid()} stopped", flush=True)


def daemonize(args, model):
    """Double fork with setsid in between, so the server has no controlling terminal and is not
    the child of whoever ran the start command; the first process exits only once the server
    listens (or with its error)."""
    r, w = os.pipe()
    if os.fork() > 0:  # the command's own process: wait for the word from the grandchild
        os.close(w)
        got = b""
        while chunk := os.read(r, 4096):
            got += chunk
        os.wait()  # the intermediate child, so it does not linger as a zombie
        if got != b"ok":
            sys.exit(got.decode() or "model_server: the daemon died before it listened")
        sys.exit(0)
    os.close(r)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    log = os.open(args.log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.chdir("/")
    serve(args, model, ready_fd=w)


def health(argv):
    """model_server.py health --url URL [--timeout S]: exit 0 when URL answers 200."""
    p = argparse.ArgumentParser(prog="model_server.py health")
    p.add_argument("--url", required=True)
    p.add_argument("--timeout", type=float, default=2.0)
    a = p.parse_args(argv)
    import urllib.error, urllib.request
    try:
        with urllib.request.urlopen(a.url, timeout=a.timeout) as r:
            return 0 if r.status == 200 else 1
    except (urllib.error.URLError, OSError) as e:
        print(f"model_server: {a.url}: {getattr(e, 'reason', e)}", file=sys.stderr)
        return 1


def main(argv):
    if argv[:1] == ["health"]:
        return health(argv[1:])
    if argv[:1] == ["stop"]:
        p = argparse.ArgumentParser(prog="model_server.py stop")
        p.add_argument("--pidfile", required=True)
        p.add_argument("--deadline", type=float, default=10.0)
        a = p.parse_args(argv[1:])
        pid = read_pid(a.pidfile)
        if pid is None:
            print(f"model_server: {a.pidfile}: no pidfile, nothing to stop")
            return 0
        what = stop_pid(pid, deadline=a.deadline, expect="model_server")
        if what == "unkillable":
            print(f"model_server: pid {pid} survived KILL", file=sys.stderr)
            return 1
        # "not-ours": the pid now belongs to another program, so the pidfile is stale.
        if os.path.exists(a.pidfile) and (what == "not-ours" or not alive(pid)):
            os.unlink(a.pidfile)
        print(f"model_server: pid {pid} {what}")
        return 0
    p = argparse.ArgumentParser(prog="model_server.py", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model", help="JSON file: version, errorRate, latencyMs")
    p.add_argument("--version")
    p.add_argument("--error-rate", type=float)
    p.add_argument("--latency-ms", type=float)
    p.add_argument("--pidfile")
    p.add_argument("--log", help="stdout and stderr of the --daemon process")
    p.add_argument("--daemon", action="store_true")
    a = p.parse_args(argv)
    model = load_model(a)
    # The daemon chdirs to "/", so relative paths are made absolute first.
    a.pidfile = a.pidfile and os.path.abspath(a.pidfile)
    a.log = a.log and os.path.abspath(a.log)
    if a.daemon:
        daemonize(a, model)
    else:
        serve(a, model)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
