#!/usr/bin/env python3
"""Writes the example's central configuration, STATE/environments/*.yaml, for a running test
stack (tests/rollouts/stack.py up STACK).

Usage: environments.py STACK STATE APPROVER

- dev: two model servers on ports of their own, a `command` router (hooks/file-weights.sh
  writes the split to STACK/routes/dev.json, where a real router would read it);
- staging: the stack's blue and green slots behind its nginx, watched by its Prometheus;
- prod: two more model servers and a command router, promoted only after staging with a soak,
  and only once APPROVER approves.

Each file is mode 644, as the loader demands of central configuration (owned by the state
folder's owner, writable by no one else). The model servers' pidfiles live under STACK, so
`stack.py down STACK` stops them too. Standard library only.
"""
import json, os, shutil, sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "rollouts"))
import stack as stacklib  # noqa: E402

MODEL_SERVER = os.path.join(REPO, "tests", "rollouts", "model_server.py")
HOOK = os.path.join(HERE, "hooks", "file-weights.sh")


def q(s):
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar


def argv(items):
    return "[" + ", ".join(q(a) for a in items) + "]"


def server_slot(stack_dir, name, port):
    """A slot whose model server runs model_server.py on PORT, its files under STACK."""
    d = os.path.join(stack_dir, "slots", name)
    os.makedirs(d, exist_ok=True)
    pid, log = os.path.join(d, "model_server.pid"), os.path.join(d, "model_server.log")
    return {
        "name": name, "address": f"127.0.0.1:{port}",
        "start": [sys.executable, MODEL_SERVER, "--daemon", "--port", str(port),
                  "--model", "${{ model.path }}", "--version", "${{ model.version }}",
                  "--pidfile", pid, "--log", log],
        "stop": [sys.executable, MODEL_SERVER, "stop", "--pidfile", pid],
        "health_url": f"http://127.0.0.1:{port}/healthz",
    }


def slots_yaml(slots):
    out = "  slots:\n"
    for s in slots:
        out += (f"    - name: {s['name']}\n"
                f"      address: {q(s['address'])}\n"
                f"      start: {argv(s['start'])}\n"
                f"      stop: {argv(s['stop'])}\n"
                f"      health: {{url: {q(s['health_url'])}}}\n"
                f"      startTimeout: 20s\n")
    return out


def environment(name, slots, router, promotion=""):
    return (f"apiVersion: sluice/v1\nkind: Environment\nmetadata: {{name: {name}}}\nspec:\n"
            + slots_yaml(slots) + router + promotion)


def command_router(stack_dir, env):
    routes = os.path.join(stack_dir, "routes")
    os.makedirs(routes, exist_ok=True)
    target = os.path.join(routes, f"{env}.json")
    return ("  router:\n    command:\n"
            f"      apply: {argv([HOOK, target])}\n"
            f"      live: {argv([HOOK, '--check', target])}\n")


def main(args):
    if len(args) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    stack_dir, state, approver = (os.path.abspath(args[0]), os.path.abspath(args[1]), args[2])
    se = stacklib.Stack.attach(stack_dir).env()
    # Four more ports, reserved like the stack's own (try-it.sh releases them).
    ports = stacklib._reserve_ports(4, stack_dir)
    with open(os.path.join(stack_dir, "extra-ports"), "w") as f:
        f.write(" ".join(map(str, ports)) + "\n")

    dev = environment("dev", [server_slot(stack_dir, "dev-a", ports[0]),
                              server_slot(stack_dir, "dev-b", ports[1])],
                      command_router(stack_dir, "dev"))

    staging_slots = []
    for name in ("blue", "green"):
        s = se["slots"][name]
        staging_slots.append({"name": name, "address": s["address"],
                              "start": s["start"] + ["--version", "${{ model.version }}"],
                              "stop": s["stop"], "health_url": s["health_url"]})
    n = se["nginx"]
    staging = environment("staging", staging_slots,
                          "  router:\n    nginx:\n"
                          f"      file: {q(n['upstream_file'])}\n"
                          f"      test: {argv(n['test'])}\n"
                          f"      pidFile: {q(n['pid_file'])}\n"
                          f"      liveUrl: {q(se['route_url'])}\n")

    prod = environment("prod", [server_slot(stack_dir, "prod-a", ports[2]),
                                server_slot(stack_dir, "prod-b", ports[3])],
                       command_router(stack_dir, "prod"),
                       "  promotion:\n"
                       "    after: staging            # released to staging first...\n"
                       "    soak: 8s                  # ...and served there this long (try-it.sh: SOAK)\n"
                       "    policies: [prod-evidence] # STATE/policies/prod-evidence.yaml must allow it\n"
                       "    approval:\n"
                       f"      approvers: [{approver}]\n"
                       "      # The example runs and approves as one account; in a team, keep\n"
                       "      # the default (true): whoever submitted the run cannot approve it.\n"
                       "      forbidSelfApproval: false\n"
                       "      instructions: check the staging canary's measurements first\n")

    with open(os.path.join(HERE, "analysis.yaml")) as f:
        templates = f.read().replace("PROMETHEUS_URL", se["prometheus_url"])

    folder = os.path.join(state, "environments")
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)
    for file, text in (("dev.yaml", dev), ("staging.yaml", staging), ("prod.yaml", prod),
                       ("analysis.yaml", templates)):
        path = os.path.join(folder, file)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    # prod's promotion policy, central like the environments (promotion-policy.yaml).
    policies = os.path.join(state, "policies")
    os.makedirs(policies, exist_ok=True)
    os.chmod(policies, 0o755)
    path = os.path.join(policies, "prod-evidence.yaml")
    shutil.copyfile(os.path.join(HERE, "promotion-policy.yaml"), path)
    os.chmod(path, 0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
