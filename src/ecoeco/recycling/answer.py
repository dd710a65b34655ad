"""Turn a rule and the situations the classifier saw into the answer a person reads.

Deterministic and built only from the knowledge base: the same target, tags and language always give
the same answer (tags are deduplicated and put in catalogue order first). A later stage may let a language
model rephrase ``reply``; the facts stay these.

How tags act: a tag that applies to the target adds its preparation to ``todo``. A tag with a redirect
for the target (a broken glass bottle, a greasy pizza box …) sends it elsewhere: the steps, bin and
not-accepted list are then those of the destination, and the other tags are judged against it. The first
redirecting tag in catalogue order wins; redirects do not chain.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ecoeco.core.language import Lang
from ecoeco.recycling.knowledge import KnowledgeBase
from ecoeco.recycling.model import Major, Tag, Target

_HANGUL_BASE, _HANGUL_COUNT, _FINALS = 0xAC00, 11172, 28


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Step(_Frozen):
    number: int
    text: str


class Todo(_Frozen):
    tag: str
    text: str


class NotAccepted(_Frozen):
    what: str
    instead_id: str  # the item or category it belongs to
    instead: str  # that item's or category's name
    bin: str  # where that goes


class Answer(_Frozen):
    target: str  # what was asked about
    disposed_as: str  # whose rule applies: differs from target when a tag redirected it
    redirected_by: str | None
    major: str
    middle: str
    name: str
    bin: str
    steps: list[Step]
    todo: list[Todo]  # preparation the user still has to do, from the situation tags
    not_accepted: list[NotAccepted]
    notes: list[str]
    reply: str
    ignored_tags: list[str]  # unknown, or not meaningful for this item
    lang: Lang
    kb_version: str


def compose_answer(kb: KnowledgeBase, *, target: Target, tags: list[str], lang: Lang) -> Answer:
    known = kb.sort_tags(set(tags))
    applicable = [kb.tags[t] for t in known if kb.tag_applies(kb.tags[t], target)]
    redirect: tuple[Tag, Target] | None = next(
        ((tag, dest) for tag in applicable if (dest := kb.redirect_for(tag, target)) is not None), None
    )
    final = redirect[1] if redirect else target

    todo = []
    if redirect:
        todo.append(Todo(tag=redirect[0].id, text=kb.prep_for(redirect[0], target).get(lang)))
    for tag_id in known:
        tag = kb.tags[tag_id]
        if (not redirect or tag is not redirect[0]) and kb.tag_applies(tag, final):
            todo.append(Todo(tag=tag.id, text=kb.prep_for(tag, final).get(lang)))
    done = {t.tag for t in todo}
    ignored = [t for t in known if t not in done] + sorted(set(tags) - set(known))

    major, middle = kb.category_of(final)
    steps = [Step(number=n, text=text.get(lang)) for n, text in enumerate(kb.steps_for(final), start=1)]
    return Answer(
        target=target.id,
        disposed_as=final.id,
        redirected_by=redirect[0].id if redirect else None,
        major=major.id,
        middle=middle.id,
        name=target.name(lang),
        bin=kb.bin_for(final).get(lang),
        steps=steps,
        todo=todo,
        not_accepted=_not_accepted(kb, final, lang),
        notes=[note.get(lang) for note in kb.notes_for(final)],
        reply=_reply(kb, target, redirect, len(todo), lang),
        ignored_tags=ignored,
        lang=lang,
        kb_version=kb.version,
    )


def _not_accepted(kb: KnowledgeBase, target: Target, lang: Lang) -> list[NotAccepted]:
    found = []
    for rule in kb.not_accepted_for(target):
        dest = kb.entity(rule.to)
        bin_ = dest.bin if isinstance(dest, Major) else kb.bin_for(dest)
        found.append(
            NotAccepted(
                what=rule.what.get(lang), instead_id=dest.id, instead=dest.name(lang), bin=bin_.get(lang)
            )
        )
    return found


def _reply(
    kb: KnowledgeBase, target: Target, redirect: tuple[Tag, Target] | None, todo: int, lang: Lang
) -> str:
    name = target.name(lang)
    usual = kb.bin_for(target).get(lang)
    if lang == "ko":
        topic = name + _josa(name, "은", "는")
        if redirect:
            tag, dest = redirect
            not_here = usual + _josa(usual, "이", "가")
            text = f"{topic} 지금 상태({tag.name_ko})로는 {not_here} 아니라 {kb.bin_for(dest).ko}에 버려요."
        else:
            text = f"{topic} {usual}에 버려요."
        return text + (f" 버리기 전에 할 일이 {todo}가지 있어요." if todo else "")
    if redirect:
        tag, dest = redirect
        instead = kb.bin_for(dest).en
        text = f"{name} in this state ({tag.name_en}) does not go in the {usual}; put it in the {instead}."
    else:
        text = f"{name}: put it in the {usual}."
    if todo:
        text += f" Before that, {todo} thing{'s' if todo > 1 else ''} to do."
    return text


def _josa(word: str, after_consonant: str, after_vowel: str) -> str:
    """Pick the particle form (은/는, 이/가) by whether the last syllable ends in a consonant."""
    bare = word.rstrip()
    if bare.endswith(")") and "(" in bare:
        bare = bare[: bare.rindex("(")].rstrip()
    code = ord(bare[-1]) - _HANGUL_BASE if bare else -1
    if not 0 <= code < _HANGUL_COUNT:
        return f"{after_consonant}({after_vowel})"  # not Hangul: the neutral written form
    return after_consonant if code % _FINALS else after_vowel
