#!/usr/bin/env python3
"""Pick the best model of a sweep and check it against a minimum accuracy.

Inputs are what a forEach sweep gathers: --accuracies and --models are JSON lists (one
element per sweep child, in the same order). The model with the highest validation accuracy
wins; ties go to the earliest in the list. The winner is then scored on <data>/test.csv,
which no sweep child has seen. Writes:
  best.json    {"accuracy": <test accuracy>, "param": <C>, "passed": <accuracy >= min>, ...}
  best-model/  a copy of the winning model folder
"""
import argparse
import json
import os
import pickle
import shutil

import numpy as np


def json_list(text):
    """Parse a gathered forEach value: a JSON list. A single value becomes a 1-element list."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return [text]  # e.g. one plain path
    return value if isinstance(value, list) else [value]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accuracies", type=json_list, required=True)
    ap.add_argument("--models", type=json_list, required=True)
    ap.add_argument("--data", required=True, help="folder holding test.csv")
    ap.add_argument("--min-accuracy", type=float, required=True)
    args = ap.parse_args()

    if not args.models or len(args.accuracies) != len(args.models):
        raise SystemExit(f"need one accuracy per model, got {len(args.accuracies)} "
                         f"accuracies and {len(args.models)} models")

    candidates = []
    for accuracy, folder in zip(args.accuracies, args.models):
        with open(os.path.join(folder, "metrics.json")) as f:
            param = json.load(f)["c"]
        candidates.append({"param": param, "val_accuracy": float(accuracy)})
    best_index = max(range(len(candidates)), key=lambda i: candidates[i]["val_accuracy"])
    best = candidates[best_index]  # max() keeps the first of equal accuracies

    best_folder = args.models[best_index]
    with open(os.path.join(best_folder, "model.pkl"), "rb") as f:
        model = pickle.load(f)
    table = np.loadtxt(os.path.join(args.data, "test.csv"), delimiter=",", skiprows=1)
    accuracy = round(float(model.score(table[:, :-1], table[:, -1].astype(int))), 4)
    passed = accuracy >= args.min_accuracy

    os.makedirs("best-model", exist_ok=True)
    for name in ("model.pkl", "metrics.json"):  # plain copies: the source folder is read-only
        shutil.copyfile(os.path.join(best_folder, name), os.path.join("best-model", name))

    result = {
        "accuracy": accuracy,
        "param": best["param"],
        "param_name": "C",
        "val_accuracy": best["val_accuracy"],
        "best_index": best_index,
        "test_rows": len(table),
        "min_accuracy": args.min_accuracy,
        "passed": passed,
        "candidates": candidates,
    }
    with open("best.json", "w") as f:
        json.dump(result, f, indent=2)

    for c in candidates:
        mark = "  <- best" if c is best else ""
        print(f"C={c['param']:<8g} validation accuracy {c['val_accuracy']:.4f}{mark}")
    verdict = "PASSED" if passed else "FAILED"
    print(f"best C={best['param']:g}: test accuracy {accuracy:.4f} "
          f"(minimum {args.min_accuracy:g}) {verdict}")


if __name__ == "__main__":
    main()
