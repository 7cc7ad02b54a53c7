#!/bin/sh
# deploy: writes three shards of $MODEL into $TARGET/$ENVIRONMENT, checking health after each;
# an unhealthy environment fails at the third, leaving two behind. undeploy: removes them all.
set -eu
dir="$TARGET/$ENVIRONMENT"
case "$ACTION" in
  deploy)
    mkdir -p "$dir"
    for shard in 1 2 3; do
      if [ "$HEALTHY" != true ] && [ "$shard" = 3 ]; then
        echo "$ENVIRONMENT: shard $shard failed its health check" >&2
        exit 1
      fi
      echo "$MODEL" > "$dir/shard-$shard"
    done
    echo "deployed $MODEL to $ENVIRONMENT"
    ;;
  undeploy)
    rm -rf "$dir"
    echo "removed everything from $ENVIRONMENT"
    ;;
  *)
    echo "unknown action $ACTION" >&2
    exit 2
    ;;
esac
