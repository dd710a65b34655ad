"""Real `ecoeco up` / `ecoeco serve` processes for tests that need real sockets or a real process' memory."""

from __future__ import annotations

import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support import services
from tests.support.waiting import eventually_sync
from tests.web.stack import base_env, ecoeco_exe


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_server(tmp: Path, name: str, args: list[str], env: dict[str, str]) -> Server:
    port = services.free_port()
    data = tmp / name
    data.mkdir()
    log = data / "server.log"
    full_env = base_env({"ECOECO_DATA_DIR": str(data), **env})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [ecoeco_exe(), *args, "--port", str(port)], env=full_env, stdout=out, stderr=out
        )
    server = Server(f"http://127.0.0.1:{port}", port, process, log)

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as r:  # noqa: S310 - ours
                return bool(r.status == 200)
        except OSError:
            return False

    eventually_sync(up, within_s=120, every_s=0.2, what=f"{name} serving")
    return server


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)
