#!/bin/sh
# Renders a resilience report in headless Chromium and checks the screenshot is not blank.
#
#   tests/chaos/report_screenshot.sh REPORT.html OUT.png [RRGGBB ...]
#
# Each RRGGBB must appear in the screenshot (the chart's solid fills: 7cc48f for a succeeded
# run, e0766c for a failed one), which shows the inline SVG was drawn. Exit 0: not blank;
# 1: blank or a colour missing; 2: usage or Chromium failed; 77: Chromium is not installed
# (the check is skipped, and says so). Needs no network: the page loads nothing, and DNS
# lookups the browser makes on its own are mapped to nothing.
set -eu

if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png [RRGGBB ...]" >&2
  exit 2
fi
report=$1
out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

browser=
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
  echo "SKIPPED: chromium is not installed, so $report was not rendered" \
       "(apt-get install -y --no-install-recommends chromium fonts-dejavu-core)" >&2
  exit 77
fi
if [ ! -f "$report" ]; then
  echo "$report: no such file" >&2
  exit 2
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
rm -f "$out"
# --no-sandbox: Chromium refuses to start as root without it. The profile goes in a temp folder
# so nothing is written to $HOME.
if ! "$browser" --headless=new --no-sandbox --user-data-dir="$profile" --window-size=1280,1600 \
     --hide-scrollbars --virtual-time-budget=2000 \
     --host-resolver-rules="MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost" \
     --screenshot="$out" "file://$abs" >"$profile/log" 2>&1 || [ ! -s "$out" ]; then
  echo "$browser did not write $out:" >&2
  tail -5 "$profile/log" >&2
  exit 2
fi
python3 "$here/png_check.py" "$out" "$@"
