"""Prints one line about the sweep: the best validation accuracy (picked in the pipeline with
math.greatest) and how many values of C reached it. Lives next to pipeline.yaml, which finds it
through ${{ pipeline.dir }}."""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("--best", type=float, required=True)
ap.add_argument("--accuracies", required=True, help="JSON list, one per value of C")
a = ap.parse_args()
accs = json.loads(a.accuracies)
print(f"best validation accuracy {a.best:.3f}, reached by {sum(x == a.best for x in accs)} of {len(accs)} values of C")
