"""Transactional outbox: ``enqueue`` writes the task into the caller's transaction.

After the transaction commits, the process' :class:`~ecoeco.queue.taskqueue.TaskQueue` is handed the new
tasks' messages, built from memory at enqueue (publish now / wake the embedded executor); a rollback drops
the rows with everything else. The row stays the source of truth: it is stamped ``published_at`` once the
broker confirmed it, and whatever was not (broker down, queue full, the process died between commit and
publish) is published later by :func:`relay_pending`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import weakref
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ecoeco.core.clock import utcnow
from ecoeco.db.sql import insert_ignore, is_postgresql
from ecoeco.queue.models import OutboxRow
from ecoeco.queue.registry import Task

Dispatcher = Callable[[list["Message"]], None]
# Engine → the TaskQueue callback of the process that owns it (see TaskQueue.__init__).
_dispatchers: weakref.WeakKeyDictionary[Engine, Dispatcher] = weakref.WeakKeyDictionary()
_PENDING = "ecoeco.queue.pending"
_LISTENING = "ecoeco.queue.listening"


def register_dispatcher(engine: Engine, dispatcher: Dispatcher) -> None:
    _dispatchers[engine] = dispatcher


async def enqueue(
    session: AsyncSession, task: Task, /, *, key: str | None = None, delay_s: float = 0, **kwargs: Any
) -> str:
    """Enqueue ``task(**kwargs)`` in the session's transaction; return the task id.

    ``key`` (a business id such as ``scan:<id>``) makes it idempotent: a second enqueue with the same key
    adds nothing and returns the first task's id. ``delay_s`` postpones the first run.
    Raises TypeError at once when the arguments do not fit the task or are not JSON.
    """
    task.check_arguments(kwargs)
    payload = json.loads(json.dumps(kwargs))  # TypeError now, not in the worker
    task_id = str(uuid.uuid4())
    now = utcnow()
    values = {
        "id": task_id,
        "task": task.name,
        "routing_key": task.routing_key,
        "kwargs": payload,
        "key": key,
        "created_at": now,
        "available_at": now + dt.timedelta(seconds=delay_s),
        "deliveries": 0,
        "attempts": 0,
    }
    if key is None:
        await session.execute(insert(OutboxRow).values(**values))
    elif not await insert_ignore(session, OutboxRow, values, ("key",)):
        existing = await session.scalar(select(OutboxRow.id).where(OutboxRow.key == key))
        return str(existing)
    message = Message(task_id, task.name, task.routing_key, payload, _epoch(now), max(0, round(delay_s)))
    _after_commit(session.sync_session, message)
    return task_id


def _after_commit(session: Session, message: Message) -> None:
    if _LISTENING not in session.info:
        # Listeners live as long as the session (they cannot be removed while an event is dispatched).
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_rollback", _rolled_back)
    session.info.setdefault(_PENDING, []).append(message)


def _committed(session: Session) -> None:
    messages: list[Message] = session.info.pop(_PENDING, None) or []
    if not messages:
        return
    bind = session.get_bind()
    dispatcher = _dispatchers.get(bind.engine if isinstance(bind, Connection) else bind)
    if dispatcher is not None:
        dispatcher(messages)


def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class Message:
    """What goes on the wire for one outbox row."""

    id: str
    task: str
    routing_key: str
    kwargs: dict[str, Any]
    enqueued_at: float
    countdown: int = 0


Publish = Callable[[Sequence[Message]], Awaitable[list[str]]]


async def relay_pending(
    session: AsyncSession,
    publish: Publish,
    *,
    older_than_s: float = 0,
    skip: Collection[str] = (),
    limit: int = 500,
) -> int:
    """Publish unpublished rows older than ``older_than_s`` and stamp them: the stragglers the publish
    after their commit did not get confirmed (at least once: a row published from memory but not yet
    stamped can go out again, and the worker's ledger runs it once).

    ``publish`` runs the blocking broker calls and returns the ids it got confirms for; rows it could not
    publish stay for the next sweep. On PostgreSQL concurrent relays skip each other's locked rows; ``skip``
    names rows this process is publishing from memory right now.
    """
    now = utcnow()
    query = (
        select(OutboxRow)
        .where(
            OutboxRow.published_at.is_(None),
            OutboxRow.created_at <= now - dt.timedelta(seconds=older_than_s),
        )
        .order_by(OutboxRow.created_at)
    )
    if skip:
        query = query.where(OutboxRow.id.not_in(list(skip)))
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    rows = (await session.scalars(query.limit(limit))).all()
    if not rows:
        return 0
    messages = [
        Message(
            id=row.id,
            task=row.task,
            routing_key=row.routing_key,
            kwargs=row.kwargs,
            enqueued_at=_epoch(row.created_at),
            countdown=max(0, round((row.available_at - now).total_seconds())),
        )
        for row in rows
    ]
    published = await publish(messages)
    await stamp_published(session, published)
    await session.commit()
    return len(published)


async def stamp_published(session: AsyncSession, ids: Sequence[str]) -> None:
    """Mark rows the broker confirmed, in the caller's transaction (a row already stamped stays as is)."""
    if ids:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(list(ids)), OutboxRow.published_at.is_(None))
            .values(published_at=utcnow())
        )


def _epoch(value: dt.datetime) -> float:
    return value.timestamp()
