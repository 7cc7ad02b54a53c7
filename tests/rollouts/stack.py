#!/usr/bin/env python3
"""The rollout tests' real stack: nginx and Prometheus from Debian's packages on loopback, in a
folder of their own (issue 14, docs/rollouts.md, "Testing against a real stack").

Command:  stack.py up DIR | down DIR | env DIR [KEY.KEY...] | wait-targets DIR [N]
          | query DIR PROMQL
Library:  with Stack() as s: s.up(); s.wait_targets_up(2); s.query("up"); ... (down at exit)
          Stack.attach(DIR) works on a stack that `stack.py up DIR` started.
SLUICE_KEEP_STACK=1 keeps a temporary folder (logs, configs) after down.

Layout of DIR (every path the processes write is inside it):
  stack.json                  what env prints: ports, URLs, paths, the slots' commands
  nginx/nginx.conf            front server on 127.0.0.1:FRONT proxying / to upstream "models"
  nginx/sluice-upstream.conf  written by Sluice (generation 0 by up: all traffic to blue)
  nginx/nginx.pid, error.log, access.log, tmp/
  prometheus/prometheus.yml   job "model": two fixed targets, slot="blue" and slot="green"
  prometheus/data/, prometheus.pid, prometheus.log
  slots/{blue,green}/         the model servers' pidfile and log (started by the slot commands)

The stack does not start model servers: an environment's slot start command does
(model_server.py --daemon on the slot's port). Both slots are Prometheus targets from the start,
because a target added later takes Prometheus about 5 s to discover.

Ports are picked free, at random below the kernel's ephemeral range (so a client connection
cannot take a slot's port before its server starts), and reserved by a file under
/tmp/sluice-stack-ports so that another copy of the stack running at the same time cannot pick
them too.
"""
import atexit, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.error, urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_server import alive, cmdline, read_pid, stop_pid  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_SERVER = os.path.join(HERE, "model_server.py")
MODEL_PLACEHOLDER = "${{ model.path }}"  # filled by the Environment's templates
SLOTS = ("blue", "green")
PORTS_DIR = "/tmp/sluice-stack-ports"
PACKAGES = "nginx-light prometheus"


class StackError(Exception):
    """One line a person can act on."""


# ---- ports ----------------------------------------------------------------------------------

def _port_free(port):
    """Whether nothing listens on (or holds) PORT. SO_REUSEADDR, as every server of the stack
    sets it: a connection left in TIME_WAIT after a stop does not make the port busy."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _reserve_ports(n, owner):
    """N free ports, each reserved by PORTS_DIR/PORT holding OWNER (a stack folder). A
    reservation whose folder is gone is stale and taken over."""
    os.makedirs(PORTS_DIR, exist_ok=True)
    high = _ephemeral_low() - 1
    got = []
    for _ in range(2000):
        if len(got) == n:
            return got
        port = random.randint(20000, high)
        if port in got or not _port_free(port):
            continue
        path = os.path.join(PORTS_DIR, str(port))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:  # another stack's down removed the empty folder just now
            os.makedirs(PORTS_DIR, exist_ok=True)
            continue
        except FileExistsError:
            try:
                with open(path) as f:
                    holder = f.read().strip()
            except OSError:
                continue
            if os.path.isdir(holder):
                continue
            os.unlink(path)  # stale: its stack folder was removed without a down
            continue
        with os.fdopen(fd, "w") as f:
            f.write(owner + "\n")
        got.append(port)
    raise StackError(f"stack: no {n} free ports found in 20000-{high}")


def _release_ports(ports, owner):
    for port in ports:
        path = os.path.join(PORTS_DIR, str(port))
        try:
            with open(path) as f:
                if f.read().strip() == owner:
                    os.unlink(path)
        except OSError:
            pass
    try:
        os.rmdir(PORTS_DIR)  # only when no other stack holds a port
    except OSError:
        pass


# ---- HTTP -----------------------------------------------------------------------------------

def http_get(url, timeout=2.0):
    """(status, body) of a GET; status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def http_post_json(url, obj, timeout=2.0):
    req = urllib.request.Request(url, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def wait_for(what, check, timeout, step=0.05):
    """Polls CHECK until it returns a true value, which is returned; raises after TIMEOUT s."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise StackError(f"stack: timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


# ---- configuration --------------------------------------------------------------------------

NGINX_CONF = """# written by tests/rollouts/stack.py{note}
daemon off;
worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
# Caps how long old workers finish in-flight requests after a reload or SIGQUIT (main context:
# inside http {{}} nginx -t rejects it).
worker_shutdown_timeout 10s;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {d}/tmp/client_body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    log_format sluice '$msec $request_time "$request" $status gen=$sluice_generation '
                      'ups=$upstream_addr ups_status=$upstream_status';
    access_log {d}/access.log sluice;
    include {d}/{upstream};
    server {{
        listen 127.0.0.1:{front};
        location = /__sluice_route {{
            default_type text/plain;
            return 200 "$sluice_generation\\n";
        }}
        location / {{
            proxy_pass http://models;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-Sluice-Generation $sluice_generation always;
        }}
    }}
}}
"""

PROMETHEUS_YML = """# written by tests/rollouts/stack.py
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: model
    static_configs:
      - targets: ["127.0.0.1:{blue}"]
        labels: {{slot: blue}}
      - targets: ["127.0.0.1:{green}"]
        labels: {{slot: green}}
