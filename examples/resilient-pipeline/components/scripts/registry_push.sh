#!/bin/sh
# Registers $MODEL. While $REGISTRY_DOWN is true the registry answers 503 and this exits 75
# (EX_TEMPFAIL): a failure worth retrying, and one the circuit breaker counts.
if [ "$REGISTRY_DOWN" = true ]; then
  echo "model registry: 503 Service Unavailable" >&2
  exit 75
fi
echo "registry://models/$MODEL"
