"""``ecoeco verify`` against a fake Kubernetes API, RabbitMQ management API and Ingress over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from ecoeco.cli import app
from tests.support.fixtures_kube import FakeCluster, FakeKube


def run_verify(fake: FakeKube) -> tuple[int, str]:
    args = ["verify", "--kubeconfig", str(fake.kubeconfig), "--rabbitmq-url", fake.rabbitmq_url]
    result = CliRunner().invoke(app, [*args, "--ingress-url", fake.ingress_url, "--timeout", "5"])
    return result.exit_code, result.output


def test_healthy_cluster_passes_every_check(fake_kube: FakeKube) -> None:
    code, out = run_verify(fake_kube)
    assert code == 0, out
    assert "FAIL" not in out
    for line in (
        "nodes Ready: 4/4",
        "kube-system/etcd Running",
        "deployment ecoeco/ai-worker available",
        "deployment ecoeco/beat available",
        "waste-api /readyz",
        "RabbitMQ cluster of 3",
        "queue q.dlq",
        "PVC data/postgresql-data-postgresql-0 Bound",
        "PVC data/postgresql-data-postgresql-0 at least 50Gi — capacity 50Gi",
        "RabbitMQ members on 3 different nodes — rabbitmq-0 on storage, rabbitmq-1 on worker-1",
        "PVC messaging/rabbitmq-data-rabbitmq-2 Bound",
        "/api/v1/locations",
    ):
        assert line in out
    assert out.strip().endswith("checks passed")


def _node_down(c: FakeCluster) -> None:
    c.nodes["worker-2"] = False


def _dns_pending(c: FakeCluster) -> None:
    c.pods["kube-system"]["coredns-1"] = "Pending"


def _worker_missing(c: FakeCluster) -> None:
    del c.deployments[("ecoeco", "sched-worker")]


def _api_not_available(c: FakeCluster) -> None:
    c.deployments[("ecoeco", "auth-api")] = (2, 1)


def _service_not_ready(c: FakeCluster) -> None:
    c.ready_services["users-api"] = False


def _rabbit_node_down(c: FakeCluster) -> None:
    c.rabbit_nodes["rabbit@rabbitmq-2.rabbitmq-headless"] = False


def _queue_missing(c: FakeCluster) -> None:
    del c.queues["q.batch"]


def _classic_queue(c: FakeCluster) -> None:
    c.queues["q.ai"]["type"] = "classic"


def _quorum_member_offline(c: FakeCluster) -> None:
    c.queues["q.dlq"]["online"] = c.queues["q.dlq"]["online"][:2]


def _claim_pending(c: FakeCluster) -> None:
    c.claims["data"]["postgresql-data-postgresql-0"] = "Pending"


def _postgres_down(c: FakeCluster) -> None:
    c.statefulsets[("data", "postgresql")] = 0


def _postgres_volume_too_small(c: FakeCluster) -> None:
    c.capacities["postgresql-data-postgresql-0"] = "20Gi"


def _postgres_volume_capacity_unknown(c: FakeCluster) -> None:
    del c.capacities["postgresql-data-postgresql-0"]


def _rabbit_members_share_a_node(c: FakeCluster) -> None:
    c.pod_nodes["rabbitmq-2"] = "storage"


def _ingress_bad_gateway(c: FakeCluster) -> None:
    c.ingress_status["recycling"] = 502


@pytest.mark.parametrize(
    ("breakage", "failing_line"),
    [
        (_node_down, "nodes Ready: 3/4 — not ready: worker-2"),
        (_dns_pending, "[FAIL] every kube-system pod Running — coredns-1 (Pending)"),
        (_worker_missing, "[FAIL] deployment ecoeco/sched-worker available — HTTP 404"),
        (_api_not_available, "[FAIL] deployment ecoeco/auth-api available — 1/2 available"),
        (_service_not_ready, "[FAIL] users-api /readyz — HTTP 503"),
        (_rabbit_node_down, "[FAIL] RabbitMQ cluster of 3 — running: 2"),
        (_queue_missing, "[FAIL] queue q.batch — missing"),
        (_classic_queue, "[FAIL] queue q.ai — type=classic"),
        (_quorum_member_offline, "[FAIL] queue q.dlq — type=quorum, 2/3 members online"),
        (_claim_pending, "[FAIL] PVC data/postgresql-data-postgresql-0 Bound — Pending"),
        (_postgres_down, "[FAIL] statefulset data/postgresql ready 1/1 — 0 ready"),
        (
            _postgres_volume_too_small,
            "[FAIL] PVC data/postgresql-data-postgresql-0 at least 50Gi — capacity 20Gi",
        ),
        (
            _postgres_volume_capacity_unknown,
            "[FAIL] PVC data/postgresql-data-postgresql-0 at least 50Gi — capacity unknown",
        ),
        (
            _rabbit_members_share_a_node,
            "[FAIL] RabbitMQ members on 3 different nodes — rabbitmq-0 on storage, rabbitmq-1 on worker-1,"
            " rabbitmq-2 on storage",
        ),
        (_ingress_bad_gateway, "[FAIL] /api/v1/recycling — HTTP 502"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_broken_cluster_fails_and_names_the_problem(
    fake_kube: FakeKube, breakage: Callable[[FakeCluster], None], failing_line: str
) -> None:
    breakage(fake_kube.cluster)
    code, out = run_verify(fake_kube)
    assert code == 1, out
    assert failing_line in out
    assert out.count("[FAIL]") == 1, out  # the one breakage, nothing else
    assert "1 FAILED" in out


def test_missing_control_plane_pod_is_named(fake_kube: FakeKube) -> None:
    del fake_kube.cluster.pods["kube-system"]["kube-scheduler-master"]
    code, out = run_verify(fake_kube)
    assert code == 1
    assert "[FAIL] kube-system/kube-scheduler Running — no pod" in out


def test_unreachable_api_server_fails_every_tier_but_still_reports(fake_kube: FakeKube) -> None:
    fake_kube.kubeconfig.write_text(fake_kube.kubeconfig.read_text().replace("fake-token", "wrong"))
    code, out = run_verify(fake_kube)
    assert code == 1
    assert "[FAIL] reachable — HTTP 401" in out
    assert "[ok  ] /api/v1/auth" in out  # the Ingress is still checked


def test_a_larger_postgresql_volume_passes(fake_kube: FakeKube) -> None:
    fake_kube.cluster.capacities["postgresql-data-postgresql-0"] = "0.1Ti"  # 102.4 Gi, in another unit
    code, out = run_verify(fake_kube)
    assert code == 0, out
    assert "[ok  ] PVC data/postgresql-data-postgresql-0 at least 50Gi — capacity 0.1Ti" in out
