#!/usr/bin/env bash
# Start a local PostgreSQL for the run log tests (Debian/Ubuntu, as root, no systemd needed).
# Idempotent: installs only when missing, starts the cluster only when it is down, creates
# the database only when it does not exist. Progress goes to stderr; stdout is one line:
#
#   export FILEFLOW_TEST_PG_URL=postgresql://postgres:pg@127.0.0.1:5432/fileflow_test
#
# so `eval "$(.ci/postgres-up.sh)"` sets the variable for the tests.
set -euo pipefail

PG_PASSWORD=${FF_PG_PASSWORD:-pg}
PG_DATABASE=${FF_PG_DATABASE:-fileflow_test}
PG_CLUSTER=main

log() { echo "postgres-up: $*" >&2; }

as_postgres() {  # run a command as the postgres user, from a directory it can read
    (cd / && runuser -u postgres -- "$@")
}

# 1. Install (apt-get update only when the package is unknown or the install fails).
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache show postgresql >/dev/null 2>&1; then
        log "apt-get update"
        apt-get update -qq >&2
    fi
    log "installing postgresql"
    if ! apt-get install -y -qq --no-install-recommends postgresql >&2; then
        log "install failed; refreshing package lists and retrying"
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends postgresql >&2
    fi
fi

# 2. The cluster: newest installed version; create it if the package left none.
PG_VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if [ -d /etc/postgresql ] && [ -n "$(ls -A /etc/postgresql 2>/dev/null)" ]; then
    PG_VERSION=$(ls /etc/postgresql | sort -V | tail -n 1)
fi
if [ ! -f "/etc/postgresql/$PG_VERSION/$PG_CLUSTER/postgresql.conf" ]; then
    log "creating cluster $PG_VERSION/$PG_CLUSTER"
    pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >&2
fi
PG_PORT=$(pg_conftool -s "$PG_VERSION" "$PG_CLUSTER" show port 2>/dev/null || echo 5432)

# 3. Start it unless it is running (pg_ctlcluster status: 0 running, 3 stopped).
if pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" status >/dev/null 2>&1; then
    log "cluster $PG_VERSION/$PG_CLUSTER already running"
else
    log "starting cluster $PG_VERSION/$PG_CLUSTER"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2
fi

# 4. Wait until it accepts TCP connections on 127.0.0.1.
for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
        break
    fi
    sleep 0.5
done
if ! pg_isready -h 127.0.0.1 -p "$PG_PORT" >&2; then
    log "PostgreSQL did not become ready on 127.0.0.1:$PG_PORT"
    exit 1
fi

# 5. Password and database.
as_postgres psql -q -p "$PG_PORT" -v ON_ERROR_STOP=1 \
    -c "ALTER USER postgres PASSWORD '$PG_PASSWORD'" >&2
if ! as_postgres psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'" | grep -q 1; then
    log "creating database $PG_DATABASE"
    as_postgres createdb -p "$PG_PORT" "$PG_DATABASE"
fi

echo "export FILEFLOW_TEST_PG_URL=postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE"
