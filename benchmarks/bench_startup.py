"""``ecoeco up``: seconds from process start to the first 200 of ``/healthz``; idle RSS with the model warm.

Each run starts a new process and polls ``/healthz`` every few milliseconds. A *cold* start gets a new,
empty data dir (migrations and the bundled collection points included); a *warm* restart reuses the data
dir of the last cold one. RSS is read once the app logs ``classifier_ready`` (the background model warm-up
is done) and has then been left alone for a moment. Baselines in the same run: ``python -c pass``, and a
bare FastAPI hello-world served by uvicorn as ``ecoeco up`` serves (``uvicorn.run``, httptools, uvloop).
Goals: cold start < 3 s, idle RSS < 250 MB. Then ``python -X importtime`` of an ``ecoeco up`` until its
first 200: what the imports cost, by module (cumulative) and by top-level package (self time summed).

Whether the installed packages carry bytecode decides more than anything else here: without .pyc files
(``uv sync`` before ``compile-bytecode`` was set, with ``PYTHONDONTWRITEBYTECODE`` as on this machine) every
start compiles its imports from source. The first line says which case the run measured.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import services
from tests.support.waiting import eventually_sync

RUNS = int(os.environ.get("BENCH_STARTUP_RUNS", "5"))
POLL_S = 0.005
IDLE_S = 1.0  # RSS settles with no event to wait for: read after this, it is what a process keeps
READY_EVENT = "classifier_ready"

HELLO = """
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_config=None, access_log=False,
            http="httptools")
"""
UP = [sys.executable, "-c", "from ecoeco.cli import main; main()", "up", "--host", "127.0.0.1", "--port"]


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def rss_mb(pid: int) -> tuple[float, float]:
    """(RSS, its anonymous part) in MB, from ``/proc/<pid>/smaps_rollup``."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return fields["Rss"], fields["Anonymous"]


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[tuple[float, int]]:
    """Start ``command`` (its port appended) and yield (seconds to the first 200, pid); stop it after."""
    port = services.free_port()
    with log.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*command, str(port)], env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=err
        )

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[:4]} exited with {proc.returncode}:\n{log.read_text()}")
            return _answers(port)

        try:
            eventually_sync(answers, within_s=120, every_s=POLL_S, what=f"{command[:4]} answers /healthz")
            yield time.perf_counter() - t0, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def wait_for_event(log: Path, event: str) -> dict[str, object]:
    def logged() -> dict[str, object] | None:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"{event}"' in line:
                record: dict[str, object] = json.loads(line)
                return record
        return None

    return eventually_sync(logged, within_s=120, what=f"{event!r} logged")


def up_once(data_dir: Path, log: Path) -> tuple[float, float, float, float]:
    """(seconds to the first 200, seconds to the model warm, RSS MB, anonymous MB) of one ``ecoeco up``."""
    env = {"ECOECO_DATA_DIR": str(data_dir), "ECOECO_ENV": "dev", "ECOECO_LOG_JSON": "true"}
    with started(UP, env, log) as (seconds, pid):
        ready = wait_for_event(log, READY_EVENT)
        time.sleep(IDLE_S)
        rss, anon = rss_mb(pid)
    return seconds, float(str(ready["seconds"])), rss, anon


def python_pass() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def spread(values: list[float], unit: str, digits: int = 2) -> str:
    return (
        f"median {statistics.median(values):.{digits}f}{unit} "
        f"(min {min(values):.{digits}f}, max {max(values):.{digits}f}, n={len(values)})"
    )


def import_profile(tmp: Path, top: int = 15) -> None:
    """``-X importtime`` of a cold ``ecoeco up`` until its first 200 (what the start waits for)."""
    log = tmp / "importtime.log"
    env = {"ECOECO_DATA_DIR": str(tmp / "importtime"), "ECOECO_ENV": "dev", "ECOECO_LOG_JSON": "true"}
    command = [UP[0], "-X", "importtime", *UP[1:]]
    with started(command, env, log) as (seconds, _):
        pass
    rows: list[tuple[int, int, str]] = []  # (self us, cumulative us, module)
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            fields = line.removeprefix("import time:").split("|")
            rows.append((int(fields[0]), int(fields[1]), fields[2].strip()))
    total = sum(own for own, _, _ in rows) / 1e6
    print(f"  imports until the first 200 (-X importtime, {seconds:.2f}s to 200): {len(rows)} modules, "
          f"{total:.2f}s self time in all")  # fmt: skip
    print(f"  top {top} by cumulative time:")
    for _, cumulative, name in sorted(rows, key=lambda r: -r[1])[:top]:
        print(f"    {cumulative / 1e6:6.3f}s  {name}")
    by_package: defaultdict[str, int] = defaultdict(int)
    for own, _, name in rows:
        by_package[name.split(".")[0]] += own
    print(f"  top {top} top-level packages by self time summed:")
    for package, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {us / 1e6:6.3f}s  {package}")


def bytecode_state() -> str:
    """How many of the installed modules this process imported have a .pyc beside them."""
    files = [
        f for m in list(sys.modules.values()) if (f := getattr(m, "__file__", None)) and "site-packages" in f
    ]
    compiled = sum(
        1 for f in files if f.endswith(".py") and Path(importlib.util.cache_from_source(f)).exists()
    )
    total = sum(1 for f in files if f.endswith(".py"))
    return f"{compiled} of {total} installed modules imported here have bytecode"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    print(f"  load average {load()}; {RUNS} runs each; {bytecode_state()}")
    with tempfile.TemporaryDirectory(prefix="ecoeco-bench-startup-") as name:
        tmp = Path(name)
        bare = [python_pass() for _ in range(RUNS)]
        hello_s, hello_rss = [], []
        for _ in range(RUNS):
            with started([sys.executable, "-c", HELLO], {}, tmp / "hello.log") as (seconds, pid):
                time.sleep(IDLE_S)  # the same settling time as ecoeco's, so the two RSS figures compare
                hello_s.append(seconds)
                hello_rss.append(rss_mb(pid)[0])
        cold, warm, rss, anon, ready = [], [], [], [], []
        for run in range(RUNS):
            data_dir = tmp / f"data{run}"
            seconds, warmed, mb, anon_mb = up_once(data_dir, tmp / f"cold{run}.log")
            cold.append(seconds)
            ready.append(warmed)
            rss.append(mb)
            anon.append(anon_mb)
            warm.append(up_once(data_dir, tmp / f"warm{run}.log")[0])
        base_s, base_rss = statistics.median(hello_s), statistics.median(hello_rss)
        print(f"  python -c pass        {spread(bare, ' s')}")
        print(f"  hello-world to 200    {spread(hello_s, ' s')}  RSS {spread(hello_rss, ' MB', 0)}")
        for name, values in (("cold", cold), ("warm", warm)):
            ratio = statistics.median(values) / base_s
            print(f"  ecoeco up, {name}       {spread(values, ' s')}  ratio {ratio:.1f}x hello")
        print(f"  model warm-up         {spread(ready, ' s')} (from the lifespan start, in the background)")
        ratio = statistics.median(rss) / base_rss
        print(
            f"  idle RSS, model warm  {spread(rss, ' MB', 0)}  anonymous {statistics.median(anon):.0f} MB"
            f"  ratio {ratio:.1f}x hello"
        )
        print("  goals: cold < 3 s, idle RSS < 250 MB")
        import_profile(tmp)
    print(f"  load average {load()}")