"""


def upstream_conf(weights, generation, environment="staging"):
    """sluice-upstream.conf as Sluice writes it: WEIGHTS maps "127.0.0.1:PORT" to a weight;
    a weight of 0 is left out (nginx rejects weight=0)."""
    lines = [f"# written by sluice: environment {environment}, generation {generation}",
             "upstream models {"]
    lines += [f"    server {addr} weight={w};" for addr, w in weights.items() if w > 0]
    lines += ["}", f'map $host $sluice_generation {{ default "{generation}"; }}', ""]
    return "\n".join(lines)


def find_binary(name, extra=()):
    for d in os.environ.get("PATH", "").split(":") + list(extra):
        p = os.path.join(d, name)
        if d and os.access(p, os.X_OK):
            return p
    return None


# ---- the stack ------------------------------------------------------------------------------

class Stack:
    """nginx + Prometheus in DIR (a fresh temporary folder when None). Owns the processes it
    starts and the model servers whose pidfiles are under DIR; down() stops them all, and runs
    at interpreter exit (or on SIGTERM) if nobody called it. Not thread-safe."""

    def __init__(self, dir=None, keep=False):
        self.made_dir = dir is None
        self.dir = os.path.abspath(dir or tempfile.mkdtemp(prefix="sluice-stack-"))
        self.keep = keep or not self.made_dir or bool(os.environ.get("SLUICE_KEEP_STACK"))
        self.procs = {}  # name -> Popen, for the processes this object started
        self.info = None

    @classmethod
    def attach(cls, dir):
        """The stack already running from DIR (started by `stack.py up DIR`). Its down() stops
        it; nothing is stopped at exit unless down() is called."""
        s = cls(dir, keep=True)
        try:
            with open(s.path("stack.json")) as f:
                s.info = json.load(f)
        except (OSError, ValueError) as e:
            raise StackError(f"stack: {s.dir}: no stack here ({e})")
        return s

    # paths
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def nginx_dir(self):
        return self.path("nginx")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()

    def up(self, timeout=20.0):
        """Starts nginx and Prometheus and waits until nginx answers generation 0 and
        Prometheus is ready. Raises StackError (one line) and tears down on any failure."""
        nginx = find_binary("nginx", ["/usr/sbin", "/sbin"])
        prom = find_binary("prometheus")
        if not nginx or not prom:
            missing = " and ".join(n for n, b in (("nginx", nginx), ("prometheus", prom))
                                   if not b)
            if self.made_dir:
                shutil.rmtree(self.dir, ignore_errors=True)
            raise StackError(f"stack: {missing} not found; install the Debian packages "
                             f"{PACKAGES} (scripts/deps.sh test)")
        os.makedirs(self.dir, exist_ok=True)
        if os.path.exists(self.path("stack.json")):
            raise StackError(f"stack: {self.dir} already holds a stack (stack.json); "
                             f"run down, or use a fresh folder")
        atexit.register(self.down)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            try:  # so that atexit runs when a test runner is terminated
                signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
            except ValueError:
                pass  # not the main thread
        try:
            self._write_configs(nginx, prom)
            self._start(timeout)
        except BaseException:
            self.down()
            raise
        return self

    def _write_configs(self, nginx, prom):
        front, prom_port, blue, green = _reserve_ports(4, self.dir)
        nd, pd = self.nginx_dir, self.path("prometheus")
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(nd, "tmp", d), exist_ok=True)
        os.makedirs(os.path.join(pd, "data"), exist_ok=True)
        with open(os.path.join(nd, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(d=nd, front=front, upstream="sluice-upstream.conf",
                                      note=""))
        # The same server including the candidate file, so that a new upstream file can be
        # checked with nginx -t before it is renamed over the live one.
        with open(os.path.join(nd, "nginx-check.conf"), "w") as f:
            f.write(NGINX_CONF.format(d=nd, front=front, upstream="sluice-upstream.conf.new",
                                      note="; checks sluice-upstream.conf.new (nginx -t only)"))
        with open(os.path.join(nd, "sluice-upstream.conf"), "w") as f:
            f.write(upstream_conf({f"127.0.0.1:{blue}": 100}, 0))
        with open(os.path.join(pd, "prometheus.yml"), "w") as f:
            f.write(PROMETHEUS_YML.format(blue=blue, green=green))
        slots = {}
        for name, port in (("blue", blue), ("green", green)):
            sd = self.path("slots", name)
            os.makedirs(sd, exist_ok=True)
            pidfile, log = os.path.join(sd, "model_server.pid"), os.path.join(sd, "model_server.log")
            slots[name] = {
                "port": port, "address": f"127.0.0.1:{port}",
                "health_url": f"http://127.0.0.1:{port}/healthz",
                "metrics_url": f"http://127.0.0.1:{port}/metrics",
                "config_url": f"http://127.0.0.1:{port}/config",
                "pidfile": pidfile, "log": log,
                "start": [sys.executable, MODEL_SERVER, "--daemon", "--port", str(port),
                          "--model", MODEL_PLACEHOLDER, "--pidfile", pidfile, "--log", log],
                "stop": [sys.executable, MODEL_SERVER, "stop", "--pidfile", pidfile],
                "health": [sys.executable, MODEL_SERVER, "health", "--url",
                           f"http://127.0.0.1:{port}/healthz"],
            }
        self.info = {
            "dir": self.dir,
            "front_port": front, "front_url": f"http://127.0.0.1:{front}",
            "route_url": f"http://127.0.0.1:{front}/__sluice_route",
            "prometheus_port": prom_port, "prometheus_url": f"http://127.0.0.1:{prom_port}",
            "blue_port": blue, "green_port": green,
            "model_placeholder": MODEL_PLACEHOLDER,
            "nginx": {
                "binary": nginx, "prefix": nd + "/", "conf": os.path.join(nd, "nginx.conf"),
                "upstream_file": os.path.join(nd, "sluice-upstream.conf"),
                "pid_file": os.path.join(nd, "nginx.pid"),
                "error_log": os.path.join(nd, "error.log"),
                "access_log": os.path.join(nd, "access.log"),
                "candidate_file": os.path.join(nd, "sluice-upstream.conf.new"),
                "check_conf": os.path.join(nd, "nginx-check.conf"),
                # -e: without it nginx -t opens /var/log/nginx/error.log before reading -c.
                "test": [nginx, "-t", "-q", "-p", nd + "/", "-e", os.path.join(nd, "error.log"),
                         "-c", os.path.join(nd, "nginx.conf")],
                "test_candidate": [nginx, "-t", "-q", "-p", nd + "/", "-e",
                                   os.path.join(nd, "error.log"),
                                   "-c", os.path.join(nd, "nginx-check.conf")],
                "reload_signal": "HUP",  # to the pid in pid_file
                # The same as a command (it reads the pid file named by the config); like a
                # SIGHUP it returns 0 even when the master then refuses the new config.
                "reload": [nginx, "-s", "reload", "-p", nd + "/", "-e",
                           os.path.join(nd, "error.log"), "-c", os.path.join(nd, "nginx.conf")],
            },
            "prometheus": {"binary": prom, "config": os.path.join(pd, "prometheus.yml"),
                           "data": os.path.join(pd, "data"),
                           "pid_file": os.path.join(pd, "prometheus.pid"),
                           "log": os.path.join(pd, "prometheus.log"), "job": "model"},
            "slots": slots,
            "pids": {},
        }
        self._save()

    def _save(self):
        tmp = self.path("stack.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.info, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.path("stack.json"))

    def _spawn(self, name, argv, log, pidfile=None):
        out = open(log, "ab")
        # A session of its own: a terminal's ^C or the test runner's process group signal
        # reaches it only through down().
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True, cwd=self.dir)
        out.close()
        self.procs[name] = p
        self.info["pids"][name] = p.pid
        if pidfile:
            with open(pidfile, "w") as f:
                f.write(f"{p.pid}\n")
        self._save()
        return p

    def _start(self, timeout):
        i, n = self.info, self.info["nginx"]
        t = subprocess.run(n["test"], capture_output=True, text=True)
        if t.returncode != 0:
            raise StackError(f"stack: nginx -t rejected {n['conf']}: "
                             f"{(t.stderr or t.stdout).strip().splitlines()[-1:]}")
        started = time.monotonic()
        self._spawn("nginx", [n["binary"], "-p", n["prefix"], "-e", n["error_log"],
                              "-c", n["conf"]], self.path("nginx", "nginx.out"))
        pm = i["prometheus"]
        self._spawn("prometheus", [
            pm["binary"], f"--config.file={pm['config']}",
            f"--storage.tsdb.path={pm['data']}", "--storage.tsdb.retention.time=1h",
            f"--web.listen-address=127.0.0.1:{i['prometheus_port']}", "--web.enable-lifecycle",
            "--log.level=info"], pm["log"], pidfile=pm["pid_file"])

        def ready(name, url, want):
            def check():
                p = self.procs[name]
                if p.poll() is not None:
                    raise StackError(f"stack: {name} exited with {p.returncode} at start; "
                                     f"see {self._log_of(name)}")
                code, body = http_get(url, timeout=1)
                return code == 200 and body.strip() == want if want else code == 200
            return check
        wait_for("nginx to answer generation 0",
                 ready("nginx", i["route_url"], "0"), timeout)
        i["nginx_ready_s"] = round(time.monotonic() - started, 3)
        wait_for("Prometheus /-/ready",
                 ready("prometheus", i["prometheus_url"] + "/-/ready", None), timeout)
        i["prometheus_ready_s"] = round(time.monotonic() - started, 3)
        i["started_unix"] = time.time()
        self._save()

    def _log_of(self, name):
        return self.info["nginx"]["error_log"] if name == "nginx" else \
            self.info["prometheus"]["log"]

    # ---- queries ----

    def env(self):
        return self.info

    def query(self, promql, timeout=5.0):
        """The parsed JSON of Prometheus' instant query API for PROMQL."""
        url = (self.info["prometheus_url"] + "/api/v1/query?" +
               urllib.parse.urlencode({"query": promql}))
        code, body = http_get(url, timeout=timeout)
        if code != 200:
            raise StackError(f"stack: query {promql!r} answered {code}: {body[:200]}")
        return json.loads(body)

    def scalar(self, promql):
        """The query's single value as a float, or None for "no data" ([] or NaN)."""
        result = self.query(promql)["data"]["result"]
        if not result:
            return None
        v = float(result[0]["value"][1])
        return None if v != v else v

    def wait_targets_up(self, n=2, timeout=30.0):
        """Waits until N targets of job "model" are up (Prometheus discovers its targets about
        5 s after start, whatever /-/ready says). Returns the seconds waited."""
        started = time.monotonic()
        wait_for(f"{n} model targets up in Prometheus",
                 lambda: (self.scalar('count(up{job="model"}==1)') or 0) == n, timeout,
                 step=0.2)
        return time.monotonic() - started

    def generation(self):
        code, body = http_get(self.info["route_url"], timeout=1)
        return int(body.strip()) if code == 200 and body.strip().isdigit() else None

    # ---- the slots (what Sluice's environment does through the argv in env) ----

    def start_slot(self, slot, model_path):
        argv = [model_path if a == MODEL_PLACEHOLDER else a
                for a in self.info["slots"][slot]["start"]]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise StackError(f"stack: slot {slot} did not start: {r.stderr.strip()}")

    def stop_slot(self, slot):
        subprocess.run(self.info["slots"][slot]["stop"], capture_output=True, timeout=30)

    def set_model(self, slot, **change):
        """Changes a slot's errorRate/latencyMs at run time (its /config)."""
        return http_post_json(self.info["slots"][slot]["config_url"], change)

    # ---- routing, as Sluice does it (the reference for the contract in the module doc) ----

    def route(self, weights, generation, deadline=5.0):
        """Writes sluice-upstream.conf for WEIGHTS ({"blue": 80, "green": 20}) as generation
        GENERATION: temp file, nginx -t, rename, SIGHUP, then polls /__sluice_route until the
        generation is live. Returns {"check_s", "live_s", "hup_at"}: the nginx -t time, SIGHUP to
        the generation seen, and the SIGHUP's time.monotonic().
        On a rejected file the live file is left untouched and StackError names the reason."""
        n = self.info["nginx"]
        addr = {s: self.info["slots"][s]["address"] for s in SLOTS}
        text = upstream_conf({addr[s]: w for s, w in weights.items()}, generation)
        with open(n["candidate_file"], "w") as f:
            f.write(text)
        t0 = time.monotonic()
        check = subprocess.run(n["test_candidate"], capture_output=True, text=True)
        check_s = time.monotonic() - t0
        if check.returncode != 0:
            raise StackError(f"stack: nginx -t rejected generation {generation}: "
                             f"{check.stderr.strip()}")
        os.replace(n["candidate_file"], n["upstream_file"])
        pid = read_pid(n["pid_file"])
        sent = time.monotonic()
        os.kill(pid, signal.SIGHUP)
        wait_for(f"generation {generation} live", lambda: self.generation() == generation,
                 deadline, step=0.005)
        return {"check_s": check_s, "live_s": time.monotonic() - sent, "hup_at": sent}

    # ---- teardown ----

    def down(self):
        """Stops everything started from the folder and releases its ports. Returns the list of
        problems (empty when all is clean)."""
        atexit.unregister(self.down)
        if self.info is None and os.path.exists(self.path("stack.json")):
            with open(self.path("stack.json")) as f:
                self.info = json.load(f)
        problems = down_dir(self.dir, self.info)
        for p in self.procs.values():
            try:
                p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                problems.append(f"pid {p.pid} not reaped")
        self.procs = {}
        if not problems and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


