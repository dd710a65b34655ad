"""Read the data files and refuse anything inconsistent.

Layout of a data directory::

    categories.yaml      version, majors, middles
    tags.yaml            situation tags
    items/*.yaml         items (any number of files; split by category for reviewers)

Every problem found is reported at once, each prefixed with the file it comes from, so that whoever edits
the data fixes a whole batch per run instead of one error at a time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from ecoeco.recycling.model import HANGUL, RECYCLABLE, Item, Major, Middle, Tag
from ecoeco.recycling.search import compact

# libyaml's parser, where PyYAML was built with it: the same documents ten times faster (0.22 → 0.02 s for
# the knowledge base, read by the first start's collection-point import or else on first use).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DATA_DIR = Path(__file__).parent / "data"

KINDS = ("majors", "middles", "items", "tags")
_TRAILING_NOTE = re.compile(r"\s*\([^()]*\)\s*$")

M = TypeVar("M", Major, Middle, Item, Tag)


class KnowledgeBaseError(ValueError):
    """The data files are inconsistent; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in the recycling knowledge base:\n- " + "\n- ".join(problems)
        )


@dataclass
class Catalogue:
    """Validated records in file order (which is also the order users see them in)."""

    version: str
    majors: dict[str, Major]
    middles: dict[str, Middle]
    items: dict[str, Item]
    tags: dict[str, Tag]


@dataclass
class _Raw:
    """Records as read, each remembered with the file it came from (for error messages)."""

    version: str = ""
    records: dict[str, list[tuple[str, dict[str, Any]]]] = field(
        default_factory=lambda: {kind: [] for kind in KINDS}
    )
    chunks: list[bytes] = field(default_factory=list)  # every file read, for the content digest
    problems: list[str] = field(default_factory=list)


def load_catalogue(data_dir: Path = DATA_DIR) -> Catalogue:
    raw = _Raw()
    _read_file(raw, data_dir, "categories.yaml", allowed={"version", "majors", "middles"})
    _read_file(raw, data_dir, "tags.yaml", allowed={"tags"})
    item_files = sorted((data_dir / "items").glob("*.yaml"))
    if not item_files:
        raw.problems.append(f"items/: no item files in {data_dir / 'items'}")
    for path in item_files:
        _read_file(raw, data_dir, f"items/{path.name}", allowed={"items"})
    if not raw.version and not raw.problems:
        raw.problems.append("categories.yaml: `version` is missing")
    if raw.problems:
        raise KnowledgeBaseError(raw.problems)

    majors, middles = _parse(raw, "majors", Major), _parse(raw, "middles", Middle)
    items, tags = _parse(raw, "items", Item), _parse(raw, "tags", Tag)
    # The content digest is part of the version, so any edit to the data changes ETags and cached answers.
    digest = hashlib.sha256(b"".join(raw.chunks)).hexdigest()[:10]
    catalogue = Catalogue(
        version=f"{raw.version}.{digest}",
        majors=_by_id(raw, majors),
        middles=_by_id(raw, middles),
        items=_by_id(raw, items),
        tags=_by_id(raw, tags),
    )
    # Cross-record checks on half-parsed data would only echo the errors above.
    if raw.problems:
        raise KnowledgeBaseError(raw.problems)
    origin = {
        (kind, record.id): name
        for kind, records in (("majors", majors), ("middles", middles), ("items", items), ("tags", tags))
        for name, record in records
    }
    problems = list(_check(catalogue, origin))
    if problems:
        raise KnowledgeBaseError(problems)
    return catalogue


