#!/usr/bin/env python3
"""Load a dataset bundled with scikit-learn and split it into train/test CSV files.

Writes, under --out (default "data"):
  train.csv, test.csv  numeric feature columns followed by a "target" column, with a header
  meta.json            dataset name, seed, row counts, feature names and class count

The split is stratified and seeded, so the same arguments always give the same files.
Only datasets shipped inside scikit-learn are used: nothing is downloaded.
"""
import argparse
import csv
import json
import os

from sklearn import datasets
from sklearn.model_selection import train_test_split

LOADERS = {
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "iris": datasets.load_iris,
}


def write_csv(path, header, X, y):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row, label in zip(X, y):
            w.writerow([repr(float(v)) for v in row] + [int(label)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="wine", choices=sorted(LOADERS))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--test-size", type=float, default=0.25)
    ap.add_argument("--out", default="data")
    args = ap.parse_args()

    ds = LOADERS[args.dataset]()
    X_train, X_test, y_train, y_test = train_test_split(
        ds.data, ds.target, test_size=args.test_size, random_state=args.seed, stratify=ds.target)

    os.makedirs(args.out, exist_ok=True)
    header = [str(n) for n in ds.feature_names] + ["target"]
    write_csv(os.path.join(args.out, "train.csv"), header, X_train, y_train)
    write_csv(os.path.join(args.out, "test.csv"), header, X_test, y_test)
    meta = {
        "dataset": args.dataset,
        "seed": args.seed,
        "test_size": args.test_size,
        "train_rows": len(y_train),
        "test_rows": len(y_test),
        "features": len(ds.feature_names),
        "classes": len(ds.target_names),
    }
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)

    print(f"dataset {args.dataset}: {meta['features']} features, {meta['classes']} classes")
    print(f"train rows: {meta['train_rows']}")
    print(f"test rows:  {meta['test_rows']}")


if __name__ == "__main__":
    main()
