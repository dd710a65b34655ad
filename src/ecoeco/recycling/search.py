"""Korean-aware text search over the knowledge base.

People type "우유 팩", "우유팩을", "페트병은 어떻게 버려요?" or "water bottle". Matching therefore works on a
*compact* form (NFKC, case-folded, punctuation and spaces removed), tries each word with and without a
trailing particle (조사), and drops words that only say "how do I throw this away". Latin matches must
start at a word boundary so that "pet" finds "PET bottle" but not "carpet".

Scores are in [0, 1]: 1 is an exact name or synonym; category names count half, so "비닐류" lists every
vinyl item below the items actually named "비닐 …". A bigram index narrows the candidates; the ranking is
the same as scoring every entry (``brute_force=True``, used by the tests and the benchmark).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAX_QUERY_LENGTH = 100
MIN_SCORE = 0.3
CATEGORY_WEIGHT = 0.5
# Stripping a particle can also cut a real syllable (종이 → 종), so the stripped form ranks a little lower.
STRIPPED_WEIGHT = 0.97

# Longest first, so that "에서는" is removed whole rather than leaving "에서".
PARTICLES: tuple[str, ...] = tuple(
    sorted(
        {
            "에서는", "에서도", "으로는", "으로도", "이라고", "이에요", "이예요",
            "에는", "에도", "에서", "으로", "이랑", "하고", "까지", "부터", "처럼", "이나", "이요",
            "은요", "는요", "예요", "이든",
            "은", "는", "이", "가", "을", "를", "의", "에", "로", "와", "과", "도", "만", "랑", "요",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip
STOPWORDS = frozenset(
    {
        "어떻게", "어떡해", "어디", "어디에", "어디로", "뭐", "무엇", "방법", "법", "버려", "버려요",
        "버리나요", "버리는", "버리기", "버릴", "버릴까요", "버리면", "버리죠", "분리수거", "분리배출",
        "배출", "배출법", "배출방법", "하나요", "해요", "돼요", "되나요", "알려줘", "알려주세요", "버리고",
        "싶어요", "싶은데", "해야", "되는", "건가요", "궁금해요", "주세요",
        "how", "to", "do", "i", "the", "a", "an", "of", "dispose", "throw", "away", "recycle", "recycling",
        "where", "does", "what", "with", "my", "is", "it", "can", "in",
    }
)  # fmt: skip

_SEPARATORS = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Fold width and case, turn punctuation into spaces: "CD·DVD" → "cd dvd"."""
    return " ".join(_SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def compact(text: str) -> str:
    return normalize(text).replace(" ", "")


def strip_particle(word: str) -> str:
    """Drop a trailing particle: 우유팩을 → 우유팩. Returns the word unchanged if nothing would be left."""
    for particle in PARTICLES:
        if word.endswith(particle) and len(word) > len(particle):
            return word[: -len(particle)]
    return word


def _starts(words: Iterable[str]) -> frozenset[int]:
    """Offsets in the compact form where a Latin/digit run begins (matches there are whole-word)."""
    starts: set[int] = set()
    offset = 0
    for word in words:
        for i, ch in enumerate(word):
            if _latin(ch) and (i == 0 or not _latin(word[i - 1])):
                starts.add(offset + i)
        offset += len(word)
    return frozenset(starts)


@dataclass(frozen=True)
class Key:
    """One searchable string of an entry: a name, a synonym or (weighted down) its category's name."""

    text: str
    compact: str
    starts: frozenset[int]
    weight: float

    @classmethod
    def of(cls, text: str, weight: float = 1.0) -> Key:
        words = normalize(text).split()
        return cls(text, "".join(words), _starts(words), weight)


@dataclass(frozen=True)
class Form:
    """The whole query in compact form; the particle-less form weighs a little less."""

    text: str
    starts: frozenset[int]
    weight: float


@dataclass(frozen=True)
class Query:
    forms: tuple[Form, ...]
    words: tuple[tuple[str, ...], ...]  # each remaining word with its particle-less variant

    @property
    def is_empty(self) -> bool:
        return not self.forms


def parse_query(text: str) -> Query:
    words: list[tuple[str, ...]] = []
    for word in normalize(text).split():
        stripped = strip_particle(word)
        if word in STOPWORDS or stripped in STOPWORDS:
            continue
        words.append((word,) if stripped == word else (word, stripped))
    if not words:
        return Query((), ())
    plain = [w[0] for w in words]
    bare = [w[-1] for w in words]
    forms = [Form("".join(plain), _starts(plain), 1.0)]
    if bare != plain:
        forms.append(Form("".join(bare), _starts(bare), STRIPPED_WEIGHT))
    return Query(tuple(forms), tuple(words))


def _latin(text: str) -> bool:
    return "a" <= text[0] <= "z" or "0" <= text[0] <= "9"  # texts are case-folded


def _find(haystack: str, needle: str, starts: frozenset[int]) -> int:
    """First offset of ``needle``, aligned to a word start when it begins with a Latin letter or digit."""
    pos = haystack.find(needle)
    if _latin(needle):
        while pos >= 0 and pos not in starts:
            pos = haystack.find(needle, pos + 1)
    return pos


def score_key(form: Form, key: Key) -> float:
    q, k = form.text, key.compact
    if q == k:
        return 1.0
    # One character is only ever an exact match ("컵", "캔"); as a substring it matches half the catalogue.
    if len(q) >= 2 and len(k) > len(q):
        pos = _find(k, q, key.starts)
        if pos == 0:
            return 0.75 + 0.15 * len(q) / len(k)
        if pos > 0:
            return 0.6 + 0.15 * len(q) / len(k)
    if len(k) >= 2 and len(q) > len(k) and _find(q, k, form.starts) >= 0:
        # The query says more than this key ("투명 생수병 라벨" ⊃ "생수병"): the more it covers, the better.
        return 0.35 + 0.3 * len(k) / len(q)
    return 0.0


def _covers(variants: tuple[str, ...], key: Key) -> bool:
    return any(v == key.compact or (len(v) >= 2 and _find(key.compact, v, key.starts) >= 0) for v in variants)


@dataclass(frozen=True)
class _Scored:
    best: float
    matched: str
    words: frozenset[int]  # which query words some key contains


def _score_keys(query: Query, keys: tuple[Key, ...]) -> _Scored:
    best, matched = 0.0, ""
    for key in keys:
        for form in query.forms:
            score = score_key(form, key) * form.weight * key.weight
            if score > best:
                best, matched = score, key.text
    words: frozenset[int] = frozenset()
    if len(query.words) > 1:
        words = frozenset(i for i, w in enumerate(query.words) if any(_covers(w, key) for key in keys))
    return _Scored(best, matched, words)


def _combine(query: Query, own: _Scored, shared: _Scored) -> tuple[float, str]:
    best, matched = (shared.best, shared.matched) if shared.best > own.best else (own.best, own.matched)
    # Several words may each name a different key ("투명" in one synonym, "생수병" in another).
    found = sorted(own.words | shared.words)
    if found:
        share = sum(len(query.words[i][0]) for i in found) / sum(len(w[0]) for w in query.words)
        if 0.3 + 0.4 * share > best:
            best, matched = 0.3 + 0.4 * share, " ".join(query.words[i][-1] for i in found)
    return best, matched


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


@dataclass(frozen=True)
class Entry:
    keys: tuple[Key, ...]  # its own names
    group: int  # index of the keys it shares with its category (scored once per query for all members)


@dataclass(frozen=True)
class Match:
    position: int  # index of the entry, i.e. its catalogue order
    score: float
    matched: str


class SearchIndex:
    """Entries in catalogue order; ``search`` returns their positions, best first."""

    def __init__(self, entries: list[Entry], groups: list[tuple[Key, ...]]) -> None:
        self.entries = entries
        self.groups = groups
        members: dict[int, set[int]] = {}
        for position, entry in enumerate(entries):
            members.setdefault(entry.group, set()).add(position)
        self._exact: dict[str, set[int]] = {}
        self._grams: dict[str, set[int]] = {}
        keyed = [(entry.keys, {position}) for position, entry in enumerate(entries)]
        keyed += [(keys, members.get(group, set())) for group, keys in enumerate(groups)]
        for keys, positions in keyed:
            for key in keys:
                self._exact.setdefault(key.compact, set()).update(positions)
                for gram in _bigrams(key.compact):
                    self._grams.setdefault(gram, set()).update(positions)

    def _candidates(self, query: Query) -> set[int]:
        # Any match shares a bigram with the query (substrings of length ≥ 2) or equals it (one character).
        found: set[int] = set()
        texts = [form.text for form in query.forms] + [v for word in query.words for v in word]
        for text in texts:
            found |= self._exact.get(text, set())
            for gram in _bigrams(text):
                found |= self._grams.get(gram, set())
        return found

    def search(
        self,
        query: Query,
        *,
        accept: Callable[[int], bool] | None = None,
        brute_force: bool = False,
    ) -> list[Match]:
        if query.is_empty:
            return []
        positions = range(len(self.entries)) if brute_force else sorted(self._candidates(query))
        shared: dict[int, _Scored] = {}
        matches = []
        for position in positions:
            if accept is not None and not accept(position):
                continue
            entry = self.entries[position]
            if entry.group not in shared:
                shared[entry.group] = _score_keys(query, self.groups[entry.group])
            score, matched = _combine(query, _score_keys(query, entry.keys), shared[entry.group])
            if score >= MIN_SCORE:
                matches.append(Match(position, round(score, 4), matched))
        matches.sort(key=lambda m: (-m.score, m.position))
        return matches
