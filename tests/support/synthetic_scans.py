"""Synthetic accounts and finished scans, written straight into the tables (no API, no model) for the
weekly-report tests and benchmark.

``generate`` yields users and scans deterministically from a seed; ``load`` writes them through the app's
own database (either backend, executemany in chunks); ``copy_postgres`` streams them with COPY for the
million-row benchmark.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import insert

from ecoeco.db.engine import Database
from ecoeco.users.models import User
from ecoeco.waste.models import Scan

KINDS = ("paper", "paper_pack", "clear_pet", "plastic", "vinyl", "glass_bottle", "metal", "battery")
TAGS = ("label_attached", "contents_left", "food_residue")
SCAN_COLUMNS = (
    "id",
    "user_id",
    "request_hash",
    "lang",
    "status",
    "stage",
    "progress",
    "event_seq",
    "major",
    "middle",
    "result",
    "cache_hit",
    "model",
    "completed_at",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class Synthetic:
    users: list[uuid.UUID]
    scans: int


def user_ids(count: int, seed: int) -> list[uuid.UUID]:
    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]


def scan_rows(users: list[uuid.UUID], scans: int, start: dt.datetime, seed: int) -> Iterator[dict[str, Any]]:
    """``scans`` done scans spread over the users and over the 7 days from ``start`` (every user gets at
    least one, so every user is active that week)."""
    rng = random.Random(seed)
    for n in range(scans):
        user = users[n % len(users)]
        kind = rng.choice(KINDS)
        todo = [{"tag": rng.choice(TAGS), "text": "-"}] if rng.random() < 0.3 else []
        at = start + dt.timedelta(seconds=rng.randrange(7 * 86400))
        result = {"unsure": False, "answer": {"major": "recyclable", "middle": kind, "todo": todo}}
        yield {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "user_id": user,
            "request_hash": "-",
            "lang": "ko",
            "status": "done",
            "stage": "done",
            "progress": 100,
            "event_seq": 1,
            "major": "recyclable",
            "middle": kind,
            "result": result,
            "cache_hit": False,
            "model": "synthetic",
            "completed_at": at,
            "created_at": at,
            "updated_at": at,
        }


async def load(db: Database, *, users: int, scans: int, start: dt.datetime, seed: int = 7) -> Synthetic:
    ids = user_ids(users, seed)
    async with db.session() as session:
        for chunk in _chunks([_user(u, start) for u in ids], 1000):
            await session.execute(insert(User), chunk)
        batch: list[dict[str, Any]] = []
        for row in scan_rows(ids, scans, start, seed):
            batch.append(row)
            if len(batch) == 1000:
                await session.execute(insert(Scan), batch)
                batch = []
        if batch:
            await session.execute(insert(Scan), batch)
    return Synthetic(ids, scans)


def copy_postgres(url: str, *, users: int, scans: int, start: dt.datetime, seed: int = 7) -> Synthetic:
    """The same rows as :func:`load`, streamed into PostgreSQL with COPY (memory stays flat)."""
    ids = user_ids(users, seed)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://").replace(
        "postgresql+psycopg://", "postgresql://"
    )
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY users (id, nickname, created_at, updated_at) FROM STDIN") as copy:
            for u in ids:
                copy.write_row((u, "synthetic", start, start))
        with cur.copy(f"COPY waste_scans ({', '.join(SCAN_COLUMNS)}) FROM STDIN") as copy:
            for row in scan_rows(ids, scans, start, seed):
                row["result"] = json.dumps(row["result"])
                copy.write_row(tuple(row[c] for c in SCAN_COLUMNS))
    return Synthetic(ids, scans)


def _user(user_id: uuid.UUID, at: dt.datetime) -> dict[str, Any]:
    return {"id": user_id, "nickname": "synthetic", "created_at": at, "updated_at": at}


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
