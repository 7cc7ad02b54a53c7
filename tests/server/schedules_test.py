#!/usr/bin/env python3
"""Schedules that fire in `sluice server` (issue 13, "Schedules"), on a clock the test controls.

Each server (and each `sluice schedule apply`) reads "now" from the file SLUICE_TEST_CLOCK_FILE
names (a test hook of src/env/env_posix.cc, docs/schedules.md "Testing"); the engines a server
starts run on the real clock. The test moves the file and waits for the leader's next tick.

Usage: schedules_test.py SLUICE [--only SUBSTRING]
Prints one line per failure and ends with "schedules: N passed, M failed".
"""
import calendar, json, os, signal, sqlite3, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import run_e2e  # noqa: E402
from run_e2e import Env  # noqa: E402
from api_test import Server, call  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# A pipeline whose task prints its schedule times, and waits while the file `hold` exists.
PIPELINE = """apiVersion: sluice/v1
kind: Pipeline
metadata: {name: shows-times}
spec:
  tasks:
    - name: show
      run: [sh, -c, 'while [ -e "$HOLD" ]; do sleep 0.05; done; echo "$T $S $E"']
      env:
        HOLD: "%s"
        T: "${{ string(schedule.time) }}"
        S: "${{ string(schedule.intervalStart) }}"
        E: "${{ string(schedule.intervalEnd) }}"
      outputs: {params: [{name: times, from: {stdout: text}}]}
"""


def schedule(name, cron, extra=""):
    return (f"apiVersion: sluice/v1\nkind: Schedule\nmetadata: {{name: {name}}}\nspec:\n"
            f"  pipeline: pipeline.yaml\n  cron: \"{cron}\"\n{extra}")


class Clocked:
    """A state folder, the clock file its commands and servers read, and a server on it."""

    def __init__(self, start):
        self.env = Env()
        self.clock = os.path.join(self.env.dir, "clock")
        self.hold = os.path.join(self.env.dir, "hold")
        self.environ = {"SLUICE_TEST_CLOCK_FILE": self.clock}
        self.env.write("pipeline.yaml", PIPELINE % self.hold)
        self.set(start)
        self.server = None

    def set(self, rfc3339):
        t = calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))
        with open(self.clock + ".tmp", "w") as f:
            f.write(str(t))
        os.replace(self.clock + ".tmp", self.clock)

    def sluice(self, *args, check=0):
        return self.env.sluice(*args, check=check, env=self.environ)

    def apply(self, text):
        self.env.write("s.yaml", text)
        return self.sluice("schedule", "apply", "s.yaml")

    def start(self):
        self.server = Server(self.env, environ=self.environ)
        return self.server

    def kill(self):
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()

    def db(self):
        return sqlite3.connect(os.path.join(self.env.state, "sluice.db"), timeout=10)

    def runs(self):
        with self.db() as c:
            return sorted(r[0] for r in c.execute("SELECT id FROM runs"))

    def status(self, run):
        with self.db() as c:
            row = c.execute("SELECT status FROM runs WHERE id=?", (run,)).fetchone()
        return row[0] if row else None

    def wait_runs(self, want, what):
        self.env.wait_for(lambda: self.runs() == sorted(want), f"{what}: runs {want}, have {self.runs()}",
                          tries=200)

    def wait_done(self, run):
        self.env.wait_for(lambda: self.status(run) in ("succeeded", "failed"), f"{run} to finish", tries=300)
        assert self.status(run) == "succeeded", (run, self.status(run), self.server.log())

    def quiet(self, seconds=2.5):
        """Long enough for the leader to tick twice (it ticks every second)."""
        time.sleep(seconds)

    def skipped(self):
        with self.db() as c:
            return [(r[0], json.loads(r[1])) for r in
                    c.execute("SELECT subject, details FROM audit WHERE action='schedule.skipped'")]

    def times(self, run):
        t = run_e2e.Env.tasks(self.env, run)
        return t["show"]["outputs"]["params"]["times"].strip()


