#!/bin/sh
# The backup CronJob (deploy/k8s/base/storage/backup.yaml): a full backup on Sunday (KST), a differential on
# every other day. Runs beside PostgreSQL's pod, reaching it through pgBackRest's TLS server
# (PGBACKREST_PG1_HOST*). pgBackRest turns the first differential of a new repository into a full one, checks
# that the WAL the backup needs is archived, and expires what falls out of the retention afterwards.
set -eu
stanza=ecoeco
# 18:00 UTC on Saturday is 03:00 KST on Sunday (the CronJob runs at 18:00 UTC).
if [ "$(date -u +%u)" = 6 ]; then type=full; else type=diff; fi
type="${BACKUP_TYPE:-$type}"
# Idempotent: creates the stanza on a new repository, and checks an existing one against this database.
pgbackrest --stanza="$stanza" stanza-create
exec pgbackrest --stanza="$stanza" --type="$type" backup
