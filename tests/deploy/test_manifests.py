"""Assertions on the rendered prod and dev overlays (deploy/k8s)."""

from __future__ import annotations

from typing import Any

import pytest

from ecoeco.ops.verify import API_SERVICES, WORKER_QUEUES, Expected
from tests.deploy.conftest import of_kind, render

WORKLOADS = ("Deployment", "StatefulSet")


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in (*WORKLOADS, "Job")
    }


def test_every_deployment_verify_expects_exists_with_its_command(prod: list[dict[str, Any]]) -> None:
    deployments = of_kind(prod, "Deployment")
    for name in Expected().deployments:
        assert name in deployments, name
    for service in API_SERVICES:
        args = deployments[f"{service}-api"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[:3] == ["serve", "--service", service]
    for queue in WORKER_QUEUES:
        args = deployments[f"{queue.removeprefix('q.')}-worker"]["spec"]["template"]["spec"]["containers"][0][
            "args"
        ]
        assert args == ["worker", "--queue", queue, "--metrics-port", "9100"]


def test_every_container_has_probes_resources_and_runs_hardened(prod: list[dict[str, Any]]) -> None:
    for name, spec in pod_specs(prod).items():
        assert spec.get("nodeSelector", {}).get("ecoeco.io/tier") in {"api", "worker", "storage"}, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for c in spec["containers"]:
            where = f"{name}/{c['name']}"
            assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], where
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
            if not name.startswith("Job/"):
                assert "livenessProbe" in c and "readinessProbe" in c, where


def test_ecoeco_liveness_is_healthz_and_api_readiness_is_readyz(prod: list[dict[str, Any]]) -> None:
    for name, spec in pod_specs(prod).items():
        for c in spec["containers"]:
            if c["name"] != "app" or name.startswith("Job/"):
                continue
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            if "--service" in c["args"]:
                assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name


def test_each_worker_queue_scales_on_its_own_queue(prod: list[dict[str, Any]]) -> None:
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(prod, "ScaledObject").values()}
    assert set(scaled) == {f"{q.removeprefix('q.')}-worker" for q in WORKER_QUEUES}
    for target, so in scaled.items():
        trigger = so["spec"]["triggers"][0]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"] == "q." + target.removesuffix("-worker")
        assert trigger["authenticationRef"]["name"] in of_kind(prod, "TriggerAuthentication")
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(prod, "HorizontalPodAutoscaler").values()}
    assert hpas == {f"{s}-api" for s in API_SERVICES}


def test_exactly_one_beat_that_never_overlaps(prod: list[dict[str, Any]]) -> None:
    beats = [
        d
        for d in of_kind(prod, "Deployment").values()
        if d["spec"]["template"]["spec"]["containers"][0].get("args", [""])[0] == "beat"
    ]
    assert len(beats) == 1
    assert beats[0]["spec"]["replicas"] == 1
    assert beats[0]["spec"]["strategy"]["type"] == "Recreate"


def test_stateful_tiers(prod: list[dict[str, Any]]) -> None:
    sts = of_kind(prod, "StatefulSet")
    pg = sts["postgresql"]
    assert "postgis" in pg["spec"]["template"]["spec"]["containers"][0]["image"]
    assert pg["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert sts["rabbitmq"]["spec"]["replicas"] == 3
    pdbs = {p["metadata"]["name"]: p for p in of_kind(prod, "PodDisruptionBudget").values()}
    assert pdbs["rabbitmq"]["spec"]["maxUnavailable"] == 1
    conf = of_kind(prod, "ConfigMap")
    rabbit_conf = next(c for n, c in conf.items() if n.startswith("rabbitmq-config"))["data"]["rabbitmq.conf"]
    assert "rabbit_peer_discovery_k8s" in rabbit_conf and "default_queue_type = quorum" in rabbit_conf


def test_migration_runs_before_each_sync(prod: list[dict[str, Any]]) -> None:
    job = of_kind(prod, "Job")["ecoeco-migrate"]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate", "--bundled-data"]


def test_no_secret_material_in_git(prod: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    for docs in (prod, dev):
        assert not [d for d in docs if d["kind"] == "Secret"], "Secrets are created outside git"
        for d in docs:
            text = str(d)
            assert "REPLACED-BY-OVERLAY" not in text, d["metadata"]["name"]
    # Every Secret reference points at a documented, out-of-band Secret.
    documented = {
        "ecoeco-secrets",
        "keda-rabbitmq",
        "postgresql-credentials",
        "redis-credentials",
        "rabbitmq-credentials",
    }
    refs = set()
    for spec in pod_specs(prod).values():
        for c in spec["containers"] + spec.get("initContainers", []):
            refs |= {e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e}
            refs |= {
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in c.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            }
        refs |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    assert refs <= documented
    assert "ecoeco-secrets" in refs


def test_every_namespace_is_default_deny(prod: list[dict[str, Any]]) -> None:
    namespaces = {d["metadata"]["name"] for d in prod if d["kind"] == "Namespace"}
    assert namespaces == {"ecoeco", "data", "messaging"}
    denies = {
        p["metadata"]["namespace"]
        for p in prod
        if p["kind"] == "NetworkPolicy"
        and p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and "ingress" not in p["spec"]
        and "egress" not in p["spec"]
    }
    assert denies == namespaces


def test_ingress_routes_each_api_prefix_to_its_service(prod: list[dict[str, Any]]) -> None:
    ingress = of_kind(prod, "Ingress")["ecoeco"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/certificate-arn"].startswith(
        "arn:aws:acm:"
    )
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {f"/api/v1/{s}": f"{s}-api" for s in API_SERVICES}
    services = of_kind(prod, "Service")
    assert all(services[f"{s}-api"]["spec"]["type"] == "NodePort" for s in API_SERVICES)


@pytest.mark.parametrize("target", ["argocd/apps"])
def test_argocd_waves_go_storage_then_messaging_then_apps(target: str) -> None:
    apps = of_kind(render(target), "Application")
    wave = {n: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for n, a in apps.items()}
    assert wave["ecoeco-storage"] < wave["ecoeco-messaging"] < wave["ecoeco-apps"] < wave["ecoeco-monitoring"]
    from tests.deploy.conftest import DEPLOY

    for a in apps.values():
        assert (DEPLOY.parent / a["spec"]["source"]["path"] / "kustomization.yaml").is_file()


def test_dev_overlay_runs_on_one_node(dev: list[dict[str, Any]]) -> None:
    assert all("nodeSelector" not in spec for spec in pod_specs(dev).values())
    assert of_kind(dev, "StatefulSet")["rabbitmq"]["spec"]["replicas"] == 1
