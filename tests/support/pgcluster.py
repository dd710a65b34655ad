"""A PostgreSQL cluster of a test's own (initdb and pg_ctl on its own port and directories: never the shared
server on 5432), an S3 server that speaks TLS, and the certificates both need.

initdb refuses to run as root. When the tests run as root, every PostgreSQL and pgBackRest process runs as the
``postgres`` system user that Debian's postgresql package creates, in a directory that user owns.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.services import free_port, wait_for_port

# pgBackRest checks a server certificate's DNS names only (not IP addresses): servers here are "localhost".
HOST = "localhost"


def bindir() -> Path:
    """The directory of initdb/pg_ctl: PATH first, else the newest Debian version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise FileNotFoundError("initdb not found (Debian package postgresql)")
    return versions[-1].parent


@dataclass(frozen=True)
class Runner:
    """Runs commands as the user PostgreSQL needs: ourselves, or ``postgres`` when we are root."""

    base: Path
    user: str | None

    @classmethod
    @contextmanager
    def in_tempdir(cls, prefix: str) -> Iterator[Runner]:
        user = "postgres" if os.geteuid() == 0 else None
        # Not under pytest's tmp_path: that directory is private to root.
        base = Path(tempfile.mkdtemp(prefix=prefix))
        try:
            if user:
                entry = pwd.getpwnam(user)
                os.chown(base, entry.pw_uid, entry.pw_gid)
            yield cls(base, user)
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def own(self, path: Path) -> None:
        """Hand a file or directory the test wrote to the user that runs the servers."""
        if self.user:
            shutil.chown(path, self.user, self.user)

    def run(
        self, cmd: Sequence[str | os.PathLike[str]], env: Mapping[str, str], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(c) for c in cmd],
            env=dict(env),
            user=self.user,
            group=self.user,
            capture_output=True,
            text=True,
            cwd=self.base,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{cmd[:3]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def popen(
        self, cmd: Sequence[str | os.PathLike[str]], env: Mapping[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                [str(c) for c in cmd],
                env=dict(env),
                user=self.user,
                group=self.user,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.base,
            )


def base_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "HOME": "/tmp"}


@dataclass
class Cluster:
    """One PostgreSQL cluster; ``settings`` are its ``-c name=value`` arguments (the StatefulSet's)."""

    runner: Runner
    settings: list[str]
    data: Path = field(init=False)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.data = self.runner.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.runner.base

    def dsn(self, database: str = "postgres", driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def initdb(self) -> None:
        self.runner.run(
            [
                bindir() / "initdb",
                "-D",
                self.data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            base_env(),
        )

    def start(self, env: Mapping[str, str]) -> None:
        """Start and wait until it accepts connections (after a restore: until recovery has ended)."""
        options = [
            f"-p {self.port}",
            f"-k {shlex.quote(str(self.socket_dir))}",
            "-c listen_addresses=127.0.0.1",
            *(f"-c {shlex.quote(s)}" for s in self.settings),
        ]
        log = self.runner.base / "postgresql.log"
        self.runner.run(
            [
                bindir() / "pg_ctl",
                "-D",
                self.data,
                "-l",
                log,
                "-w",
                "-t",
                "300",
                "-o",
                " ".join(options),
                "start",
            ],
            {**base_env(), **env},
        )

    def stop(self) -> None:
        self.runner.run([bindir() / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"], base_env())

    def running(self) -> bool:
        status = self.runner.run([bindir() / "pg_ctl", "-D", self.data, "status"], base_env(), check=False)
        return status.returncode == 0


# --- certificates -----------------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_certificates(directory: Path, client_cn: str) -> None:
    """A CA and, like cert-manager's Secrets, ``server/`` and ``client/`` each with tls.crt, tls.key, ca.crt.

    The server certificate names ``localhost`` (the S3 server and pgBackRest's TLS server both use it); the
    client certificate carries the common name pgBackRest's server admits.
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("ecoeco-test-ca"))
        .issuer_name(_name("ecoeco-test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    leaves = {
        "server": (HOST, ExtendedKeyUsageOID.SERVER_AUTH),
        "client": (client_cn, ExtendedKeyUsageOID.CLIENT_AUTH),
    }
    for role, (cn, usage) in leaves.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        out = directory / role
        out.mkdir(parents=True)
        (out / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (out / "tls.key").write_bytes(_pem_key(key))
        (out / "tls.key").chmod(0o600)
        (out / "ca.crt").write_bytes(ca_pem)


# --- S3 over TLS --------------------------------------------------------------------------------------------


@contextmanager
def s3_over_tls(certificates: Path, log: Path) -> Iterator[str]:
    """moto's S3 behind uvicorn with TLS: pgBackRest speaks S3 only over TLS, and moto_server's own TLS mode
    (werkzeug) closes each connection without a TLS close_notify, which pgBackRest (OpenSSL 3) rejects as
    "unexpected eof while reading". Yields the port."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    server = Path(__file__).with_name("s3_tls_server.py")
    cmd = [
        sys.executable,
        str(server),
        str(port),
        str(certificates / "tls.crt"),
        str(certificates / "tls.key"),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield str(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
