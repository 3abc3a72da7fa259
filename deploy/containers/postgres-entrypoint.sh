#!/bin/bash
# On an empty $PGDATA: initdb, then the role POSTGRES_USER (password from POSTGRES_PASSWORD_FILE,
# a Docker secret, or POSTGRES_PASSWORD) and its database POSTGRES_DB, with only the local socket
# open meanwhile (so the health check passes only once that is done). Then runs the server.
set -euo pipefail
user=${POSTGRES_USER:-postgres} db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pass=${POSTGRES_PASSWORD:-}
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] ||
      { echo "postgres: cannot read POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE; mount the secret there" >&2; exit 1; }
    pass=$(cat "$POSTGRES_PASSWORD_FILE")
  fi
  [ -n "$pass" ] || { echo "postgres: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD) for the first start" >&2; exit 1; }
  initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  printf '%s\n' "listen_addresses = '*'" "max_connections = 200" "shared_buffers = 64MB" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -s -w start
  # The password goes in through a psql variable, quoted by psql (never on a command line).
  psql -v ON_ERROR_STOP=1 -q -U postgres -d postgres -v user="$user" -v pass="$pass" -v db="$db" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'user', :'pass') WHERE :'user' <> 'postgres' \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'user', :'pass') WHERE :'user' = 'postgres' \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user') WHERE :'db' <> 'postgres' \gexec
SQL
  pg_ctl -D "$PGDATA" -m fast -s -w stop
  echo "postgres: initialised $PGDATA (role $user, database $db)"
fi
exec postgres -D "$PGDATA"
