"""Scans seen in bulk, for batch reports (ecoeco.insights) and operators: one week's activity of a
batch of users, what the knowledge base could not answer, and anonymous totals per category."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.waste import repository
from ecoeco.waste.service.history import streaks

# How far back a streak is followed from the end of a report's week.
STREAK_HORIZON = dt.timedelta(days=400)


@dataclass
class WeekActivity:
    by_category: Counter[str] = field(default_factory=Counter)  # middle category → done scans
    missed: Counter[str] = field(default_factory=Counter)  # situation tag → times its step was left to do
    scans: int = 0
    streak_days: int = 0  # consecutive days with a scan, up to the week's last day


async def active_users(
    session: AsyncSession, start: dt.datetime, end: dt.datetime, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Users with a scan in [start, end), ``limit`` at a time in id order after ``after``."""
    return await repository.active_users(session, start, end, after=after, limit=limit)


async def week_activity(
    session: AsyncSession, user_ids: list[uuid.UUID], start: dt.datetime, end: dt.datetime
) -> dict[uuid.UUID, WeekActivity]:
    """Each user's done scans of [start, end) by category, the preparation steps left to do, and streak."""
    found = {u: WeekActivity() for u in user_ids}
    for user_id, _major, middle, result in await repository.done_scans_of(session, user_ids, start, end):
        activity = found[user_id]
        activity.scans += 1
        if middle:
            activity.by_category[middle] += 1
        for todo in ((result or {}).get("answer") or {}).get("todo", ()):
            activity.missed[todo["tag"]] += 1
    times: dict[uuid.UUID, list[dt.datetime]] = {u: [] for u in user_ids}
    for user_id, created in await repository.scan_times_of(session, user_ids, end - STREAK_HORIZON, end):
        times[user_id].append(created)
    last_moment = end - dt.timedelta(microseconds=1)
    for user_id, activity in found.items():
        activity.streak_days = streaks(times[user_id], today=last_moment)[0]
    return found


@dataclass(frozen=True)
class Miss:
    what: str  # the question as typed (trimmed, lower-cased), or "(photo)"
    why: str  # "unsure", or the failure's error code
    count: int


async def misses(session: AsyncSession, since: dt.datetime) -> list[Miss]:
    """What people asked or photographed that got no answer, grouped and counted, most frequent first."""
    counted: Counter[tuple[str, str]] = Counter()
    for question, model_or_error, status in await repository.unanswered(session, since):
        what = " ".join(question.split()).lower() if question else "(photo)"
        why = "unsure" if status == "done" else model_or_error or "failed"
        counted[(what, why)] += 1
    return [Miss(what, why, n) for (what, why), n in counted.most_common()]


async def category_totals(
    session: AsyncSession, start: dt.datetime, end: dt.datetime
) -> list[tuple[str, int, int]]:
    """(middle category, done scans, distinct people) in [start, end)."""
    return await repository.category_totals(session, start, end)
