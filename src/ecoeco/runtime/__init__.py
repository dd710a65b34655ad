"""The process-wide set of backends, built once from settings.

Each backend has two implementations (embedded | distributed) chosen by settings alone; the rest of
the code only sees the ports (``Database``, ``Cache``, ``Storage``, the task queue, the classifier).
The runtime sits on top of the infrastructure packages and below the domains: domains receive it,
infrastructure never imports it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import structlog

from ecoeco.cache import Cache, create_cache
from ecoeco.db.engine import Database
from ecoeco.db.sql import is_sqlite
from ecoeco.observability.metrics import DEPENDENCY_UP
from ecoeco.queue.health import ping_broker
from ecoeco.queue.taskqueue import TaskQueue
from ecoeco.settings import Settings
from ecoeco.storage import Storage, create_storage
from ecoeco.vision import VisionClassifier, create_classifier

log = structlog.get_logger(__name__)

PROBE_TIMEOUT_S = 3.0
T = TypeVar("T")


@dataclass(frozen=True)
class Probe:
    name: str
    backend: str
    ok: bool
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Backends:
    settings: Settings
    db: Database
    cache: Cache
    storage: Storage
    # Publishes (distributed) or runs (embedded) what ecoeco.queue.enqueue wrote, after commit.
    queue: TaskQueue = field(init=False)
    _components: dict[Callable[[Backends], Any], Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.queue = TaskQueue(self.settings, self.db)

    @functools.cached_property
    def classifier(self) -> VisionClassifier:
        """The configured image classifier, built on first use (the local model loads once)."""
        return create_classifier(self.settings)

    def component(self, build: Callable[[Backends], T]) -> T:
        """The process' one instance of what ``build`` makes (a domain's per-process state, such as the
        auth key ring), made on first use. Keyed by ``build`` itself, so each has exactly one accessor."""
        if build not in self._components:
            self._components[build] = build(self)
        return cast(T, self._components[build])

    @classmethod
    def from_settings(cls, settings: Settings) -> Backends:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            db=Database(settings.database_dsn),
            cache=create_cache(settings.redis_url, prefix=settings.redis_prefix),
            storage=create_storage(settings),
        )

    def describe(self) -> dict[str, str]:
        return describe_backends(self.settings)

    async def probe(self) -> list[Probe]:
        """Check every dependency concurrently, each bounded by a timeout."""
        broker_url = self.settings.broker_url
        checks: dict[str, Callable[[], Awaitable[None]]] = {
            "database": self.db.ping,
            "cache": self.cache.ping,
            "broker": (lambda: ping_broker(broker_url)) if broker_url else _ok,
            "storage": self.storage.ping,
        }
        kinds = self.describe()
        results = await asyncio.gather(*(_timed(n, kinds[n], fn) for n, fn in checks.items()))
        for r in results:
            DEPENDENCY_UP.labels(r.name).set(1 if r.ok else 0)
        return list(results)

    async def aclose(self) -> None:
        await self.queue.aclose()
        if "classifier" in self.__dict__:  # built: release its connections
            await self.classifier.aclose()
        await self.cache.close()
        await self.db.dispose()


def describe_backends(settings: Settings) -> dict[str, str]:
    return {
        "database": "sqlite" if is_sqlite(settings.database_dsn) else "postgresql",
        "cache": "redis" if settings.redis_url else "memory",
        "broker": "rabbitmq" if settings.broker_url else "in-process",
        "storage": "s3" if settings.s3_bucket else "local",
    }


async def _ok() -> None:
    return None


async def _timed(name: str, backend: str, fn: Callable[[], Awaitable[None]]) -> Probe:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):  # not wait_for: see ecoeco.core.aio
            await fn()
    except Exception as exc:  # any failure means "not ready"; the reason is reported, not raised
        elapsed = (time.perf_counter() - started) * 1000
        reason = f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__
        log.warning("dependency_unreachable", dependency=name, error=reason)
        return Probe(name, backend, False, round(elapsed, 2), reason)
    return Probe(name, backend, True, round((time.perf_counter() - started) * 1000, 2))
