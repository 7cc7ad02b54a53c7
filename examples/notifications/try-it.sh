#!/usr/bin/env bash
# Starts a webhook receiver on a free loopback port and `sluice server` on a fresh state folder
# with notifications.yaml, runs hello.yaml once to success and once to failure, and prints what
# the receiver got and `sluice notifications ls` (docs/notifications.md).
# Usage: examples/notifications/try-it.sh [path/to/sluice]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=${1:-$here/../../build/sluice}
state=$(mktemp -d)
got=$state/received.jsonl
trap 'kill "$server" "$receiver" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$state"' EXIT

# The receiver: prints its port, then appends each POSTed body to $got.
coproc RECEIVER { exec python3 -u -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        open(sys.argv[1], "ab").write(body + b"\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1]); s.serve_forever()' "$got"; }
receiver=$RECEIVER_PID
read -r port <&"${RECEIVER[0]}"

cp "$here/notifications.yaml" "$state/"
coproc SERVER { RECEIVER_PORT=$port RECEIVER_TOKEN=example exec "$sluice" --state-dir "$state" \
  server --listen 127.0.0.1:0 2>/dev/null; }
server=$SERVER_PID
read -r line <&"${SERVER[0]}"
echo "$line"

"$sluice" --state-dir "$state" run "$here/hello.yaml" >/dev/null
"$sluice" --state-dir "$state" run "$here/hello.yaml" -p fail=true >/dev/null || true
for _ in $(seq 50); do
  [ -f "$got" ] && [ "$(wc -l <"$got")" -ge 2 ] && break
  sleep 0.1
done
echo "the receiver got:"
python3 -c 'import json,sys; [print(" ", json.loads(l)["text"]) for l in open(sys.argv[1])]' "$got"
"$sluice" --state-dir "$state" notifications ls
