#!/bin/sh
# A `command` router for Kubernetes with Istio (docs/rollouts.md, "Command routers").
# NOT RUN BY THE TESTS: there is no cluster here. It is an example to adapt; only the patch it
# builds has been checked (KUBECTL=echo, below).
#
# The environment's slots are subsets of an Istio DestinationRule (one Deployment per slot,
# told apart by a label), and one VirtualService's first HTTP route splits requests between
# them. Sluice appends the split as JSON to the argv:
#   {"environment":"prod","generation":4,"weights":[{"slot":"blue","address":"...","weight":80},
#                                                   {"slot":"green","address":"...","weight":20}]}
# and this hook replaces the route's destinations with one per slot that has a weight:
#
#   kubectl -n NAMESPACE patch virtualservice NAME --type json \
#     -p '[{"op":"replace","path":"/spec/http/0/route","value":[
#           {"destination":{"host":HOST,"subset":"blue"},"weight":80},
#           {"destination":{"host":HOST,"subset":"green"},"weight":20}]}]'
#
# A JSON patch of /spec/http/0/route keeps the route's match, retries and timeouts as they are.
#
# In the Environment (STATE/environments/prod.yaml):
#   router:
#     command:
#       apply: [/srv/sluice/hooks/istio-weights.sh, models, model-server.models.svc.cluster.local, models]
#       live:  [/srv/sluice/hooks/istio-weights.sh, --check, models, model-server.models.svc.cluster.local, models]
#       liveTimeout: 30s
#   arguments: NAMESPACE HOST VIRTUALSERVICE, then the JSON Sluice adds.
#
# `--check` exits 0 once the VirtualService holds the weights. That is what the API server has
# accepted; Envoy sidecars take a moment more to receive it from istiod. Where that matters, make
# the check ask a sidecar (istioctl proxy-config routes) or your metrics.
#
# The slots' start/stop commands would scale each slot's Deployment (kubectl set image, then
# kubectl scale --replicas=N, and kubectl rollout status as the health command).
set -eu
KUBECTL=${KUBECTL:-kubectl}
check=0
if [ "$1" = "--check" ]; then check=1; shift; fi
[ $# -eq 4 ] || { echo "usage: istio-weights.sh [--check] NAMESPACE HOST VIRTUALSERVICE WEIGHTS_JSON" >&2; exit 2; }
ns=$1 host=$2 vs=$3 json=$4

# The route Sluice asks for, as Istio spells it (slots with weight 0 are left out).
route=$(python3 -c '
import json, sys
split = json.loads(sys.argv[2])
print(json.dumps([{"destination": {"host": sys.argv[1], "subset": w["slot"]}, "weight": w["weight"]}
                  for w in split["weights"] if w["weight"] > 0], separators=(",", ":")))
' "$host" "$json")

if [ "$check" = 1 ]; then
  live=$($KUBECTL -n "$ns" get virtualservice "$vs" -o jsonpath='{.spec.http[0].route}')
  python3 -c '
import json, sys
want, got = json.loads(sys.argv[1]), json.loads(sys.argv[2] or "[]")
key = lambda r: (r["destination"].get("subset", ""), r.get("weight", 100))
sys.exit(0 if sorted(map(key, want)) == sorted(map(key, got)) else 1)
' "$route" "$live"
  exit
fi
$KUBECTL -n "$ns" patch virtualservice "$vs" --type json \
  -p "[{\"op\":\"replace\",\"path\":\"/spec/http/0/route\",\"value\":$route}]"
