#!/usr/bin/env python3
"""End-to-end tests of `sluice-net chaos-proxy` (issue 15, docs/chaos-proxy.md), the dependency
fault proxy as a process: its first line is the bound address, control lines on stdin change the
fault of open connections, SIGTERM and SIGINT end it with its counters, and bad command lines
exit 2. The service behind it is an echo server in this process. Timing: lower bounds only.

Usage: chaos_proxy.py SLUICE   (sluice-net is beside SLUICE)
Prints one line per failure and ends with "e2e-chaos-proxy: N passed, M failed".
"""
import json, os, select, signal, socket, subprocess, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402  (its suite runner; its own tests are not run here)

NET = os.path.join(os.path.dirname(run_e2e.SLUICE), "sluice-net")
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Echo:
    """An echo service on a free loopback port, one thread per connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass
        conn.close()

    def close(self):
        self.sock.close()


def start(*flags):
    """The proxy with FLAGS, its stdin and stdout piped; returns (process, host, port)."""
    p = subprocess.Popen([NET, "chaos-proxy", *flags], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_e2e.STARTED.append(p)
    address = p.stdout.readline().strip()
    assert address, p.stderr.read()
    host, port = address.rsplit(":", 1)
    return p, host, int(port)


def control(p, line):
    p.stdin.write(line + "\n")
    p.stdin.flush()
    return p.stdout.readline().strip()


def dial(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def round_trip(s, msg=b"ping"):
    """Seconds for MSG to come back through the echo."""
    t0 = time.monotonic()
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(len(msg) - len(got))
        assert chunk, "the connection ended"
        got += chunk
    assert got == msg, got
    return time.monotonic() - t0


def stop(p, sig=signal.SIGTERM):
    """Signals the proxy; returns its counters (its last stdout line) and its stderr."""
    p.send_signal(sig)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, (p.returncode, err)
    return json.loads(out.strip().splitlines()[-1]), err


@test
def the_proxy_prints_its_address_passes_bytes_and_ends_with_its_counters():
    echo = Echo()
    p, host, port = start("--upstream", echo.address, "--listen", "127.0.0.1:0")
    assert host == "127.0.0.1" and port > 0
    s = dial(port)
    payload = os.urandom(1 << 20)
    threading.Thread(target=s.sendall, args=(payload,), daemon=True).start()
    got = bytearray()
    while len(got) < len(payload):
        got += s.recv(1 << 16)
    assert bytes(got) == payload
    s.close()
    counters, err = stop(p)
    assert counters["accepted"] == 1 and counters["open"] == 0, counters
    assert counters["bytes_upstream"] == len(payload) == counters["bytes_downstream"], counters
    assert f"-> {echo.address}, fault: none" in err, err
    echo.close()


@test
def control_lines_change_the_fault_of_open_connections():
    echo = Echo()
    p, _, port = start("--upstream", echo.address)
    s = dial(port)
    round_trip(s)
    assert control(p, "--latency 300ms --direction downstream") == "ok latency 300ms downstream"
    assert round_trip(s) >= 0.3
    assert control(p, "--latncy 1s").startswith("error chaos-proxy: unknown argument"), "bad line"
    assert control(p, "--blackhole") == "ok blackhole"
    s.sendall(b"lost")
    readable, _, _ = select.select([s], [], [], 0.3)
    assert not readable, "the blackhole answered (a byte or the end of the connection)"
    assert control(p, "--reset") == "ok reset"
    try:
        s.recv(1)
        raise AssertionError("no reset")
    except ConnectionResetError:
        pass
    counters = json.loads(control(p, "counters"))
    assert counters["reset"] == 1 and counters["blackholed"] == 1, counters
    assert counters["bytes_dropped"] == 4, counters
    assert control(p, "none") == "ok none"
    s2 = dial(port)
    round_trip(s2)
    s2.close()
    stop(p, signal.SIGINT)
    echo.close()


@test
def refuse_and_probability_from_the_command_line():
    echo = Echo()
    p, _, port = start("--upstream", echo.address, "--refuse", "--probability", "1")
    s = dial(port)
    s.settimeout(10)
    assert s.recv(1) == b"", "closed at once"
    s.close()
    counters, _ = stop(p)
    assert counters["refused"] == 1 and echo.connections == 0, counters
    echo.close()


@test
def bad_command_lines_exit_2_with_one_line():
    cases = [
        (["--latency", "1s"], "chaos-proxy: --upstream HOST:PORT is required"),
        (["--upstream", "127.0.0.1:1", "--listen", "0.0.0.0:0"], "is not a loopback address"),
        (["--upstream", "127.0.0.1:1", "--reset", "--latency", "1s"],
         "a reset fault takes no latency"),
        (["--upstream", "127.0.0.1:1", "--bandwidth", "fast"], "--bandwidth \"fast\""),
    ]
    for flags, expected in cases:
        r = subprocess.run([NET, "chaos-proxy", *flags], capture_output=True, text=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        assert r.returncode == 2, (flags, r.returncode, r.stderr)
        assert expected in r.stderr and r.stderr.count("\n") == 1, (flags, r.stderr)
        assert r.stdout == "", r.stdout
    r = subprocess.run([NET, "chaos-proxy", "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--upstream HOST:PORT" in r.stdout, r


@test
def a_proxy_without_stdin_runs_until_signalled():
    echo = Echo()
    p = subprocess.Popen([NET, "chaos-proxy", "--upstream", echo.address],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    run_e2e.STARTED.append(p)
    port = int(p.stdout.readline().strip().rsplit(":", 1)[1])
    s = dial(port)
    round_trip(s)
    s.close()
    assert p.poll() is None, "the end of stdin ended the proxy"
    p.terminate()
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0 and json.loads(out)["accepted"] == 1, out
    echo.close()


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "e2e-chaos-proxy"))
