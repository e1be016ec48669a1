#!/usr/bin/env bash
# Makes this machine's PostgreSQL ready for the tests (test/helpers/postgres.ts): starts the Debian cluster that
# listens on PGPORT (5432 by default; the first cluster listed when none does) if it is down, waits until it accepts
# connections, and creates the login role hesh (password hesh, CREATEDB) that TEST_POSTGRES_URL's default names, or
# resets its password and rights if it exists. Safe to run any number of times. Run it as root or as postgres.
#
#   scripts/ensure-postgres.sh    # then: TEST_POSTGRES_URL=postgres://hesh:hesh@127.0.0.1:5432/postgres (the default)
set -euo pipefail

PORT="${PGPORT:-5432}"
ROLE=hesh
PASSWORD=hesh

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "ensure-postgres: PostgreSQL is not installed (no pg_lsclusters); on Debian: apt-get install -y postgresql" >&2
  exit 1
fi

# pg_lsclusters --no-header: "15 main 5432 down postgres /var/lib/postgresql/15/main /var/log/...".
clusters="$(pg_lsclusters --no-header)"
if [ -z "$clusters" ]; then
  echo "ensure-postgres: PostgreSQL is installed but has no cluster; create one with pg_createcluster" >&2
  exit 1
fi
line="$(awk -v port="$PORT" '$3 == port' <<<"$clusters" | head -n 1)"
[ -n "$line" ] || line="$(head -n 1 <<<"$clusters")"
read -r version cluster port status _ <<<"$line"

if [[ "$status" != online* ]]; then
  echo "ensure-postgres: starting cluster $version/$cluster on port $port"
  pg_ctlcluster "$version" "$cluster" start
fi

# Runs a command as the postgres superuser (peer authentication over the Unix socket).
as_postgres() {
  if [ "$(id -un)" = postgres ]; then
    "$@"
  else
    su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
  fi
}

for _ in $(seq 1 60); do
  as_postgres pg_isready -q -p "$port" && break
  sleep 0.5
done
as_postgres pg_isready -q -p "$port" || {
  echo "ensure-postgres: cluster $version/$cluster does not accept connections on port $port after 30 s" >&2
  exit 1
}

as_postgres psql -q -X -v ON_ERROR_STOP=1 -p "$port" -d postgres -c "
DO \$\$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    ALTER ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE
    CREATE ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END
\$\$;"

echo "ensure-postgres: PostgreSQL $version ($cluster) is up on port $port; role $ROLE can log in over TCP on 127.0.0.1"
