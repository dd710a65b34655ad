"""Queue work of the insights domain: the weekly reports, on q.batch (Beat: Mondays 09:00 KST)."""

from __future__ import annotations

import datetime as dt

from ecoeco.insights import service
from ecoeco.queue import TaskContext, task
from ecoeco.runtime import Backends


@task("batch.insights.weekly", max_retries=5)
async def weekly_reports(ctx: TaskContext[Backends], *, slot: str) -> None:
    """The reports of the week before ``slot``. Redelivered after a worker died, or cut by the time
    limit, it resumes after the last batch committed (see service.write_weekly_reports)."""
    week = service.week_before(dt.datetime.fromisoformat(slot))
    await service.write_weekly_reports(
        ctx.backends.db, week, batch_size=ctx.backends.settings.insights_batch_size
    )
