#!/usr/bin/env python3
"""Failure-handling scenarios: each *.yaml here is a pipeline whose leading comments say how to
run it and what must come out. One runner, real processes, a fresh state directory each.

Header lines (before the first non-comment line):
  # scenario: what it shows
  # faults: exit=1@task:x,...        $SLUICE_FAULTS for the run
  # jobs: N                          -j (default 2)
  # exit: N                          the exit code of `sluice run` (default: 0 if the run
  #                                  succeeded, else 1)
  # then: resume | rollback          a second command on the same run (without faults)
  # expect run: STATUS
  # expect task NAME: STATE          also handler instances: NAME.compensate, NAME.fallback
  # expect attempts NAME: N
  # expect output TASK.PARAM: VALUE
  # expect order: A B C              their first attempts started in this order
  # expect breaker NAME: S1 S2 ...   the breaker's states from its first transition on
  # expect not started: A B          these never had an attempt

Usage: run_scenarios.py SLUICE [SCENARIO.yaml...]
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def header(path):
    meta = {"expect": []}
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            body = line[1:].strip()
            if ":" not in body:
                continue
            key, value = body.split(":", 1)
            key, value = key.strip(), value.strip()
            if key.startswith("expect "):
                meta["expect"].append((key[len("expect "):], value))
            else:
                meta[key] = value
    return meta


def sluice(binary, state, args, env_extra=None):
    env = dict(os.environ)
    env.pop("SLUICE_FAULTS", None)
    env.update(env_extra or {})
    env["NO_COLOR"] = "1"
    return subprocess.run([binary, "--state-dir", state] + args, capture_output=True, text=True,
                          env=env, timeout=120)


def check(binary, path):
    meta = header(path)
    problems = []
    with tempfile.TemporaryDirectory(prefix="sluice-scenario-") as state:
        faults = {"SLUICE_FAULTS": meta["faults"]} if meta.get("faults") else {}
        run = sluice(binary, state, ["run", path, "-j", meta.get("jobs", "2")], faults)
        run_id = run.stdout.split("\n")[0].strip()
        if not run_id:
            return [f"no run id; stderr: {run.stderr.strip()}"]
        if "then" in meta:
            follow = sluice(binary, state, [meta["then"], run_id])
            if follow.returncode not in (0, 1):
                problems.append(f"`{meta['then']}` exited {follow.returncode}: {follow.stderr.strip()}")
        status = json.loads(sluice(binary, state, ["-o", "json", "status", run_id]).stdout)
        events = json.loads(sluice(binary, state, ["-o", "json", "events", run_id]).stdout)
        breakers = sluice(binary, state, ["-o", "json", "breakers"])
        breakers = json.loads(breakers.stdout) if breakers.returncode == 0 else []
        tasks = {t["name"]: t for t in status["tasks"]}
        want_exit = int(meta["exit"]) if "exit" in meta else (0 if status["status"] == "succeeded" else 1)
        if run.returncode != want_exit:
            problems.append(f"`sluice run` exited {run.returncode}, expected {want_exit}: "
                            f"{run.stderr.strip()[-300:]}")
        first_start = {}
        for e in events:
            if e["kind"] == "attempt.started" and e.get("task") not in first_start:
                first_start[e["task"]] = e["seq"]
        for what, value in meta["expect"]:
            if what == "run":
                if status["status"] != value:
                    problems.append(f"run {status['status']}, expected {value}")
            elif what.startswith("task "):
                name = what[5:]
                got = tasks.get(name, {}).get("state", "(absent)")
                if got != value:
                    problems.append(f"task {name} {got}, expected {value}: "
                                    f"{tasks.get(name, {}).get('message', '')}")
            elif what.startswith("attempts "):
                name = what[9:]
                got = tasks.get(name, {}).get("attempts", 0)
                if got != int(value):
                    problems.append(f"task {name} had {got} attempts, expected {value}")
            elif what.startswith("output "):
                task, param = what[7:].rsplit(".", 1)
                got = ((tasks.get(task, {}).get("outputs") or {}).get("params") or {}).get(param)
                if str(got).strip() != value:
                    problems.append(f"output {task}.{param} is {got!r}, expected {value!r}")
            elif what == "order":
                names = value.split()
                missing = [n for n in names if n not in first_start]
                if missing:
                    problems.append(f"never started: {' '.join(missing)}")
                elif sorted(names, key=lambda n: first_start[n]) != names:
                    got = sorted(names, key=lambda n: first_start[n])
                    problems.append(f"started in the order {' '.join(got)}, expected {value}")
            elif what == "not started":
                for n in value.split():
                    if n in first_start:
                        problems.append(f"{n} started, expected it not to")
            elif what.startswith("breaker "):
                name = what[8:]
                b = next((b for b in breakers if b["name"] == name), None)
                if b is None:
                    problems.append(f"no breaker {name}")
                    continue
                states = [b["transitions"][0]["from"]] if b["transitions"] else [b["state"]]
                states += [t["to"] for t in b["transitions"]]
                if states != value.split():
                    problems.append(f"breaker {name} went {' '.join(states)}, expected {value}")
            else:
                problems.append(f"unknown expectation {what!r}")
    return problems


def main():
    binary = os.path.abspath(sys.argv[1])
    files = sys.argv[2:] or sorted(os.path.join(HERE, f) for f in os.listdir(HERE)
                                   if f.endswith(".yaml"))
    passed = failed = 0
    for path in files:
        problems = check(binary, path)
        name = os.path.basename(path)
        if problems:
            failed += 1
            print(f"FAIL {name}: {header(path).get('scenario', '')}")
            for p in problems:
                print(f"     {p}")
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"scenarios: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
