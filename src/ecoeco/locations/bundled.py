"""Collection points that ship with the product (``data/``; origin and licence in ``data/SOURCES.md``).

``ecoeco up`` loads them on first start, the migration Job with ``ecoeco migrate --bundled-data`` and an
operator with ``ecoeco locations import --bundled``. Every file's SHA-256 is checked before anything is
written, and a damaged file stops the start with its name. A later start only hashes the files and reads
one row per source (``location_imports``): a file loaded before is skipped. A source whose last file an
operator imported is left alone, so a newer file of theirs is never replaced by the older bundled one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from ecoeco.core.errors import BundledDataError
from ecoeco.db.engine import Database
from ecoeco.locations import repository, service
from ecoeco.locations.importer import KECO_SOURCE, SourceFormat
from ecoeco.locations.models import Kind
from ecoeco.locations.projection import Projection

DATA_DIR = Path(__file__).with_name("data")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BundledFile:
    name: str
    sha256: str
    fmt: SourceFormat
    source: str
    kind: Kind = Kind.OTHER
    columns: Mapping[str, str] = field(default_factory=dict)
    xy: Projection | None = None


BUNDLED = (
    BundledFile(
        "keco_recycle_compensation_sites.csv",
        "296642ce8d453f7b7eb85bbd7a21d123773a8c6272ff17c5fcb0266ef7164884",
        SourceFormat.KECO,
        source=KECO_SOURCE,
    ),
    BundledFile(
        "zerowaste_shops.csv",
        "af6a07aed8dc8e77e562c87abc7f5d9b68319a003718857a9d2fd665b9cbe91c",
        SourceFormat.SIMPLE,
        source="zerowaste",
        kind=Kind.ZERO_WASTE_SHOP,
        # A Kakao Map favourites export: display1/display2 are name/address, memo the person's remark.
        columns={"id": "key", "name": "display1", "address": "display2", "note": "memo"},
        xy=Projection.WCONGNAMUL,
    ),
)


@dataclass(frozen=True)
class Outcome:
    file: BundledFile
    summary: service.ImportSummary | None  # None: skipped
    skipped: str | None = None


def read(file: BundledFile) -> bytes:
    """The file's bytes, if they are the ones recorded for it."""
    path = DATA_DIR / file.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundledDataError(f"bundled data file {path} cannot be read: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != file.sha256:
        raise BundledDataError(
            f"bundled data file {path} is damaged or was changed: its SHA-256 is {digest}, "
            f"expected {file.sha256} (ecoeco/locations/bundled.py)"
        )
    return data


async def load(
    db: Database,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Import each bundled file its source has not seen yet; verify all of them before writing any."""
    verified = [(f, read(f)) for f in BUNDLED]
    outcomes = []
    for file, data in verified:
        async with db.engine.connect() as conn:
            last = await repository.last_import(conn, file.source)
        if last is not None and last.sha256 == file.sha256:
            outcomes.append(Outcome(file, None, "loaded already"))
            continue
        if last is not None and not last.bundled:
            why = f"an operator imported {last.file or 'its data'}; it is left as it is"
            outcomes.append(Outcome(file, None, why))
            continue
        summary = await service.import_file(
            db,
            data,
            file.name,
            file.fmt,
            source=file.source,
            kind=file.kind,
            columns=dict(file.columns),
            xy=file.xy,
            dry_run=dry_run,
            bundled=True,
            progress=progress,
        )
        outcomes.append(Outcome(file, summary))
    return outcomes
