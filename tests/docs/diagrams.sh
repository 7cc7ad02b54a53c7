#!/usr/bin/env bash
# The pictures of docs/architecture.md: every docs/diagrams/NAME.dot has a committed NAME.svg, and
# it is the one the build rendered (build/docs/diagrams/NAME.svg), so the pictures never go stale.
# Usage: tests/docs/diagrams.sh BUILD_DIR. Ends with "docs-diagrams: N passed, M failed".
set -u
build=${1:-build}
pass=0 fail=0
for src in docs/diagrams/*.dot; do
  stem=$(basename "$src" .dot)
  if [ ! -f "$build/docs/diagrams/$stem.svg" ]; then
    echo "FAIL $stem: the build did not render $build/docs/diagrams/$stem.svg (is graphviz installed?)"
    fail=$((fail + 1))
  elif ! cmp -s "$build/docs/diagrams/$stem.svg" "docs/diagrams/$stem.svg"; then
    echo "FAIL $stem: docs/diagrams/$stem.svg is not what $src renders to; copy $build/docs/diagrams/$stem.svg over it"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
done
echo "docs-diagrams: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
