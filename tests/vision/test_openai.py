"""The OpenAI adapter against a fake OpenAI-compatible HTTP server (tests/support/fixtures_openai.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from ecoeco.vision.base import (
    Middle,
    Taxonomy,
    UnsureReason,
    VisionPermanentError,
    VisionRetryableError,
)
from ecoeco.vision.images import ImageLimits, PreparedImage
from ecoeco.vision.openai_api import MAX_QUESTION_CHARS, OpenAIClassifier
from ecoeco.waste.rules import taxonomy
from tests.support.fixtures_openai import API_KEY, LOW_DETAIL_IMAGE_TOKENS, FakeOpenAI
from tests.support.sample_images import encode, photo

LIMITS = ImageLimits(max_bytes=20 * 1024 * 1024, max_pixels=50_000_000)
TAXONOMY = Taxonomy(
    majors=taxonomy().majors,
    middles={**taxonomy().middles, "clear_pet": Middle("투명 페트병", "recyclable")},
    needs_middle=taxonomy().needs_middle,
    items={"pet_bottle": "페트병", "coffee_cup_paper": "종이컵"},
    tags={"label_attached": "라벨 부착", "cap_on": "뚜껑 있음", "contents_left": "내용물 남음"},
)
MODEL = "gpt-4o-mini"


def good_answer(**changes: Any) -> dict[str, Any]:
    answer = {
        "major": "recyclable",
        "middle": "clear_pet",
        "item_id": "pet_bottle",
        "item_name": "생수병",
        "confidence": 0.91,
        "unsure": False,
        "tags": ["label_attached", "cap_on"],
    }
    return {**answer, **changes}


@pytest.fixture(scope="module")
def image() -> PreparedImage:
    return LIMITS.prepare(encode(photo("coffee")))


def classifier_for(fake: FakeOpenAI, **overrides: Any) -> OpenAIClassifier:
    options: dict[str, Any] = {"timeout_s": 5.0, "max_retries": 2, **overrides}
    return OpenAIClassifier(
        LIMITS,
        model=MODEL,
        api_key=SecretStr(options.pop("api_key", API_KEY)),
        base_url=fake.base_url,
        **options,
    )


@pytest.fixture
async def classifier(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIClassifier]:
    adapter = classifier_for(fake_openai)
    yield adapter
    await adapter.aclose()


# --- success and what is sent ----------------------------------------------------------------------


async def test_success_is_validated_and_usage_recorded(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    fake_openai.answer(good_answer())

    result = await classifier.classify(image, question="이거 어디에 버려요?", taxonomy=TAXONOMY)

    assert (result.major, result.middle, result.item_hint) == ("recyclable", "clear_pet", "pet_bottle")
    assert result.tags == ["label_attached", "cap_on"]
    assert result.confidence == pytest.approx(0.91)
    assert not result.unsure
    reply = fake_openai.replies[-1]
    assert result.model == reply["model"]
    assert result.usage is not None
    assert result.usage.prompt_tokens == reply["usage"]["prompt_tokens"] > LOW_DETAIL_IMAGE_TOKENS
    assert result.usage.completion_tokens == reply["usage"]["completion_tokens"] > 0
    assert result.latency_ms > 0


async def test_request_carries_the_image_at_low_detail_and_a_strict_schema_from_the_taxonomy(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    fake_openai.answer(good_answer())

    await classifier.classify(image, question="  뚜껑은요?  ", taxonomy=TAXONOMY)

    (request,) = fake_openai.requests
    assert request["model"] == MODEL
    user = next(m for m in request["messages"] if m["role"] == "user")
    text = next(p for p in user["content"] if p["type"] == "text")
    picture = next(p for p in user["content"] if p["type"] == "image_url")
    assert text["text"] == "뚜껑은요?"
    assert picture["image_url"]["detail"] == "low"
    prefix = "data:image/jpeg;base64,"
    assert picture["image_url"]["url"].startswith(prefix)
    assert base64.b64decode(picture["image_url"]["url"][len(prefix) :]) == image.data
    fmt = request["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    props = fmt["json_schema"]["schema"]["properties"]
    assert props["major"]["enum"] == list(TAXONOMY.majors)
    assert props["middle"]["enum"] == [*TAXONOMY.middles, None]
    assert props["item_id"]["enum"] == [*TAXONOMY.items, None]
    assert props["tags"]["items"]["enum"] == list(TAXONOMY.tags)
    system = next(m for m in request["messages"] if m["role"] == "system")["content"]
    assert "clear_pet: 투명 페트병" in system and "label_attached: 라벨 부착" in system


async def test_a_taxonomy_without_tags_still_sends_a_valid_strict_schema(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    bare = Taxonomy(majors=TAXONOMY.majors, middles=TAXONOMY.middles)
    fake_openai.answer(good_answer(item_id=None, tags=["label_attached"]))

    result = await classifier.classify(image, question=None, taxonomy=bare)

    assert "tags" not in fake_openai.requests[0]["response_format"]["json_schema"]["schema"]["properties"]
    assert (result.middle, result.item_hint, result.tags) == ("clear_pet", "생수병", [])


async def test_long_questions_are_cut(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    fake_openai.answer(good_answer())
    await classifier.classify(image, question="가" * 5000, taxonomy=TAXONOMY)
    user = next(m for m in fake_openai.requests[0]["messages"] if m["role"] == "user")
    assert len(user["content"][0]["text"]) == MAX_QUESTION_CHARS


async def test_raw_bytes_are_prepared_before_sending(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier
) -> None:
    fake_openai.answer(good_answer())
    png = encode(photo("coffee"))

    await classifier.classify(png, question=None, taxonomy=TAXONOMY)

    url = fake_openai.requests[0]["messages"][1]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == LIMITS.prepare(png).data


# --- answers that do not fit: never a crash, always "unsure" ----------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"major": "recyclable", "middle": ', UnsureReason.UNREADABLE_REPLY),
        ("Sure! It is a PET bottle.", UnsureReason.UNREADABLE_REPLY),
        ("[1, 2, 3]", UnsureReason.UNREADABLE_REPLY),
        (json.dumps(good_answer(confidence="high")), UnsureReason.UNREADABLE_REPLY),
        (json.dumps(good_answer(major=["recyclable"])), UnsureReason.UNREADABLE_REPLY),
        (json.dumps(good_answer(major="spaceship")), UnsureReason.OFF_TAXONOMY),
        (json.dumps(good_answer(middle="cardboard")), UnsureReason.OFF_TAXONOMY),
        (json.dumps(good_answer(major="food", middle="clear_pet")), UnsureReason.OFF_TAXONOMY),
        (json.dumps(good_answer(middle=None)), UnsureReason.OFF_TAXONOMY),
        (json.dumps({k: v for k, v in good_answer().items() if k != "unsure"}), UnsureReason.MODEL_UNSURE),
        (json.dumps(good_answer(unsure=True)), UnsureReason.MODEL_UNSURE),
        (json.dumps(good_answer(confidence=0.2)), UnsureReason.MODEL_UNSURE),
    ],
    ids=[
        "truncated-json",
        "prose",
        "not-an-object",
        "confidence-not-a-number",
        "major-not-a-string",
        "unknown-major",
        "unknown-middle",
        "middle-of-another-major",
        "recyclable-without-kind",
        "missing-field",
        "model-says-unsure",
        "low-confidence",
    ],
)
async def test_replies_off_the_schema_become_unsure(
    fake_openai: FakeOpenAI,
    classifier: OpenAIClassifier,
    image: PreparedImage,
    content: str,
    reason: UnsureReason,
) -> None:
    fake_openai.answer(content)

    result = await classifier.classify(image, question=None, taxonomy=TAXONOMY)

    assert result.unsure
    assert result.reason_code is reason
    assert (result.major, result.middle, result.item_hint) == (None, None, None)
    assert result.reason and "spaceship" not in result.reason  # our words, not the model's
    assert result.usage is not None  # the tokens were spent all the same
    assert result.usage.completion_tokens == fake_openai.replies[-1]["usage"]["completion_tokens"]


async def test_unknown_tags_and_item_ids_are_dropped_or_fall_back(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    fake_openai.answer(
        good_answer(item_id="made_up_item", item_name="  투명 생수병  ", tags=["on_fire", "cap_on"])
    )

    result = await classifier.classify(image, question=None, taxonomy=TAXONOMY)

    assert not result.unsure
    assert result.item_hint == "투명 생수병"
    assert result.tags == ["cap_on"]


async def test_confidence_out_of_range_is_clamped(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    fake_openai.answer(good_answer(confidence=7))
    result = await classifier.classify(image, question=None, taxonomy=TAXONOMY)
    assert result.confidence == 1.0


async def test_a_refusal_is_unsure(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    fake_openai.answer("", refusal="I can't help with that.")
    result = await classifier.classify(image, question=None, taxonomy=TAXONOMY)
    assert result.unsure
    assert result.reason_code is UnsureReason.REFUSED


# --- transport failures: typed, retryable or not ----------------------------------------------------

RATE_LIMITED = {"retry-after-ms": "20", "retry-after": "1"}


async def test_429_with_retry_after_is_retried_by_the_sdk_then_succeeds(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    fake_openai.fail(429, headers=RATE_LIMITED, error_type="requests", error_code="rate_limit_exceeded")
    fake_openai.answer(good_answer())

    result = await classifier.classify(image, question=None, taxonomy=TAXONOMY)

    assert result.middle == "clear_pet"
    assert len(fake_openai.requests) == 2


async def test_429_exhausting_retries_is_a_retryable_error_with_retry_after(
    fake_openai: FakeOpenAI, image: PreparedImage
) -> None:
    adapter = classifier_for(fake_openai, max_retries=1)
    for _ in range(2):
        fake_openai.fail(429, headers=RATE_LIMITED, error_type="requests", error_code="rate_limit_exceeded")

    with pytest.raises(VisionRetryableError) as info:
        await adapter.classify(image, question=None, taxonomy=TAXONOMY)
    await adapter.aclose()

    assert info.value.retry_after == pytest.approx(0.02)
    assert len(fake_openai.requests) == 2


async def test_429_for_an_exhausted_quota_is_permanent(fake_openai: FakeOpenAI, image: PreparedImage) -> None:
    adapter = classifier_for(fake_openai, max_retries=0)
    fake_openai.fail(429, error_type="insufficient_quota", error_code="insufficient_quota")

    with pytest.raises(VisionPermanentError):
        await adapter.classify(image, question=None, taxonomy=TAXONOMY)
    await adapter.aclose()


async def test_500_is_a_retryable_error(fake_openai: FakeOpenAI, image: PreparedImage) -> None:
    adapter = classifier_for(fake_openai, max_retries=0)
    fake_openai.fail(500)

    with pytest.raises(VisionRetryableError):
        await adapter.classify(image, question=None, taxonomy=TAXONOMY)
    await adapter.aclose()


async def test_500_then_success_is_retried_by_the_sdk(
    fake_openai: FakeOpenAI, classifier: OpenAIClassifier, image: PreparedImage
) -> None:
    fake_openai.fail(503, headers={"retry-after-ms": "10"})
    fake_openai.answer(good_answer())

    result = await classifier.classify(image, question=None, taxonomy=TAXONOMY)

    assert not result.unsure
    assert len(fake_openai.requests) == 2


async def test_timeout_is_a_retryable_error(fake_openai: FakeOpenAI, image: PreparedImage) -> None:
    adapter = classifier_for(fake_openai, timeout_s=0.3, max_retries=0)
    fake_openai.stall(3.0)

    with pytest.raises(VisionRetryableError, match="APITimeoutError"):
        await adapter.classify(image, question=None, taxonomy=TAXONOMY)
    await adapter.aclose()


async def test_wrong_api_key_is_permanent(fake_openai: FakeOpenAI, image: PreparedImage) -> None:
    adapter = classifier_for(fake_openai, api_key="sk-wrong")

    with pytest.raises(VisionPermanentError, match="401"):
        await adapter.classify(image, question=None, taxonomy=TAXONOMY)
    await adapter.aclose()

    assert len(fake_openai.requests) == 1  # not retried


async def test_unreachable_server_is_retryable(image: PreparedImage) -> None:
    adapter = OpenAIClassifier(
        LIMITS, model=MODEL, api_key=SecretStr(API_KEY), base_url="http://127.0.0.1:9/v1", max_retries=0
    )
    with pytest.raises(VisionRetryableError, match="APIConnectionError"):
        await adapter.classify(image, question=None, taxonomy=TAXONOMY)
    await adapter.aclose()
