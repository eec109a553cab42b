#!/bin/sh
# First start: create the cluster in $PGDATA (a volume) with password authentication and the
# role and database named by POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB (the password defaults to
# DAGSTER_PG_PASSWORD, so the stack's environment file holds it once). Every start: run the
# server in the foreground on PGHOST (default 127.0.0.1) and PGPORT (default 5432) only.
set -eu
: "${POSTGRES_USER:?POSTGRES_USER is not set}"
POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-${DAGSTER_PG_PASSWORD:-}}"
: "${POSTGRES_PASSWORD:?neither POSTGRES_PASSWORD nor DAGSTER_PG_PASSWORD is set}"
: "${POSTGRES_DB:?POSTGRES_DB is not set}"
HOST="${PGHOST:-127.0.0.1}"
PORT="${PGPORT:-5432}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  # Only loopback clients, all with a password.
  printf 'local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$PGDATA/pg_hba.conf"
  pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses='' -c unix_socket_directories=/run/postgresql" --wait start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    PGPASSWORD="$POSTGRES_PASSWORD" psql --host=/run/postgresql --username="$POSTGRES_USER" --dbname=postgres \
      --set=ON_ERROR_STOP=1 --quiet --command="CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\""
  fi
  pg_ctl --pgdata="$PGDATA" --wait stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses="$HOST" -c port="$PORT" -c unix_socket_directories=/run/postgresql
