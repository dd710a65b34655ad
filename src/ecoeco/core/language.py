"""The languages we answer in, and the one reading of ``Accept-Language`` every endpoint shares."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header

Lang = Literal["ko", "en"]
LANGS: tuple[Lang, ...] = ("ko", "en")
DEFAULT_LANG: Lang = "ko"

_LANG_BY_TAG: dict[str, Lang] = {lang: lang for lang in LANGS}


def negotiate_language(header: str | None) -> Lang:
    """The best of our languages for an ``Accept-Language`` header; Korean when nothing we speak is asked."""
    choices: list[tuple[float, int, Lang]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.partition(";")
        lang = _LANG_BY_TAG.get(tag.strip().lower().split("-")[0])
        quality = _quality(params)
        if lang is not None and quality > 0:
            choices.append((-quality, position, lang))  # highest weight first, then the earliest entry
    return min(choices)[2] if choices else DEFAULT_LANG


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0  # a malformed weight must not win
    return 1.0


async def _language(accept_language: Annotated[str | None, Header()] = None) -> Lang:
    return negotiate_language(accept_language)


LangDep = Annotated[Lang, Depends(_language)]
