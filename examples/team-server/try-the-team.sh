#!/usr/bin/env bash
# The whole team setup on loopback (docs/workers.md, docs/server.md): a throw-away PostgreSQL
# (scripts/pg.sh), `sluice server` on it, two `sluice worker`s with work folders of their own,
# and the ML example (examples/ml-pipeline) run on the server with its summary and report tasks
# on workers (`executor: worker` added in a copy); prints the run's status and which worker ran
# which task, then stops everything. Needs PostgreSQL 15 (scripts/deps.sh test).
# Usage: examples/team-server/try-the-team.sh [path/to/sluice]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
sluice=${1:-$repo/build/sluice}
tmp=$(mktemp -d)
export XDG_CONFIG_HOME=$tmp/config
unset SLUICE_SERVER SLUICE_TOKEN SLUICE_NAMESPACE
pids=()
pg=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$pg" ] && "$repo/scripts/pg.sh" stop "$pg"
  rm -rf "$tmp"
}
trap cleanup EXIT

pg=$("$repo/scripts/pg.sh" start)
store=$("$repo/scripts/pg.sh" url "$pg")
echo "PostgreSQL at $store"
g=(--state-dir "$tmp/server" --store "$store")
# The team's operator works in namespace "ml" (docs/server.md, "Namespaces and roles"): its runs
# are the ml team's, and another team's tokens do not see them.
operator=$("$sluice" "${g[@]}" token create --user "$(id -un)" --role ml=operator 2>/dev/null)
worker=$("$sluice" "${g[@]}" token create --user workers --role worker 2>/dev/null)
coproc SERVER { exec "$sluice" --state-dir "$tmp/server" server --store "$store" --listen 127.0.0.1:0 2>"$tmp/server.log"; }
pids+=("$SERVER_PID")
read -r line <&"${SERVER[0]}"
url=${line##* }
echo "$line"
for w in one two; do
  SLUICE_TOKEN=$worker "$sluice" worker --server "$url" --slots 2 --name "$w" \
      --work-dir "$tmp/worker-$w" >/dev/null 2>"$tmp/worker-$w.log" &
  pids+=("$!")
done

# The example with its tasks that pass files (not folders) on workers: summary and report. The
# others make or read folder artifacts (the dataset, the models), which cannot leave a worker
# yet (docs/workers.md), so they stay beside the engine. A copy beside its components.
cp -r "$repo/examples/ml-pipeline" "$repo/examples/components" "$tmp/"
sed -i -E 's/^(    - name: (summary|report)\b.*)$/\1\n      executor: worker/' "$tmp/ml-pipeline/pipeline.yaml"
[ "$(grep -c '      executor: worker' "$tmp/ml-pipeline/pipeline.yaml")" = 2 ]
export SLUICE_TOKEN=$operator SLUICE_NAMESPACE=ml
run=$("$sluice" --server "$url" run "$tmp/ml-pipeline/pipeline.yaml" | head -1)
echo "run $run is in namespace $("$sluice" --server "$url" status "$run" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["namespace"])')"
"$sluice" --server "$url" status "$run"
echo "attempt folders left in each worker's work folder (an ended attempt's may be reused):"
for w in one two; do
  echo "  $w: $(ls "$tmp/worker-$w/runs/$run/tasks" 2>/dev/null | grep -v '\.log$' | tr '\n' ' ')"
done
