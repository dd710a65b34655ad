"""A user's scan history and statistics (served under /users/me: they belong to "me")."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import KST, utcnow
from ecoeco.core.pagination import InvalidCursor, Page, keyset_page, read_keyset
from ecoeco.db.base import as_utc
from ecoeco.waste import repository
from ecoeco.waste.models import Scan
from ecoeco.waste.schemas import CategoryCount, ScanStats, ScanSummary, image_url


async def history(
    session: AsyncSession, user_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[ScanSummary]:
    position = read_keyset(cursor, ("created_at", "id"))
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(position["created_at"]), uuid.UUID(position["id"]))
        except (TypeError, ValueError) as exc:
            raise InvalidCursor() from exc
    rows = await repository.list_user_scans(session, user_id, after=after, limit=limit + 1)
    scans, next_cursor = keyset_page(
        rows, limit, lambda s: {"created_at": s.created_at.isoformat(), "id": str(s.id)}
    )
    return Page[ScanSummary](items=[_summary(s) for s in scans], next_cursor=next_cursor)


def _summary(scan: Scan) -> ScanSummary:
    title = (scan.result or {}).get("title")
    return ScanSummary(
        id=scan.id,
        status=scan.status,
        created_at=scan.created_at,
        major=scan.major,
        middle=scan.middle,
        item_id=scan.item_id,
        title=title,
        question=scan.question,
        image_url=image_url(scan.id) if scan.image_key else None,
    )


async def stats(session: AsyncSession, user_id: uuid.UUID, *, today: datetime | None = None) -> ScanStats:
    statuses = await repository.status_counts(session, user_id)
    categories = [
        CategoryCount(major=major, middle=middle, count=n)
        for major, middle, n in await repository.category_counts(session, user_id)
    ]
    categories.sort(key=lambda c: (-c.count, c.major or "", c.middle or ""))
    times = await repository.scan_times(session, user_id)
    current, longest = streaks(times, today=today or utcnow())
    return ScanStats(
        total=sum(statuses.values()),
        done=statuses.get("done", 0),
        failed=statuses.get("failed", 0),
        by_category=categories,
        current_streak_days=current,
        longest_streak_days=longest,
        last_scan_at=times[0] if times else None,
    )


def streaks(times: list[datetime], *, today: datetime) -> tuple[int, int]:
    """(current, longest) runs of consecutive Korean calendar days with at least one scan.

    The current streak survives until the end of the day after the last scan.
    """
    days = sorted({t.astimezone(KST).date() for t in times})
    if not days:
        return 0, 0
    longest = run = 1
    for prev, cur in itertools.pairwise(days):
        run = run + 1 if (cur - prev).days == 1 else 1
        longest = max(longest, run)
    today_kst = as_utc(today).astimezone(KST).date()
    current = run if (today_kst - days[-1]).days <= 1 else 0
    return current, longest