def _pidfiles(dir):
    for root, _, files in os.walk(dir):
        for f in files:
            if f.endswith(".pid"):
                yield os.path.join(root, f)


def down_dir(dir, info=None):
    """Stops what runs from DIR: nginx with SIGQUIT (graceful), Prometheus and every model
    server whose pidfile is under DIR with SIGTERM; KILL after 10 s each. Then checks that the
    stack's ports are free, and releases them. Returns the list of problems."""
    if info is None:
        try:
            with open(os.path.join(dir, "stack.json")) as f:
                info = json.load(f)
        except (OSError, ValueError):
            info = {}
    # (pid, first signal, what its command line must hold); stack.json's pids cover a pidfile
    # that vanished (nginx removes its own on exit).
    todo = {}
    for name, pid in info.get("pids", {}).items():
        todo[pid] = (signal.SIGQUIT if name == "nginx" else signal.SIGTERM, name)
    for pf in _pidfiles(dir):
        pid = read_pid(pf)
        if pid is None:
            continue
        if pf.endswith("nginx.pid"):
            todo[pid] = (signal.SIGQUIT, "nginx")
        elif pf.endswith("prometheus.pid"):
            todo[pid] = (signal.SIGTERM, "prometheus")
        else:
            todo[pid] = (signal.SIGTERM, "model_server")
    problems = []
    # Signal all first, then wait: the 10 s deadlines overlap instead of adding up.
    for pid, (sig, expect) in todo.items():
        if alive(pid) and expect in cmdline(pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    for pid, (sig, expect) in todo.items():
        what = stop_pid(pid, sig, deadline=10.0, expect=expect)
        if what == "unkillable":
            problems.append(f"{expect} pid {pid} survived KILL")
    for pf in _pidfiles(dir):
        pid = read_pid(pf)
        if pid is None or not alive(pid):
            os.unlink(pf)
    ports = [info[k] for k in ("front_port", "prometheus_port", "blue_port", "green_port")
             if k in info]
    for port in ports:
        try:
            wait_for(f"port {port} to be free", lambda: _port_free(port), 5)
        except StackError as e:
            problems.append(str(e))
    _release_ports(ports, os.path.abspath(dir))
    return problems


USAGE = ("usage: stack.py up|down DIR | env DIR [KEY.KEY...] | wait-targets DIR [N] | "
         "query DIR PROMQL")


def main(argv):
    cmd = argv[0] if argv else ""
    arity = {"up": (2,), "down": (2,), "env": (2, 3), "wait-targets": (2, 3), "query": (3,)}
    if cmd not in arity or len(argv) not in arity[cmd]:
        print(USAGE, file=sys.stderr)
        return 2
    dir = os.path.abspath(argv[1])
    if cmd in ("wait-targets", "query"):
        try:
            s = Stack.attach(dir)
            if cmd == "query":
                print(json.dumps(s.query(argv[2])))
            else:
                waited = s.wait_targets_up(int(argv[2]) if len(argv) == 3 else 2)
                print(f"stack: targets up after {waited:.2f} s")
        except StackError as e:
            print(e, file=sys.stderr)
            return 1
        return 0
    if cmd == "up":
        s = Stack(dir)
        try:
            s.up()
        except StackError as e:
            print(e, file=sys.stderr)
            return 1
        atexit.unregister(s.down)  # the command returns; the stack keeps running until down
        print(json.dumps(s.env(), indent=2))
        return 0
    if cmd == "env":  # all of stack.json, or one value: a number or string bare, else JSON
        try:
            value = Stack.attach(dir).env()
            for key in (argv[2].split(".") if len(argv) == 3 else []):
                if not isinstance(value, dict) or key not in value:
                    raise StackError(f"stack: {dir}/stack.json has no {argv[2]}")
                value = value[key]
        except StackError as e:
            print(e, file=sys.stderr)
            return 1
        print(value if isinstance(value, (str, int, float)) else json.dumps(value, indent=2))
        return 0
    problems = down_dir(dir)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
