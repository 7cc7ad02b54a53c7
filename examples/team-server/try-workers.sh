#!/usr/bin/env bash
# Starts `sluice server` on a fresh state folder, two `sluice worker`s with work folders of their
# own (labels zone=eu and gpu=1), submits workers.yaml over the API and prints how it ended and
# the report task's log (docs/workers.md).
# Usage: examples/team-server/try-workers.sh [path/to/sluice]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=${1:-$here/../../build/sluice}
tmp=$(mktemp -d)
state=$tmp/state
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

admin=$("$sluice" --state-dir "$state" token create --user "$(id -un)" --role admin 2>/dev/null)
worker=$("$sluice" --state-dir "$state" token create --user workers --role worker 2>/dev/null)
coproc SERVER { exec "$sluice" --state-dir "$state" server --listen 127.0.0.1:0 2>"$tmp/server.log"; }
pids+=("$SERVER_PID")
read -r line <&"${SERVER[0]}"
url=${line##* }
echo "$line"
for labels in zone=eu gpu=1; do
  SLUICE_TOKEN=$worker "$sluice" worker --server "$url" --labels "$labels" --slots 2 \
      --work-dir "$tmp/worker-$labels" >/dev/null 2>"$tmp/worker-$labels.log" &
  pids+=("$!")
done
body=$(python3 -c 'import json,sys; print(json.dumps({"pipeline": "workers.yaml", "files": {"workers.yaml": open(sys.argv[1]).read()}}))' "$here/workers.yaml")
run=$(curl -fsS -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
      -d "$body" "$url/api/v1/namespaces/default/runs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 300); do
  status=$(curl -fsS -H "Authorization: Bearer $admin" "$url/api/v1/runs/$run" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  case $status in succeeded|failed|cancelled) break ;; esac
  sleep 0.1
done
echo "run $run $status"
curl -fsS -H "Authorization: Bearer $admin" "$url/api/v1/runs/$run/tasks/report/logs"
