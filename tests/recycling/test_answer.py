"""compose_answer: numbered steps, what is left to do, what goes elsewhere; deterministic, ko and en."""

from __future__ import annotations

import pytest

from ecoeco.core.language import LANGS, Lang
from ecoeco.recycling.answer import compose_answer
from ecoeco.recycling.knowledge import KnowledgeBase


def test_plain_item_gets_its_category_steps(kb: KnowledgeBase) -> None:
    bottle = kb.items["water_bottle_pet"]
    answer = compose_answer(kb, target=bottle, tags=[], lang="ko")
    middle = kb.middles["clear_pet"]
    assert middle.prepare is not None and middle.dispose is not None
    assert [s.number for s in answer.steps] == list(range(1, len(middle.prepare) + 2))
    assert [s.text for s in answer.steps] == [t.ko for t in middle.prepare] + [middle.dispose.ko]
    assert (answer.target, answer.disposed_as, answer.major, answer.middle) == (
        "water_bottle_pet", "water_bottle_pet", "recyclable", "clear_pet",
    )  # fmt: skip
    assert answer.todo == []
    assert answer.reply == "생수병은 투명 페트병 전용 수거함에 버려요."
    assert answer.kb_version == kb.version
    assert {n.instead_id for n in answer.not_accepted} == {"colored_pet_bottle", "pet_container", "plastic"}


def test_tags_add_preparation_in_catalogue_order(kb: KnowledgeBase) -> None:
    bottle = kb.items["water_bottle_pet"]
    answer = compose_answer(kb, target=bottle, tags=["label_attached", "contents_left"], lang="ko")
    assert [t.tag for t in answer.todo] == ["contents_left", "label_attached"]
    assert answer.todo[1].text == kb.tags["label_attached"].prep.ko
    assert answer.reply.endswith("버리기 전에 할 일이 2가지 있어요.")


def test_same_input_same_answer_whatever_the_tag_order(kb: KnowledgeBase) -> None:
    can = kb.items["aluminum_can"]
    tags = ["not_flattened", "food_residue", "contents_left", "not_flattened"]
    first = compose_answer(kb, target=can, tags=tags, lang="en")
    again = compose_answer(kb, target=can, tags=list(reversed(tags)), lang="en")
    assert first == again
    assert first.model_dump() == compose_answer(kb, target=can, tags=tags, lang="en").model_dump()


def test_unknown_and_irrelevant_tags_are_reported_not_applied(kb: KnowledgeBase) -> None:
    bottle = kb.items["water_bottle_pet"]
    answer = compose_answer(kb, target=bottle, tags=["gas_left", "made_up", "label_attached"], lang="ko")
    assert [t.tag for t in answer.todo] == ["label_attached"]
    assert answer.ignored_tags == ["gas_left", "made_up"]


def test_redirecting_tag_sends_the_item_elsewhere(kb: KnowledgeBase) -> None:
    soju = kb.items["soju_bottle"]
    answer = compose_answer(kb, target=soju, tags=["deposit_mark", "broken"], lang="ko")
    assert (answer.disposed_as, answer.major, answer.middle, answer.redirected_by) == (
        "broken_glass", "non_combustible", "glassware", "broken",
    )  # fmt: skip
    # Returning a deposit bottle means nothing once it is broken.
    assert [t.tag for t in answer.todo] == ["broken"]
    assert answer.ignored_tags == ["deposit_mark"]
    assert [s.text for s in answer.steps] == [t.ko for t in kb.steps_for(kb.items["broken_glass"])]
    assert answer.reply.startswith(
        "소주병은 지금 상태(깨짐)로는 유리병 수거함이 아니라 불연성 폐기물 전용 마대에"
    )


def test_redirect_in_english(kb: KnowledgeBase) -> None:
    lamp = kb.items["fluorescent_tube"]
    answer = compose_answer(kb, target=lamp, tags=["broken"], lang="en")
    assert answer.disposed_as == "broken_lamp"
    assert answer.todo[0].text == kb.tags["broken"].prep_for["lamp"].en
    assert answer.reply.startswith(
        "Straight fluorescent tube in this state (Broken) does not go in the lamp collection box;"
    )


def test_hazardous_leftovers_leave_the_recycling_stream(kb: KnowledgeBase) -> None:
    answer = compose_answer(kb, target=kb.middles["plastic"], tags=["hazardous_residue"], lang="ko")
    assert (answer.disposed_as, answer.major) == ("household_chemicals", "hazardous")


def test_most_specific_preparation_wins(kb: KnowledgeBase) -> None:
    tag = kb.tags["not_flattened"]
    butane = compose_answer(kb, target=kb.items["butane_can"], tags=["not_flattened"], lang="ko")
    can = compose_answer(kb, target=kb.items["aluminum_can"], tags=["not_flattened"], lang="ko")
    assert butane.todo[0].text == tag.prep_for["butane_can"].ko
    assert can.todo[0].text == tag.prep.ko
    paint = compose_answer(kb, target=kb.items["paint"], tags=["contents_left"], lang="en")
    assert paint.todo[0].text == kb.tags["contents_left"].prep_for["household_chemicals"].en


def test_food_answer_lists_what_food_waste_does_not_take(kb: KnowledgeBase) -> None:
    answer = compose_answer(
        kb, target=kb.middles["food_scraps"], tags=["bones_included", "moist_food"], lang="en"
    )
    assert [t.tag for t in answer.todo] == ["moist_food", "bones_included"]
    bones = next(n for n in answer.not_accepted if n.instead_id == "chicken_bone")
    assert (bones.what, bones.instead) == ("Chicken, pork and beef bones", "Chicken bone")
    assert bones.bin == kb.majors["general"].bin.en
    assert answer.reply == "Food scraps: put it in the food-waste bin. Before that, 2 things to do."


@pytest.mark.parametrize(
    ("item_id", "topic"),
    [("water_bottle_pet", "생수병은"), ("trousers", "바지는"), ("cd_dvd", "광디스크(CD·DVD)는")],
)
def test_korean_reply_picks_the_right_particle(kb: KnowledgeBase, item_id: str, topic: str) -> None:
    answer = compose_answer(kb, target=kb.items[item_id], tags=[], lang="ko")
    assert answer.reply.startswith(topic + " ")


@pytest.mark.parametrize("lang", LANGS)
def test_every_item_and_its_situations_compose(kb: KnowledgeBase, lang: Lang) -> None:
    for item in kb.items.values():
        plain = compose_answer(kb, target=item, tags=[], lang=lang)
        assert plain.steps, item.id
        assert plain.reply.startswith(item.name(lang)), item.id
        # Every situation listed for an item means something for it, unless a redirect moved it elsewhere.
        tagged = compose_answer(kb, target=item, tags=[t.id for t in kb.situations_for(item)], lang=lang)
        if tagged.redirected_by is None:
            assert tagged.ignored_tags == [], item.id
        else:
            dest = kb.items.get(tagged.disposed_as) or kb.middles[tagged.disposed_as]
            assert not any(kb.tag_applies(kb.tags[t], dest) for t in tagged.ignored_tags), item.id
