#!/usr/bin/env bash
# A throw-away PostgreSQL 15 server for the tests, on 127.0.0.1 at a free port, in a temporary
# folder. Debian's server tools refuse to run as root, so as root they run as the `postgres`
# user (the folder is given to it).
#   scripts/pg.sh start       starts one; prints its folder (DIR), which the other commands take
#   scripts/pg.sh url DIR     prints its URL: postgresql://sluice@127.0.0.1:PORT/postgres
#   scripts/pg.sh stop DIR    stops it and removes DIR (quietly does nothing when DIR is gone)
# The server trusts every loopback connection (`initdb -A trust`) and runs with fsync=off: it
# holds test data only, and tests kill sluice, never this server.
set -euo pipefail
bin=${SLUICE_PG_BIN:-/usr/lib/postgresql/15/bin}
as_owner() {  # runs a server tool as the folder's owner
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start() {
  [ -x "$bin/initdb" ] || { echo "pg.sh: no PostgreSQL 15 in $bin (scripts/deps.sh test installs it)" >&2; exit 2; }
  local dir
  dir=$(mktemp -d /tmp/sluice-pg-XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  if ! as_owner "$bin/initdb" -D "$dir/data" -A trust -U sluice --no-sync -E UTF8 >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    exit 1
  fi
  # A port that was free a moment ago may be taken by the time the server binds it: try again.
  local port tries
  for tries in 1 2 3; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" \
         start >/dev/null 2>&1; then
      echo "postgresql://sluice@127.0.0.1:$port/postgres" >"$dir/url"
      echo "$dir"
      return 0
    fi
  done
  cat "$dir/log" >&2 || true
  rm -rf "$dir"
  echo "pg.sh: the server did not start" >&2
  exit 1
}
stop() {
  local dir=$1
  case "$dir" in /tmp/sluice-pg-*) ;; *) echo "pg.sh: not a folder pg.sh made: $dir" >&2; exit 2 ;; esac
  [ -d "$dir" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || {
      # It would not stop cleanly: end it by its own pid (the first line of postmaster.pid).
      local pid
      pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    }
  fi
  rm -rf "$dir"
}
case "${1:-}" in
  start) start ;;
  url) cat "${2:?usage: pg.sh url DIR}/url" ;;
  stop) stop "${2:?usage: pg.sh stop DIR}" ;;
  *) echo "usage: scripts/pg.sh start | url DIR | stop DIR" >&2; exit 2 ;;
esac
