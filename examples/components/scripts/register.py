#!/usr/bin/env python3
"""Register a model folder in a file-based model registry.

The registry is a folder: <registry>/<name>/v<N>/ holds a copy of the model files and
entry.json (accuracy, source folder, time). Each call adds the next version N. Writes
registered.json ({"name", "version", "path"}) in the working folder for the output param.
"""
import argparse
import json
import os
import shutil
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--accuracy", type=float, required=True)
    args = ap.parse_args()

    home = os.path.join(args.registry, args.name)
    os.makedirs(home, exist_ok=True)
    taken = [int(d[1:]) for d in os.listdir(home) if d.startswith("v") and d[1:].isdigit()]
    version = max(taken, default=0) + 1
    target = os.path.join(home, f"v{version}")
    tmp = target + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name in os.listdir(args.model):
        shutil.copyfile(os.path.join(args.model, name), os.path.join(tmp, name))
    with open(os.path.join(tmp, "entry.json"), "w") as f:
        json.dump({"accuracy": args.accuracy, "source": args.model, "time": time.time()}, f)
    os.rename(tmp, target)  # a version appears whole or not at all
    with open("registered.json", "w") as f:
        json.dump({"name": args.name, "version": version, "path": target}, f)
    print(f"registered {args.name} v{version} (accuracy {args.accuracy}) at {target}")


if __name__ == "__main__":
    main()
