"""The open points in memory, for the nearest-first search when there are few of them.

With the 746 bundled points a search in memory takes tens of microseconds on the event loop, where a
database statement (on SQLite also a thread hop) took a millisecond. Past :data:`CEILING` open points the
database's spatial indexes stay in charge (:func:`ecoeco.locations.repository.nearest`).

The answer is the database path's, to the bit: numpy only narrows the candidates, by a distance whose error
is bounded (:data:`_ERROR_M`); :func:`~ecoeco.locations.repository.rank` then ranks them with the same
haversine, radius, cursor and tie-break by id, and the same ``limit + 1`` rows come back.

Freshness: points change only through imports. An import through the same :class:`Database` replaces the
index before its next search (:func:`changed`). One from elsewhere (``ecoeco locations import`` while
``ecoeco up`` runs, another pod) is seen within :data:`CHECK_EVERY_S`: the first search after that long
reads the table's :class:`~ecoeco.locations.repository.Stamp` and reloads when it moved.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from ecoeco.core.clock import clock
from ecoeco.db.engine import Database
from ecoeco.locations import repository
from ecoeco.locations.geo import EARTH_RADIUS_M
from ecoeco.locations.repository import EVERYWHERE_M, Found, NearQuery, Stamp

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Open points the index holds at most: ~1 KB each, and a search scans all of them (≈0.1 ms at 20,000).
CEILING = 20_000
# The staleness bound for imports by other processes: a search never uses a stamp read longer ago.
CHECK_EVERY_S = 1.0
# How far the narrowing distance (the angle between unit vectors, from their dot product) and haversine_m
# may be apart, with room to spare: dot products are good to ~5e-16, ≤ 0.2 m of arc where the cosine is
# flat (near 0 and half a world away), where haversine_m's asin loses as much; ~1e-8 m elsewhere.
_ERROR_M = 1.0


def _cos_of(distance_m: float) -> float:
    """The dot product of two unit vectors ``distance_m`` apart (the distance clamped to 0..half a world)."""
    return math.cos(min(max(distance_m, 0.0), EVERYWHERE_M) / EARTH_RADIUS_M)


class PointIndex:
    """Every open point with its unit vector, category mask and kind, in one immutable snapshot."""

    def __init__(self, rows: Sequence[Row[Any]]) -> None:
        import numpy as np  # not at start-up: only the first nearby search needs it

        self._points = [(r.id, r.lat, r.lon, r) for r in rows]
        lat = np.radians(np.array([r.lat for r in rows], dtype=np.float64))
        lon = np.radians(np.array([r.lon for r in rows], dtype=np.float64))
        self._xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
        self._masks = np.array([r.category_mask for r in rows], dtype=np.int64)
        kinds = np.array([r.kind for r in rows], dtype=object)
        self._kinds = {k: kinds == k for k in set(kinds.tolist())}
        self._none = np.zeros(len(rows), dtype=bool)

    def __len__(self) -> int:
        return len(self._points)

    def nearest(self, q: NearQuery) -> list[Found]:
        """What :func:`ecoeco.locations.repository.nearest` returns for ``q``.

        In the dot product's terms (larger: nearer); each bound is widened (or, for rows certain to
        count, narrowed) by one error for the estimate and one more for turning metres into a cosine.
        """
        import numpy as np  # loaded by __init__ already

        bound = EVERYWHERE_M if q.radius_m is None else q.radius_m
        la, lo = math.radians(q.lat), math.radians(q.lon)
        dots = self._xyz @ (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))
        keep = None if bound + 2 * _ERROR_M >= EVERYWHERE_M else dots >= _cos_of(bound + 2 * _ERROR_M)
        sure = None if bound - 2 * _ERROR_M >= EVERYWHERE_M else dots >= _cos_of(bound - 2 * _ERROR_M)
        if q.after is not None:
            if q.after[0] > 2 * _ERROR_M:  # nearer: a dot product may round past 1 at the point itself
                keep = _and(keep, dots <= _cos_of(q.after[0] - 2 * _ERROR_M))
            sure = _and(sure, dots < _cos_of(q.after[0] + 2 * _ERROR_M))
        if q.mask:
            keep = _and(keep, (self._masks & q.mask) == q.mask)
        if q.kind:
            keep = _and(keep, self._kinds.get(q.kind, self._none))
        if keep is not None:
            sure = keep if sure is None else sure & keep
        want = q.limit + 1
        certain = dots if sure is None else dots[sure]
        if len(certain) >= want:
            # The `want`-th nearest row certain to count is within t + error of the point by haversine, so
            # every row of the answer is within t + 2 errors by the estimate.
            nearest_first = -certain  # a copy, to partition in place
            nearest_first.partition(want - 1)
            t = -nearest_first[want - 1]
            near = dots >= _cos_of(math.acos(min(1.0, t)) * EARTH_RADIUS_M + 3 * _ERROR_M)
            keep = near if keep is None else keep & near
        points = self._points
        pool = points if keep is None else [points[i] for i in np.flatnonzero(keep).tolist()]
        return repository.rank_points(q, pool, bound)[:want]


def _and(a: npt.NDArray[np.bool_] | None, b: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    return b if a is None else a & b


class _Slot:
    """The index of one :class:`Database`, and when it was last known to be current."""

    def __init__(self) -> None:
        self.index: PointIndex | None = None  # None: never loaded, or more open points than CEILING
        self.stamp: Stamp | None = None
        self.checked_at = -math.inf  # clock.monotonic() when the stamp was read
        self.writes = 0  # imports through this Database (changed())
        self.writes_seen = -1
        self.refreshing: asyncio.Task[None] | None = None

    def current(self) -> bool:
        return 0 <= clock.monotonic() - self.checked_at < CHECK_EVERY_S and self.writes_seen == self.writes


_slots: WeakKeyDictionary[Database, _Slot] = WeakKeyDictionary()


async def current(db: Database) -> PointIndex | None:
    """The index of ``db``'s open points, reloaded when they changed; None when there are too many.

    Every search due a check waits for one shared check, all woken at once (behind a lock they were woken
    one event-loop turn after another: every second 32 clients stalled for ~100 ms).
    """
    slot = _slots.get(db)
    if slot is None:
        slot = _slots.setdefault(db, _Slot())
    arrived = clock.monotonic()
    while not slot.current():
        if slot.refreshing is None:
            slot.refreshing = asyncio.ensure_future(_refresh(db, slot))
        await asyncio.shield(slot.refreshing)  # a client that goes away does not cancel the others' check
        if slot.checked_at >= arrived:  # read after this search began: fresh enough, even if written since
            break
    return slot.index


async def _refresh(db: Database, slot: _Slot) -> None:
    # Taken before reading: an import committed meanwhile leaves writes_seen behind, so the next search
    # looks again; and the bound counts from before the read.
    started, writes = clock.monotonic(), slot.writes
    known = slot.stamp if slot.writes_seen == writes else None

    def read(conn: Connection) -> tuple[Stamp, Sequence[Row[Any]] | None]:
        stamp = repository.stamp(conn)
        if stamp == known or stamp.open > CEILING:
            return stamp, None
        return stamp, repository.open_points(conn)

    try:
        stamp, rows = await db.read(read)
        if stamp.open > CEILING:
            slot.index = None
        elif rows is not None:
            # numpy and a list of thousands of rows: off the event loop.
            slot.index = await asyncio.to_thread(PointIndex, rows)
        slot.stamp, slot.checked_at, slot.writes_seen = stamp, started, writes
    finally:
        slot.refreshing = None


def changed(db: Database) -> None:
    """The points of ``db`` changed (an import through it committed): reload before the next search."""
    slot = _slots.get(db)
    if slot is not None:
        slot.writes += 1
