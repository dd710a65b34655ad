#!/bin/sh
# Restore PostgreSQL's data directory ($PGDATA) from the pgBackRest repository.
#
#   RESTORE_TARGET unset or empty  the init container of the PostgreSQL pod: only when the data directory is
#                                  empty (a new volume after a rebuild, a lost disk) restore the latest backup;
#                                  PostgreSQL then replays every archived WAL segment and opens. On a repository
#                                  that holds no backup yet, do nothing: the image initialises a new cluster.
#                                  When the repository cannot be read, fail: never start an empty database
#                                  while a backup may exist.
#   RESTORE_TARGET=latest          the restore Job (deploy/k8s/restore): latest backup + all WAL over the
#                                  existing data directory (only changed files are rewritten).
#   RESTORE_TARGET=<timestamp>     the restore Job: point in time, e.g. "2026-12-05 14:30:00+09"; PostgreSQL
#                                  stops replaying there and opens on a new timeline.
set -eu
stanza=ecoeco
: "${PGDATA:?PGDATA must name the data directory}"
target="${RESTORE_TARGET:-}"

if [ "$target" = latest ]; then
  echo "restore: latest backup and all archived WAL into $PGDATA"
  exec pgbackrest --stanza="$stanza" --pg1-path="$PGDATA" --delta restore
elif [ -n "$target" ]; then
  echo "restore: point in time $target into $PGDATA"
  exec pgbackrest --stanza="$stanza" --pg1-path="$PGDATA" --delta --type=time --target="$target" \
    --target-action=promote restore
fi

if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "restore: $PGDATA holds a database; nothing to restore"
  exit 0
fi
# pgBackRest's own verdict on the repository: 0 ok, 1 no stanza yet, 2 stanza without a backup, else an error.
info="$(pgbackrest --stanza="$stanza" --output=json info)"
status="$(printf '%s' "$info" | sed -n 's/.*"status":{"code":\([0-9]*\),"lock".*/\1/p')"
case "$status" in
  0)
    echo "restore: $PGDATA is empty; restoring the latest backup"
    exec pgbackrest --stanza="$stanza" --pg1-path="$PGDATA" restore
    ;;
  1 | 2)
    echo "restore: no backup in the repository yet; PostgreSQL initialises a new database"
    ;;
  *)
    echo "restore: cannot read the backup repository (status ${status:-unknown}); refusing to start an empty database" >&2
    printf '%s\n' "$info" >&2
    exit 1
    ;;
esac