@test
def a_fire_starts_a_run_that_sees_its_schedule_time_and_data_interval():
    c = Clocked("2026-05-17T09:55:00Z")
    c.apply(schedule("every10", "*/10 * * * *"))
    c.start()
    c.set("2026-05-17T09:59:58Z")
    c.quiet()
    assert c.runs() == [], "nothing is due before 10:00"
    c.set("2026-05-17T10:00:01Z")
    c.wait_runs(["sched-every10-20260517T1000Z"], "the 10:00 fire")
    c.wait_done("sched-every10-20260517T1000Z")
    assert c.times("sched-every10-20260517T1000Z") == \
        "2026-05-17T10:00:00Z 2026-05-17T09:50:00Z 2026-05-17T10:00:00Z"
    ls = json.loads(c.sluice("schedule", "ls", "-o", "json").stdout)
    assert ls[0]["name"] == "every10" and ls[0]["watermark"] == "2026-05-17T10:00:00Z", ls
    assert ls[0]["next"] == "2026-05-17T10:10:00Z", ls


@test
def after_the_server_was_down_catch_up_all_starts_the_newest_fires_up_to_its_cap():
    c = Clocked("2026-05-17T09:55:00Z")
    c.apply(schedule("every10", "*/10 * * * *", "  catchUp: all\n  catchUpCap: 3\n"))
    c.set("2026-05-17T10:45:05Z")  # 10:00 to 10:40 came due while no server ran
    c.start()
    c.wait_runs([f"sched-every10-20260517T10{m}0Z" for m in (2, 3, 4)], "the three newest fires")
    c.quiet()
    assert len(c.runs()) == 3, c.runs()
    skipped = c.skipped()
    assert len(skipped) == 1 and skipped[0][1]["count"] == 2, skipped
    assert [f["reason"] for f in skipped[0][1]["fires"]] == ["catchUp", "catchUp"], skipped


@test
def forbid_skips_a_fire_while_its_run_is_active_and_allow_starts_a_second():
    c = Clocked("2026-05-17T09:55:00Z")
    open(c.hold, "w").close()
    c.apply(schedule("forbid", "*/10 * * * *", "  concurrencyPolicy: Forbid\n") + "---\n" +
            schedule("allow", "*/10 * * * *", "  concurrencyPolicy: Allow\n"))
    c.start()
    c.set("2026-05-17T10:00:01Z")
    c.wait_runs(["sched-allow-20260517T1000Z", "sched-forbid-20260517T1000Z"], "both fires")
    c.set("2026-05-17T10:10:01Z")
    c.wait_runs(["sched-allow-20260517T1000Z", "sched-allow-20260517T1010Z",
                 "sched-forbid-20260517T1000Z"], "allow's second run, and no second forbid")
    c.quiet()
    assert len(c.runs()) == 3, c.runs()
    assert c.skipped()[0][0] == "forbid" and c.skipped()[0][1]["fires"][0]["reason"] == "forbid"
    os.remove(c.hold)
    for run in c.runs():
        c.wait_done(run)


@test
def a_suspended_schedule_fires_nothing_until_it_is_resumed():
    c = Clocked("2026-05-17T09:55:00Z")
    c.apply(schedule("every10", "*/10 * * * *"))
    c.sluice("schedule", "suspend", "every10")
    c.start()
    c.set("2026-05-17T10:20:01Z")
    c.quiet()
    assert c.runs() == [], c.runs()
    c.sluice("schedule", "resume", "every10")
    c.wait_runs(["sched-every10-20260517T1020Z"], "the newest due fire (catchUp: last)")
    c.wait_done("sched-every10-20260517T1020Z")


