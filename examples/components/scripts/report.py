#!/usr/bin/env python3
"""Write a markdown report of a hyper-parameter sweep and its best model.

Reads the best.json written by evaluate.py (it lists every sweep candidate) and writes
report.md in the current directory, then prints the report's absolute path.
"""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--best", required=True, help="best.json from the evaluate step")
    ap.add_argument("--title", default="Model report")
    ap.add_argument("--out", default="report.md")
    args = ap.parse_args()

    with open(args.best) as f:
        best = json.load(f)
    name = best.get("param_name", "param")

    lines = [
        f"# {args.title}",
        "",
        f"Run `{os.environ.get('SLUICE_RUN_ID', 'local')}`.",
        "",
        "## Sweep",
        "",
        f"| {name} | validation accuracy | |",
        "| ---: | ---: | --- |",
    ]
    for i, c in enumerate(best["candidates"]):
        mark = "**best**" if i == best["best_index"] else ""
        lines.append(f"| {c['param']:g} | {c['val_accuracy']:.4f} | {mark} |")
    lines += [
        "",
        "## Best model",
        "",
        f"- {name} = {best['param']:g}",
        f"- validation accuracy: {best['val_accuracy']:.4f}",
        f"- test accuracy: {best['accuracy']:.4f} on {best.get('test_rows', '?')} held-out rows",
        f"- minimum required: {best['min_accuracy']:g} — "
        f"{'passed' if best['passed'] else 'not passed'}",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(os.path.abspath(args.out))


if __name__ == "__main__":
    main()
