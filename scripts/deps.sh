#!/usr/bin/env bash
# Installs the Debian packages Sluice needs that are missing. Idempotent and quiet when nothing
# is missing. Usage: scripts/deps.sh [build|demo|test|bench]...
set -euo pipefail
want=(cmake ninja-build ccache g++ pkg-config libyaml-dev libfmt-dev libcli11-dev libsqlite3-dev
      libre2-dev libgtest-dev bsdutils tzdata libcpp-httplib-dev
      libpq-dev)  # libpq-dev: libpq-fe.h's types; libpq itself is loaded only for a postgresql:// store
for what in "$@"; do
  case "$what" in
    demo) want+=(python3 python3-sklearn python3-numpy graphviz) ;;
    # test: the store tests also run against a throw-away PostgreSQL server (scripts/pg.sh); the
    # server suite checks answers against docs/openapi.yaml (python3-yaml, python3-jsonschema);
    # the rollout tests run a real nginx and Prometheus (tests/rollouts/stack.py); the chaos
    # tests put CPU and memory pressure on with stress-ng, and render the resilience report in
    # headless Chromium; Argo's examples run their absolute paths in bubblewrap's private mount
    # namespaces, and some their scripts in node (docs/interop.md); the Slurm suite runs a
    # throw-away single-node cluster (scripts/slurm_cluster.sh).
    test) want+=(python3 python3-sklearn python3-numpy graphviz postgresql-15 python3-yaml
                 python3-jsonschema nginx-light prometheus stress-ng chromium fonts-dejavu-core
                 bubblewrap nodejs slurm-wlm munge) ;;
    bench) want+=(hyperfine snakemake make time libbenchmark-dev) ;;
    fuzz) want+=(clang-16 libclang-rt-16-dev libre2-dev libfmt-dev) ;;
  esac
done
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Without systemd, postinst scripts start services through invoke-rc.d (nginx on 0.0.0.0:80,
# prometheus on *:9090) unless /usr/sbin/policy-rc.d denies it with exit 101. Many images ship
# one; where none exists, deny only while apt runs and remove it afterwards.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# written by sluice scripts/deps.sh while apt runs\nexit 101\n' |
    $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
