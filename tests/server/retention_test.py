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
def prune_against_a_server_prints_and_audits_as_locally_for_an_admin_token():
    """`sluice --server URL prune` (POST /api/v1/prune, issue 13 parity): an admin's token, the
    local command's lines and -o json, audited as the token's user."""
    e = Env()
    e.write("p.yaml", pipeline("    - {name: a, run: [echo, hi]}\n"))
    old = e.sluice("run", "p.yaml", check=0).stdout.splitlines()[0]
    time.sleep(1.2)
    tokens = {r: e.sluice("token", "create", "--user", f"p-{r}", "--role", r, check=0).stdout.strip()
              for r in ("operator", "admin")}
    s = Server(e)
    remote = lambda token, *a, **k: e.sluice(*a, env={"SLUICE_SERVER": f"http://127.0.0.1:{s.port}",
                                                      "SLUICE_TOKEN": tokens[token]}, **k)
    p = remote("operator", "prune", "--older-than", "1s", check=2)
    assert len(p.stderr.splitlines()) == 1 and "may not admin" in p.stderr, p.stderr
    assert remote("admin", "prune", "--older-than", "soon", check=2).stderr == \
        e.sluice("prune", "--older-than", "soon", check=2).stderr
    for fmt in ([], ["-o", "json"]):
        here = e.sluice("prune", "--older-than", "1s", "--dry-run", *fmt, check=0)
        there = remote("admin", "prune", "--older-than", "1s", "--dry-run", *fmt, check=0)
        assert (here.stdout, here.stderr) == (there.stdout, there.stderr), (here, there)
    assert old in there.stdout and e.status(old)["status"] == "succeeded", there.stdout
    p = remote("admin", "prune", "--older-than", "1s", check=0)
    assert p.stdout.startswith(f"pruned {old} (") and "pruned 1 runs finished more than 1s ago" in p.stdout, p.stdout
    assert "was pruned" in e.sluice("status", old).stderr
    records = [json.loads(x) for x in e.sluice("audit", "export", check=0).stdout.splitlines()]
    assert [(r["actor"], r["run"]) for r in records if r["action"] == "run.pruned"] == [("p-admin", old)]
    s.stop()


@test
def a_bad_retention_is_refused_at_start():
    e = Env()
    for bad in ("forever", "never", "Team_A=7d", "team-a=soon"):
        p = e.sluice("server", "--listen", "127.0.0.1:0", "--retention", bad, check=2)
        assert f"--retention \"{bad}\": expected a duration" in p.stderr, p.stderr


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "server-retention"))
