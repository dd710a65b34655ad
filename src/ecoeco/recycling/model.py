"""The shapes of the knowledge-base records, as read from the data files.

Every record is frozen: one knowledge base is shared by every request in the process. Unknown keys are
refused so that a misspelt field in a data file fails validation instead of being silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from ecoeco.core.language import Lang

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]

# The one stream sorted by kind: each of its middles is a bin of its own, so the major alone says nothing.
RECYCLABLE = "recyclable"
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Record):
    """A sentence in both languages we answer in."""

    ko: NonEmpty
    en: NonEmpty

    @field_validator("ko")
    @classmethod
    def _korean(cls, value: str) -> str:
        if not HANGUL.search(value):
            raise ValueError("the ko text has no Korean in it")
        return value

    @field_validator("en")
    @classmethod
    def _english(cls, value: str) -> str:
        if not LATIN.search(value):
            raise ValueError("the en text has no English in it")
        return value

    def get(self, lang: Lang) -> str:
        return self.ko if lang == "ko" else self.en


class NotAcceptedRule(_Record):
    """Something people expect to go here that does not; ``to`` is the item or category it goes to."""

    what: Text
    to: Slug


class _Named(_Record):
    id: Slug
    name_ko: NonEmpty
    name_en: NonEmpty
    synonyms: tuple[NonEmpty, ...] = ()  # other names people use, either language

    def name(self, lang: Lang) -> str:
        return self.name_ko if lang == "ko" else self.name_en


class Major(_Named):
    """A top-level category: which stream the waste goes into (recyclables, 종량제, food …)."""

    summary: Text
    bin: Text  # short noun phrase: where it goes ("일반 종량제 봉투")
    dispose: Text  # the final disposal step, a full sentence
    prepare: tuple[Text, ...] = ()


class Middle(_Named):
    """A category within a major; ``bin``, ``dispose`` and ``prepare`` fall back to the major's."""

    major: Slug
    summary: Text
    bin: Text | None = None
    dispose: Text | None = None
    prepare: tuple[Text, ...] | None = None
    note: Text | None = None
    not_accepted: tuple[NotAcceptedRule, ...] = ()
    situations: tuple[Slug, ...] = ()


class Item(_Named):
    """A thing people throw away. ``prepare`` replaces the middle's steps; ``prepare_extra`` adds to them."""

    middle: Slug
    bin: Text | None = None
    dispose: Text | None = None
    prepare: tuple[Text, ...] | None = None
    prepare_extra: tuple[Text, ...] = ()
    note: Text | None = None
    not_accepted: tuple[NotAcceptedRule, ...] = ()
    situations: tuple[Slug, ...] = ()


TagGroup = Literal["contents", "attachments", "material", "shape", "hazard", "food", "size", "other"]


class Tag(_Named):
    """A situation the classifier can see (label attached, contents left …) and what it calls for.

    ``applies_to`` limits the tag to some items or categories (empty: everywhere). ``prep_for`` words the
    preparation differently for an item or category; ``redirect`` sends the thing elsewhere in that state
    (a broken glass bottle is no longer a glass bottle for recycling). Keys are item or category ids; the
    most specific one wins.
    """

    group: TagGroup
    prep: Text
    prep_for: dict[Slug, Text] = {}
    applies_to: tuple[Slug, ...] = ()
    redirect: dict[Slug, Slug] = {}


Target = Item | Middle
Entity = Major | Middle | Item
