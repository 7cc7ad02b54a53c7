#!/usr/bin/env python3
"""Servers that die (issue 13, "PostgreSQL and high availability"): a server killed with kill -9
together with a run's engine (what a machine that dies takes down), then restarted; and two
servers on one PostgreSQL database, the leader killed the same way, the other taking over. In
each, the run finishes, no task that had run runs again, and the run's events have no gap.

Usage: ha_test.py SLUICE [--only SUBSTRING]
The PostgreSQL case needs SLUICE_TEST_PG_URL (scripts/test.sh starts a server with scripts/pg.sh);
without it that test fails saying so. Ends with "server-ha: N passed, M failed".
"""
import json, os, signal, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402
from run_e2e import Env, engine_pid  # noqa: E402
from api_test import Server, call, submit  # noqa: E402
import postgres_store  # noqa: E402  (fresh_database)

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# Six tasks in a chain, each recording its attempt in EFFECTS/TASK before it sleeps: a task that
# ran twice leaves two lines.
CHAIN = "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: chain}\nspec:\n" \
        "  params: [{name: effects, type: string}]\n  tasks:\n" + "".join(
            f"    - name: t{i}\n"
            + (f"      needs: [t{i - 1}]\n" if i else "")
            + "      script: |\n        echo \"$SLUICE_ATTEMPT\" >> \"$EFFECTS/$SLUICE_TASK\"\n"
              "        sleep 0.4\n"
              "      env: {EFFECTS: \"${{ params.effects }}\"}\n"
              "      retry: {limit: 3, on: [lost]}\n"
            for i in range(6))


def start_chain(server, token, effects):
    os.makedirs(effects, exist_ok=True)
    made = submit(server, token, {"pipeline": "p.yaml", "files": {"p.yaml": CHAIN},
                                  "params": {"effects": effects}})
    return made["id"]


def wait_until(pred, what, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


def kill_machine(server, env, run):
    """What a machine that dies takes down: the server and the run's engine (its keeper stays
    with the attempts, as it would on a machine that only lost those two processes)."""
    os.kill(engine_pid(env, run), signal.SIGKILL)
    server.proc.kill()
    server.proc.wait()


def check_ran_once_without_gaps(server, token, run, effects):
    st = call(server, "GET", f"/api/v1/runs/{run}", token)
    assert st["status"] == "succeeded", st["status"]
    for t in st["tasks"]:
        lines = open(os.path.join(effects, t["name"])).read().split()
        assert len(lines) == 1, f"{t['name']} ran {len(lines)} times: {lines}"
    events = call(server, "GET", f"/api/v1/runs/{run}/events?limit=1000", token)["items"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"events with a gap: {seqs}"


def finished(server, token, run):
    return call(server, "GET", f"/api/v1/runs/{run}", token)["status"] in ("succeeded", "failed")


def leads(server):
    return call(server, "GET", "/readyz").get("leader") is True


@test
def a_server_killed_with_its_run_engine_resumes_the_run_when_it_restarts():
    e = Env()
    token = e.sluice("token", "create", "--user", "ops", "--role", "operator", check=0).stdout.strip()
    s = Server(e)
    wait_until(lambda: leads(s), "a lone server leads", 10)
    effects = os.path.join(e.dir, "effects")
    run = start_chain(s, token, effects)
    wait_until(lambda: os.path.exists(os.path.join(effects, "t1")), "t1 started", 30)
    kill_machine(s, e, run)
    again = Server(e)
    wait_until(lambda: finished(again, token, run), "the run finished after the restart", 60)
    check_ran_once_without_gaps(again, token, run, effects)
    assert f"run {run}: the engine started for it runs it" in again.log(), again.log()
    again.stop()


@test
def a_run_started_from_the_command_line_is_left_to_its_user():
    e = Env()
    e.write("p.yaml", CHAIN)
    effects = os.path.join(e.dir, "effects")
    os.mkdir(effects)
    proc, run = e.start("run", "p.yaml", "-p", f"effects={effects}")
    wait_until(lambda: os.path.exists(os.path.join(effects, "t0")), "t0 started", 30)
    proc.send_signal(signal.SIGINT)  # the user stops it
    proc.wait()
    s = Server(e)
    wait_until(lambda: leads(s), "a lone server leads", 10)
    time.sleep(3)  # longer than two looks of the leader
    assert e.status(run)["status"] != "succeeded"
    assert "had no engine" not in s.log(), s.log()
    s.stop()


@test
def the_other_server_takes_over_when_the_leader_dies():
    url = os.environ.get("SLUICE_TEST_PG_URL", "")
    assert url, "SLUICE_TEST_PG_URL is not set: no PostgreSQL server to test against (scripts/test.sh starts one)"
    postgres_store.URL = url
    db = postgres_store.fresh_database()
    e = Env()
    token = e.sluice("--store", db, "token", "create", "--user", "ops", "--role", "operator",
                     check=0).stdout.strip()
    a = Server(e, "--store", db)
    wait_until(lambda: leads(a), "the first server leads", 10)
    b = Server(e, "--store", db)
    time.sleep(1.5)
    assert not leads(b), "two leaders at once"
    effects = os.path.join(e.dir, "effects")
    run = start_chain(b, token, effects)  # any server takes submissions
    wait_until(lambda: os.path.exists(os.path.join(effects, "t1")), "t1 started", 30)
    killed = time.monotonic()
    kill_machine(a, e, run)
    took = wait_until(lambda: leads(b), "the other server leads", 10) - killed
    wait_until(lambda: finished(b, token, run), "the run finished under the new leader", 60)
    check_ran_once_without_gaps(b, token, run, effects)
    print(f"  took over in {took:.2f} s")
    b.stop()


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "server-ha"))
