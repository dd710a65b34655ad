"""Alert rules and dashboards only use metric names listed in deploy/monitoring/metrics.yaml, and those agree
with the app's own definitions; dashboard queries parse (promtool)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import ecoeco.observability.metrics  # noqa: F401 - registers the HTTP metrics
from ecoeco.queue.metrics import QueueCollector  # importing it registers the worker metrics
from tests.deploy.conftest import DEPLOY

MON = DEPLOY / "monitoring"
NAME = re.compile(r"\b([a-z_][a-z0-9_]*)(?:_bucket|_sum|_count)?\s*(?:\{|\[|\)|$|\s[<>=!])")
PROMQL_WORDS = {
    "sum",
    "by",
    "rate",
    "max",
    "min",
    "count",
    "or",
    "and",
    "vector",
    "histogram_quantile",
    "le",
    "on",
    "without",
    "absent",
}


def listed() -> set[str]:
    data = yaml.safe_load((MON / "metrics.yaml").read_text())
    return {name for group in data.values() for name in group}


def exprs() -> list[str]:
    rules = yaml.safe_load((MON / "prometheus-rules.yaml").read_text())["spec"]["groups"]
    found = [r["expr"] for g in rules for r in g["rules"]]
    for f in sorted((MON / "dashboards").glob("*.json")):
        found += [t["expr"] for p in json.loads(f.read_text())["panels"] for t in p["targets"]]
    return found


def metric_names(expr: str) -> set[str]:
    names = set()
    for m in re.finditer(
        r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*[{\[])|[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*\)\s*(?:/|>|<|$))", expr
    ):
        names.add(m.group(0))
    return names - PROMQL_WORDS


def test_every_metric_used_is_listed() -> None:
    known = listed()
    used = set().union(*(metric_names(e) for e in exprs()))
    assert used, "no metric found: the parser is broken"
    # A histogram is listed once; its _bucket/_sum/_count series are used.
    unknown = {n for n in used if n not in known and re.sub(r"_(bucket|sum|count)$", "", n) not in known}
    assert not unknown


def test_listed_app_metrics_match_the_app_definitions() -> None:
    data = yaml.safe_load((MON / "metrics.yaml").read_text())["ecoeco"]
    # Queue depths come from a collector read at scrape time; an unreachable broker still names them.
    depths = QueueCollector("amqp://guest:guest@127.0.0.1:1//", queue="q.ai").collect()
    defined = {m.name: m for m in [*REGISTRY.collect(), *depths]}
    for name, spec in data.items():
        metric = defined.get(name.removesuffix("_total")) or defined.get(name)
        assert metric is not None, name
        assert metric.type == spec["type"], name


@pytest.mark.parametrize("dashboard", sorted(p.name for p in (MON / "dashboards").glob("*.json")))
def test_dashboard_is_grafana_json(dashboard: str) -> None:
    d: dict[str, Any] = json.loads((MON / "dashboards" / dashboard).read_text())
    assert d["uid"].startswith("ecoeco-") and d["panels"]
    assert len({p["id"] for p in d["panels"]}) == len(d["panels"])


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool missing: scripts/install-system-packages.sh installs Debian's prometheus", pytrace=False
        )
    # promtool has no expression checker; recording rules are parsed like any PromQL.
    rules = [{"record": f"check:expr{i}", "expr": e} for i, e in enumerate(exprs())]
    path = tmp_path / "exprs.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
