"""Glue between the classifier, the knowledge base and the stored result of a scan.

A ``Verdict`` is what we concluded about the item (from the model, a confirmed earlier photo or the
user's question); ``compose_result`` turns it into the JSON a client reads, built only from the
knowledge base so the facts never depend on a model's wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ecoeco.core.clock import utcnow
from ecoeco.core.language import Lang
from ecoeco.recycling import service as recycling
from ecoeco.vision import Taxonomy
from ecoeco.waste.progress import Step

# Verdict.model of answers that did not come from looking at the photo: the user's own words, or a
# confirmed earlier photo. Neither may ever be shared as what a photo shows (see service.feedback).
QUESTION_MODEL = "knowledge-base"
CACHE_MODEL = "confirmed-cache"

# What we ask a user to do when nothing conclusive came out.
UNSURE_REPLY = {
    "ko": "무엇인지 확실하지 않아요. 물건 이름이나 재질을 몇 단어로 알려 주세요.",
    "en": "We are not sure what this is. Please tell us the item's name or material in a few words.",
}


@dataclass(frozen=True)
class Verdict:
    major: str | None
    middle: str | None
    item_id: str | None = None
    item_hint: str | None = None
    tags: list[str] = field(default_factory=list)
    confidence: float = 0.0
    model: str = ""
    unsure: bool = False
    reason: str | None = None
    usage: dict[str, int] | None = None


def taxonomy() -> Taxonomy:
    """The labels the classifier may use, straight from the knowledge base."""
    return recycling.classifier_taxonomy()


def verdict_for_question(question: str, *, fallback: Verdict | None) -> Verdict:
    """Answer a typed description through the knowledge base's search."""
    found = recycling.search_rule(question)
    if found is None:
        return fallback or Verdict(major=None, middle=None, unsure=True, model=QUESTION_MODEL)
    rule, score = found
    return Verdict(
        major=rule.major,
        middle=rule.middle,
        item_id=rule.item_id,
        tags=list(fallback.tags) if fallback else [],
        confidence=score,
        model=QUESTION_MODEL,
        usage=fallback.usage if fallback else None,
    )


def resolve(verdict: Verdict) -> Verdict:
    """Pin the verdict to the most specific rule the knowledge base has for it (or mark it unsure)."""
    if verdict.unsure:
        return verdict
    rule = recycling.find_rule(item_id=verdict.item_id, category=verdict.middle, item_hint=verdict.item_hint)
    if rule is None:
        return replace(verdict, unsure=True)
    return replace(verdict, major=rule.major, middle=rule.middle, item_id=rule.item_id)


def finish(verdict: Verdict, *, lang: str, **columns: Any) -> Step:
    """How every scan ends well, whether the worker classified it or a confirmed photo answered it: the
    verdict pinned to the knowledge base, the answer composed from it, and the scan's columns set with
    the "done" stage (``columns`` adds to them)."""
    verdict = resolve(verdict)
    result = compose_result(verdict, lang=lang)
    values = {
        "result": result,
        "major": verdict.major,
        "middle": verdict.middle,
        "item_id": verdict.item_id,
        "model": verdict.model,
        "usage": verdict.usage,
        "completed_at": utcnow(),
        **columns,
    }
    return Step("done", {"result": result}, values)


def compose_result(verdict: Verdict, *, lang: str) -> dict[str, Any]:
    """The stored result of a scan for a resolved verdict (see :func:`resolve`)."""
    language: Lang = "en" if lang == "en" else "ko"
    answer = None
    if not verdict.unsure and verdict.major is not None and verdict.middle is not None:
        rule = recycling.Rule(verdict.major, verdict.middle, verdict.item_id)
        answer = recycling.answer_for(rule, tags=list(verdict.tags), lang=language)
    base: dict[str, Any] = {
        "confidence": round(verdict.confidence, 4),
        "model": verdict.model,
        "tags": list(verdict.tags),
    }
    if answer is None:
        reply = verdict.reason if verdict.reason and language == "en" else UNSURE_REPLY[language]
        return {**base, "unsure": True, "title": None, "reply": reply, "answer": None}
    return {
        **base,
        "unsure": False,
        "title": answer.name,
        "reply": answer.reply,
        "answer": answer.model_dump(mode="json"),
    }
