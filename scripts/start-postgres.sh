#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the action log tests and print its URL.
#
#   scripts/start-postgres.sh [DATA_DIR] [PORT]      (defaults: .cache/pg 55432)
#
# Installs the Debian package `postgresql` with apt-get when it is missing (needs root),
# initdb's a cluster owned by the `postgres` user in DATA_DIR, starts it on 127.0.0.1:PORT,
# creates the database `maint_test` and prints postgresql+psycopg://postgres@127.0.0.1:PORT/maint_test
# on stdout (everything else goes to stderr). Idempotent: a running cluster is reused.
# Stop it with: scripts/start-postgres.sh --stop [DATA_DIR]
set -euo pipefail

stop=0
if [[ "${1:-}" == "--stop" ]]; then stop=1; shift; fi
datadir="${1:-.cache/pg}"
port="${2:-55432}"
dbname="maint_test"
mkdir -p "$datadir"
datadir="$(cd "$datadir" && pwd)"

log() { echo "start-postgres: $*" >&2; }

find_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/pg_ctl" ]]; then echo "$d"; fi
  done | sort -V | tail -n1
}

bindir="$(find_bindir || true)"
if [[ -z "$bindir" ]]; then
  if [[ "$(id -u)" -ne 0 ]]; then
    log "PostgreSQL server binaries are missing and this is not root: cannot apt-get install postgresql"
    exit 3
  fi
  log "installing the Debian package postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bindir="$(find_bindir)"
fi

# Run a command as the cluster owner: postgres when we are root, ourselves otherwise.
as_owner() {
  if [[ "$(id -u)" -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [[ "$(id -u)" -eq 0 ]]; then
  chown postgres: "$datadir"
  # the owner must be able to reach the data directory through its parents
  p="$datadir"
  while [[ "$p" != "/" ]]; do p="$(dirname "$p")"; chmod o+x "$p" 2>/dev/null || true; done
fi
chmod 700 "$datadir"

if (( stop )); then
  as_owner "$bindir/pg_ctl" -D "$datadir" -m fast stop >&2 || true
  exit 0
fi

if [[ ! -f "$datadir/PG_VERSION" ]]; then
  log "initdb in $datadir"
  as_owner "$bindir/initdb" -D "$datadir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
fi

if ! as_owner "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
  log "starting on 127.0.0.1:$port"
  as_owner "$bindir/pg_ctl" -D "$datadir" -w -t 60 -l "$datadir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir -c fsync=off -c max_connections=50" \
    start >&2
fi

for _ in $(seq 1 60); do
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then break; fi
  sleep 0.5
done

if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$dbname'" postgres | grep -q 1; then
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$dbname" >&2
fi

echo "postgresql+psycopg://postgres@127.0.0.1:$port/$dbname"
