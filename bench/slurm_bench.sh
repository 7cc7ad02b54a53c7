#!/usr/bin/env bash
# N short tasks (default 1,000) through Sluice on Slurm against bare sbatch over the same
# commands, which is the limit (issue 17): wall time of each, the ratio to the bare loop, and
# how many squeue calls each made for its N jobs. Four variants, interleaved R times (default 3)
# so that a machine whose load drifts weighs on all alike; medians are reported:
#   bare loop    one `sbatch` per command, then `squeue` every 0.25 s until none is active
#   bare array   one `sbatch --array=0-(N-1)` whose task k runs command k, then the same wait
#   sluice tasks `sluice run` of N independent tasks with executor: slurm (N sbatch calls)
#   sluice array `sluice run` of one forEach over N items (one job array)
#   previous     (with PREVIOUS, another build of sluice) the same forEach, interleaved with the rest
# Runs on a throw-away cluster of its own (scripts/slurm_cluster.sh, $SLUICE_SLURM_CPUS slots,
# default 64), stopped and removed after.
#
# Usage: bench/slurm_bench.sh [SLUICE] [N] [R] [PREVIOUS]   (needs root, and scripts/deps.sh test)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sluice=$(realpath "${1:-$root/build/sluice}")
n=${2:-1000}
reps=${3:-3}
prev=${4:+$(realpath "$4")}
export SLUICE_SLURM_DIR=/tmp/sluice-slurm-bench SLUICE_SLURM_PORT=7017
export SLUICE_SLURM_CPUS=${SLUICE_SLURM_CPUS:-64}
work=$(mktemp -d /tmp/sluice-slurm-bench.XXXXXX)
trap '"$root/scripts/slurm_cluster.sh" purge || true; rm -rf "$work"' EXIT
"$root/scripts/slurm_cluster.sh" up
eval "$("$root/scripts/slurm_cluster.sh" env)"

# squeue, counted: a wrapper first on PATH (sluice finds its clients on PATH too).
mkdir -p "$work/bin" "$work/bare"
printf '#!/bin/sh\necho >> "%s/squeue.calls"\nexec /usr/bin/squeue "$@"\n' "$work" >"$work/bin/squeue"
chmod +x "$work/bin/squeue"
export PATH="$work/bin:$PATH"
calls() { if [ -f "$work/squeue.calls" ]; then wc -l <"$work/squeue.calls"; else echo 0; fi; }
now() { date +%s.%N; }
cmd() { echo "echo task $1"; }  # the command of task k, the same in every variant
wait_done() { while [ -n "$(squeue -h -t PD,R,CG,CF -j "$1" -o %i 2>/dev/null)" ]; do sleep 0.25; done; }

# The inputs, written once (not timed).
for ((k = 0; k < n; k++)); do printf '#!/bin/bash\nexec sh -c %q\n' "$(cmd $k)" >"$work/bare/$k.sh"; done
{
  printf '#!/bin/bash\ncase "$SLURM_ARRAY_TASK_ID" in\n'
  for ((k = 0; k < n; k++)); do printf '  %d) exec sh -c %q ;;\n' $k "$(cmd $k)"; done
  printf 'esac\n'
} >"$work/bare/array.sh"
{
  printf 'apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: slurm-bench}\nspec:\n'
  printf '  defaults: {executor: slurm}\n  tasks:\n'
  for ((k = 0; k < n; k++)); do printf '    - {name: t%d, run: [sh, -c, "%s"]}\n' $k "$(cmd $k)"; done
} >"$work/tasks.yaml"
{
  printf 'apiVersion: sluice/v1\nkind: Pipeline\nmetadata: {name: slurm-bench-array}\nspec:\n'
  printf '  defaults: {executor: slurm}\n  tasks:\n'
  printf '    - name: t\n      forEach: [%s]\n      run: [sh, -c, "echo task $0", "${{ item }}"]\n' \
    "$(seq -s ', ' 0 $((n - 1)))"
} >"$work/array.yaml"

bare_loop() {
  local ids=() k
  for ((k = 0; k < n; k++)); do ids+=("$(sbatch --parsable -o "$work/bare/$k.out" "$work/bare/$k.sh")"); done
  wait_done "$(IFS=,; echo "${ids[*]}")"
}
bare_array() {
  wait_done "$(sbatch --parsable --array=0-$((n - 1)) -o "$work/bare/a%a.out" "$work/bare/array.sh")"
}
sluice_tasks() { "$sluice" --state-dir "$work/state-$1" run "$work/tasks.yaml" >/dev/null 2>&1; }
sluice_array() { "$sluice" --state-dir "$work/state-$1" run "$work/array.yaml" >/dev/null 2>&1; }
previous_array() { "$prev" --state-dir "$work/state-$1" run "$work/array.yaml" >/dev/null 2>&1; }

declare -A times counts
variants=(bare_loop bare_array sluice_tasks sluice_array)
if [ -n "$prev" ]; then variants+=(previous_array); fi
for ((r = 1; r <= reps; r++)); do
  order=("${variants[@]}")
  # The two builds swap places every other repetition: neither always runs after the other.
  if [ -n "$prev" ] && ((r % 2 == 0)); then order=(bare_loop bare_array sluice_tasks previous_array sluice_array); fi
  for v in "${order[@]}"; do
    rm -f "$work/squeue.calls"
    t0=$(now)
    "$v" "$v-$r"
    t1=$(now)
    s=$(echo "$t1 - $t0" | bc)
    times[$v]+="$s "
    counts[$v]+="$(calls) "
    rm -rf "$work/state-$v-$r"
    echo "repetition $r: $v: ${s} s, $(calls) squeue calls"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
span() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%.1f–%.1f", lo, hi}'; }
base=$(echo "${times[bare_loop]}" | median)
echo
echo "| variant | jobs | wall time, median (range) | × bare loop | squeue calls, median |"
echo "| --- | ---: | ---: | ---: | ---: |"
declare -A label=(
  [bare_loop]="bare \`sbatch\` loop, then \`squeue\` every 0.25 s"
  [bare_array]="bare \`sbatch --array=0-$((n - 1))\`, then \`squeue\` every 0.25 s"
  [sluice_tasks]="\`sluice run\`, $n independent tasks of \`executor: slurm\`"
  [sluice_array]="\`sluice run\`, one \`forEach\` of $n (one job array)"
  [previous_array]="the same with the previous build ($(basename "${prev:-none}"))")
for v in "${variants[@]}"; do
  m=$(echo "${times[$v]}" | median)
  printf '| %s | %d | %.1f s (%s) | %.2f× | %s |\n' "${label[$v]}" "$n" "$m" \
    "$(echo "${times[$v]}" | span)" "$(echo "scale=4; $m / $base" | bc)" \
    "$(echo "${counts[$v]}" | median)"
done
