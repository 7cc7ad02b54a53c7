#!/usr/bin/env bash
# Runs the ML example on a fresh state folder, serves that folder with `sluice server` on a free
# loopback port, and reads the run back over the API with a viewer token (docs/server.md).
# Usage: examples/team-server/try-the-api.sh [path/to/sluice]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=${1:-$here/../../build/sluice}
state=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$state"' EXIT

run=$("$sluice" --state-dir "$state" run "$here/../ml-pipeline/pipeline.yaml" -j 2 | head -1)
token=$("$sluice" --state-dir "$state" token create --user "$(id -un)" --role viewer 2>/dev/null)

coproc SERVER { exec "$sluice" --state-dir "$state" server --listen 127.0.0.1:0 2>/dev/null; }
server=$SERVER_PID
read -r line <&"${SERVER[0]}"
url=${line##* }
echo "$line"

curl -fsS "$url/healthz"; echo
curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/whoami"; echo
curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/runs/$run" |
  python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["id"], r["status"], [t["name"] + ":" + t["state"] for t in r["tasks"]])'
echo "without a token:"
curl -sS "$url/api/v1/runs"; echo
