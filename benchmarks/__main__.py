"""Run benchmarks: ``python -m benchmarks`` (all) or ``python -m benchmarks auth queue`` (some).

Each ``benchmarks/bench_<name>.py`` exposes ``main() -> None``, measures its baseline in the same run
and prints ratios, because absolute numbers on a shared 2-core machine mean little.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


def run(names: list[str]) -> int:
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    for name in names or available():
        print(f"\n### benchmark: {name}", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"benchmarks.bench_{name}").main()
        print(f"### {name} took {time.perf_counter() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
