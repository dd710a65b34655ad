"""Knowledge-base search latency and quality, against two baselines measured in the same run.

* ``index``: ``KnowledgeBase.search`` (bigram candidates, Korean-aware scoring);
* ``brute``: the same scoring over every item (what the index saves);
* ``naive``: a plain substring scan of names and synonyms, no normalisation or particle handling
  (what a first version would do); its recall shows what the extra work buys.

Queries: every item's Korean and English name, plus typed questions with spacing, particles and
synonyms. Also reports the cost of loading and validating the data files once.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from ecoeco.recycling.knowledge import KnowledgeBase, load_knowledge_base
from ecoeco.recycling.search import parse_query

ROUNDS = 3
RNG = random.Random(20261126)

# What people type, and the item they mean.
TYPED = {
    "페트병": "water_bottle_pet",
    "생수병은 어떻게 버려요?": "water_bottle_pet",
    "water bottle": "water_bottle_pet",
    "우유 팩": "milk_carton",
    "우유팩을": "milk_carton",
    "아이스박스": "styrofoam_box",
    "스티로폼": "styrofoam_box",
    "건전지 버리는 법": "alkaline_battery",
    "닭뼈는": "chicken_bone",
    "깨진 유리병": "broken_glass",
    "휴대폰을 버리고 싶어요": "mobile_phone",
    "뽁뽁이": "bubble_wrap",
    "Milk Carton": "milk_carton",
    "ＰＥＴ": "water_bottle_pet",
    "택배 상자": "corrugated_box",
}


def _naive(kb: KnowledgeBase) -> Callable[[str], list[str]]:
    rows = [(item.id, (item.name_ko, item.name_en, *item.synonyms)) for item in kb.items.values()]

    def search(query: str) -> list[str]:
        return [item_id for item_id, names in rows if any(query in name for name in names)]

    return search


def _timed(search: Callable[[str], object], queries: list[str]) -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        for query in queries:
            started = time.perf_counter()
            search(query)
            samples.append(time.perf_counter() - started)
    return samples


def _p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] * 1e3


def main() -> None:
    started = time.perf_counter()
    kb = load_knowledge_base()
    print(f"load + validate: {1e3 * (time.perf_counter() - started):.0f} ms "
          f"({len(kb.items)} items, {len(kb.tags)} tags)")  # fmt: skip

    queries = [name for item in kb.items.values() for name in (item.name_ko, item.name_en)] + list(TYPED)
    RNG.shuffle(queries)
    naive = _naive(kb)
    runs = {
        "index": _timed(lambda q: kb.search(q, limit=10), queries),
        "brute": _timed(lambda q: kb.index.search(parse_query(q), brute_force=True), queries),
        "naive": _timed(naive, queries),
    }
    base = statistics.median(runs["index"])
    for name, samples in runs.items():
        print(
            f"{name:6} p50 {_p(samples, 50):6.3f} ms  p99 {_p(samples, 99):6.3f} ms  "
            f"median vs index {statistics.median(samples) / base:5.2f}x"
        )

    found = sum(kb.search(q, limit=1)[0].id == want for q, want in TYPED.items() if kb.search(q, limit=1))
    naive_found = sum(naive(q)[:1] == [want] for q, want in TYPED.items())
    print(f"typed queries, right item first: index {found}/{len(TYPED)}, naive {naive_found}/{len(TYPED)}")
