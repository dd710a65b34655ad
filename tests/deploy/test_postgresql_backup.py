"""Backups that restore: the storage tier's pgBackRest set-up (deploy/k8s/base/storage) run against a
PostgreSQL of the test's own and an S3 server (moto, over TLS like S3).

The processes are those the manifests declare, with their containers' commands and environment: PostgreSQL
with the StatefulSet's arguments (archive_command ships WAL to S3), the "pgbackrest" sidecar (serve.sh:
stanza, then the TLS server), the backup CronJob (backup.sh, through that TLS server with the client
certificate), the restore init container and the restore Job (restore.sh), all reading pgbackrest.conf as
committed. Storage.local lists what differs on this machine: the S3 endpoint and a key pair instead of the
node role, ports, paths, and the servers' name. The database has the app's schema (its migrations) and is
filled with users, scans and collection points.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine

from ecoeco.db.base import Base
from ecoeco.domains import import_all_models
from ecoeco.settings import Settings
from tests.deploy.conftest import DEPLOY, of_kind, render
from tests.support import services
from tests.support.pgcluster import HOST, Cluster, Runner, base_env, s3_over_tls, write_certificates
from tests.support.services import free_port, wait_for_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SCRIPTS = DEPLOY / "k8s/base/storage/pgbackrest"  # mounted at /etc/pgbackrest from the ConfigMap
CIPHER_PASS = uuid.uuid4().hex  # the Secret pgbackrest-credentials
DATABASE = "ecoeco"  # POSTGRES_DB of the StatefulSet


def manifests() -> dict[str, dict[str, Any]]:
    docs = render("k8s/base/storage")
    pg = of_kind(docs, "StatefulSet")["postgresql"]["spec"]["template"]["spec"]
    cron = of_kind(docs, "CronJob")["postgresql-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pg["containers"]}
    return {
        "postgresql": containers["postgresql"],
        "sidecar": containers["pgbackrest"],
        "init": pg["initContainers"][0],
        "backup": cron["containers"][0],
        "client-certificate": of_kind(docs, "Certificate")["pgbackrest-client"],
    }


@dataclass
class Storage:
    """The storage tier's PostgreSQL and pgBackRest processes, on this machine."""

    runner: Runner
    s3_port: str
    bucket: str
    pods: dict[str, dict[str, Any]]
    cluster: Cluster = field(init=False)
    tls_port: int = field(default_factory=free_port)
    sidecar: subprocess.Popen[bytes] | None = None
    backup_seconds: float = 0.0

    def __post_init__(self) -> None:
        settings = [a for a in self.pods["postgresql"]["args"] if a != "-c"]
        self.cluster = Cluster(self.runner, settings)

    @property
    def certificates(self) -> Path:
        return self.runner.base / "certificates"

    @property
    def scripts(self) -> Path:
        """The ConfigMap's files as the pod sees them: a copy the server user can read, wherever the
        checkout lives (a clone under ``mktemp -d`` is private to root)."""
        return self.runner.base / "pgbackrest"

    def local(self, bucket: str | None = None) -> dict[str, str]:
        """What differs from the cluster: S3 endpoint and keys (the node role there), paths, ports."""
        c = self.cluster
        return {
            "PGBACKREST_CONFIG": str(self.scripts / "pgbackrest.conf"),
            "PGBACKREST_REPO1_S3_BUCKET": bucket or self.bucket,  # ConfigMap pgbackrest-repo
            "PGBACKREST_REPO1_S3_ENDPOINT": HOST,
            "PGBACKREST_REPO1_STORAGE_PORT": self.s3_port,
            "PGBACKREST_REPO1_S3_URI_STYLE": "path",
            "PGBACKREST_REPO1_STORAGE_CA_FILE": str(self.certificates / "server/ca.crt"),
            "PGBACKREST_REPO1_S3_KEY_TYPE": "shared",
            "PGBACKREST_REPO1_S3_KEY": "testing",
            "PGBACKREST_REPO1_S3_KEY_SECRET": "testing",
            "PGBACKREST_PG1_PATH": str(c.data),
            "PGBACKREST_PG1_PORT": str(c.port),
            "PGBACKREST_PG1_SOCKET_PATH": str(c.socket_dir),
            "PGBACKREST_LOCK_PATH": str(self.runner.base / "lock"),
            "PGHOST": str(c.socket_dir),
            "PGPORT": str(c.port),
        }

    def env(self, pod: str, bucket: str | None = None, **overrides: str) -> dict[str, str]:
        """A container's environment as the manifest declares it, with the local differences."""
        env = base_env() | self.local(bucket)
        tls = self.certificates / ("client" if pod == "backup" else "server")
        for e in self.pods[pod].get("env", []):
            name = e["name"]
            if name == "PGDATA":
                env[name] = str(self.cluster.data)
            elif not name.startswith("PGBACKREST_"):
                continue  # the image's own settings (POSTGRES_USER …)
            elif "valueFrom" in e:
                assert e["valueFrom"]["secretKeyRef"] == {
                    "name": "pgbackrest-credentials",
                    "key": "cipher-pass",
                }
                env[name] = CIPHER_PASS
            else:
                env[name] = e["value"].replace("/etc/pgbackrest-tls", str(tls))
        # The servers' name and TLS port here (the Service's name and 8432 there).
        if "PGBACKREST_PG1_HOST" in env:
            env |= {"PGBACKREST_PG1_HOST": HOST, "PGBACKREST_PG1_HOST_PORT": str(self.tls_port)}
        if "PGBACKREST_TLS_SERVER_ADDRESS" in env:
            env |= {
                "PGBACKREST_TLS_SERVER_ADDRESS": "127.0.0.1",
                "PGBACKREST_TLS_SERVER_PORT": str(self.tls_port),
            }
        return env | overrides

    def command(self, pod: str) -> list[str]:
        return [a.replace("/etc/pgbackrest/", f"{self.scripts}/") for a in self.pods[pod]["command"]]

    # --- what runs in the cluster ---------------------------------------------------------------------------

    def start(self) -> None:
        """PostgreSQL, then the sidecar, which creates or checks the stanza before it serves TLS."""
        self.cluster.start(self.env("postgresql"))
        self.sidecar = self.runner.popen(
            self.command("sidecar"), self.env("sidecar"), self.runner.base / "sidecar.log"
        )
        wait_for_port(self.tls_port, timeout=120)

    def stop(self) -> None:
        if self.sidecar is not None:
            self.sidecar.terminate()
            self.sidecar.wait(timeout=30)
            self.sidecar = None
        if self.cluster.running():
            self.cluster.stop()

    def backup(self) -> subprocess.CompletedProcess[str]:
        return self.runner.run(self.command("backup"), self.env("backup"))

    def restore(self, bucket: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        """restore.sh: the init container's mode, or the restore Job's with RESTORE_TARGET."""
        return self.runner.run(self.command("init"), self.env("init", bucket, **env), check=False)

    def pgbackrest(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.runner.run(["pgbackrest", "--stanza=ecoeco", *args], self.env("postgresql"))

    def archive_now(self) -> None:
        """What archive_timeout does within a minute: the current WAL segment is switched and reaches S3."""
        self.pgbackrest("check")

    def dsn(self) -> str:
        return self.cluster.dsn(DATABASE)


# --- the data ---------------------------------------------------------------------------------------------


def tables() -> list[str]:
    import_all_models()
    return sorted([*Base.metadata.tables, "alembic_version"])


def populate(storage: Storage, tag: str, users: int) -> None:
    """Users with three scans each (with their progress events) and two collection points per user."""
    import_all_models()
    t = Base.metadata.tables
    rng = random.Random(tag)
    user_rows = [
        {"id": uuid.UUID(int=rng.getrandbits(128)), "nickname": f"분리수거{tag[:8]}{i}"} for i in range(users)
    ]
    scans, events, places = [], [], []
    for n, user in enumerate(user_rows):
        for _ in range(3):
            scan_id = uuid.UUID(int=rng.getrandbits(128))
            scans.append(
                {
                    "id": scan_id,
                    "user_id": user["id"],
                    "request_hash": f"{rng.getrandbits(256):064x}",
                    "question": "이 페트병은 어떻게 버리나요?",
                    "status": "done",
                    "stage": "done",
                    "progress": 100,
                    "major": "plastic",
                    "item_id": "pet-bottle",
                    "image_hash": f"{rng.getrandbits(64):016x}",
                    "result": {"steps": ["내용물을 비운다", "라벨을 뗀다", "찌그러뜨린다"], "bin": "plastic"},
                }
            )
            events += [
                {"scan_id": scan_id, "seq": s, "type": "stage", "data": {"stage": s}} for s in range(1, 4)
            ]
        for k in range(2):
            places.append(
                {
                    "source": "test",
                    "source_id": f"{tag}-{n}-{k}",
                    "name": f"자원순환가게 {tag} {n}-{k}",
                    "road_address": "서울특별시 중구 세종대로 110",
                    "lat": 37.4 + rng.random() / 5,
                    "lon": 126.9 + rng.random() / 5,
                    "kind": "recycling_compensation",
                    "category_mask": rng.getrandbits(10),
                    "extra": {},
                }
            )
    engine = create_engine(storage.cluster.dsn(DATABASE, "postgresql+psycopg"))
    try:
        with engine.begin() as conn:
            conn.execute(t["users"].insert(), user_rows)
            conn.execute(t["waste_scans"].insert(), scans)
            conn.execute(t["waste_scan_events"].insert(), events)
            conn.execute(t["locations"].insert(), places)
    finally:
        engine.dispose()


def one(storage: Storage, query: sql.Composable | str) -> tuple[Any, ...]:
    with psycopg.connect(storage.dsn(), autocommit=True) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return tuple(row)


def digest(storage: Storage) -> dict[str, tuple[Any, ...]]:
    """Row count and a checksum of every row's text (order-independent) of each table."""
    query = sql.SQL(
        "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {} t"
    )
    return {name: one(storage, query.format(sql.Identifier(name))) for name in tables()}


def rows(state: dict[str, tuple[Any, ...]]) -> int:
    return sum(int(count) for count, _ in state.values())


# --- the set-up ---------------------------------------------------------------------------------------------


def _set_up(storage: Storage) -> None:
    storage.cluster.initdb()
    storage.start()
    with psycopg.connect(storage.cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    services.migrate(Settings(database_url=storage.cluster.dsn(DATABASE, "postgresql+asyncpg"), env="test"))
    populate(storage, "initial", users=1500)


def s3_client(port: str, certificates: Path) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=f"https://{HOST}:{port}",
        region_name="ap-northeast-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        verify=str(certificates / "server/ca.crt"),
    )


def pgbackrest_installed() -> str:
    found = shutil.which("pgbackrest")
    if not found:
        raise FileNotFoundError("pgbackrest: Debian package, see scripts/install-system-packages.sh")
    return found


@pytest.fixture(scope="module")
def storage() -> Iterator[Storage]:
    services.require(pgbackrest_installed)
    with Runner.in_tempdir("ecoeco-pgbackrest-") as runner:
        pods = manifests()
        certificates = runner.base / "certificates"
        write_certificates(certificates, client_cn=pods["client-certificate"]["spec"]["commonName"])
        for path in [certificates, *certificates.rglob("*")]:
            runner.own(path)
        scripts = shutil.copytree(SCRIPTS, runner.base / "pgbackrest")
        for path in [scripts, *scripts.rglob("*")]:
            runner.own(path)
        with s3_over_tls(certificates / "server", runner.base / "s3.log") as s3_port:
            bucket = f"backups-{uuid.uuid4().hex[:12]}"
            s3 = s3_client(s3_port, certificates)
            for name in (bucket, f"{bucket}-empty"):
                s3.create_bucket(
                    Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
                )
            deployment = Storage(runner, s3_port, bucket, pods)
            try:
                _set_up(deployment)
                started = time.monotonic()
                result = deployment.backup()
                deployment.backup_seconds = time.monotonic() - started
                assert "backup command end: completed successfully" in result.stdout + result.stderr
                yield deployment
            finally:
                deployment.stop()


def last_backup(storage: Storage) -> dict[str, Any]:
    info = json.loads(storage.pgbackrest("--output=json", "info").stdout)
    backup: dict[str, Any] = info[0]["backup"][-1]
    return backup


# --- the tests ----------------------------------------------------------------------------------------------


def test_a_lost_volume_is_restored_from_the_backup_and_the_archived_wal(storage: Storage) -> None:
    # Written after the backup: these rows come back only through the WAL archive.
    populate(storage, "after-backup", users=300)
    storage.archive_now()
    before = digest(storage)
    assert before["users"][0] >= 1800 and before["waste_scans"][0] >= 5400 and before["locations"][0] >= 3600
    (size,) = one(storage, "SELECT pg_database_size(current_database())")
    backup = last_backup(storage)

    storage.stop()
    shutil.rmtree(storage.cluster.data)  # the volume is gone

    started = time.monotonic()
    restored = storage.restore()  # the init container of a new PostgreSQL pod, on its empty volume
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restoring the latest backup" in restored.stdout
    storage.start()  # replays the archived WAL, then opens
    restore_seconds = time.monotonic() - started

    assert digest(storage) == before
    storage.archive_now()  # and it archives again, on its new timeline
    sizes = backup["info"]
    print(
        f"\nrestore of a lost volume: {rows(before)} rows in {len(before)} tables, database {size} bytes;"
        f" {backup['type']} backup of {sizes['size']} bytes, {sizes['repository']['size']} bytes in the"
        f" repository; backup {storage.backup_seconds:.1f} s, restore + replay {restore_seconds:.1f} s"
    )


def test_a_mistake_is_undone_by_restoring_to_the_moment_before_it(storage: Storage) -> None:
    populate(storage, "before-mistake", users=100)
    good = digest(storage)
    (target,) = one(
        storage, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
    )
    with psycopg.connect(storage.dsn(), autocommit=True) as conn:
        conn.execute("DELETE FROM waste_scans")
        conn.execute("UPDATE users SET nickname = 'oops'")
    storage.archive_now()
    assert digest(storage)["waste_scans"][0] == 0

    storage.stop()
    started = time.monotonic()
    restored = storage.restore(RESTORE_TARGET=target)  # the restore Job, over the existing data directory
    assert restored.returncode == 0, restored.stdout + restored.stderr
    storage.start()
    restore_seconds = time.monotonic() - started

    assert digest(storage) == good
    storage.archive_now()
    print(f"\npoint-in-time restore to {target}: {rows(good)} rows, restore + replay {restore_seconds:.1f} s")


def test_an_empty_volume_stays_empty_when_the_repository_cannot_be_read(storage: Storage) -> None:
    """The init container must never let PostgreSQL initialise an empty database while a backup may exist."""
    empty = storage.runner.base / "other-volume"
    unreachable = storage.restore(
        PGDATA=str(empty), PGBACKREST_REPO1_STORAGE_PORT=str(free_port()), PGBACKREST_IO_TIMEOUT="1"
    )
    assert unreachable.returncode != 0
    assert "refusing to start an empty database" in unreachable.stderr
    assert not empty.exists()

    # A repository without any backup (a first deployment): nothing to restore, PostgreSQL initialises.
    new = storage.restore(PGDATA=str(empty), bucket=f"{storage.bucket}-empty")
    assert new.returncode == 0, new.stdout + new.stderr
    assert "no backup in the repository yet" in new.stdout
    assert not empty.exists()


def test_the_repository_is_encrypted(storage: Storage) -> None:
    s3 = s3_client(storage.s3_port, storage.certificates)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=storage.bucket, Prefix="pgbackrest/")["Contents"]]
    assert any("/backup/ecoeco/" in k for k in keys) and any("/archive/ecoeco/" in k for k in keys)
    info = s3.get_object(Bucket=storage.bucket, Key="pgbackrest/backup/ecoeco/backup.info")["Body"].read()
    assert info.startswith(
        b"Salted__"
    )  # aes-256-cbc, as pgbackrest.conf says; plain text would be "[backrest]"
