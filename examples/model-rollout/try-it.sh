#!/usr/bin/env bash
# Takes the ML example's model through dev, staging and prod on a real stack (README.md):
# nginx and Prometheus from Debian's packages and the project's model servers, all on loopback
# in a temporary folder, brought down on exit. Three releases: v1 (C=0.1) is each environment's
# first model; v2 (C=1.0) goes through a canary in staging judged by Prometheus, then a
# blue/green switch in prod once approved; v3 (C=10) is approved too early, refused by prod's
# soak rule, and retried. Needs nginx-light, prometheus, python3-sklearn
# (scripts/deps.sh test demo). About 65 s.
#
#   examples/model-rollout/try-it.sh             # with build/sluice
#   SLUICE=/path/to/sluice examples/model-rollout/try-it.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SLUICE=$(realpath "${SLUICE:-$REPO/build/sluice}")
STACKPY=$REPO/tests/rollouts/stack.py
WORK=$(mktemp -d /tmp/model-rollout.XXXXXX)
STACK=$WORK/stack
export SLUICE_HOME=$WORK/state
LOADGEN=""
SOAK=8          # prod's promotion.soak (environments.py), in seconds
START=$(date +%s)

cleanup() {
  local rc=$?
  set +e
  [ "$rc" = 0 ] || { echo "try-it: FAILED; the runs' logs:" >&2; tail -n 30 "$WORK"/run*.log >&2 2>/dev/null; }
  for f in "$WORK"/*.pid; do  # a run still going (waiting for a vote, say): stop it
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null && wait "$(cat "$f")" 2>/dev/null
  done
  [ -n "$LOADGEN" ] && kill "$LOADGEN" 2>/dev/null && wait "$LOADGEN" 2>/dev/null
  python3 "$STACKPY" down "$STACK" >/dev/null 2>&1 || echo "try-it: stack.py down reported a problem" >&2
  if [ -f "$STACK/extra-ports" ]; then  # the dev and prod ports environments.py reserved
    python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import stack
stack._release_ports([int(p) for p in open(sys.argv[2]).read().split()], sys.argv[3])' \
      "$REPO/tests/rollouts" "$STACK/extra-ports" "$STACK" || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n### %s\n' "$*"; }
sl() {  # echoes the command (quoting arguments with spaces), then runs it
  printf '$ sluice'
  for a in "$@"; do case $a in *' '*) printf ' "%s"' "$a" ;; *) printf ' %s' "$a" ;; esac; done
  echo
  "$SLUICE" "$@"
}
# JSON of a sluice command, one value picked by a Python expression over it (`d`).
pick() { local expr=$1; shift; "$SLUICE" "$@" -o json | python3 -c "import json,sys; d=json.load(sys.stdin); print($expr)"; }
wait_for() {  # DESCRIPTION SECONDS COMMAND...: until COMMAND succeeds
  local what=$1 limit=$2; shift 2
  local until=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$until" ] || { echo "try-it: timed out waiting for $what" >&2; return 1; }
    sleep 0.2
  done
}
awaits_approval() {  # RUN: its deploy-prod waits for a vote
  [ "$(pick "any(a['run'] == '$1' and a['task'] == 'deploy-prod' for a in d)" approvals)" = True ]
}
run_id() { head -n 1 "$WORK/$1.out" 2>/dev/null | grep -q . && head -n 1 "$WORK/$1.out"; }

# Starts a run of the pipeline in the background (its id on stdout, progress in NAME.log).
start_run() {  # NAME VERSION C
  "$SLUICE" run "$HERE/pipeline.yaml" -p version="$2" -p c="$3" >"$WORK/$1.out" 2>"$WORK/$1.log" &
  echo $! >"$WORK/$1.pid"
  wait_for "the run id of $1" 10 run_id "$1"
}
finish_run() {  # NAME: waits for it, fails when the run failed
  local pid; pid=$(cat "$WORK/$1.pid")
  wait "$pid" || { echo "try-it: run $1 failed" >&2; return 1; }
  rm "$WORK/$1.pid"
}
approve_prod() {  # RUN
  wait_for "deploy-prod's approval request" 60 awaits_approval "$1"
  sl approvals
  # prod's promotion rules: released to staging and served there for $SOAK s. The staging
  # release happened moments ago; an approval that came too early would make the prod
  # rollout refuse (class policy-denied), so a person (and this script) waits it out.
  sleep "$SOAK"
  sl approve "$1" deploy-prod --comment "staging looks healthy"
}

say "the stack: nginx, Prometheus (1 s scrape), model servers started by the slots"
python3 "$STACKPY" up "$STACK" >/dev/null
python3 "$HERE/environments.py" "$STACK" "$SLUICE_HOME" "$(id -un)"
FRONT=$(python3 "$STACKPY" env "$STACK" front_url)
echo "staging's nginx: $FRONT   environments: $SLUICE_HOME/environments/"
ls -l "$SLUICE_HOME/environments"

say "release v1 (C=0.1): each environment's first model takes all traffic"
start_run run1 v1 0.1
RUN1=$(run_id run1)
approve_prod "$RUN1"
finish_run run1
sl env ls
echo "prod's promotion policy on v1 (sluice status $RUN1 -o json, decisions):"
pick '"\n".join("  %s %s/%s: %s" % (x["stage"], x["policy"], x["rule"], x["result"]) for x in d["decisions"] if x["stage"] == "promotion")' status "$RUN1"

say "release v2 (C=1.0) with requests flowing through staging's nginx"
python3 "$REPO/tests/rollouts/loadgen.py" "$FRONT" --threads 2 --rate 40 --duration 120 >/dev/null 2>&1 &
LOADGEN=$!
start_run run2 v2 1.0
RUN2=$(run_id run2)
staging_at_50() { [ "$(pick "d['state']['weight']" rollout status "$RUN2" deploy-staging)" = 50 ]; }
wait_for "staging's canary at 50 %" 60 staging_at_50
sleep 5
sl rollout status "$RUN2" deploy-staging
approve_prod "$RUN2"
finish_run run2

say "release v3 (C=10): approved before its staging soak, so prod refuses it"
start_run run3 v3 10
RUN3=$(run_id run3)
wait_for "deploy-prod's approval request" 60 awaits_approval "$RUN3"
sl approve "$RUN3" deploy-prod --comment "too soon"
if wait "$(cat "$WORK/run3.pid")"; then
  # Only a machine so slow that more than the soak passed between staging's release and
  # prod's check gets here: v3 is in prod, and there is nothing to retry.
  rm "$WORK/run3.pid"
  echo "note: v3 had soaked $SOAK s in staging before prod checked it (a slow machine); not refused"
else
  rm "$WORK/run3.pid"
  sl status "$RUN3" | sed -n '1,2p;5,10p'
  sl rollout status "$RUN3" deploy-prod
  sleep "$SOAK"
  echo "($SOAK s later)"
  "$SLUICE" rollout retry "$RUN3" deploy-prod >"$WORK/retry.out" 2>"$WORK/run3-retry.log" &
  echo $! >"$WORK/retry.pid"
  printf '$ sluice rollout retry %s deploy-prod\n' "$RUN3"
  wait_for "the retried deploy-prod's approval request" 60 awaits_approval "$RUN3"
  sl approve "$RUN3" deploy-prod --comment "soaked now"
  wait "$(cat "$WORK/retry.pid")" || { echo "try-it: the retry of v3 failed" >&2; exit 1; }
  rm "$WORK/retry.pid"
  cat "$WORK/run3-retry.log"
fi
kill "$LOADGEN" 2>/dev/null; wait "$LOADGEN" 2>/dev/null || true; LOADGEN=""

say "what happened"
sl rollout status "$RUN2" deploy-staging
sl rollout status "$RUN2" deploy-prod
sl env ls
sl env history prod
sl rollout report "$RUN2" deploy-staging --out "${REPORT_DIR:-$WORK}/staging-v2.html"
echo "\$ cat $STACK/routes/prod.json    # what prod's command router was given last"
cat "$STACK/routes/prod.json"
echo
echo "try-it: done in $(( $(date +%s) - START )) s"
