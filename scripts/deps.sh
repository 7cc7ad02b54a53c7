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
    # server suite checks answers against docs/openapi.yaml (python3-yaml, python3-jsonschema).
    test) want+=(python3 python3-sklearn python3-numpy graphviz postgresql-15 python3-yaml
                 python3-jsonschema) ;;
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
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
