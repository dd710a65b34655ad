"""``ecoeco verify``: the production deployment checklist (deploy/README.md), tier by tier, as one command.

Reads the cluster through the official Kubernetes client (kubeconfig), RabbitMQ through its management
API (``kubectl -n messaging port-forward svc/rabbitmq 15672``; credentials come from the cluster's Secret),
and the public entry point through the Ingress. Each check is one line of the report; any failure fails.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

API_SERVICES: tuple[str, ...] = ("auth", "users", "waste", "recycling", "locations")
WORKER_QUEUES: tuple[str, ...] = ("q.ai", "q.api", "q.batch", "q.sched")
ALL_QUEUES: tuple[str, ...] = (*WORKER_QUEUES, "q.dlq")
CONTROL_PLANE_PODS: tuple[str, ...] = ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager")


@dataclass(frozen=True)
class Expected:
    """What a healthy production cluster looks like (names as in deploy/k8s)."""

    nodes: int = 4
    apps_namespace: str = "ecoeco"
    messaging_namespace: str = "messaging"
    data_namespace: str = "data"
    rabbitmq_nodes: int = 3
    rabbitmq_secret: str = "rabbitmq-credentials"  # noqa: S105 - a Secret's name, not a password
    deployments: tuple[str, ...] = (
        *(f"{s}-api" for s in API_SERVICES),
        *(f"{q.removeprefix('q.')}-worker" for q in WORKER_QUEUES),
        "beat",
    )
    claims: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "data": ("postgresql-data-postgresql-0",),
            "messaging": tuple(f"rabbitmq-data-rabbitmq-{i}" for i in range(3)),
        }
    )
    # The capacity a claim's volume must have at least (PostgreSQL's planned 50 Gi).
    claim_capacity: dict[str, str] = field(default_factory=lambda: {"postgresql-data-postgresql-0": "50Gi"})


@dataclass(frozen=True)
class Check:
    tier: str
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def render(self) -> str:
        lines = []
        tier = None
        for c in self.checks:
            if c.tier != tier:
                tier = c.tier
                lines.append(f"\n{tier}")
            mark = "ok  " if c.ok else "FAIL"
            lines.append(f"  [{mark}] {c.name}" + (f" — {c.detail}" if c.detail else ""))
        failed = sum(not c.ok for c in self.checks)
        lines.append(
            f"\n{len(self.checks) - failed}/{len(self.checks)} checks passed"
            + ("" if failed == 0 else f"; {failed} FAILED")
        )
        return "\n".join(lines).lstrip("\n")


class Verifier:
    def __init__(
        self,
        api: k8s.ApiClient,
        *,
        rabbitmq_url: str,
        ingress_url: str,
        http: httpx.Client,
        expected: Expected | None = None,
    ) -> None:
        self.core = k8s.CoreV1Api(api)
        self.apps = k8s.AppsV1Api(api)
        self.rabbitmq_url = rabbitmq_url.rstrip("/")
        self.ingress_url = ingress_url.rstrip("/")
        self.http = http
        self.expected = expected or Expected()

    def run(self) -> Report:
        report = Report()
        steps: list[tuple[str, Callable[[], Iterable[Check]]]] = [
            ("Tier 1 · control plane", self._control_plane),
            ("Tier 2 · services and workers", self._workloads),
            ("Tier 3 · messaging", self._messaging),
            ("Tier 4 · persistence", self._persistence),
            ("Ingress", self._ingress),
        ]
        for tier, step in steps:
            try:
                report.checks.extend(step())
            except (ApiException, httpx.HTTPError, OSError) as exc:
                # One unreachable API must not hide the other tiers' results.
                report.checks.append(Check(tier, "reachable", False, _reason(exc)))
        return report

    # --- tier 1 -------------------------------------------------------------------------------

    def _control_plane(self) -> Iterable[Check]:
        tier = "Tier 1 · control plane"
        nodes = _json(self.core.list_node)["items"]
        ready = [_name(n) for n in nodes if _condition(n, "Ready")]
        not_ready = sorted({_name(n) for n in nodes} - set(ready))
        want = self.expected.nodes
        yield Check(
            tier,
            f"nodes Ready: {len(ready)}/{want}",
            len(nodes) == want and not not_ready,
            f"not ready: {', '.join(not_ready)}" if not_ready else f"{len(nodes)} nodes registered",
        )
        pods = _json(self.core.list_namespaced_pod, "kube-system")["items"]
        for prefix in CONTROL_PLANE_PODS:
            phases = [_phase(p) for p in pods if _name(p).startswith(prefix)]
            yield Check(
                tier,
                f"kube-system/{prefix} Running",
                bool(phases) and all(ph == "Running" for ph in phases),
                "no pod" if not phases else ", ".join(phases),
            )
        done = ("Running", "Succeeded")
        bad = [f"{_name(p)} ({_phase(p)})" for p in pods if _phase(p) not in done]
        yield Check(tier, "every kube-system pod Running", not bad, ", ".join(bad))

    # --- tier 2 -------------------------------------------------------------------------------

    def _workloads(self) -> Iterable[Check]:
        tier = "Tier 2 · services and workers"
        ns = self.expected.apps_namespace
        for name in self.expected.deployments:
            yield self._deployment_check(tier, ns, name)
        for service in API_SERVICES:
            yield self._readyz(tier, ns, f"{service}-api")

    def _deployment_check(self, tier: str, ns: str, name: str) -> Check:
        label = f"deployment {ns}/{name} available"
        try:
            deployment = _json(self.apps.read_namespaced_deployment_status, name, ns)
        except ApiException as exc:
            return Check(tier, label, False, _reason(exc))
        status = deployment.get("status") or {}
        replicas = int(status.get("replicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        ok = replicas > 0 and available == replicas and _condition(deployment, "Available")
        return Check(tier, label, ok, f"{available}/{replicas} available")

    def _readyz(self, tier: str, ns: str, service: str) -> Check:
        label = f"{service} /readyz"
        try:
            # Through the API server's service proxy: reaches the Service itself, not one chosen pod.
            self.core.connect_get_namespaced_service_proxy_with_path(f"{service}:http", ns, "readyz")
        except ApiException as exc:
            return Check(tier, label, False, _reason(exc))
        return Check(tier, label, True, "ready")

    # --- tier 3 -------------------------------------------------------------------------------

    def _messaging(self) -> Iterable[Check]:
        tier = "Tier 3 · messaging"
        ns = self.expected.messaging_namespace
        yield self._statefulset_check(tier, ns, "rabbitmq", self.expected.rabbitmq_nodes)
        auth = self._rabbitmq_credentials()
        nodes = self._rabbitmq_get("/api/nodes", auth)
        running = sorted(str(n["name"]) for n in nodes if n.get("running"))
        want = self.expected.rabbitmq_nodes
        yield Check(tier, f"RabbitMQ cluster of {want}", len(running) == want, f"running: {len(running)}")
        yield self._rabbitmq_spread(tier, ns, want)
        queues = {q["name"]: q for q in self._rabbitmq_get("/api/queues", auth)}
        for name in ALL_QUEUES:
            q = queues.get(name)
            if q is None:
                yield Check(tier, f"queue {name}", False, "missing")
                continue
            online = len(q.get("online") or [])
            members = len(q.get("members") or [])
            ok = q.get("type") == "quorum" and online == want and members == want
            yield Check(tier, f"queue {name}", ok, f"type={q.get('type')}, {online}/{members} members online")

    def _rabbitmq_spread(self, tier: str, ns: str, want: int) -> Check:
        """Quorum queues survive the loss of one member only if no two members share a node."""
        pods = _json(self.core.list_namespaced_pod, ns, label_selector="app.kubernetes.io/name=rabbitmq")[
            "items"
        ]
        nodes = {_name(p): str((p.get("spec") or {}).get("nodeName") or "") for p in pods}
        distinct = {n for n in nodes.values() if n}
        detail = ", ".join(f"{pod} on {node or 'no node'}" for pod, node in sorted(nodes.items()))
        return Check(tier, f"RabbitMQ members on {want} different nodes", len(distinct) == want, detail)

    def _rabbitmq_credentials(self) -> tuple[str, str]:
        want = self.expected
        secret = _json(self.core.read_namespaced_secret, want.rabbitmq_secret, want.messaging_namespace)
        data = secret.get("data") or {}
        return (base64.b64decode(data["username"]).decode(), base64.b64decode(data["password"]).decode())

    def _rabbitmq_get(self, path: str, auth: tuple[str, str]) -> list[dict[str, Any]]:
        response = self.http.get(self.rabbitmq_url + path, auth=auth)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, list):
            raise httpx.DecodingError(f"{path}: expected a list")
        return body

    # --- tier 4 -------------------------------------------------------------------------------

    def _persistence(self) -> Iterable[Check]:
        tier = "Tier 4 · persistence"
        data = self.expected.data_namespace
        yield self._statefulset_check(tier, data, "postgresql", 1)
        yield self._deployment_check(tier, data, "redis")
        for ns, wanted in self.expected.claims.items():
            found = {
                _name(c): c for c in _json(self.core.list_namespaced_persistent_volume_claim, ns)["items"]
            }
            for name in wanted:
                phase = _phase(found[name]) if name in found else None
                yield Check(tier, f"PVC {ns}/{name} Bound", phase == "Bound", phase or "missing")
                minimum = self.expected.claim_capacity.get(name)
                if minimum is not None:
                    yield _capacity_check(tier, ns, name, found.get(name), minimum)

    def _statefulset_check(self, tier: str, ns: str, name: str, want: int) -> Check:
        label = f"statefulset {ns}/{name} ready {want}/{want}"
        try:
            status = _json(self.apps.read_namespaced_stateful_set_status, name, ns).get("status") or {}
        except ApiException as exc:
            return Check(tier, label, False, _reason(exc))
        ready = int(status.get("readyReplicas") or 0)
        return Check(tier, label, ready == want, f"{ready} ready")

    # --- ingress ------------------------------------------------------------------------------

    def _ingress(self) -> Iterable[Check]:
        for service in API_SERVICES:
            url = f"{self.ingress_url}/api/v1/{service}/"
            try:
                response = self.http.get(url)
            except httpx.HTTPError as exc:
                yield Check("Ingress", f"/api/v1/{service}", False, _reason(exc))
                continue
            # Any answer from ecoeco carries x-request-id; the load balancer's own 5xx pages do not.
            ok = response.status_code < 500 and "x-request-id" in response.headers
            yield Check("Ingress", f"/api/v1/{service}", ok, f"HTTP {response.status_code}")


def _capacity_check(tier: str, ns: str, name: str, claim: dict[str, Any] | None, minimum: str) -> Check:
    """The bound volume's real capacity (status), not the size the claim asked for."""
    capacity = str(((claim or {}).get("status") or {}).get("capacity", {}).get("storage") or "")
    ok = bool(capacity) and parse_quantity(capacity) >= parse_quantity(minimum)  # type: ignore[no-untyped-call]
    return Check(tier, f"PVC {ns}/{name} at least {minimum}", ok, f"capacity {capacity or 'unknown'}")


def _json(call: Callable[..., Any], *args: str, **params: str) -> dict[str, Any]:
    """Raw JSON instead of the client's models: we read a few fields, and absent ones must not raise."""
    response = call(*args, _preload_content=False, **params)
    body: dict[str, Any] = json.loads(response.data)
    return body


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _phase(obj: dict[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase", ""))


def _condition(obj: dict[str, Any], kind: str) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}".strip()
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}"[:200]
