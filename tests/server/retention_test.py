#!/usr/bin/env python3
"""End-to-end test of a server's retention (issue 13): `sluice server --retention D` prunes, as
its leader, the runs that finished more than D ago, as `sluice prune` does (tests/e2e/retention.py).

Usage: retention_test.py SLUICE (prints one line per failure, ends "server-retention: N passed").
"""
import json, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402
from run_e2e import Env, pipeline  # noqa: E402
from api_test import Server, call, submit, wait_finished  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def the_leader_prunes_runs_older_than_the_servers_retention():
    e = Env()
    e.write("p.yaml", pipeline("    - {name: a, run: [echo, hi]}\n"))
    old = e.sluice("run", "p.yaml", check=0).stdout.splitlines()[0]
    time.sleep(2.2)
    new = e.sluice("run", "p.yaml", check=0).stdout.splitlines()[0]
    s = Server(e, "--retention", "2s")
    e.wait_for(lambda: "was pruned" in e.sluice("status", old).stderr, "the leader to prune", 100)
    assert e.status(new)["status"] == "succeeded"
    assert "retention: pruned 1 runs" in s.log(), s.log()
    records = [json.loads(x) for x in e.sluice("audit", "export", check=0).stdout.splitlines()]
    assert [(r["actor"], r["run"]) for r in records if r["action"] == "run.pruned"] == [("sluice", old)]
    s.stop()


@test
def a_pruned_run_is_judged_in_its_own_namespace():
    e = Env()
    team = e.sluice("token", "create", "--user", "rita", "--role", "team-r=operator", check=0).stdout.strip()
    viewer = e.sluice("token", "create", "--user", "vera", "--role", "viewer", check=0).stdout.strip()
    s = Server(e)
    made = submit(s, team, {"pipeline": "p.yaml", "files": {"p.yaml": pipeline("    - {name: a, run: [echo, hi]}\n")}},
                  ns="team-r")
    wait_finished(s, team, made["id"])
    e.sluice("prune", "--older-than", "0s", check=0)
    mine = call(s, "GET", f"/api/v1/runs/{made['id']}", team, want=404)["error"]["message"]
    assert "was pruned by" in mine, mine
    # Default's viewer learns nothing of team-r's run: the answer for an id that never was.
    other = call(s, "GET", f"/api/v1/runs/{made['id']}", viewer, want=404)["error"]["message"]
    assert other == f'no run "{made["id"]}"', other
    s.stop()


@test
def a_bad_retention_is_refused_at_start():
    e = Env()
    for bad in ("forever", "never", "Team_A=7d", "team-a=soon"):
        p = e.sluice("server", "--listen", "127.0.0.1:0", "--retention", bad, check=2)
        assert f"--retention \"{bad}\": expected a duration" in p.stderr, p.stderr


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "server-retention"))
