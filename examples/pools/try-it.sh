#!/bin/sh
# Shows central pools on one machine: a fresh state folder with pools.yaml, two runs of
# release.yaml at once, `sluice pools` while they run, and each run's status after. Run it from
# the repository after `make build` (SLUICE names another binary).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sluice=${SLUICE:-$here/../../build/sluice}
state=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pools.XXXXXX")
trap 'rm -rf "$state"' EXIT
cp "$here/pools.yaml" "$state/pools.yaml"
chmod 644 "$state/pools.yaml"
"$sluice" --state-dir "$state" run "$here/release.yaml" -p version=1.1 >/dev/null 2>>"$state/runs.log" &
one=$!
"$sluice" --state-dir "$state" run "$here/release.yaml" -p version=1.2 >/dev/null 2>>"$state/runs.log" &
two=$!
sleep 0.5
echo "while both run:"
"$sluice" --state-dir "$state" pools
wait "$one" && wait "$two" || { cat "$state/runs.log" >&2; exit 1; }
echo "after:"
"$sluice" --state-dir "$state" pools
"$sluice" --state-dir "$state" runs
