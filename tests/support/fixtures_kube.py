"""A fake Kubernetes API server, RabbitMQ management API and Ingress, as real HTTP servers on 127.0.0.1.

Serves only what ``ecoeco verify`` reads. ``FakeCluster.healthy()`` is the production cluster of deploy/k8s;
tests break it by editing its dictionaries before calling verify.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ecoeco.ops.verify import ALL_QUEUES, API_SERVICES, CONTROL_PLANE_PODS, Expected

TOKEN = "fake-token"
RABBIT_USER, RABBIT_PASSWORD = "ecoeco", "fake-rabbit-password"


@dataclass
class FakeCluster:
    nodes: dict[str, bool] = field(default_factory=dict)  # name -> Ready
    pods: dict[str, dict[str, str]] = field(default_factory=dict)  # namespace -> pod -> phase
    # (namespace, name) -> (replicas, available)
    deployments: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    statefulsets: dict[tuple[str, str], int] = field(default_factory=dict)  # -> ready replicas
    claims: dict[str, dict[str, str]] = field(default_factory=dict)  # namespace -> claim -> phase
    capacities: dict[str, str] = field(default_factory=dict)  # claim -> status.capacity.storage
    pod_nodes: dict[str, str] = field(default_factory=dict)  # pod -> the node it runs on
    ready_services: dict[str, bool] = field(default_factory=dict)  # "<service>-api" -> /readyz ok
    rabbit_nodes: dict[str, bool] = field(default_factory=dict)  # node -> running
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    ingress_status: dict[str, int] = field(default_factory=dict)  # service -> HTTP status from ecoeco

    @classmethod
    def healthy(cls) -> FakeCluster:
        want = Expected()
        rabbit = [f"rabbit@rabbitmq-{i}.rabbitmq-headless" for i in range(3)]
        rabbit_pods = {f"rabbitmq-{i}": node for i, node in enumerate(("storage", "worker-1", "worker-2"))}
        return cls(
            nodes=dict.fromkeys(("master", "worker-1", "worker-2", "storage"), True),
            pods={
                "kube-system": {f"{p}-master": "Running" for p in CONTROL_PLANE_PODS}
                | {"coredns-1": "Running"},
                "messaging": dict.fromkeys(rabbit_pods, "Running"),
            },
            pod_nodes=rabbit_pods,
            deployments={("ecoeco", d): (2, 2) for d in want.deployments} | {("data", "redis"): (1, 1)},
            statefulsets={("messaging", "rabbitmq"): 3, ("data", "postgresql"): 1},
            claims={ns: dict.fromkeys(names, "Bound") for ns, names in want.claims.items()},
            capacities={"postgresql-data-postgresql-0": "50Gi"}
            | {f"rabbitmq-data-rabbitmq-{i}": "10Gi" for i in range(3)},
            ready_services={f"{s}-api": True for s in API_SERVICES},
            rabbit_nodes=dict.fromkeys(rabbit, True),
            queues={
                q: {"name": q, "type": "quorum", "members": rabbit, "online": rabbit} for q in ALL_QUEUES
            },
            ingress_status=dict.fromkeys(API_SERVICES, 404),
        )


def _status(code: int, reason: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code}


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster
    role: str  # "kube", "rabbitmq" or "ingress"
    query: dict[str, list[str]]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        self.query = urllib.parse.parse_qs(url.query)
        handler = {"kube": self._kube, "rabbitmq": self._rabbitmq, "ingress": self._ingress}[self.role]
        code, body, headers = handler(path)
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _kube(self, path: str) -> tuple[int, Any, dict[str, str]]:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, _status(401, "Unauthorized"), {}
        c = self.cluster
        parts = path.strip("/").split("/")
        if parts == ["api", "v1", "nodes"]:
            items = [
                {"metadata": {"name": n}, "status": {"conditions": [{"type": "Ready", "status": str(ok)}]}}
                for n, ok in c.nodes.items()
            ]
            return 200, {"kind": "NodeList", "items": items}, {}
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) >= 5:
            ns, kind = parts[3], parts[4]
            if kind == "pods":
                pods: list[dict[str, Any]] = [
                    {
                        # StatefulSet pods carry their app's name label: "rabbitmq-2" → rabbitmq.
                        "metadata": {"name": n, "labels": {"app.kubernetes.io/name": n.rsplit("-", 1)[0]}},
                        "spec": {"nodeName": c.pod_nodes.get(n)},
                        "status": {"phase": p},
                    }
                    for n, p in c.pods.get(ns, {}).items()
                ]
                for selector in self.query.get("labelSelector", []):
                    key, _, value = selector.partition("=")
                    pods = [i for i in pods if i["metadata"]["labels"].get(key) == value]
                return 200, {"items": pods}, {}
            if kind == "persistentvolumeclaims":
                claims = c.claims.get(ns, {})
                items = [
                    {
                        "metadata": {"name": n},
                        "status": {"phase": p}
                        | ({"capacity": {"storage": c.capacities[n]}} if n in c.capacities else {}),
                    }
                    for n, p in claims.items()
                ]
                return 200, {"items": items}, {}
            if kind == "secrets" and ns == "messaging" and parts[5] == "rabbitmq-credentials":
                data = {
                    k: base64.b64encode(v.encode()).decode()
                    for k, v in (("username", RABBIT_USER), ("password", RABBIT_PASSWORD))
                }
                return 200, {"metadata": {"name": parts[5]}, "data": data}, {}
            if kind == "services" and parts[6:] == ["proxy", "readyz"]:
                service = parts[5].split(":")[0]
                if c.ready_services.get(service):
                    return 200, {"status": "ready"}, {}
                return 503, {"status": 503, "code": "dependency-unavailable"}, {}
        if parts[:3] == ["apis", "apps", "v1"] and len(parts) == 8 and parts[7] == "status":
            ns, kind, name = parts[4], parts[5], parts[6]
            if kind == "deployments" and (ns, name) in c.deployments:
                replicas, available = c.deployments[(ns, name)]
                conditions = [{"type": "Available", "status": str(available == replicas)}]
                status = {"replicas": replicas, "availableReplicas": available, "conditions": conditions}
                return 200, {"metadata": {"name": name}, "status": status}, {}
            if kind == "statefulsets" and (ns, name) in c.statefulsets:
                return (
                    200,
                    {"metadata": {"name": name}, "status": {"readyReplicas": c.statefulsets[(ns, name)]}},
                    {},
                )
        return 404, _status(404, "NotFound"), {}

    def _rabbitmq(self, path: str) -> tuple[int, Any, dict[str, str]]:
        expected = "Basic " + base64.b64encode(f"{RABBIT_USER}:{RABBIT_PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return 401, {"error": "not_authorised"}, {}
        if path == "/api/nodes":
            return 200, [{"name": n, "running": up} for n, up in self.cluster.rabbit_nodes.items()], {}
        if path == "/api/queues":
            return 200, list(self.cluster.queues.values()), {}
        return 404, {"error": "Object Not Found"}, {}

    def _ingress(self, path: str) -> tuple[int, Any, dict[str, str]]:
        service = path.removeprefix("/api/v1/").strip("/")
        code = self.cluster.ingress_status.get(service, 404)
        if code >= 500:  # the load balancer's own answer: no ecoeco request id
            return code, {"message": "Bad Gateway"}, {}
        return code, {"status": code}, {"x-request-id": "fake"}


@dataclass(frozen=True)
class FakeKube:
    cluster: FakeCluster
    kubeconfig: Path
    rabbitmq_url: str
    ingress_url: str


def _serve(role: str, cluster: FakeCluster) -> ThreadingHTTPServer:
    handler = type(f"{role}Handler", (_Handler,), {"cluster": cluster, "role": role})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def fake_kube(tmp_path: Path) -> Iterator[FakeKube]:
    cluster = FakeCluster.healthy()
    servers = {role: _serve(role, cluster) for role in ("kube", "rabbitmq", "ingress")}
    url = {role: f"http://127.0.0.1:{s.server_address[1]}" for role, s in servers.items()}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": url["kube"]}}],
                "users": [{"name": "fake", "user": {"token": TOKEN}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )
    )
    try:
        yield FakeKube(cluster, kubeconfig, url["rabbitmq"], url["ingress"])
    finally:
        for s in servers.values():
            s.shutdown()
            s.server_close()
