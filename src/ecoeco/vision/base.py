"""The vision port: what a classifier takes (an image and the taxonomy) and what it returns.

The taxonomy is an input, not an import: the waste pipeline builds it from the knowledge base (the one
home of the category ids), so this package never depends on ``ecoeco.recycling``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ecoeco.vision.images import ImageLimits, PreparedImage


@dataclass(frozen=True)
class Middle:
    name: str
    major: str


@dataclass(frozen=True)
class Taxonomy:
    """The labels a classifier may answer with, each id with a human name (any language)."""

    majors: Mapping[str, str]
    middles: Mapping[str, Middle]
    items: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    # Majors that say nothing on their own: each of their middles is a bin of its own (recyclables).
    needs_middle: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        strays = {m for m, middle in self.middles.items() if middle.major not in self.majors}
        if strays:
            raise ValueError(f"middle categories with an unknown major: {sorted(strays)}")

    def fits(self, major: str | None, middle: str | None) -> bool:
        """Whether the pair names a known major and, if given, one of its own middles.

        A major alone fits even when it has middles: the knowledge base then narrows it down by the
        item hint (a ceramic mug is "non-combustible", whichever of its middles the rule sits in), unless
        it is one of ``needs_middle``.
        """
        if major not in self.majors:
            return False
        if middle is None:
            return major not in self.needs_middle
        return middle in self.middles and self.middles[middle].major == major

    def label(self, major: str | None, middle: str | None) -> tuple[str, str | None] | None:
        """The category a label names, if it :meth:`fits`; a middle given alone brings its own major."""
        if major is None and middle is not None and middle in self.middles:
            major = self.middles[middle].major
        return (major, middle) if major is not None and self.fits(major, middle) else None


class UnsureReason(StrEnum):
    LOW_CONFIDENCE = "low_confidence"
    NOT_RECOGNISED = "not_recognised"  # the model saw something outside what we can map
    MODEL_UNSURE = "model_unsure"  # the model said so itself
    UNREADABLE_REPLY = "unreadable_reply"  # a remote model's answer was not valid JSON for our schema
    OFF_TAXONOMY = "off_taxonomy"  # a remote model's labels are not in our taxonomy
    REFUSED = "refused"


# Shown to the user as is: our own words, never the model's.
_ASK = "We are not sure what this is. Please describe the item in a few words."
_FAILED = "The photo could not be analysed. Please describe the item in a few words."
UNSURE_MESSAGES = {
    UnsureReason.LOW_CONFIDENCE: _ASK,
    UnsureReason.NOT_RECOGNISED: "We could not recognise an item to dispose of. Please describe it.",
    UnsureReason.MODEL_UNSURE: _ASK,
    UnsureReason.UNREADABLE_REPLY: _FAILED,
    UnsureReason.OFF_TAXONOMY: "We could not match the photo to a disposal category. Please describe it.",
    UnsureReason.REFUSED: _FAILED,
}


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class Classification:
    major: str | None
    middle: str | None
    item_hint: str | None  # an item id of the taxonomy, or free text for the knowledge-base search
    tags: list[str]
    confidence: float
    unsure: bool
    model: str
    latency_ms: float
    reason_code: UnsureReason | None = None
    usage: Usage | None = None  # token counts, for remote models

    @property
    def reason(self) -> str | None:
        """A user-safe explanation when unsure."""
        return UNSURE_MESSAGES[self.reason_code] if self.reason_code else None


def unsure(
    reason: UnsureReason,
    *,
    model: str,
    latency_ms: float,
    confidence: float = 0.0,
    usage: Usage | None = None,
) -> Classification:
    return Classification(
        major=None,
        middle=None,
        item_hint=None,
        tags=[],
        confidence=confidence,
        unsure=True,
        model=model,
        latency_ms=latency_ms,
        reason_code=reason,
        usage=usage,
    )


class VisionError(Exception):
    """A classifier could not answer; the subclass says whether trying again later can help."""


class VisionRetryableError(VisionError):
    """Rate limits, timeouts, server errors, unreachable endpoint: worth retrying with backoff.

    ``retry_after`` is the server's own word on when (its ``Retry-After``), if it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class VisionPermanentError(VisionError):
    """Bad credentials, unknown model, a request the server refuses: retrying will not help."""


class VisionClassifier(ABC):
    """The port. ``classify`` never blocks the event loop; CPU work runs in a worker thread."""

    backend: str

    def __init__(self, limits: ImageLimits) -> None:
        self.limits = limits

    @abstractmethod
    async def classify(
        self, image: PreparedImage | bytes, *, question: str | None, taxonomy: Taxonomy
    ) -> Classification: ...

    @abstractmethod
    async def warm_up(self) -> None:
        """Load whatever the first request would otherwise wait for."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections or sessions."""

    async def _prepared(self, image: PreparedImage | bytes) -> PreparedImage:
        # Raw bytes get the same intake checks as an upload: a classifier never decodes unchecked input.
        if isinstance(image, PreparedImage):
            return image
        return await asyncio.to_thread(self.limits.prepare, image)