@test
def daylight_saving_in_paris_fires_at_the_documented_times_both_ways():
    nightly = schedule("nightly", "30 2 * * *", "  timeZone: Europe/Paris\n")
    c = Clocked("2026-03-28T12:00:00Z")
    c.apply(nightly)
    c.start()
    # Spring forward: 02:30 does not exist on 29 March; it fires as the clock jumps, 03:00 CEST.
    c.set("2026-03-29T00:59:58Z")
    c.quiet()
    assert c.runs() == [], c.runs()
    c.set("2026-03-29T01:00:02Z")
    c.wait_runs(["sched-nightly-20260329T0100Z"], "the fire at the jump")
    c.wait_done("sched-nightly-20260329T0100Z")
    assert c.times("sched-nightly-20260329T0100Z") == \
        "2026-03-29T01:00:00Z 2026-03-28T01:30:00Z 2026-03-29T01:00:00Z"
    c.server.stop()
    # Fall back: 02:30 happens twice on 25 October; it fires once, at the first (CEST).
    c = Clocked("2026-10-24T12:00:00Z")
    c.apply(nightly)
    c.start()
    c.set("2026-10-25T00:30:02Z")
    c.wait_runs(["sched-nightly-20261025T0030Z"], "02:30 CEST")
    c.set("2026-10-25T01:30:02Z")  # 02:30 CET, the second time
    c.quiet()
    assert c.runs() == ["sched-nightly-20261025T0030Z"], c.runs()
    c.set("2026-10-26T01:30:02Z")
    c.wait_runs(["sched-nightly-20261025T0030Z", "sched-nightly-20261026T0130Z"], "the next night")
    c.wait_done("sched-nightly-20261026T0130Z")


@test
def a_leader_killed_after_creating_a_run_does_not_fire_it_twice():
    c = Clocked("2026-05-17T09:55:00Z")
    c.apply(schedule("every10", "*/10 * * * *"))
    c.start()
    c.set("2026-05-17T10:00:01Z")
    c.wait_runs(["sched-every10-20260517T1000Z"], "the 10:00 fire")
    c.kill()
    # As if it died between recording the run and storing the watermark.
    with c.db() as db:
        db.execute("UPDATE schedules SET watermark_us=?",
                   (calendar.timegm((2026, 5, 17, 9, 55, 0)) * 1000000,))
    c.start()
    c.quiet()
    assert c.runs() == ["sched-every10-20260517T1000Z"], c.runs()
    c.wait_done("sched-every10-20260517T1000Z")
    with c.db() as db:
        wm = db.execute("SELECT watermark_us FROM schedules").fetchone()[0]
    assert wm == calendar.timegm((2026, 5, 17, 10, 0, 0)) * 1000000, wm


