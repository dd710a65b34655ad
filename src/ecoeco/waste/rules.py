"""Glue between the classifier, the knowledge base and the stored result of a scan.

A ``Verdict`` is what we concluded about the item (from the model, a confirmed earlier photo or the
user's question); ``compose_result`` turns it into the JSON a client reads, built only from the
knowledge base so the facts never depend on a model's wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ecoeco.core.clock import utcnow
from ecoeco.core.language import Lang
from ecoeco.recycling.answer import compose_answer
from ecoeco.recycling.knowledge import KnowledgeBase, get_knowledge_base
from ecoeco.recycling.model import RECYCLABLE, Item, Middle
from ecoeco.vision import Middle as TaxonomyMiddle
from ecoeco.vision import Taxonomy
from ecoeco.waste.progress import Step

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


def knowledge_base() -> KnowledgeBase:
    return get_knowledge_base()


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    """The labels the classifier may use, straight from the knowledge base."""
    kb = knowledge_base()
    return Taxonomy(
        majors={m.id: m.name_en for m in kb.majors.values()},
        middles={m.id: TaxonomyMiddle(name=m.name_en, major=m.major) for m in kb.middles.values()},
        items={i.id: i.name_en for i in kb.items.values()},
        tags={t.id: t.name_en for t in kb.tags.values()},
        needs_middle=frozenset({RECYCLABLE}),
    )


def verdict_for_question(question: str, *, fallback: Verdict | None) -> Verdict:
    """Answer a typed description through the knowledge base's search."""
    kb = knowledge_base()
    hits = kb.search(question.strip()[:100], limit=1) if question.strip() else []
    if not hits:
        return fallback or Verdict(major=None, middle=None, unsure=True, model="knowledge-base")
    item = hits[0].item
    return Verdict(
        major=kb.middles[item.middle].major,
        middle=item.middle,
        item_id=item.id,
        tags=list(fallback.tags) if fallback else [],
        confidence=hits[0].score,
        model="knowledge-base",
        usage=fallback.usage if fallback else None,
    )


def resolve(kb: KnowledgeBase, verdict: Verdict) -> Verdict:
    """Pin the verdict to the most specific rule the knowledge base has for it (or mark it unsure)."""
    if verdict.unsure:
        return verdict
    target = kb.items.get(verdict.item_id or "") or kb.resolve(verdict.middle, verdict.item_hint)
    if target is None:
        return replace(verdict, unsure=True)
    major, middle = kb.category_of(target)
    item_id = target.id if isinstance(target, Item) else None
    return replace(verdict, major=major.id, middle=middle.id, item_id=item_id)


def finish(verdict: Verdict, *, lang: str, **columns: Any) -> Step:
    """How every scan ends well, whether the worker classified it or a confirmed photo answered it: the
    verdict pinned to the knowledge base, the answer composed from it, and the scan's columns set with
    the "done" stage (``columns`` adds to them)."""
    kb = knowledge_base()
    verdict = resolve(kb, verdict)
    result = compose_result(kb, verdict, lang=lang)
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


def compose_result(kb: KnowledgeBase, verdict: Verdict, *, lang: str) -> dict[str, Any]:
    """The stored result of a scan for a resolved verdict (see :func:`resolve`)."""
    language: Lang = "en" if lang == "en" else "ko"
    target: Item | Middle | None = None
    if not verdict.unsure:
        target = kb.items.get(verdict.item_id or "") or kb.middles.get(verdict.middle or "")
    base: dict[str, Any] = {
        "confidence": round(verdict.confidence, 4),
        "model": verdict.model,
        "tags": list(verdict.tags),
    }
    if target is None:
        reply = verdict.reason if verdict.reason and language == "en" else UNSURE_REPLY[language]
        return {**base, "unsure": True, "title": None, "reply": reply, "answer": None}
    answer = compose_answer(kb, target=target, tags=list(verdict.tags), lang=language)
    return {
        **base,
        "unsure": False,
        "title": answer.name,
        "reply": answer.reply,
        "answer": answer.model_dump(mode="json"),
    }