def _load_yaml(raw: _Raw, data_dir: Path, name: str) -> Mapping[str, Any] | None:
    path = data_dir / name
    try:
        content = path.read_bytes()
    except OSError as exc:
        raw.problems.append(f"{name}: cannot be read ({exc.strerror or exc})")
        return None
    raw.chunks.append(name.encode() + b"\0" + content)
    try:
        document = yaml.load(content, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raw.problems.append(f"{name}: not valid YAML ({exc})")
        return None
    if not isinstance(document, dict):
        raw.problems.append(f"{name}: the file must hold a mapping at the top level")
        return None
    return document


def _read_file(raw: _Raw, data_dir: Path, name: str, *, allowed: set[str]) -> None:
    document = _load_yaml(raw, data_dir, name)
    if document is None:
        return
    for key, value in document.items():
        if key not in allowed:
            raw.problems.append(
                f"{name}: unknown top-level key {key!r} (expected {', '.join(sorted(allowed))})"
            )
        elif key == "version":
            raw.version = str(value)
        elif not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raw.problems.append(f"{name}: `{key}` must be a list of mappings")
        else:
            raw.records[key].extend((name, record) for record in value)


def _parse(raw: _Raw, kind: str, model: type[M]) -> list[tuple[str, M]]:
    parsed = []
    for index, (name, record) in enumerate(raw.records[kind]):
        try:
            parsed.append((name, model.model_validate(record)))
        except ValidationError as exc:
            label = f"{kind[:-1]} {record.get('id')!r}" if record.get("id") else f"{kind[:-1]} #{index + 1}"
            for err in exc.errors():
                where = ".".join(str(part) for part in err["loc"]) or "record"
                raw.problems.append(f"{name}: {label}: {where}: {err['msg']}")
    return parsed


def _by_id(raw: _Raw, parsed: list[tuple[str, M]]) -> dict[str, M]:
    found: dict[str, M] = {}
    origin: dict[str, str] = {}
    for name, record in parsed:
        if record.id in found:
            raw.problems.append(f"{name}: duplicate id {record.id!r} (first defined in {origin[record.id]})")
        else:
            found[record.id], origin[record.id] = record, name
    return found


def _check(cat: Catalogue, origin: dict[tuple[str, str], str]) -> Iterator[str]:
    """Cross-record rules: references resolve, nothing is unreachable or unused, names are usable."""
    yield from _check_ids(cat, origin)
    yield from _check_tree(cat, origin)
    yield from _check_names(cat, origin)
    yield from _check_references(cat, origin)
    yield from _check_tags(cat, origin)


def _check_ids(cat: Catalogue, origin: dict[tuple[str, str], str]) -> Iterator[str]:
    # Majors, middles and items share one namespace: `not_accepted.to` and redirects name any of them.
    seen: dict[str, str] = {}
    for kind in ("majors", "middles", "items"):
        for record_id in getattr(cat, kind):
            if record_id in seen:
                yield f"{origin[kind, record_id]}: id {record_id!r} is used by a {seen[record_id]} as well"
            seen.setdefault(record_id, kind[:-1])
    if RECYCLABLE not in cat.majors:  # scans treat it apart: each of its kinds is a bin of its own
        yield f"categories.yaml: the major category {RECYCLABLE!r} is missing"


def _check_tree(cat: Catalogue, origin: dict[tuple[str, str], str]) -> Iterator[str]:
    for middle in cat.middles.values():
        if middle.major not in cat.majors:
            where = f"{origin['middles', middle.id]}: middle {middle.id!r}"
            yield f"{where}: major {middle.major!r} does not exist"
    for item in cat.items.values():
        if item.middle not in cat.middles:
            yield f"{origin['items', item.id]}: item {item.id!r}: middle {item.middle!r} does not exist"
    used_majors = {m.major for m in cat.middles.values()}
    used_middles = {i.middle for i in cat.items.values()}
    for major_id in cat.majors.keys() - used_majors:
        yield f"{origin['majors', major_id]}: major {major_id!r} has no middle category"
    for middle_id in cat.middles.keys() - used_middles:
        yield f"{origin['middles', middle_id]}: middle {middle_id!r} has no items"


def _check_names(cat: Catalogue, origin: dict[tuple[str, str], str]) -> Iterator[str]:
    for kind in KINDS:
        for record in getattr(cat, kind).values():
            where = f"{origin[kind, record.id]}: {kind[:-1]} {record.id!r}"
            # Replies attach particles (은/는, 이/가) to the Korean name, which needs a Hangul last syllable.
            bare = _TRAILING_NOTE.sub("", record.name_ko)
            if not bare or not HANGUL.fullmatch(bare[-1]):
                yield f"{where}: name_ko {record.name_ko!r} must end in a Korean syllable"
            if HANGUL.search(record.name_en):
                yield f"{where}: name_en {record.name_en!r} must be English"
    for item in cat.items.values():
        names = {compact(item.name_ko), compact(item.name_en)}
        for synonym in item.synonyms:
            key = compact(synonym)
            if not key:
                yield f"{origin['items', item.id]}: item {item.id!r}: synonym {synonym!r} has no letters"
            elif key in names:
                yield f"{origin['items', item.id]}: item {item.id!r}: synonym {synonym!r} repeats a name"
            names.add(key)


def _ancestors(cat: Catalogue, record_id: str) -> tuple[str, ...]:
    """The id itself and the categories above it, most specific first."""
    if record_id in cat.items:
        middle = cat.items[record_id].middle
        return (record_id, middle, *_ancestors(cat, middle)[1:]) if middle in cat.middles else (record_id,)
    if record_id in cat.middles:
        return (record_id, cat.middles[record_id].major)
    return (record_id,)


def _exists(cat: Catalogue, record_id: str) -> bool:
    return record_id in cat.items or record_id in cat.middles or record_id in cat.majors


def _check_references(cat: Catalogue, origin: dict[tuple[str, str], str]) -> Iterator[str]:
    for kind in ("middles", "items"):
        for record in getattr(cat, kind).values():
            where = f"{origin[kind, record.id]}: {kind[:-1]} {record.id!r}"
            home = record.id if kind == "middles" else record.middle
            for rule in record.not_accepted:
                if not _exists(cat, rule.to):
                    yield f"{where}: not_accepted {rule.what.ko!r} goes to {rule.to!r}, which does not exist"
                elif home in _ancestors(cat, rule.to) or rule.to in _ancestors(cat, record.id):
                    yield f"{where}: not_accepted {rule.what.ko!r} points back into {rule.to!r} itself"
            for tag_id in record.situations:
                if tag_id not in cat.tags:
                    yield f"{where}: situation {tag_id!r} is not a tag"
                elif not _applies(cat, cat.tags[tag_id], record.id):
                    yield f"{where}: situation {tag_id!r} lists a tag whose applies_to excludes it"


def _applies(cat: Catalogue, tag: Tag, record_id: str) -> bool:
    return not tag.applies_to or any(a in tag.applies_to for a in _ancestors(cat, record_id))


def _check_tags(cat: Catalogue, origin: dict[tuple[str, str], str]) -> Iterator[str]:
    used = {t for kind in ("middles", "items") for r in getattr(cat, kind).values() for t in r.situations}
    for tag in cat.tags.values():
        where = f"{origin['tags', tag.id]}: tag {tag.id!r}"
        if tag.id not in used:
            yield f"{where}: no item or category lists it in `situations` (unused tag)"
        for label, ids in (
            ("applies_to", tag.applies_to),
            ("prep_for", tag.prep_for),
            ("redirect", tag.redirect),
        ):
            for record_id in ids:
                if not _exists(cat, record_id):
                    yield f"{where}: {label} names {record_id!r}, which does not exist"
                elif label != "applies_to" and not _applies(cat, tag, record_id):
                    yield f"{where}: {label} names {record_id!r}, outside its applies_to"
        for source, destination in tag.redirect.items():
            if destination not in cat.items and destination not in cat.middles:
                yield f"{where}: redirect {source!r} → {destination!r}: not an item or middle category"
            elif source in _ancestors(cat, destination):
                yield f"{where}: redirect {source!r} → {destination!r} stays where it started"
