#!/bin/sh
# The "pgbackrest" sidecar of the PostgreSQL pod. As soon as PostgreSQL accepts connections, make sure the
# stanza exists (a new database archives its WAL from its first minutes on; an existing or restored one is
# only checked), then serve the backup CronJob over TLS (PGBACKREST_TLS_SERVER_*).
set -eu
stanza=ecoeco
until pg_isready -q -h "${PGHOST:-/var/run/postgresql}" -p "${PGPORT:-5432}"; do sleep 2; done
# A failure is logged, not fatal: the backup CronJob retries it, and PostgreSQLWALArchivingFailing alerts.
pgbackrest --stanza="$stanza" stanza-create || echo "serve: stanza-create failed" >&2
exec pgbackrest server
