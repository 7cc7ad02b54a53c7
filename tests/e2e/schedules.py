#!/usr/bin/env python3
"""End-to-end tests of issue 13's schedules that need no server: `sluice schedule next` and
`sluice schedule validate` on the examples, a bad cron, and the example pipeline run by hand
(schedule.* null).

Usage: schedules.py SLUICE [--only SUBSTRING]
Uses run_e2e.py's helpers; prints one line per failure and ends with "e2e-schedules: N passed,
M failed".
"""
import json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_e2e  # noqa: E402  (its helpers; its own tests are not run here)
from run_e2e import Env  # noqa: E402

TESTS = []
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples", "schedules")


def test(fn):
    TESTS.append(fn)
    return fn


@test
def next_prints_the_fire_times_across_the_spring_jump_and_writes_nothing():
    e = Env()
    p = e.sluice("schedule", "next", os.path.join(EXAMPLES, "nightly-wine.schedule.yaml"),
                 "--from", "2026-03-28", "--count", "3", check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == ('schedule nightly-wine: cron "30 2 * * *" in Europe/Paris, '
                        'pipeline ../ml-pipeline/pipeline.yaml'), lines
    assert lines[2].split() == ["2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00", "interval",
                                "2026-03-28T01:30:00Z", "to", "2026-03-29T01:00:00Z"], lines
    assert len(lines) == 4, lines
    assert not os.path.exists(e.state), "schedule next wrote state"
    j = json.loads(e.sluice("-o", "json", "schedule", "next",
                            os.path.join(EXAMPLES, "report.schedule.yaml"), "--from",
                            "2026-11-01T00:00:00Z", "-n", "2", check=0).stdout)
    fires = j["schedules"][0]["fires"]
    # Sunday Nov 1 is skipped (mon-fri); Monday 06:00 is EST again (11:00 UTC).
    assert [f["time"] for f in fires] == ["2026-11-02T11:00:00Z", "2026-11-03T11:00:00Z"], fires
    assert fires[0]["intervalStart"] == "2026-10-30T10:00:00Z", fires


@test
def validate_checks_the_example_schedules_and_their_pipelines():
    e = Env()
    for name in ("nightly-wine.schedule.yaml", "report.schedule.yaml"):
        p = e.sluice("schedule", "validate", os.path.join(EXAMPLES, name), check=0)
        assert " is valid: " in p.stdout, p.stdout
    # A pipeline file is not a schedule; a schedule file is not a pipeline.
    p = e.sluice("schedule", "validate", os.path.join(EXAMPLES, "report.yaml"), check=2)
    assert "a schedule file holds only Schedule documents" in p.stderr, p.stderr
    p = e.sluice("validate", os.path.join(EXAMPLES, "report.schedule.yaml"), check=2)
    assert "check it with: sluice schedule validate" in p.stderr, p.stderr
    assert not os.path.exists(e.state)


@test
def a_bad_cron_is_one_line_at_its_column_and_exit_2():
    e = Env()
    path = e.write("bad.yaml", "apiVersion: sluice/v1\nkind: Schedule\nmetadata: {name: b}\n"
                               "spec:\n  pipeline: p.yaml\n  cron: '*/15 9-17 * * 1-6/0'\n")
    for cmd in ("next", "validate"):
        p = e.sluice("schedule", cmd, path, check=2)
        assert p.stderr == (f'{path}:6:28: cron "*/15 9-17 * * 1-6/0": day-of-week field: step '
                            '"0" must be a number from 1 to 8\n'), p.stderr
    e.write("p.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                      "  tasks: [{name: a, run: [x]}]\n")
    zone = e.write("zone.yaml", "apiVersion: sluice/v1\nkind: Schedule\nmetadata: {name: z}\n"
                                "spec:\n  pipeline: p.yaml\n  cron: '@daily'\n  timeZone: Mars/Olympus\n")
    p = e.sluice("schedule", "next", zone, check=2)
    assert p.stderr.startswith(f'{zone}:7:13: unknown time zone "Mars/Olympus"'), p.stderr


@test
def the_example_pipeline_run_by_hand_sees_null_schedule_times():
    e = Env()
    p = e.sluice("run", os.path.join(EXAMPLES, "report.yaml"), "-p", "region=amer", check=0)
    run = p.stdout.splitlines()[0]
    log = e.sluice("logs", run, "report", check=0).stdout
    assert "report for amer from the start of today to now" in log, log


@test
def only_the_owner_or_a_granted_account_defines_what_a_server_fires():
    # A schedule runs its pipeline as the server does: on a shared state folder, applying one is
    # not for everyone who can write the store.
    e = Env()
    e.share()
    for f in os.listdir(EXAMPLES):
        e.write(f, open(os.path.join(EXAMPLES, f)).read())
        os.chmod(os.path.join(e.dir, f), 0o644)
    e.sluice("schedule", "apply", "report.schedule.yaml", check=0)
    for args in (("apply", "report.schedule.yaml"), ("suspend", "weekday-report"), ("resume", "weekday-report")):
        p = e.sluice("schedule", *args, check=2, account="daemon")
        assert "may not manage schedules here" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    os.chmod(e.write("state/users.yaml", "users:\n  - {name: daemon, rights: [schedules]}\n"), 0o640)
    p = e.sluice("schedule", "suspend", "weekday-report", check=0, account="daemon")
    assert "suspended schedule weekday-report" in p.stdout, p.stdout


SECONDLY = """apiVersion: sluice/v1
kind: Schedule
metadata: {name: quick}
spec:
  pipeline: quick.yaml
  cron: "0 2 * * *"
"""


@test
def triggers_in_one_second_are_runs_of_their_own_and_take_the_store_faults():
    """`schedule trigger` twice in the same second: two runs (…-manual, …-manual-2), where two
    fires of one time are one. SLUICE_FAULTS reaches its store."""
    e = Env()
    e.write("quick.yaml", "apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: quick}\n"
            "spec:\n  tasks:\n    - {name: a, run: [builtin:noop]}\n")
    e.write("quick.schedule.yaml", SECONDLY)
    e.sluice("schedule", "apply", "quick.schedule.yaml", check=0)
    ids = []
    for _ in range(3):
        ids.append(e.sluice("schedule", "trigger", "quick", check=0).stdout.split()[0])
    assert len(set(ids)) == 3, ids
    assert ids[0].endswith("-manual"), ids
    same_second = [i for i in ids[1:] if i.rsplit("-manual", 1)[0] == ids[0].rsplit("-manual", 1)[0]]
    assert all(i.endswith(("-manual-2", "-manual-3")) for i in same_second), ids
    # A trigger takes the store faults of SLUICE_FAULTS as `run` does: the disk fills at its 2nd
    # commit, the run stops (exit 3) and resumes once there is room.
    full = e.sluice("schedule", "trigger", "quick", check=3, env={"SLUICE_FAULTS": "disk-full@2"})
    assert "disk is full" in full.stderr, full.stderr
    e.sluice("resume", full.stdout.split()[0], check=0)


if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    sys.exit(run_e2e.run_suite([t for t in TESTS if only in t.__name__], "e2e-schedules"))
