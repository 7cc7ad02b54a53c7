#!/bin/sh
# A `command` router's hooks for the example's dev and prod environments (docs/rollouts.md,
# "Command routers"). Sluice appends the split as JSON to the argv:
#   {"environment":"prod","generation":3,"weights":[{"slot":"prod-a","address":"127.0.0.1:P","weight":100}]}
#
#   file-weights.sh TARGET JSON            apply: write JSON to TARGET (atomically: a reader
#                                          sees the old split or the new one, never half)
#   file-weights.sh --check TARGET JSON    live: exit 0 once TARGET holds this split
#
# A real router would read TARGET (an Envoy or HAProxy agent, a load balancer's sync job);
# here the file is the router's state, and what `cat` shows.
set -eu
if [ "$1" = "--check" ]; then
  [ "$(cat "$2" 2>/dev/null)" = "$3" ]
  exit
fi
target=$1 json=$2
printf '%s\n' "$json" > "$target.next"
mv "$target.next" "$target"
