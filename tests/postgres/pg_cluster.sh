#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for the storage-postgres tests.
#
#   pg_cluster.sh start <conninfo-file>   initdb into a fresh temp dir, start the server on
#                                         127.0.0.1 at a free port (socket in the same dir),
#                                         create database lakehost_test, write its libpq
#                                         connection string to <conninfo-file>
#   pg_cluster.sh stop  <conninfo-file>   stop that server and delete its directory
#   pg_cluster.sh restart <conninfo-file> [seconds]
#                                         stop that server (-m fast: clients are disconnected),
#                                         stay down for `seconds` (default 0), start it again
#                                         on the same port (fault injection for replica tests)
#
# As root the server runs as the `postgres` user (postgres refuses to run as root), through
# `su postgres -s /bin/sh -c ...`; as any other user initdb/pg_ctl run directly. Authentication is
# `trust` and the server listens on loopback only. PG_BINDIR overrides where initdb/pg_ctl live.
set -euo pipefail

usage() { echo "usage: $0 start|stop|restart <conninfo-file> [seconds-down]" >&2; exit 2; }
[ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$1" = restart ]; } || usage
action=$1
conninfo_file=$2
down_seconds=${3:-0}
state_file="$conninfo_file.pgdir"  # remembers the cluster's directory for `stop`

find_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  echo "pg_cluster: initdb not found (install postgresql-15, or set PG_BINDIR)" >&2
  exit 1
}

# Runs a command line as the server's user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$1"
  else
    sh -c "$1"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_cluster() {
  [ -f "$state_file" ] || return 0
  local dir bin
  dir=$(cat "$state_file")
  bin=$(find_bindir)
  if [ -n "$dir" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "'$bin/pg_ctl' -D '$dir/data' -m fast -w -t 30 stop" >/dev/null 2>&1 ||
      as_pg "'$bin/pg_ctl' -D '$dir/data' -m immediate -w -t 30 stop" >/dev/null 2>&1 || true
  fi
  case "$dir" in */lakehost-pg.*) rm -rf "$dir" ;; esac
  rm -f "$state_file" "$conninfo_file"
}

start_cluster() {
  stop_cluster  # a cluster left over by an interrupted run
  local bin dir port attempt
  bin=$(find_bindir)
  mkdir -p "$(dirname "$conninfo_file")"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/lakehost-pg.XXXXXX")
  echo "$dir" >"$state_file"
  mkdir -p "$dir/data" "$dir/sock"
  chmod 700 "$dir/data"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "pg_cluster: no postgres user" >&2; exit 1; }
    chmod 755 "$dir"
    chown -R postgres:postgres "$dir"
  fi
  if ! as_pg "'$bin/initdb' -D '$dir/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" \
      >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    stop_cluster
    exit 1
  fi
  # The port is free when chosen, but another process may take it before the server binds it:
  # try a few.
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 -o \"-p $port -k '$dir/sock' -c listen_addresses=127.0.0.1\" start" \
        >/dev/null 2>&1; then
      break
    fi
    port=""
  done
  if [ -z "$port" ]; then
    echo "pg_cluster: the server did not start; its log:" >&2
    cat "$dir/server.log" >&2 || true
    stop_cluster
    exit 1
  fi
  if ! "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
      -c "CREATE DATABASE lakehost_test" >/dev/null; then
    stop_cluster
    exit 1
  fi
  echo "host=127.0.0.1 port=$port dbname=lakehost_test user=postgres connect_timeout=10" \
    >"$conninfo_file"
  echo "pg_cluster: PostgreSQL ($bin) on 127.0.0.1:$port, data in $dir"
}

restart_cluster() {
  [ -f "$state_file" ] || { echo "pg_cluster: no cluster for $conninfo_file" >&2; exit 1; }
  local dir bin port
  dir=$(cat "$state_file")
  bin=$(find_bindir)
  port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' "$conninfo_file")
  as_pg "'$bin/pg_ctl' -D '$dir/data' -m fast -w -t 30 stop" >/dev/null
  sleep "$down_seconds"
  as_pg "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 -o \"-p $port -k '$dir/sock' -c listen_addresses=127.0.0.1\" start" \
    >/dev/null
}

case "$action" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  restart) restart_cluster ;;
  *) usage ;;
esac
