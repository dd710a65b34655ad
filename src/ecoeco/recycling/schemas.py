"""API models of the recycling endpoints. Names come in both languages; sentences in the negotiated one."""

from __future__ import annotations

from pydantic import BaseModel

from ecoeco.core.language import Lang
from ecoeco.recycling.answer import NotAccepted, Step


class MiddleNode(BaseModel):
    id: str
    name_ko: str
    name_en: str
    summary: str
    item_count: int


class MajorNode(BaseModel):
    id: str
    name_ko: str
    name_en: str
    summary: str
    item_count: int
    middles: list[MiddleNode]


class CategoryTree(BaseModel):
    version: str
    lang: Lang
    majors: list[MajorNode]


class ItemSummary(BaseModel):
    id: str
    name_ko: str
    name_en: str
    major: str
    middle: str
    synonyms: list[str]
    score: float | None = None  # only for a text search: 1.0 is an exact name or synonym
    matched: str | None = None  # the name or synonym that matched


class CategoryRef(BaseModel):
    id: str
    name: str


class Situation(BaseModel):
    """A common state of the item and what to do about it."""

    tag: str
    name: str
    prep: str
    instead_id: str | None = None  # in this state it goes elsewhere: that item or category
    instead: str | None = None


class ItemGuide(BaseModel):
    id: str
    name_ko: str
    name_en: str
    synonyms: list[str]
    major: CategoryRef
    middle: CategoryRef
    summary: str  # short reply, as a scan answer would give it
    bin: str
    steps: list[Step]
    situations: list[Situation]
    not_accepted: list[NotAccepted]
    notes: list[str]
    version: str
    lang: Lang


class TagOut(BaseModel):
    id: str
    name_ko: str
    name_en: str
    group: str
    prep: str
    applies_to: list[str]  # item or category ids; empty means everything
