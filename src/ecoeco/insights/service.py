"""Weekly reports (the resumable batch job and reading one), operator numbers, community totals.

The weekly job walks the users active in a week in id order, ``insights_batch_size`` at a time. Each
batch's reports and the job's checkpoint (the last user id done) commit in one transaction, so a worker
killed mid-run leaves either a whole batch or none of it, and the re-delivered job resumes after the
checkpoint: every report is written exactly once. Only one batch is ever held in memory.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core import events
from ecoeco.core.clock import KST, utcnow
from ecoeco.core.errors import NotFound, Unprocessable
from ecoeco.db.engine import Database
from ecoeco.insights import repository
from ecoeco.insights.schemas import CommunityCategory, CommunityStats, WeeklyReportOut
from ecoeco.rewards import service as rewards
from ecoeco.waste.service import activity
from ecoeco.waste.service.activity import Miss

log = structlog.get_logger(__name__)

WEEKLY_JOB = "weekly-report"
MISSED_SHOWN = 3
COMMUNITY_DAYS = 7


def week_bounds(week: str) -> tuple[dt.datetime, dt.datetime]:
    """[Monday 00:00, next Monday 00:00) of an ISO week in Korean time, in UTC."""
    year, number = week.split("-W")
    try:
        monday = dt.date.fromisocalendar(int(year), int(number), 1)
    except ValueError as exc:
        raise Unprocessable(f"{week!r} is not a week of that year.", code="invalid-week") from exc
    start = dt.datetime.combine(monday, dt.time(), KST).astimezone(dt.UTC)
    return start, start + dt.timedelta(days=7)


def week_of(moment: dt.datetime) -> str:
    year, number, _ = moment.astimezone(KST).isocalendar()
    return f"{year}-W{number:02d}"


def week_before(slot: dt.datetime) -> str:
    """The last whole week before ``slot`` (the job runs on Monday for the week that just ended)."""
    return week_of(slot - dt.timedelta(days=7))


@dataclass(frozen=True)
class Progress:
    processed: int
    finished: bool


async def write_weekly_reports(db: Database, week: str, *, batch_size: int) -> Progress:
    """Write the reports of ``week`` for every user active in it, resuming after the checkpoint."""
    start, end = week_bounds(week)
    async with db.session() as session:
        checkpoint = await repository.checkpoint(session, WEEKLY_JOB, week)
    if checkpoint is not None and checkpoint.finished_at is not None:
        return Progress(checkpoint.processed, finished=True)  # a repeated run of a finished week
    after = checkpoint.last_user_id if checkpoint else None
    processed = checkpoint.processed if checkpoint else 0
    while True:
        async with db.session() as session:
            users = await activity.active_users(session, start, end, after=after, limit=batch_size)
            await repository.save_reports(session, week, await _reports(session, users, start, end, week))
            after = users[-1] if users else after
            processed += len(users)
            finished = len(users) < batch_size
            await repository.advance_checkpoint(
                session, WEEKLY_JOB, week, last_user_id=after, processed=processed, finished=finished
            )
        if finished:
            log.info("weekly_reports_written", week=week, users=processed)
            return Progress(processed, finished=True)


async def _reports(
    session: AsyncSession, users: list[uuid.UUID], start: dt.datetime, end: dt.datetime, week: str
) -> dict[uuid.UUID, dict[str, Any]]:
    if not users:
        return {}
    week_activity = await activity.week_activity(session, users, start, end)
    earned = await rewards.earned_between(session, users, start, end)
    return {
        user_id: {
            "week": week,
            "scans": a.scans,
            "by_category": [{"category": c, "count": n} for c, n in sorted(a.by_category.items(), key=_most)],
            "missed_steps": [{"tag": t, "count": n} for t, n in sorted(a.missed.items(), key=_most)][
                :MISSED_SHOWN
            ],
            "streak_days": a.streak_days,
            "characters": earned.get(user_id, []),
        }
        for user_id, a in week_activity.items()
    }


def _most(pair: tuple[str, int]) -> tuple[int, str]:
    return -pair[1], pair[0]


async def weekly_report(session: AsyncSession, user_id: uuid.UUID, week: str | None) -> WeeklyReportOut:
    """The user's report of ``week`` (default: the last whole week)."""
    week = week or week_before(utcnow())
    week_bounds(week)  # a week number the year does not have is a 422, not a 404
    found = await repository.report(session, user_id, week)
    if found is None:
        raise NotFound(
            f"No report for {week}: it is written on the Monday after, for weeks with scans.",
            code="report-not-found",
        )
    return WeeklyReportOut(**found.data, created_at=found.created_at)


async def community(session: AsyncSession, region: str, *, min_group: int) -> CommunityStats:
    """Done scans per category over the last 7 days, only where at least ``min_group`` people scanned."""
    until = utcnow()
    since = until - dt.timedelta(days=COMMUNITY_DAYS)
    totals = await activity.category_totals(session, since, until)
    categories = [CommunityCategory(category=c, scans=n, people=p) for c, n, p in totals if p >= min_group]
    categories.sort(key=lambda c: (-c.scans, c.category))
    return CommunityStats(region=region, since=since, until=until, min_group=min_group, categories=categories)


async def daily_numbers(session: AsyncSession, days: int) -> dict[dt.date, dict[str, int]]:
    since = utcnow().astimezone(KST).date() - dt.timedelta(days=days)
    table: dict[dt.date, dict[str, int]] = {}
    for day, metric, value in await repository.daily_stats(session, since):
        table.setdefault(day, {})[metric] = value
    return table


async def misses(session: AsyncSession, since: dt.datetime) -> list[Miss]:
    return await activity.misses(session, since)


@events.subscribe(events.USER_DELETED)
async def _user_deleted(session: AsyncSession, payload: dict[str, Any]) -> None:
    await repository.delete_user(session, payload["user_id"])
