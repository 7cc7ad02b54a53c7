#!/usr/bin/env bash
# Runs the example ML pipeline on the embedded store, in .sluice/ under the repository.
# A second `make demo` shows the cache hits.
set -eu
sluice=${1:-build/sluice}
cd "$(dirname "$0")/.."
echo "== sluice validate examples/ml-pipeline/pipeline.yaml"
"$sluice" validate examples/ml-pipeline/pipeline.yaml
echo "== sluice run examples/ml-pipeline/pipeline.yaml"
"$sluice" run examples/ml-pipeline/pipeline.yaml
echo
echo "inspect it:  $sluice runs    $sluice status RUN    $sluice logs RUN train[0]"
