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
# How far the narrowing distance (a chord through unit vectors) and haversine_m may each be from the true
# distance: ~1e-8 m in general, ~0.3 m where arcsin/asin lose precision (a query half a world away).
_ERROR_M = 1.0


class PointIndex:
    """Every open point with its unit vector, category mask and kind, in one immutable snapshot."""

    def __init__(self, rows: Sequence[Row[Any]]) -> None:
        import numpy as np  # not at start-up: only the first nearby search needs it

        self._rows = list(rows)
        lat = np.radians(np.array([r.lat for r in rows], dtype=np.float64))
        lon = np.radians(np.array([r.lon for r in rows], dtype=np.float64))
        self._xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
        self._masks = np.array([r.category_mask for r in rows], dtype=np.int64)
        kinds = np.array([r.kind for r in rows], dtype=object)
        self._kinds = {k: kinds == k for k in set(kinds.tolist())}
        self._none = np.zeros(len(rows), dtype=bool)

    def __len__(self) -> int:
        return len(self._rows)

    def nearest(self, q: NearQuery) -> list[Found]:
        """What :func:`ecoeco.locations.repository.nearest` returns for ``q``."""
        import numpy as np  # loaded by __init__ already

        bound = EVERYWHERE_M if q.radius_m is None else q.radius_m
        d = self._distances(q.lat, q.lon)
        keep = d <= bound + _ERROR_M
        if q.after is not None:
            keep &= d >= q.after[0] - _ERROR_M
        if q.mask:
            keep &= (self._masks & q.mask) == q.mask
        if q.kind:
            keep &= self._kinds.get(q.kind, self._none)
        pool = np.flatnonzero(keep)
        want = q.limit + 1
        if len(pool) > want:
            near = d[pool]
            # Rows certain to pass the radius and the cursor: the `want`-th nearest of them is within
            # t + error of the point, so every row of the answer is within t + 2 errors by the estimate.
            sure = near <= bound - _ERROR_M
            if q.after is not None:
                sure &= near > q.after[0] + _ERROR_M
            certain = near[sure]
            if len(certain) >= want:
                t = np.partition(certain, want - 1)[want - 1]
                pool = pool[near <= t + 2 * _ERROR_M]
        rows = self._rows
        return repository.rank(q, [rows[i] for i in pool.tolist()], bound)[:want]

    def _distances(self, lat: float, lon: float) -> npt.NDArray[np.float64]:
        import numpy as np  # loaded by __init__ already

        # The chord between unit vectors is 2·sqrt(a) of haversine: the same distance, differently rounded.
        la, lo = math.radians(lat), math.radians(lon)
        delta = self._xyz - (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))
        half_chord = np.sqrt(np.einsum("ij,ij->i", delta, delta)) / 2
        distances: npt.NDArray[np.float64] = (2 * EARTH_RADIUS_M) * np.arcsin(np.minimum(half_chord, 1.0))
        return distances


class _Slot:
    """The index of one :class:`Database`, and when it was last known to be current."""

    def __init__(self) -> None:
        self.index: PointIndex | None = None  # None: never loaded, or more open points than CEILING
        self.stamp: Stamp | None = None
        self.checked_at = -math.inf  # clock.monotonic() when the stamp was read
        self.writes = 0  # imports through this Database (changed())
        self.writes_seen = -1
        self.lock = asyncio.Lock()

    def current(self) -> bool:
        return 0 <= clock.monotonic() - self.checked_at < CHECK_EVERY_S and self.writes_seen == self.writes


_slots: WeakKeyDictionary[Database, _Slot] = WeakKeyDictionary()


async def current(db: Database) -> PointIndex | None:
    """The index of ``db``'s open points, reloaded when they changed; None when there are too many."""
    slot = _slots.get(db)
    if slot is None:
        slot = _slots.setdefault(db, _Slot())
    if not slot.current():
        async with slot.lock:
            if not slot.current():
                await _refresh(db, slot)
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

    stamp, rows = await db.read(read)
    if stamp.open > CEILING:
        slot.index = None
    elif rows is not None:
        # numpy and a list of thousands of rows: off the event loop.
        slot.index = await asyncio.to_thread(PointIndex, rows)
    slot.stamp, slot.checked_at, slot.writes_seen = stamp, started, writes


def changed(db: Database) -> None:
    """The points of ``db`` changed (an import through it committed): reload before the next search."""
    slot = _slots.get(db)
    if slot is not None:
        slot.writes += 1
