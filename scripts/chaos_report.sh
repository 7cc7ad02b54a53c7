#!/usr/bin/env bash
# make chaos-report: runs the experiment library of examples/chaos against its pipelines on a
# throw-away state folder (with a web service on a free loopback port for slow-dependency), then
# writes the team's resilience report from their journals to build/chaos-report/ (report.html,
# report.md, and report.png when Debian's chromium is installed). About two minutes (13 experiments).
#   scripts/chaos_report.sh [SLUICE]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SLUICE=$(realpath "${1:-$REPO/build/sluice}")
OUT=$REPO/build/chaos-report
WORK=$(mktemp -d /tmp/sluice-chaos-report.XXXXXX)
WEB=""
cleanup() {
  if [ -n "$WEB" ]; then kill "$WEB" 2>/dev/null || true; wait "$WEB" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cp "$REPO"/examples/chaos/*.yaml "$WORK/"
service=$(free_port)
listen=$(free_port)
sed -i "s/18001/$listen/g; s/127.0.0.1:8000/127.0.0.1:$service/g" "$WORK/slow-dependency.yaml" "$WORK/fetch-pipeline.yaml"
python3 -m http.server "$service" --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 &
WEB=$!
for x in flaky-register flaky-publish train-killed hung-train killed-run store-commit-fail \
         cpu-memory-pressure slow-dependency worker-killed leader-killed disk-full \
         scheduled-run-killed scheduled-engine-killed; do
  echo "chaos-report: $x" >&2
  rc=0
  "$SLUICE" --state-dir "$WORK/state" chaos run "$WORK/$x.yaml" >/dev/null 2>"$WORK/$x.log" || rc=$?
  if [ "$rc" -ge 2 ]; then cat "$WORK/$x.log" >&2; exit 1; fi  # 1 is a deviation: a finding
done
mkdir -p "$OUT"
ids=$("$SLUICE" --state-dir "$WORK/state" -o json chaos ls |
      python3 -c 'import json,sys; print(" ".join(x["id"] for x in reversed(json.load(sys.stdin))))')
# shellcheck disable=SC2086
"$SLUICE" --state-dir "$WORK/state" chaos report $ids --title "Sluice's resilience report" \
  --html "$OUT/report.html" --markdown "$OUT/report.md" >/dev/null
rc=0
sh "$REPO/tests/chaos/report_screenshot.sh" "$OUT/report.html" "$OUT/report.png" 7cc48f || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 77 ]
echo "$OUT/report.html"
echo "$OUT/report.md"
