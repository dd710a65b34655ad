"""All SQL of the insights domain (and the reading of the queue's daily_stats table)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import utcnow
from ecoeco.db.sql import insert
from ecoeco.insights.models import JobCheckpoint, WeeklyReport
from ecoeco.queue.models import DailyStat


async def checkpoint(session: AsyncSession, job: str, period: str) -> JobCheckpoint | None:
    return await session.get(JobCheckpoint, (job, period))


async def save_reports(session: AsyncSession, week: str, reports: dict[uuid.UUID, dict[str, Any]]) -> None:
    """Write the batch's reports; one already there (a re-run of the same batch) is left as it is."""
    if not reports:
        return
    now = utcnow()
    rows = [{"user_id": u, "week": week, "data": d, "created_at": now} for u, d in reports.items()]
    await session.execute(insert(session, WeeklyReport).values(rows).on_conflict_do_nothing())


async def advance_checkpoint(
    session: AsyncSession,
    job: str,
    period: str,
    *,
    last_user_id: uuid.UUID | None,
    processed: int,
    finished: bool,
) -> None:
    now = utcnow()
    values = {
        "last_user_id": last_user_id,
        "processed": processed,
        "finished_at": now if finished else None,
        "updated_at": now,
    }
    stmt = insert(session, JobCheckpoint).values(job=job, period=period, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["job", "period"], set_=values))


async def report(session: AsyncSession, user_id: uuid.UUID, week: str) -> WeeklyReport | None:
    return await session.get(WeeklyReport, (user_id, week))


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(WeeklyReport).where(WeeklyReport.user_id == user_id))


async def daily_stats(session: AsyncSession, since: dt.date) -> list[tuple[dt.date, str, int]]:
    stmt = select(DailyStat.day, DailyStat.metric, DailyStat.value).where(DailyStat.day >= since)
    return [(d, m, int(v)) for d, m, v in (await session.execute(stmt.order_by(DailyStat.day))).all()]