@test
def the_api_applies_lists_triggers_and_backfills_as_the_token_user():
    c = Clocked("2026-05-17T09:55:00Z")
    op = c.sluice("token", "create", "--user", "olga", "--role", "operator").stdout.strip()
    viewer = c.sluice("token", "create", "--user", "vic", "--role", "viewer").stdout.strip()
    s = c.start()
    body = json.dumps({"schedule": "s.yaml", "files": {
        "s.yaml": schedule("every10", "*/10 * * * *"),
        "pipeline.yaml": PIPELINE % c.hold}})
    call(s, "PUT", "/api/v1/namespaces/default/schedules", viewer, want=403, body=body)
    applied = call(s, "PUT", "/api/v1/namespaces/default/schedules", op, body=body)
    assert applied == {"applied": ["every10"], "by": "olga"}, applied
    items = call(s, "GET", "/api/v1/namespaces/default/schedules", viewer)["items"]
    assert items[0]["appliedBy"] == "olga" and items[0]["next"] == "2026-05-17T10:00:00Z", items
    run = call(s, "POST", "/api/v1/namespaces/default/schedules/every10/trigger", op, want=201, body="{}")
    assert run["id"] == "sched-every10-20260517T095500Z-manual", run
    filled = call(s, "POST", "/api/v1/namespaces/default/schedules/every10/backfill", op, want=201,
                  body=json.dumps({"from": "2026-05-16T23:40:00Z", "to": "2026-05-17T00:00:00Z"}))
    assert filled["started"] == ["sched-every10-20260516T2340Z", "sched-every10-20260516T2350Z",
                                 "sched-every10-20260517T0000Z"], filled
    again = call(s, "POST", "/api/v1/namespaces/default/schedules/every10/backfill", op, want=201,
                 body=json.dumps({"from": "2026-05-17T00:00:00Z", "to": "2026-05-17T00:00:00Z"}))
    assert again["started"] == [] and again["existing"] == ["sched-every10-20260517T0000Z"], again
    # Tomorrow's fires are the schedule's own: backfilling them now would take their ids.
    future = call(s, "POST", "/api/v1/namespaces/default/schedules/every10/backfill", op, want=400,
                  body=json.dumps({"from": "2026-05-17T10:00:00Z", "to": "2026-05-18T00:00:00Z"}))
    assert "the range ends after now" in json.dumps(future), future
    for r in c.runs():
        c.wait_done(r)
    assert c.times("sched-every10-20260516T2350Z") == \
        "2026-05-16T23:50:00Z 2026-05-16T23:40:00Z 2026-05-16T23:50:00Z"
    call(s, "POST", "/api/v1/namespaces/default/schedules/every10/suspend", op, body="{}")
    with c.db() as db:
        actors = dict(db.execute("SELECT action, actor FROM audit WHERE action LIKE 'schedule.%'"))
    assert actors == {"schedule.applied": "olga", "schedule.suspended": "olga"}, actors
    # The CLI against the server shows what the local CLI shows.
    remote = c.env.sluice("schedule", "ls", "--server", f"http://127.0.0.1:{s.port}", check=0,
                          env=dict(c.environ, SLUICE_TOKEN=viewer)).stdout
    assert remote == c.sluice("schedule", "ls").stdout, remote
    # A team's schedule is in its namespace, and so are its runs, whose ids say which.
    team = c.sluice("token", "create", "--user", "tom", "--role", "team-a=operator").stdout.strip()
    call(s, "PUT", "/api/v1/namespaces/team-a/schedules", op, want=403, body=body)
    call(s, "PUT", "/api/v1/namespaces/team-a/schedules", team, body=body)
    assert [i["name"] for i in call(s, "GET", "/api/v1/namespaces/team-a/schedules", team)["items"]] == ["every10"]
    run = call(s, "POST", "/api/v1/namespaces/team-a/schedules/every10/trigger", team, want=201, body="{}")
    assert run["id"] == "sched-team-a~every10-20260517T095500Z-manual", run
    assert call(s, "GET", f"/api/v1/runs/{run['id']}", team)["namespace"] == "team-a"
    call(s, "GET", f"/api/v1/runs/{run['id']}", viewer, want=404)
    c.wait_done(run["id"])


@test
def trigger_and_backfill_run_locally_with_their_schedule_times():
    c = Clocked("2026-05-17T09:55:00Z")
    c.apply(schedule("every10", "*/10 * * * *"))
    p = c.sluice("backfill", "every10", "--from", "2026-05-17T09:00:00Z", "--to", "2026-05-17T09:10:00Z")
    assert p.stdout.splitlines()[0] == "sched-every10-20260517T0900Z", p.stdout
    assert c.times("sched-every10-20260517T0910Z") == \
        "2026-05-17T09:10:00Z 2026-05-17T09:00:00Z 2026-05-17T09:10:00Z"
    p = c.sluice("schedule", "trigger", "every10")
    assert p.stdout.splitlines()[0] == "sched-every10-20260517T095500Z-manual", p.stdout
    assert c.times("sched-every10-20260517T095500Z-manual") == \
        "2026-05-17T09:55:00Z 2026-05-17T09:50:00Z 2026-05-17T09:55:00Z"
    missing = c.sluice("schedule", "trigger", "nope", check=2)
    assert "no schedule \"nope\"" in missing.stderr, missing.stderr


@test
def the_example_schedules_apply_and_list():
    c = Clocked("2026-05-17T09:55:00Z")
    c.sluice("schedule", "apply", os.path.join(REPO, "examples", "schedules", "report.schedule.yaml"))
    ls = json.loads(c.sluice("schedule", "ls", "-o", "json").stdout)
    assert [(s["name"], s["next"]) for s in ls] == [("weekday-report", "2026-05-18T10:00:00Z")], ls


if __name__ == "__main__":
    sys.exit(run_e2e.run_suite(TESTS, "schedules"))
