"""Private RabbitMQ nodes for fault tests that stop or restart a broker.

The machine's shared node (``rabbit@localhost:5672``) is never touched: each node here has its own name,
AMQP and distribution ports, data, log, plugin and config files (no management or Prometheus listeners),
runs as the ``rabbitmq`` user (sharing only its Erlang cookie, which clustering needs) and is stopped
and deleted when the test ends. ``epmd`` is left alone: the shared node uses it too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.services import RUN_ID, free_port
from tests.support.waiting import eventually_sync

SBIN = Path("/usr/lib/rabbitmq/bin")
RABBIT_HOME = "/var/lib/rabbitmq"  # holds the Erlang cookie shared by the CLI tools and cluster peers
BOOT_TIMEOUT_S = 120.0  # a loaded 2-core machine can take a while to boot a node


def available() -> bool:
    return (SBIN / "rabbitmq-server").exists() and Path(RABBIT_HOME, ".erlang.cookie").exists()


class RabbitNode:
    def __init__(self, label: str) -> None:
        self.name = f"ecoeco-{RUN_ID}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{label}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="ecoeco-rmq-"))
        self.base.chmod(0o755)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\ndisk_free_limit.absolute = 50MB\n"
        )
        (self.base / "rabbitmq-env.conf").write_text("")  # not the machine's (it names the shared node)
        for path in (self.base, *self.base.iterdir()):
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": RABBIT_HOME,
            "LANG": "C.UTF-8",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
        }

    def _run(self, tool: str, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SBIN / tool), "-n", self.name, *args],
            env=self._env(),
            user="rabbitmq",
            group="rabbitmq",
            # Not the caller's folder: a clone in a private folder (mktemp -d, a home directory) is closed to
            # the rabbitmq user, and Erlang then prints an error report into the tool's JSON output.
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ctl(self, *args: str, timeout: float = 90.0) -> str:
        result = self._run("rabbitmqctl", *args, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} on {self.name}: {result.stderr or result.stdout}"
            )
        return result.stdout

    def start(self) -> None:
        """Launch the node (returns at once; see :meth:`wait_running`)."""
        log = (self.base / "console.log").open("ab")
        self.process = subprocess.Popen(
            [str(SBIN / "rabbitmq-server")],
            env=self._env(),
            user="rabbitmq",
            group="rabbitmq",
            cwd=self.base,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_running(self, timeout: float = BOOT_TIMEOUT_S) -> None:
        def running() -> bool:
            if self._run("rabbitmq-diagnostics", "-q", "check_running", timeout=60).returncode == 0:
                return True
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during boot: {self.console_tail()}")
            return False

        try:
            eventually_sync(running, within_s=timeout, every_s=0.5, what=f"{self.name} running")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}: {self.console_tail()}") from None

    def console_tail(self) -> str:
        path = self.base / "console.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop the whole node (Erlang VM included) and wait for the process to end."""
        if self.process is None or self.process.poll() is not None:
            return
        self._run("rabbitmqctl", "stop", timeout=60)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def restart(self) -> None:
        self.stop()
        self.start()
        self.wait_running()

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            shutil.rmtree(self.base, ignore_errors=True)

    def quorum_leader(self, queue: str) -> str:
        """The node that leads ``queue``'s Raft group."""
        rows = json.loads(self.ctl("list_queues", "-q", "name", "leader", "--formatter", "json"))
        for row in rows:
            if row["name"] == queue:
                return str(row["leader"])
        raise LookupError(f"no queue {queue} on {self.name}")


@contextmanager
def rabbit_nodes(count: int) -> Iterator[list[RabbitNode]]:
    """``count`` fresh nodes, clustered with the first when more than one; always torn down."""
    label = uuid.uuid4().hex[:6]
    nodes = [RabbitNode(f"{label}-{i}") for i in range(1, count + 1)]
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_running()
        for node in nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", nodes[0].name)
            node.ctl("start_app")
        if count > 1:
            nodes[0].ctl("await_online_nodes", str(count), "--timeout", "120")
        yield nodes
    finally:
        for node in nodes:
            node.destroy()


def check_available() -> None:
    """For ``services.require``: these tests skip (fail under CI) where no RabbitMQ server is installed."""
    if not available():
        raise RuntimeError("RabbitMQ server binaries or the rabbitmq user's Erlang cookie are missing")
