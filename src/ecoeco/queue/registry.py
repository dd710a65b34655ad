"""``@task``: declare a unit of queue work once; both executors (Celery and embedded) run it."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.db.engine import Database
from ecoeco.queue.topology import QUEUE_PREFIXES, QueueSpec, queue_for_routing_key

_NAME = re.compile(r"^[a-z]+\.[a-z0-9_]+\.[a-z0-9_.]+$")


class PermanentError(Exception):
    """Raised by a task when retrying cannot help (bad input): dead-letter at once."""


class RetryLater(Exception):
    """Raised by a task whose failure says when to try again (a rate-limited API's ``Retry-After``):
    the retry waits at least ``after_s`` seconds, capped at the longest backoff."""

    def __init__(self, message: str, *, after_s: float) -> None:
        super().__init__(message)
        self.after_s = after_s


class _HasDatabase(Protocol):
    @property
    def db(self) -> Database: ...


B = TypeVar("B", bound=_HasDatabase)


@dataclass
class TaskContext(Generic[B]):
    """What a running task gets besides its keyword arguments.

    ``backends`` is whatever the executor runs with: the process' ``ecoeco.runtime.Backends``, so a
    domain's task declares ``ctx: TaskContext[Backends]``. ``session`` is opened lazily; when the task
    used it, it is committed together with a record of the task id, so a redelivered or duplicated
    message cannot apply the same database effects twice.
    """

    backends: B
    task_id: str
    name: str
    attempt: int
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    _session: AsyncSession | None = field(default=None, repr=False)

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self.backends.db.sessionmaker()
        return self._session


TaskFn = Callable[..., Awaitable[None]]
DeadLetterHook = Callable[[TaskContext[Any], BaseException], Awaitable[None]]


@dataclass(frozen=True)
class Task:
    """A registered task: ``enqueue(session, task, **kwargs)`` runs it on its queue."""

    name: str
    fn: TaskFn
    max_retries: int
    on_dead_letter: DeadLetterHook | None
    retry_backoff_s: float | None
    soft_time_limit_s: float | None
    time_limit_s: float | None

    @property
    def routing_key(self) -> str:
        return self.name

    @property
    def queue(self) -> QueueSpec:
        return queue_for_routing_key(self.name)

    @property
    def soft_limit(self) -> float:
        return self.soft_time_limit_s or self.queue.soft_time_limit_s

    @property
    def hard_limit(self) -> float:
        return self.time_limit_s or self.queue.time_limit_s

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    def check_arguments(self, kwargs: Mapping[str, Any]) -> None:
        """Raise TypeError unless ``kwargs`` fit the function (checked at enqueue and before running)."""
        self.signature.bind(None, **kwargs)


REGISTRY: dict[str, Task] = {}
RESERVED = frozenset({"key", "delay_s"})  # enqueue() keywords a task cannot take


def task(
    name: str,
    *,
    max_retries: int = 3,
    on_dead_letter: DeadLetterHook | None = None,
    retry_backoff_s: float | None = None,
    soft_time_limit_s: float | None = None,
    time_limit_s: float | None = None,
) -> Callable[[TaskFn], Task]:
    """Register ``fn`` as task ``name`` = routing key ``<queue>.<domain>.<action>`` (``ai.waste.analyze``)."""
    if not _NAME.match(name) or name.split(".", 1)[0] not in QUEUE_PREFIXES:
        raise ValueError(
            f"task name {name!r} must be <queue>.<domain>.<action> with queue in {QUEUE_PREFIXES}"
        )
    if name.split(".")[1] in QUEUE_PREFIXES:
        # Delayed retries are routed by `#.<binding>`: a domain named like a queue would match two queues.
        raise ValueError(f"task name {name!r}: the domain part must not be a queue name")
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")

    def register(fn: TaskFn) -> Task:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"task {name!r} must be an async function")
        if RESERVED & set(inspect.signature(fn).parameters):
            raise TypeError(f"task {name!r}: {sorted(RESERVED)} are enqueue()'s own arguments")
        existing = REGISTRY.get(name)
        if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"task {name!r} is already registered by {existing.fn.__module__}")
        registered = Task(
            name, fn, max_retries, on_dead_letter, retry_backoff_s, soft_time_limit_s, time_limit_s
        )
        REGISTRY[name] = registered
        return registered

    return register
