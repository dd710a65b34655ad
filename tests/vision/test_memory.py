"""What images cost the real server process in memory (issue 13: a 143 kB PNG took `ecoeco serve` from 190
to 754 MB, eight at once to 3.5 GB, and the memory stayed allocated).

The bound is on the process' peak resident memory (VmHWM in /proc) while eight of the worst images we still
accept, plus eight of the 49 MP zero-filled PNGs of the report, are posted at once: at most
PEAK_GROWTH_MB above what the idle process held. After them the process must be back near where it began
(memory returned to the operating system).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.support.auth import sign_in
from tests.support.processes import Server, start_server, stop_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

# The decode budget (192 MiB by default) plus room for request bodies, re-encoding and the allocator.
PEAK_GROWTH_MB = 320
SETTLED_GROWTH_MB = 100


def _png(size: tuple[int, int], mode: str) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_server(
        tmp_path_factory.mktemp("memory"), "up", ["up"], {"ECOECO_AUTH_RATE_LIMIT": "1000"}
    )
    try:
        yield started
    finally:
        stop_server(started)


async def test_eight_big_images_at_once_stay_within_the_memory_bound(server: Server) -> None:
    pid = server.process.pid
    worst_accepted = _png((4096, 4096), "RGBA")  # the largest PNG still decoded: 16.7 MP with alpha
    report = _png((7000, 7000), "RGB")  # the report's 49 MP of zeros (now refused before decoding)
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        me = await sign_in(client)
        # Warm: one image through the whole path first, so the baseline includes what any scan loads.
        small = await client.post(
            "/api/v1/waste/scans",
            files={"image": ("p.png", _png((640, 480), "RGB"), "image/png")},
            headers=me.headers,
        )
        assert small.status_code == 202, small.text
        idle_kib = _kib(pid, "VmRSS")

        async def post(data: bytes) -> int:
            r = await client.post(
                "/api/v1/waste/scans", files={"image": ("p.png", data, "image/png")}, headers=me.headers
            )
            return r.status_code

        statuses = await asyncio.gather(
            *(post(worst_accepted) for _ in range(8)), *(post(report) for _ in range(8))
        )
        peak_kib = _kib(pid, "VmHWM")

        async def settled() -> int | None:
            rss = _kib(pid, "VmRSS")
            return rss if rss - idle_kib < SETTLED_GROWTH_MB * 1024 else None

        await eventually(settled, within_s=60, every_s=0.5, what="memory returned after the burst")
    assert statuses[:8] == [202] * 8
    assert statuses[8:] == [422] * 8  # 49 MP of PNG: over the 16.7 MP that PNG and WebP may have
    growth_mb = (peak_kib - idle_kib) / 1024
    print(f"idle {idle_kib // 1024} MB, peak {peak_kib // 1024} MB, growth {growth_mb:.0f} MB")
    assert growth_mb < PEAK_GROWTH_MB, f"peak RSS grew {growth_mb:.0f} MB"
