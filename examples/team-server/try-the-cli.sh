#!/usr/bin/env bash
# The CLI against a server (docs/cli.md, "Against a server"): serves a fresh state folder with
# `sluice server` on a free loopback port, makes an operator token, logs in with it, runs the ML
# example on the server with `sluice run --server` (following its progress as a local run does),
# reads it back with status and logs, reruns it from its `train` task (a new run on the server,
# reusing what came before train), lists the server's waivers, and logs out. The login file goes to a temporary
# XDG_CONFIG_HOME, so your own ~/.config is left alone.
# Usage: examples/team-server/try-the-cli.sh [path/to/sluice]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=${1:-$here/../../build/sluice}
state=$(mktemp -d)
export XDG_CONFIG_HOME=$state/config
unset SLUICE_SERVER SLUICE_TOKEN
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$state"' EXIT

token=$("$sluice" --state-dir "$state/server" token create --user "$(id -un)" --role operator 2>/dev/null)
coproc SERVER { exec "$sluice" --state-dir "$state/server" server --listen 127.0.0.1:0 2>/dev/null; }
server=$SERVER_PID
read -r line <&"${SERVER[0]}"
url=${line##* }
echo "$line"

printf '%s\n' "$token" | "$sluice" login --server "$url"
"$sluice" --server "$url" whoami
run=$("$sluice" --server "$url" run "$here/../ml-pipeline/pipeline.yaml" | head -1)
"$sluice" --server "$url" status "$run"
echo "summary says:"
"$sluice" --server "$url" logs "$run" summary
echo "rerun from train:"
"$sluice" --server "$url" rerun "$run" --from train >/dev/null
"$sluice" --server "$url" waiver list
"$sluice" logout
