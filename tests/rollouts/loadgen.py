#!/usr/bin/env python3
"""A bounded load generator on loopback for the rollout tests (issue 14).

Command:  loadgen.py URL [--threads N] [--rate R] (--duration S | --count N) [--path /predict]
Library:  g = LoadGen(url, threads=4, rate=150, duration=60).start(); ...; g.stop(); g.summary()

N client threads each keep one HTTP/1.1 keep-alive connection (http.client) and POST PATH with a
small JSON body, at most R requests per second in all, until the duration or the count is
reached or stop() is called. Every answer is counted by the "version" field of its JSON body
("?" when there is none, e.g. nginx's own 502 page) and by status code.

Retry rule: a request is retried ONCE, on a fresh connection, only when a REUSED connection
failed before any byte of the response arrived (EPIPE, ECONNRESET, or the peer closing with
nothing read). That is an idle keep-alive connection closed by a worker that nginx retired at a
reload: the server never saw the request, so sending it again is safe. Such retries are counted.
Anything else that gets no response (a failure on a fresh connection, a timeout, a reset after
part of the answer, a failed retry) is counted as dropped.

Summary (JSON): sent, ok, by_version, by_code, retries, dropped, errors (dropped, by exception),
p50_ms, p99_ms, elapsed_s. sent == sum(by_code) + dropped.
"""
import argparse, http.client, io, json, sys, threading, time
from urllib.parse import urlsplit

# The failures that can mean "an idle keep-alive connection was closed under us".
# http.client.RemoteDisconnected is a ConnectionResetError.
STALE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _CountingRaw(io.RawIOBase):
    """The socket's receive side, counting the bytes that arrive for the current request."""

    def __init__(self, sock, conn):
        self._sock, self._conn = sock, conn

    def readable(self):
        return True

    def readinto(self, b):
        n = self._sock.recv_into(b)
        self._conn.received += n
        return n


class _CountingSock:
    """The connection's socket; the response reads through _CountingRaw."""

    def __init__(self, sock, conn):
        self._sock, self._conn = sock, conn

    def makefile(self, mode="rb", *args, **kwargs):
        return io.BufferedReader(_CountingRaw(self._sock, self._conn))

    def __getattr__(self, name):
        return getattr(self._sock, name)


class Connection(http.client.HTTPConnection):
    """An HTTPConnection that knows how many bytes arrived for the request in flight
    (received) and how many answers its current socket has carried (answered)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = 0
        self.answered = 0

    def connect(self):
        super().connect()
        self.sock = _CountingSock(self.sock, self)
        self.answered = 0

    def reused(self):
        return self.sock is not None and self.answered > 0


def _percentile(sorted_values, q):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


class LoadGen:
    """Runs the load on its own threads. start() returns at once; stop() waits for the
    requests in flight. summary() may be called at any time. Thread-safe."""

    def __init__(self, url, threads=4, rate=None, duration=None, count=None, path="/predict",
                 body=b'{"features": [1.0, 2.0, 3.0]}', timeout=5.0, record=False):
        u = urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.path = path
        self.body = body
        self.threads, self.rate = threads, rate
        self.duration, self.count = duration, count
        self.timeout = timeout
        self.record = record
        self.events = []  # (started, ended, version, code, retried), monotonic s, if record
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.workers = []
        self.issued = 0
        self.sent = self.retries = self.dropped = 0
        self.by_version, self.by_code, self.errors = {}, {}, {}
        self.latencies = []
        self.t0 = self.t_end = None

    def start(self):
        self.t0 = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, name=f"loadgen-{i}", daemon=True)
            t.start()
            self.workers.append(t)
        return self

    def stop(self):
        self.stopping.set()
        self.wait()
        return self.summary()

    def wait(self, timeout=None):
        for t in self.workers:
            t.join(timeout)
        if self.t_end is None:
            self.t_end = time.monotonic()
        return self

    def _ticket(self):
        """The time the next request may start, or None when a bound is reached."""
        with self.lock:
            i = self.issued
            if self.count is not None and i >= self.count:
                return None
            self.issued += 1
        at = self.t0 + (i / self.rate if self.rate else 0)
        if self.duration is not None and at > self.t0 + self.duration:
            return None
        return at

    def _run(self):
        conn = None
        while not self.stopping.is_set():
            at = self._ticket()
            if at is None or (self.duration is not None
                              and time.monotonic() > self.t0 + self.duration):
                break
            if self.stopping.wait(max(0.0, at - time.monotonic())):
                break
            conn = self._one(conn)
        if conn is not None:
            conn.close()

    def _new(self):
        return Connection(self.host, self.port, timeout=self.timeout)

    def _exchange(self, conn):
        conn.received = 0
        conn.request("POST", self.path, body=self.body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        conn.answered += 1
        try:
            version = str(json.loads(data).get("version", "?"))
        except (ValueError, AttributeError):
            version = "?"
        return r.status, version

    def _one(self, conn):
        """Sends one request; returns the connection for the next one (None: open a fresh)."""
        started = time.monotonic()
        retried = False
        conn = conn or self._new()
        reused = conn.reused()  # before the exchange: a failed getresponse() closes the socket
        try:
            try:
                code, version = self._exchange(conn)
            except STALE:
                if not (reused and conn.received == 0):
                    raise
                conn.close()  # the server never saw it: once more on a fresh connection
                conn, retried = self._new(), True
                code, version = self._exchange(conn)
        except Exception as e:  # noqa: BLE001  every failure is counted, none is fatal
            conn.close()
            self._count(started, None, None, retried, type(e).__name__)
            return None
        self._count(started, code, version, retried, None)
        return conn

    def _count(self, started, code, version, retried, error):
        ended = time.monotonic()
        with self.lock:
            self.sent += 1
            self.retries += retried
            if error:
                self.dropped += 1
                self.errors[error] = self.errors.get(error, 0) + 1
            else:
                self.by_code[str(code)] = self.by_code.get(str(code), 0) + 1
                self.by_version[version] = self.by_version.get(version, 0) + 1
                self.latencies.append(ended - started)
            if self.record:
                self.events.append((started, ended, version, code, retried))

    def summary(self):
        with self.lock:
            lat = sorted(self.latencies)
            end = self.t_end or time.monotonic()
            p50, p99 = _percentile(lat, 0.50), _percentile(lat, 0.99)
            return {
                "sent": self.sent, "ok": self.by_code.get("200", 0),
                "by_version": dict(sorted(self.by_version.items())),
                "by_code": dict(sorted(self.by_code.items())),
                "retries": self.retries, "dropped": self.dropped,
                "errors": dict(sorted(self.errors.items())),
                "p50_ms": None if p50 is None else round(p50 * 1000, 2),
                "p99_ms": None if p99 is None else round(p99 * 1000, 2),
                "elapsed_s": round(end - self.t0, 3) if self.t0 else 0.0,
            }


def main(argv):
    p = argparse.ArgumentParser(prog="loadgen.py", description=__doc__.split("\n")[0])
    p.add_argument("url", help="http://127.0.0.1:PORT")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--rate", type=float, help="requests per second in all (default: no bound)")
    p.add_argument("--duration", type=float, help="seconds")
    p.add_argument("--count", type=int, help="requests in all")
    p.add_argument("--path", default="/predict")
    p.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args(argv)
    if a.duration is None and a.count is None:
        p.error("give --duration or --count: the load is bounded")
    g = LoadGen(a.url, threads=a.threads, rate=a.rate, duration=a.duration, count=a.count,
                path=a.path, timeout=a.timeout).start()
    try:
        g.wait()
    except KeyboardInterrupt:
        g.stop()
    print(json.dumps(g.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
