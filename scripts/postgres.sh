#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: start | stop | url
#   PG_PORT (default 55432), PG_HOME (default <repo>/.cache/postgres), PG_BIN (found from pg_ctl on PATH
#   or /usr/lib/postgresql/*/bin), PG_OPTS (extra server flags, e.g. "-c shared_preload_libraries=pg_stat_statements").
#   As root the server runs as the 'postgres' system user.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PG_PORT="${PG_PORT:-55432}"
PG_HOME="${PG_HOME:-$REPO/.cache/postgres}"
DATA="$PG_HOME/data-$PG_PORT"
SOCK="$PG_HOME/run"
DB=careline_test
if [ -z "${PG_BIN:-}" ]; then
  if command -v pg_ctl >/dev/null; then PG_BIN="$(dirname "$(readlink -f "$(command -v pg_ctl)")")";
  else PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"; fi
fi
[ -x "$PG_BIN/pg_ctl" ] || { echo "postgres.sh: no PostgreSQL binaries found (set PG_BIN)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/$DB"; }

start() {
  mkdir -p "$PG_HOME" "$SOCK"
  [ "$(id -u)" = 0 ] && chown -R postgres "$PG_HOME"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    as_owner "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_owner "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    echo "postgres already running on 127.0.0.1:$PG_PORT"
  else
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$PG_HOME/postgres-$PG_PORT.log" -w -t 60 start \
      -o "-p $PG_PORT -k $SOCK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=100 ${PG_OPTS:-}" >/dev/null
    echo "postgres ready on 127.0.0.1:$PG_PORT"
  fi
  if ! as_owner "$PG_BIN/psql" -h "$SOCK" -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='$DB'" postgres | grep -q 1; then
    as_owner "$PG_BIN/createdb" -h "$SOCK" -p "$PG_PORT" -U postgres "$DB"
  fi
}

stop() {
  if [ -f "$DATA/PG_VERSION" ]; then as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true; fi
  echo "postgres stopped"
}

reset() {
  as_owner "$PG_BIN/dropdb" -h "$SOCK" -p "$PG_PORT" -U postgres --if-exists "$DB"
  as_owner "$PG_BIN/createdb" -h "$SOCK" -p "$PG_PORT" -U postgres "$DB"
}

case "${1:-}" in
  start) start ;; stop) stop ;; url) url ;; reset) reset ;;
  *) echo "usage: $0 start|stop|url|reset" >&2; exit 2 ;;
esac
