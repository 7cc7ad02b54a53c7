#!/usr/bin/env bash
# Sluice benchmark harness: Sluice vs make vs ninja vs Snakemake on the same DAGs, plus
# engine-overhead and start-up runs. Builds nothing. See bench/README.md.
#
#   bench/run_bench.sh [SLUICE] [--previous PATH] [--quick] [--skip TOOL]... [--keep]
#
#   SLUICE           sluice binary to measure (default: build/sluice)
#   --previous PATH  a previous sluice build, measured alongside as "sluice (previous)"
#   --quick          few runs and small sizes: checks the harness, numbers are not for RESULTS
#   --skip TOOL      leave out make|ninja|snakemake|sluice|engine|startup (repeatable)
#   --keep           keep the temporary work directory (generated DAGs, outputs)
#   --no-write       do not touch bench/RESULTS.md; print the section to stdout instead
#
# Environment overrides: RUNS (5), WARMUP (1), SNAKEMAKE_RUNS (2, for the big shapes),
# ENGINE_SIZES ("100000 1000000"), ENGINE_REPS ("3 1", one per size), STARTUP_RUNS (20),
# BENCH_TIMEOUT (seconds per hyperfine invocation / engine run, 900).
#
# Robustness: a missing tool or a failing sluice is reported and its column skipped; the
# script itself always finishes and writes what it measured.

set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
GEN="$HERE/gen_dags.py"
ORIG_CMD="$0${*:+ $*}"

SLUICE=""
PREV=""
QUICK=0
KEEP=0
WRITE=1
declare -A SKIP=()
while [ $# -gt 0 ]; do
  case "$1" in
    --previous) PREV="${2:-}"; shift 2 ;;
    --previous=*) PREV="${1#*=}"; shift ;;
    --quick) QUICK=1; shift ;;
    --keep) KEEP=1; shift ;;
    --no-write) WRITE=0; shift ;;
    --skip) SKIP["${2:-}"]=1; shift 2 ;;
    --skip=*) SKIP["${1#*=}"]=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "run_bench: unknown option $1" >&2; exit 2 ;;
    *) SLUICE="$1"; shift ;;
  esac
done
SLUICE="${SLUICE:-build/sluice}"

if [ ! -x "$PY" ]; then echo "run_bench: $PY is required" >&2; exit 1; fi

RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
SNAKEMAKE_RUNS=${SNAKEMAKE_RUNS:-2}
ENGINE_SIZES=${ENGINE_SIZES:-"100000 1000000"}
ENGINE_REPS=${ENGINE_REPS:-"3 1"}
STARTUP_RUNS=${STARTUP_RUNS:-20}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}
SHAPES=("chain 200" "fanout 1000" "layered 2000")
SNAKE_SEPARATE_MIN=1000   # shapes with N >= this run snakemake in its own, shorter invocation
if [ "$QUICK" = 1 ]; then
  RUNS=${QUICK_RUNS:-2}; WARMUP=0; SNAKEMAKE_RUNS=1; STARTUP_RUNS=5
  ENGINE_SIZES="10000"; ENGINE_REPS="1"
  SHAPES=("chain 50" "fanout 200" "layered 400")
  SNAKE_SEPARATE_MIN=200
fi

