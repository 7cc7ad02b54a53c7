#!/usr/bin/env bash
# Runs the ML example on a fresh state folder, serves it with `sluice server`, and shows the web
# UI's login as a browser does it (docs/ui.md): the token is posted once and becomes an HttpOnly
# session cookie; reads need only the cookie, writes also the session's CSRF header. A chaos
# experiment run on the same folder is listed, with its report. With
# --open it then keeps serving and prints the URL and token to paste into a browser's login page.
# Usage: examples/team-server/try-the-ui.sh [--open] [path/to/sluice]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
keep=""
[ "${1:-}" = "--open" ] && { keep=1; shift; }
sluice=${1:-$here/../../build/sluice}
state=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$state"' EXIT

run=$("$sluice" --state-dir "$state" run "$here/../ml-pipeline/pipeline.yaml" -j 2 | head -1)
# A chaos experiment on the same state folder: the server lists it and serves its journal and
# report (docs/api.md, "Chaos experiments"; the UI's Chaos page).
"$sluice" --state-dir "$state" chaos run "$here/../chaos/flaky-register.yaml" >/dev/null 2>&1
token=$("$sluice" --state-dir "$state" token create --user "$(id -un)" --role operator 2>/dev/null)

coproc SERVER { exec "$sluice" --state-dir "$state" server --listen 127.0.0.1:0 2>/dev/null; }
server=$SERVER_PID
read -r line <&"${SERVER[0]}"
url=${line##* }
echo "$line"

echo "the page:"; curl -fsS -o /dev/null -w '  GET / -> %{http_code} %{content_type}\n' "$url/"
jar="$state/cookies"
login=$(curl -fsS -c "$jar" -H 'Content-Type: application/json' -d "{\"token\":\"$token\"}" "$url/ui/login")
csrf=$(printf '%s' "$login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
echo "logged in; the cookie: $(grep -o 'sluice_session.*' "$jar" | cut -c1-30)… (HttpOnly: $(grep -c '^#HttpOnly_' "$jar"))"
echo "a read with the cookie:"
curl -fsS -b "$jar" "$url/api/v1/runs/$run" |
  python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ", r["id"], r["status"])'
echo "a write with the cookie but no CSRF header:"
curl -sS -b "$jar" -X POST "$url/api/v1/runs/$run/cancel"; echo
echo "the same write with it (the run has finished, so 409):"
curl -sS -b "$jar" -H "X-Sluice-CSRF: $csrf" -X POST "$url/api/v1/runs/$run/cancel"; echo
echo "the chaos experiments, read with the cookie:"
experiment=$(curl -fsS -b "$jar" "$url/api/v1/chaos/experiments" |
  python3 -c 'import json,sys; x=json.load(sys.stdin)["items"][0]; print(x["id"], x["status"], "deviated" if x["deviated"] else "held")')
echo "  $experiment"
curl -fsS -b "$jar" -o /dev/null -w '  its report -> %{http_code} %{content_type}\n' \
  "$url/api/v1/chaos/experiments/${experiment%% *}/report"
if [ -n "$keep" ]; then
  echo "open $url/ and log in with: $token   (Ctrl-C stops the server)"
  wait "$server"
fi
