#!/usr/bin/env python3
"""End-to-end tests of a PostgreSQL store: `sluice --store postgresql://...` (or SLUICE_STORE)
runs, lists and shows runs from a PostgreSQL database instead of the state folder's sluice.db,
and a store it cannot reach fails the command with one clear line.

Usage: postgres_store.py SLUICE [--only SUBSTRING]
Needs SLUICE_TEST_PG_URL (scripts/test.sh starts a server with scripts/pg.sh); without it every
test is reported as skipped, with the reason. Each test gets a database of its own. Ends with
"e2e-postgres: N passed, M failed".
"""
import json, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env, pipeline  # noqa: E402

URL = os.environ.get("SLUICE_TEST_PG_URL", "")
TESTS = []
MADE = []


def test(fn):
    TESTS.append(fn)
    return fn


def psql(url, sql):
    return subprocess.run(["psql", url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def fresh_database():
    """A new database on the test server; returns its URL."""
    name = f"sluice_e2e_{os.getpid()}_{len(MADE) + 1}"
    psql(URL, f"CREATE DATABASE {name}")
    MADE.append(name)
    base, _, _ = URL.rpartition("/")
    return f"{base}/{name}"


TWO_TASKS = pipeline("""
    - name: a
      run: [sh, -c, 'echo 41']
      outputs: {params: [{name: n, from: {stdout: text}}]}
    - name: b
      run: [sh, -c, 'expr "$0" + 1', "${{ tasks.a.outputs.params.n }}"]
      outputs: {params: [{name: m, from: {stdout: text}}]}
""")


@test
def run_status_and_runs_use_a_postgresql_store():
    url = fresh_database()
    e = Env()
    e.write("p.yaml", TWO_TASKS)
    run = e.sluice("--store", url, "run", "p.yaml", check=0).stdout.splitlines()[0]
    st = json.loads(e.sluice("--store", url, "status", run, "-o", "json", check=0).stdout)
    assert st["status"] == "succeeded", st
    tasks = {t["name"]: t for t in st["tasks"]}
    assert tasks["b"]["outputs"]["params"]["m"].strip() == "42", tasks
    runs = json.loads(e.sluice("--store", url, "runs", "-o", "json", check=0).stdout)
    assert [r["id"] for r in runs] == [run], runs
    # In the database, not in the state folder.
    assert not os.path.exists(os.path.join(e.state, "sluice.db"))
    assert int(psql(url, f"SELECT count(*) FROM events WHERE run_id='{run}'")) >= 6
    assert psql(url, f"SELECT status FROM runs WHERE id='{run}'") == "succeeded"
    # The audit chain holds there too.
    e.sluice("--store", url, "audit", "verify", check=0)


@test
def sluice_store_names_the_store_like_the_option():
    url = fresh_database()
    e = Env()
    e.write("p.yaml", TWO_TASKS)
    run = e.sluice("run", "p.yaml", env={"SLUICE_STORE": url}, check=0).stdout.splitlines()[0]
    runs = json.loads(e.sluice("--store", url, "runs", "-o", "json", check=0).stdout)
    assert [r["id"] for r in runs] == [run], runs
    # A fresh folder with only the variable set reads the same store.
    other = Env()
    p = other.sluice("status", run, "-o", "json", env={"SLUICE_STORE": url}, check=0)
    assert json.loads(p.stdout)["status"] == "succeeded"


@test
def a_store_that_cannot_be_reached_fails_with_one_line():
    e = Env()
    e.write("p.yaml", TWO_TASKS)
    p = e.sluice("--store", "postgresql://sluice:secret@127.0.0.1:1/nowhere", "run", "p.yaml")
    assert p.returncode != 0 and p.returncode != 1, p
    lines = p.stderr.strip().splitlines()
    assert "cannot connect to PostgreSQL at postgresql://sluice:***@127.0.0.1:1/nowhere" in lines[0], p.stderr
    assert "secret" not in p.stderr, p.stderr
    p = e.sluice("--store", "mysql://x", "runs")
    assert p.returncode == 2 and "--store takes postgresql://... or sqlite:PATH" in p.stderr, p


@test
def an_unreachable_store_is_named_without_its_password():
    e = Env()
    for url in ("postgresql://u:p@ss@127.0.0.1:1/db", "postgresql://u@127.0.0.1:1/db?password=hunter2"):
        p = e.sluice("--store", url, "runs", check=3)
        assert "p@ss" not in p.stderr and "hunter2" not in p.stderr, p.stderr
        assert "127.0.0.1:1/db" in p.stderr, p.stderr


def main():
    if not URL:
        print("e2e-postgres: skipped, SLUICE_TEST_PG_URL is not set, so there is no PostgreSQL "
              "server to test against (make test starts one with scripts/pg.sh)")
        print("e2e-postgres: 0 passed, 0 failed")
        return 0
    try:
        return run_e2e.run_suite(TESTS, "e2e-postgres")
    finally:
        for name in MADE:
            psql(URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