# relative paths: against the current directory if the file is there, else the repo root
abspath() {
  case "$1" in
    /*) echo "$1" ;;
    *) if [ -e "$PWD/$1" ]; then echo "$PWD/$1"; else echo "$ROOT/$1"; fi ;;
  esac
}
have() { command -v "$1" >/dev/null 2>&1; }
skipped() { [ -n "${SKIP[$1]:-}" ]; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
RES="$WORK/results"
mkdir -p "$RES"
NOTES="$RES/notes.txt"
: >"$NOTES"
note() { echo "run_bench: $*" >&2; echo "$*" >>"$NOTES"; }
cleanup() {
  if [ "$KEEP" = 1 ]; then echo "run_bench: work directory kept: $WORK" >&2
  else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "run_bench: interrupted" >&2; exit 130' INT TERM

START_TS=$(date +%s)
echo "$ORIG_CMD" >"$RES/command.txt"
echo "$PWD" >"$RES/cwd.txt"
date -u '+%Y-%m-%d %H:%M UTC' >"$RES/date.txt"
printf 'runs=%s\nwarmup=%s\nsnakemake_runs=%s\nstartup_runs=%s\nquick=%s\n' \
  "$RUNS" "$WARMUP" "$SNAKEMAKE_RUNS" "$STARTUP_RUNS" "$QUICK" >"$RES/params.txt"
[ "$QUICK" = 1 ] && note "--quick: reduced runs and sizes; not comparable with full runs."
have timeout || { note "coreutils timeout missing; runs are not time-limited."; timeout() { shift; "$@"; }; }

# ---- which binaries take part ---------------------------------------------------------
# SL_NAMES/SL_BINS: the sluice builds measured ("sluice", "sluice (previous)").
SL_NAMES=()
SL_BINS=()
SL_TAGS=()
add_sluice() {  # name path tag
  local p
  p=$(abspath "$2")
  if [ -x "$p" ] && [ -f "$p" ]; then
    SL_NAMES+=("$1"); SL_BINS+=("$p"); SL_TAGS+=("$3")
    local v
    v=$(timeout 10 "$p" --version 2>/dev/null | head -n1)
    echo "$1	$p	${v:-unknown}" >>"$RES/sluice-versions.tsv"
  else
    note "$1 binary not found or not executable at $p: its columns are skipped."
  fi
}
if skipped sluice; then note "sluice skipped (--skip sluice)."
else
  add_sluice "sluice" "$SLUICE" cur
  [ -n "$PREV" ] && add_sluice "sluice (previous)" "$PREV" prev
fi

TOOLS=()
for t in make ninja snakemake; do
  if skipped "$t"; then note "$t skipped (--skip $t)."
  elif have "$t"; then TOOLS+=("$t")
  else note "$t not installed: its column is skipped."; fi
done
HAVE_HF=1
if ! have hyperfine; then
  HAVE_HF=0
  note "hyperfine not installed: process-DAG and start-up benchmarks skipped (apt-get install hyperfine)."
fi

# The command and the --prepare for each baseline tool (run by hyperfine in the DAG directory).
tool_cmd() {
  case "$1" in
    make) echo "make -j2 -f Makefile" ;;
    ninja) echo "ninja -j2" ;;
    snakemake) echo "snakemake -j2 --quiet -s Snakefile" ;;
  esac
}
tool_prep() {  # tool, extra-state-to-delete
  case "$1" in
    make) echo "rm -rf out && mkdir out" ;;
    ninja) echo "rm -rf out .ninja_log .ninja_deps && mkdir out" ;;
    snakemake) echo "rm -rf out .snakemake && mkdir out" ;;
  esac
}
sluice_cmd() {  # bin statedir
  printf '%q run pipeline.yaml -j 2 --state-dir %q >/dev/null 2>&1' "$1" "$2"
}

# Preflight: run sluice once on a DAG; drop it (with a note) if it fails or is wrong.
preflight_sluice() {  # idx dir shape n -> 0 if usable
  local i=$1 d=$2 shape=$3 n=$4 st="$2/state-${SL_TAGS[$1]}" rc chk
  rm -rf "$d/out" "$st"; mkdir -p "$d/out"
  (cd "$d" && timeout "$BENCH_TIMEOUT" "${SL_BINS[$i]}" run pipeline.yaml -j 2 --state-dir "$st" \
      >"$RES/preflight-${SL_TAGS[$i]}-$shape.log" 2>&1)
  rc=$?
  if [ $rc -ne 0 ]; then
    note "${SL_NAMES[$i]} failed on $shape $n (exit $rc) in a preflight run; skipped for this shape. Last lines: $(tail -n 3 "$RES/preflight-${SL_TAGS[$i]}-$shape.log" | tr '\n' ' ')"
    return 1
  fi
  chk=$("$PY" "$GEN" "$d" "$shape" "$n" --check)
  if [ $? -ne 0 ]; then
    note "${SL_NAMES[$i]} produced wrong output on $shape $n in a preflight run ($chk); skipped for this shape."
    return 1
  fi
  return 0
}

# hyperfine wrapper: hf JSONSTEM CHECK_SHAPE N WARMUP RUNS -- (name cmd prep)...
hf() {
  local stem=$1 shape=$2 n=$3 warm=$4 runs=$5; shift 6
  local args=() checkcmd
  while [ $# -gt 0 ]; do
    args+=(-n "$1" "$2" --prepare "$3"); shift 3
  done
  # after all runs of each command, check the output of its last run (order = command order)
  checkcmd=$(printf '%q %q . %q %q --check >>%q 2>&1' "$PY" "$GEN" "$shape" "$n" "$RES/$stem.checks")
  [ "$shape" = startup ] && checkcmd=":"
  : >"$RES/$stem.checks"
  timeout "$BENCH_TIMEOUT" hyperfine --style basic -i --warmup "$warm" --runs "$runs" \
      --cleanup "$checkcmd" --export-json "$RES/$stem.json" "${args[@]}" 2>&1 \
      | tee -a "$RES/hyperfine.log" >&2
  local rc=${PIPESTATUS[0]}
  [ $rc -ne 0 ] && note "hyperfine for $stem exited with $rc (timeout ${BENCH_TIMEOUT}s?); results may be missing."
  return 0
}

# ---- process DAGs -----------------------------------------------------------------------
if [ "$HAVE_HF" = 1 ]; then
  for spec in "${SHAPES[@]}"; do
    set -- $spec; shape=$1; n=$2
    d="$WORK/$shape"
    "$PY" "$GEN" "$d" "$shape" "$n" || { note "gen_dags failed for $shape $n"; continue; }
    echo "$shape $n" >>"$RES/shapes.txt"
    entries=()
    for i in "${!SL_BINS[@]}"; do
      if preflight_sluice "$i" "$d" "$shape" "$n"; then
        st="$d/state-${SL_TAGS[$i]}"
        entries+=("${SL_NAMES[$i]}" "$(sluice_cmd "${SL_BINS[$i]}" "$st")" "rm -rf out $(printf %q "$st") && mkdir out")
      fi
    done
    snake_sep=0
    for t in "${TOOLS[@]}"; do
      if [ "$t" = snakemake ] && [ "$n" -ge "$SNAKE_SEPARATE_MIN" ]; then snake_sep=1; continue; fi
      entries+=("$t" "$(tool_cmd "$t")" "$(tool_prep "$t")")
    done
    echo "=== $shape $n ===" >&2
    if [ ${#entries[@]} -gt 0 ]; then
      (cd "$d" && hf "shape-$shape" "$shape" "$n" "$WARMUP" "$RUNS" -- "${entries[@]}")
    fi
    if [ "$snake_sep" = 1 ]; then
      echo "=== $shape $n: snakemake (separate, --warmup 0 --runs $SNAKEMAKE_RUNS) ===" >&2
      (cd "$d" && hf "shape-$shape-snakemake" "$shape" "$n" 0 "$SNAKEMAKE_RUNS" -- \
          snakemake "$(tool_cmd snakemake)" "$(tool_prep snakemake)")
      note "snakemake on $shape $n: separate hyperfine invocation with --warmup 0 --runs $SNAKEMAKE_RUNS (it takes 20-40x as long as make there)."
    fi
    [ "$KEEP" = 1 ] || rm -rf "$d"
  done
fi

# ---- start-up: 10-task sequential chain of `true` ---------------------------------------
if [ "$HAVE_HF" = 1 ] && ! skipped startup; then
  d="$WORK/startup"
  "$PY" "$GEN" "$d" startup 10
  entries=()
  for i in "${!SL_BINS[@]}"; do
    st="$d/state-${SL_TAGS[$i]}"
    if (cd "$d" && timeout 60 "${SL_BINS[$i]}" run pipeline.yaml -j 2 --state-dir "$st" >"$RES/preflight-${SL_TAGS[$i]}-startup.log" 2>&1); then
      entries+=("${SL_NAMES[$i]}" "$(sluice_cmd "${SL_BINS[$i]}" "$st")" "rm -rf $(printf %q "$st")")
    else
      note "${SL_NAMES[$i]} failed on the start-up chain; skipped there."
    fi
  done
  for t in make ninja; do
    [[ " ${TOOLS[*]} " == *" $t "* ]] || continue
    case $t in
      make) entries+=(make "make -j2 -f Makefile" ":") ;;
      ninja) entries+=(ninja "ninja -j2" "rm -f .ninja_log .ninja_deps") ;;
    esac
  done
  echo "=== start-up: 10-task chain of true ===" >&2
  [ ${#entries[@]} -gt 0 ] && (cd "$d" && hf startup startup 10 3 "$STARTUP_RUNS" -- "${entries[@]}")
fi

# ---- engine overhead: builtin:noop layered DAGs, /usr/bin/time -v ----------------------
if ! skipped engine && [ ${#SL_BINS[@]} -gt 0 ]; then
  read -r -a reps <<<"$ENGINE_REPS"
  k=0
  for n in $ENGINE_SIZES; do
    r=${reps[$k]:-1}; k=$((k + 1))
    d="$WORK/engine-$n"
    echo "=== engine $n (builtin:noop), $r run(s) each ===" >&2
    "$PY" "$GEN" "$d" engine "$n" || { note "gen_dags failed for engine $n"; continue; }
    for i in "${!SL_BINS[@]}"; do
      tag=${SL_TAGS[$i]}
      for rep in $(seq 1 "$r"); do
        st="$d/state-$tag"
        rm -rf "$st"
        tf="$RES/engine-$n-$tag-$rep.time"
        t0=$(date +%s%N)
        if [ -x /usr/bin/time ]; then
          (cd "$d" && timeout "$BENCH_TIMEOUT" /usr/bin/time -v -o "$tf" \
              "${SL_BINS[$i]}" run pipeline.yaml -j 2 --state-dir "$st" --stats >/dev/null 2>"$RES/engine-$n-$tag-$rep.err")
          rc=$?
        else
          # fallback: same two lines GNU time would print
          (cd "$d" && timeout "$BENCH_TIMEOUT" "$PY" -c '
import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[1] + ".err", "w"))
w = time.monotonic() - t
with open(sys.argv[1], "w") as f:
    f.write(f"\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:{w:09.6f}\n")
    f.write(f"\tMaximum resident set size (kbytes): {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
    f.write(f"\tExit status: {rc}\n")
sys.exit(rc)' "$tf" "${SL_BINS[$i]}" run pipeline.yaml -j 2 --state-dir "$st" --stats)
          rc=$?
        fi
        t1=$(date +%s%N)
        echo "$((t1 - t0))" >"$RES/engine-$n-$tag-$rep.wall_ns"
        echo "$rc" >"$RES/engine-$n-$tag-$rep.rc"
        echo "  ${SL_NAMES[$i]} run $rep: exit $rc" >&2
        if [ "$rc" -ne 0 ]; then
          note "${SL_NAMES[$i]} exited $rc on engine $n (run $rep): $(tail -n 2 "$RES/engine-$n-$tag-$rep.err" 2>/dev/null | tr '\n' ' ')"
          break
        fi
      done
      rm -rf "$d/state-$tag"
    done
    rm -rf "$d"
  done
elif ! skipped engine; then
  note "engine-overhead runs skipped: no sluice binary."
fi

END_TS=$(date +%s)
echo "$((END_TS - START_TS))" >"$RES/elapsed_seconds.txt"

# ---- summary --------------------------------------------------------------------------
sum_args=("$RES" --command "$ORIG_CMD")
if [ "$WRITE" = 1 ]; then sum_args+=(--out "$HERE/RESULTS.md"); fi
"$PY" "$HERE/summarize.py" "${sum_args[@]}" || echo "run_bench: summarize.py failed; raw results in $RES" >&2
# keep the raw files next to RESULTS.md for inspection
if [ "$WRITE" = 1 ]; then
  rm -rf "$HERE/results/latest" && mkdir -p "$HERE/results" && cp -r "$RES" "$HERE/results/latest"
fi
echo "run_bench: done in $((END_TS - START_TS)) s" >&2
exit 0
