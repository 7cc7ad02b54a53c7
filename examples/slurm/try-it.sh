#!/usr/bin/env bash
# Starts a throw-away single-node Slurm cluster, runs pipeline.yaml on it, shows the run, its
# jobs and a log, and stops the cluster. Needs root and scripts/deps.sh test (slurm-wlm, munge).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
sluice=${SLUICE:-$root/build/sluice}
export SLUICE_SLURM_DIR=${SLUICE_SLURM_DIR:-/tmp/sluice-slurm-example}
state=$(mktemp -d)
trap '"$root/scripts/slurm_cluster.sh" purge; rm -rf "$state"' EXIT
"$root/scripts/slurm_cluster.sh" up
eval "$("$root/scripts/slurm_cluster.sh" env)"      # SLURM_CONF, which every client needs
run=$("$sluice" --state-dir "$state" run "$here/pipeline.yaml" | head -n 1)
"$sluice" --state-dir "$state" status "$run"
squeue -h -t all -O 'JobID:8,ArrayJobID:8,ArrayTaskID:6,Name:16,State:12,Comment:30'
"$sluice" --state-dir "$state" logs "$run" prepare
