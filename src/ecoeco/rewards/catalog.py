"""The character catalogue: reviewed data shipped in the package, validated once per process.

Like the recycling knowledge base, the characters change only with a deploy; a broken file fails the
start-up (readiness never turns green) instead of a user's request. Every problem is reported at once.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from ecoeco.core.language import Lang
from ecoeco.recycling import service as recycling

DATA_DIR = Path(__file__).parent / "data"
MIN_LINES = 2


class CatalogError(ValueError):
    """The character data is inconsistent; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in the character catalogue:\n- " + "\n- ".join(problems)
        )


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# Each language's text must at least contain that language's letters (a swapped pair fails).
Korean = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern="[\uac00-\ud7a3]")]
English = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern="[A-Za-z]")]


class Line(BaseModel):
    """Something a character says, in both languages we answer in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ko: Korean
    en: English

    def get(self, lang: Lang) -> str:
        return self.ko if lang == "ko" else self.en


class Character(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    name_ko: NonEmpty
    name_en: NonEmpty
    upstream: NonEmpty  # the upstream catalogue's label of the kind (checked against its CSV)
    category: Slug | None = None  # the recyclable middle category it stands for; None for the mascot
    mascot: bool = False
    intro: Line
    lines: tuple[Line, ...]

    def name(self, lang: Lang) -> str:
        return self.name_ko if lang == "ko" else self.name_en


@dataclass(frozen=True)
class Catalog:
    version: str
    characters: Mapping[str, Character]  # in file order
    by_category: Mapping[str, Character]

    @property
    def mascot(self) -> Character:
        return next(c for c in self.characters.values() if c.mascot)


def load_catalog(data_dir: Path = DATA_DIR) -> Catalog:
    problems: list[str] = []
    raw = (data_dir / "characters.yaml").read_bytes()
    upstream_raw = (data_dir / "upstream_characters.csv").read_bytes()
    document: Any = yaml.safe_load(raw)
    if not isinstance(document, dict) or not isinstance(document.get("characters"), list):
        raise CatalogError(["characters.yaml: needs `version` and a `characters` list"])
    characters: list[Character] = []
    for n, record in enumerate(document["characters"], 1):
        try:
            characters.append(Character.model_validate(record))
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                problems.append(f"characters.yaml: character #{n} {where}: {err['msg']}")
    if problems:
        raise CatalogError(problems)
    upstream = {row["name"]: row["match"] for row in csv.DictReader(upstream_raw.decode().splitlines())}
    problems.extend(_check(characters, upstream, recycling.recyclable_kinds()))
    if problems:
        raise CatalogError(problems)
    digest = hashlib.sha256(raw + b"\0" + upstream_raw).hexdigest()[:10]
    return Catalog(
        version=f"{document.get('version', '0')}.{digest}",
        characters=MappingProxyType({c.id: c for c in characters}),
        by_category=MappingProxyType({c.category: c for c in characters if c.category}),
    )


def _check(characters: list[Character], upstream: dict[str, str], kinds: tuple[str, ...]) -> list[str]:
    problems = []
    seen: dict[str, int] = {}
    for c in characters:
        seen[c.id] = seen.get(c.id, 0) + 1
        if upstream.get(c.name_ko) != c.upstream:
            problems.append(
                f"{c.id}: name {c.name_ko!r} / kind {c.upstream!r} is not in the upstream catalogue"
            )
        if c.mascot == (c.category is not None):
            problems.append(f"{c.id}: exactly one of `mascot` and `category` must be set")
        if c.category is not None and c.category not in kinds:
            problems.append(f"{c.id}: {c.category!r} is not a recyclable kind of the knowledge base")
        if len(c.lines) < MIN_LINES:
            problems.append(f"{c.id}: needs at least {MIN_LINES} lines")
    problems += [f"{cid}: id used {n} times" for cid, n in seen.items() if n > 1]
    mascots = [c.id for c in characters if c.mascot]
    if len(mascots) != 1:
        problems.append(f"exactly one mascot is needed, found {mascots}")
    categories = [c.category for c in characters if c.category]
    for kind in kinds:
        if categories.count(kind) != 1:
            problems.append(f"recyclable kind {kind!r} has {categories.count(kind)} characters, needs 1")
    used = {c.name_ko for c in characters}
    problems += [f"upstream character {name!r} has no entry" for name in upstream if name not in used]
    return problems


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    return load_catalog()
