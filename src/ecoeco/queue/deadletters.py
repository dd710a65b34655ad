"""Dead letters, operable: list, show, replay and purge, for ``q.dlq`` (distributed) or the table (embedded).

A dead letter in ``q.dlq`` is either one our worker put there (a normal task message plus
``x-ecoeco-reason``/``-error`` headers) or one RabbitMQ dead-lettered itself (``x-death``: expired TTL,
delivery limit, rejected); both are read the same way. AMQP cannot browse a queue, so reading fetches
messages unacknowledged and hands back those not acted on when the channel closes.
Replay re-sends a message to ``tasks`` on its original routing key under a new task id (the dead one's
exactly-once record must not swallow the new run), then removes it from the dead letters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import amqp
from kombu import Connection
from kombu.transport.native_delayed_delivery import MAX_NUMBER_OF_BITS_TO_USE
from sqlalchemy import delete, select

from ecoeco.core.clock import utcnow
from ecoeco.db.base import as_utc
from ecoeco.queue import wire
from ecoeco.queue.models import DeadLetterRow, OutboxRow
from ecoeco.queue.taskqueue import QueueBackends
from ecoeco.queue.topology import DLQ, TASK_EXCHANGE, queue_depths

SCAN_LIMIT = 10_000  # q.dlq's max length: one pass sees every message


@dataclass(frozen=True)
class DeadLetter:
    id: str
    task: str
    routing_key: str
    kwargs: dict[str, Any]
    reason: str
    error: str
    attempts: int
    failed_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["failed_at"] = self.failed_at.isoformat() if self.failed_at else None
        return data


@dataclass(frozen=True)
class Filter:
    """Which dead letters an operation applies to; every given criterion must hold."""

    task: str | None = None  # glob, e.g. "ai.waste.*"
    reason: str | None = None  # substring of the reason or the error
    older_than: dt.timedelta | None = None
    newer_than: dt.timedelta | None = None
    id: str | None = None

    def matches(self, letter: DeadLetter, now: dt.datetime) -> bool:
        age = now - letter.failed_at if letter.failed_at else None
        return (
            (self.id is None or letter.id == self.id)
            and (self.task is None or fnmatch.fnmatchcase(letter.task, self.task))
            and (self.reason is None or self.reason in letter.reason or self.reason in letter.error)
            and (self.older_than is None or (age is not None and age >= self.older_than))
            and (self.newer_than is None or (age is not None and age <= self.newer_than))
        )


class DeadLetters(ABC):
    @abstractmethod
    async def find(self, where: Filter, limit: int = 100) -> list[DeadLetter]: ...

    @abstractmethod
    async def replay(self, where: Filter) -> list[str]:
        """Re-enqueue the matching dead letters; returns the new task ids."""

    @abstractmethod
    async def purge(self, where: Filter) -> int: ...

    @abstractmethod
    async def count(self) -> int: ...


def dead_letters(backends: QueueBackends) -> DeadLetters:
    if backends.queue.distributed:
        assert backends.settings.broker_url  # noqa: S101 - distributed implies a broker URL
        return RabbitDeadLetters(backends.settings.broker_url)
    return TableDeadLetters(backends)


class TableDeadLetters(DeadLetters):
    def __init__(self, backends: QueueBackends) -> None:
        self.backends = backends

    async def _matching(self, where: Filter) -> list[tuple[DeadLetterRow, DeadLetter]]:
        async with self.backends.db.sessionmaker() as session:
            rows = (await session.scalars(select(DeadLetterRow).order_by(DeadLetterRow.failed_at))).all()
        now = utcnow()
        pairs = [(row, _from_row(row)) for row in rows]
        return [(row, letter) for row, letter in pairs if where.matches(letter, now)]

    async def find(self, where: Filter, limit: int = 100) -> list[DeadLetter]:
        return [letter for _, letter in await self._matching(where)][:limit]

    async def replay(self, where: Filter) -> list[str]:
        matching = await self._matching(where)
        new_ids: list[str] = []
        async with self.backends.db.session() as session:
            for row, _ in matching:
                new_id = str(uuid.uuid4())
                session.add(
                    OutboxRow(id=new_id, task=row.task, routing_key=row.routing_key, kwargs=row.kwargs)
                )
                await session.execute(delete(DeadLetterRow).where(DeadLetterRow.id == row.id))
                new_ids.append(new_id)
        return new_ids

    async def purge(self, where: Filter) -> int:
        matching = await self._matching(where)
        async with self.backends.db.session() as session:
            for row, _ in matching:
                await session.execute(delete(DeadLetterRow).where(DeadLetterRow.id == row.id))
        return len(matching)

    async def count(self) -> int:
        return len(await self._matching(Filter()))


def _from_row(row: DeadLetterRow) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        task=row.task,
        routing_key=row.routing_key,
        kwargs=row.kwargs,
        reason=row.reason,
        error=row.error,
        attempts=row.attempts,
        failed_at=row.failed_at,
    )


class RabbitDeadLetters(DeadLetters):
    def __init__(self, url: str) -> None:
        self.url = url

    def _scan(
        self, where: Filter, act: Callable[[Any, amqp.Message, DeadLetter], None] | None, limit: int
    ) -> list[DeadLetter]:
        """Fetch every message of q.dlq; ``act`` on matching ones (it must ack them), return those matched."""
        found: list[DeadLetter] = []
        now = utcnow()
        with Connection(self.url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=2)
            channel: Any = conn.channel()
            if act is not None:
                channel.confirm_select()
            for _ in range(SCAN_LIMIT):
                message = channel.basic_get(DLQ, no_ack=False)
                if message is None:
                    break
                letter = parse_message(message)
                if where.matches(letter, now) and len(found) < limit:
                    found.append(letter)
                    if act is not None:
                        act(channel, message, letter)
            # Closing the channel returns every message we did not ack to the queue.
            channel.close()
        return found

    async def find(self, where: Filter, limit: int = 100) -> list[DeadLetter]:
        return await asyncio.to_thread(self._scan, where, None, limit)

    async def replay(self, where: Filter) -> list[str]:
        new_ids: list[str] = []

        def resend(channel: Any, message: amqp.Message, letter: DeadLetter) -> None:
            new_id = str(uuid.uuid4())
            headers = {
                k: v
                for k, v in (message.properties.get("application_headers") or {}).items()
                if not (k.startswith(("x-death", "x-first-death", "x-last-death", "x-delivery-count")))
                and k not in wire.OURS
            }
            headers |= {"id": new_id, "root_id": new_id, "retries": 0, wire.REPLAY_OF: letter.id}
            properties = {k: v for k, v in message.properties.items() if k != "application_headers"}
            properties["correlation_id"] = new_id
            copy = amqp.Message(message.body, application_headers=headers, **properties)
            channel.basic_publish_confirm(copy, exchange=TASK_EXCHANGE, routing_key=letter.routing_key)
            channel.basic_ack(message.delivery_tag)
            new_ids.append(new_id)

        await asyncio.to_thread(self._scan, where, resend, SCAN_LIMIT)
        return new_ids

    async def purge(self, where: Filter) -> int:
        def drop(channel: Any, message: amqp.Message, _: DeadLetter) -> None:
            channel.basic_ack(message.delivery_tag)

        return len(await asyncio.to_thread(self._scan, where, drop, SCAN_LIMIT))

    async def count(self) -> int:
        depths = await asyncio.to_thread(queue_depths, self.url, (DLQ,))
        return depths[0].ready if depths else 0


def parse_message(message: amqp.Message) -> DeadLetter:
    headers: dict[str, Any] = message.properties.get("application_headers") or {}
    deaths: list[dict[str, Any]] = headers.get("x-death") or []
    first = deaths[0] if deaths else {}  # the most recent death; its routing keys are the original ones
    try:
        body = json.loads(message.body)
        kwargs = body[1] if isinstance(body, list) and len(body) > 1 else {}
    except (ValueError, TypeError):
        kwargs = {}
    routing_key = str(headers.get(wire.ORIGINAL_KEY) or (first.get("routing-keys") or [""])[0])
    failed = headers.get(wire.FAILED_AT)
    failed_at = (
        dt.datetime.fromtimestamp(float(failed), dt.UTC)
        if failed is not None
        else (as_utc(first["time"]) if isinstance(first.get("time"), dt.datetime) else None)
    )
    return DeadLetter(
        id=str(headers.get("id") or message.properties.get("correlation_id") or ""),
        task=str(headers.get("task") or ""),
        routing_key=_strip_delay(routing_key),
        kwargs=kwargs if isinstance(kwargs, dict) else {},
        reason=str(headers.get(wire.REASON) or headers.get("x-first-death-reason") or "unknown"),
        error=str(headers.get(wire.ERROR) or f"dead-lettered by RabbitMQ from {first.get('queue', '?')}"),
        attempts=int(headers.get(wire.ATTEMPTS) or int(headers.get("retries") or 0) + 1),
        failed_at=failed_at,
    )


def _strip_delay(routing_key: str) -> str:
    """A retried message's routing key may still carry native delayed delivery's 28 bit prefix."""
    parts = routing_key.split(".")
    if len(parts) > MAX_NUMBER_OF_BITS_TO_USE and set(parts[:MAX_NUMBER_OF_BITS_TO_USE]) <= {"0", "1"}:
        return ".".join(parts[MAX_NUMBER_OF_BITS_TO_USE:])
    return routing_key
