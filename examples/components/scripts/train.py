#!/usr/bin/env python3
"""Train one logistic-regression model for one regularization strength C.

Reads <data>/train.csv, holds out a seeded, stratified validation split, fits
StandardScaler + LogisticRegression(C) on the rest and writes:
  model/model.pkl      the fitted scikit-learn pipeline (pickle)
  model/metrics.json   {"param": "C", "c": ..., "accuracy": <validation accuracy>, ...}
  metrics.json         the same metrics, next to the model folder

Deterministic by default. With SLUICE_DEMO_FLAKY=1 in the environment it fails with a
small probability before training (exit code 75), to show retries at work.
"""
import argparse
import json
import os
import pickle
import random
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FLAKY_PROBABILITY = 0.2


def load_csv(path):
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, :-1], table[:, -1].astype(int)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder holding train.csv")
    ap.add_argument("--c", type=float, required=True, help="inverse regularization strength")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--val-size", type=float, default=0.25)
    ap.add_argument("--out", default="model")
    args = ap.parse_args()

    if os.environ.get("SLUICE_DEMO_FLAKY") == "1" and random.SystemRandom().random() < FLAKY_PROBABILITY:
        attempt = os.environ.get("SLUICE_ATTEMPT", "?")
        print(f"demo: simulated transient failure (attempt {attempt})", file=sys.stderr)
        sys.exit(75)  # EX_TEMPFAIL

    X, y = load_csv(os.path.join(args.data, "train.csv"))
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=args.val_size, random_state=args.seed, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=args.c, max_iter=1000))
    model.fit(X_fit, y_fit)
    accuracy = float(model.score(X_val, y_val))

    metrics = {
        "param": "C",
        "c": args.c,
        "accuracy": round(accuracy, 4),
        "fit_rows": len(y_fit),
        "val_rows": len(y_val),
        "seed": args.seed,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "model.pkl"), "wb") as f:
        pickle.dump(model, f)
    for path in (os.path.join(args.out, "metrics.json"), "metrics.json"):
        with open(path, "w") as f:
            json.dump(metrics, f, indent=2)

    print(f"C={args.c:g}: validation accuracy {accuracy:.4f} on {len(y_val)} rows")


if __name__ == "__main__":
    main()
