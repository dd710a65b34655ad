"""Assertions on the rendered prod and dev overlays (deploy/k8s)."""

from __future__ import annotations

import configparser
import importlib
import re
from typing import Any

import pytest
import yaml

from ecoeco.app import SERVED_WITH
from ecoeco.domains import DOMAINS
from ecoeco.ops.verify import API_SERVICES, WORKER_QUEUES, Expected
from tests.deploy.conftest import DEPLOY, of_kind, render

WORKLOADS = ("Deployment", "StatefulSet")
RUN_TO_COMPLETION = ("Job/", "CronJob/")


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    specs = {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in (*WORKLOADS, "Job")
    }
    specs |= {
        f"CronJob/{d['metadata']['name']}": d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] == "CronJob"
    }
    return specs


def tiers(spec: dict[str, Any]) -> set[str]:
    """The node tiers a pod may be scheduled on: its nodeSelector, or its required node affinity."""
    if "ecoeco.io/tier" in spec.get("nodeSelector", {}):
        return {spec["nodeSelector"]["ecoeco.io/tier"]}
    required = (
        spec.get("affinity", {}).get("nodeAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    if not required:
        return set()
    return {
        v
        for term in required["nodeSelectorTerms"]
        for e in term["matchExpressions"]
        if e["key"] == "ecoeco.io/tier" and e["operator"] == "In"
        for v in e["values"]
    }


def storage_volumes() -> dict[str, dict[str, str]]:
    group_vars = yaml.safe_load((DEPLOY / "ansible/group_vars/all.yml").read_text())
    volumes: dict[str, dict[str, str]] = group_vars["storage_volumes"]
    return volumes


def test_every_deployment_verify_expects_exists_with_its_command(prod: list[dict[str, Any]]) -> None:
    deployments = of_kind(prod, "Deployment")
    for name in Expected().deployments:
        assert name in deployments, name
    for service in (*API_SERVICES, "web"):
        args = deployments[f"{service}-api"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[:3] == ["serve", "--service", service]
    for queue in WORKER_QUEUES:
        args = deployments[f"{queue.removeprefix('q.')}-worker"]["spec"]["template"]["spec"]["containers"][0][
            "args"
        ]
        assert args == ["worker", "--queue", queue, "--metrics-port", "9100"]


def test_every_container_has_probes_resources_and_runs_hardened(prod: list[dict[str, Any]]) -> None:
    specs = pod_specs(prod)
    assert any(n.startswith("CronJob/") for n in specs)
    for name, spec in specs.items():
        assert tiers(spec) and tiers(spec) <= {"api", "worker", "storage"}, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for c in spec["containers"] + spec.get("initContainers", []):
            where = f"{name}/{c['name']}"
            assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], where
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
        for c in spec["containers"]:
            if not name.startswith(RUN_TO_COMPLETION):
                assert "livenessProbe" in c and "readinessProbe" in c, f"{name}/{c['name']}"


def test_ecoeco_liveness_is_healthz_and_api_readiness_is_readyz(prod: list[dict[str, Any]]) -> None:
    for name, spec in pod_specs(prod).items():
        for c in spec["containers"]:
            if c["name"] != "app" or name.startswith(RUN_TO_COMPLETION):
                continue
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            if "--service" in c["args"]:
                assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
                # Broker down → the sync APIs stay in their Services ("degraded", 200).
                assert {"name": "ECOECO_READY_OPTIONAL", "value": "broker"} in c["env"], name


def test_each_worker_queue_scales_on_its_own_queue(prod: list[dict[str, Any]]) -> None:
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(prod, "ScaledObject").values()}
    assert set(scaled) == {f"{q.removeprefix('q.')}-worker" for q in WORKER_QUEUES}
    for target, so in scaled.items():
        trigger = so["spec"]["triggers"][0]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"] == "q." + target.removesuffix("-worker")
        assert trigger["authenticationRef"]["name"] in of_kind(prod, "TriggerAuthentication")
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(prod, "HorizontalPodAutoscaler").values()}
    assert hpas == {f"{s}-api" for s in (*API_SERVICES, "web")}


def test_api_pods_scale_out_before_their_one_event_loop_is_busy(prod: list[dict[str, Any]]) -> None:
    # One ecoeco serve process cannot use more than one core: a target at or past it would never fire.
    for name, hpa in of_kind(prod, "HorizontalPodAutoscaler").items():
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu", name
        target = metric["resource"]["target"]
        assert target["type"] == "AverageValue", name
        assert int(target["averageValue"].removesuffix("m")) < 1000, name


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
    # Our image: PostGIS's plus pgBackRest (deploy/postgresql/Dockerfile).
    assert "/ecoeco-postgresql:" in pg["spec"]["template"]["spec"]["containers"][0]["image"]
    dockerfile = (DEPLOY / "postgresql/Dockerfile").read_text()
    assert "FROM postgis/postgis:" in dockerfile and "pgbackrest" in dockerfile
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
    # Every Secret reference points at a documented, out-of-band Secret: from the vault (Ansible role
    # ecoeco_secrets) or issued by cert-manager from a Certificate in git.
    documented = {
        "ecoeco-secrets",
        "keda-rabbitmq",
        "postgresql-credentials",
        "redis-credentials",
        "rabbitmq-credentials",
        "pgbackrest-credentials",
    } | {c["spec"]["secretName"] for c in of_kind(prod, "Certificate").values()}
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
    # The security group by its Name tag (deploy/terraform/security.tf), which a rebuild keeps.
    assert (
        ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/security-groups"] == "ecoeco-prod-alb"
    )
    routes = [
        (p["path"], p["backend"]["service"]["name"]) for p in ingress["spec"]["rules"][0]["http"]["paths"]
    ]
    # The web app takes whatever no API prefix claims, so it comes last; the prefixes of the domains
    # another service serves (ecoeco.app.SERVED_WITH) go to that service.
    prefixes = {d: importlib.import_module(f"ecoeco.{d}.endpoints").router.prefix for d in DOMAINS}
    expected = [
        (f"/api/v1{prefixes[d]}", f"{s}-api") for s in API_SERVICES for d in (s, *SERVED_WITH.get(s, ()))
    ]
    assert routes == [*expected, ("/", "web-api")]
    services = of_kind(prod, "Service")
    assert all(services[f"{s}-api"]["spec"]["type"] == "NodePort" for s in (*API_SERVICES, "web"))


@pytest.mark.parametrize("target", ["argocd/apps"])
def test_argocd_waves_go_storage_then_messaging_then_apps(target: str) -> None:
    apps = of_kind(render(target), "Application")
    wave = {n: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for n, a in apps.items()}
    assert wave["ecoeco-storage"] < wave["ecoeco-messaging"] < wave["ecoeco-apps"] < wave["ecoeco-monitoring"]
    # The storage tier needs the prod values (backups bucket, PostgreSQL image in ECR).
    assert apps["ecoeco-storage"]["spec"]["source"]["path"] == "deploy/k8s/overlays/prod/storage"
    for a in apps.values():
        assert (DEPLOY.parent / a["spec"]["source"]["path"] / "kustomization.yaml").is_file()


def test_dev_overlay_runs_on_one_node(dev: list[dict[str, Any]]) -> None:
    assert all(not tiers(spec) for spec in pod_specs(dev).values())
    assert of_kind(dev, "StatefulSet")["rabbitmq"]["spec"]["replicas"] == 1
    # No S3 and no instance role in a dev cluster: no archiving, no backups, no restore on start.
    pg = of_kind(dev, "StatefulSet")["postgresql"]["spec"]["template"]["spec"]
    assert "archive_mode=off" in pg["containers"][0]["args"]
    assert "initContainers" not in pg
    assert not of_kind(dev, "CronJob")


def test_rabbitmq_members_run_on_three_different_nodes(prod: list[dict[str, Any]]) -> None:
    """Losing one node must leave a quorum (2 of 3): one member per node, on storage, worker-1 and worker-2,
    each pinned there by its local volume."""
    sts = of_kind(prod, "StatefulSet")["rabbitmq"]
    spec = sts["spec"]["template"]["spec"]
    anti = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti == [
        {
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}},
            "topologyKey": "kubernetes.io/hostname",
        }
    ]
    assert tiers(spec) == {"storage", "api", "worker"}
    assert {"key": "ecoeco.io/tier", "operator": "Equal", "value": "storage", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    members = [f"rabbitmq-data-rabbitmq-{i}" for i in range(sts["spec"]["replicas"])]
    placed = [storage_volumes()[m]["tier"] for m in members]
    assert sorted(placed) == sorted(tiers(spec)), placed  # one member's volume on each tier's node
    assert spec["priorityClassName"] in of_kind(prod, "PriorityClass")


def test_every_claim_has_a_local_volume_on_a_node_its_pod_may_use(prod: list[dict[str, Any]]) -> None:
    volumes = storage_volumes()
    claims = set()
    for sts in of_kind(prod, "StatefulSet").values():
        for template in sts["spec"].get("volumeClaimTemplates", []):
            request = template["spec"]["resources"]["requests"]["storage"]
            for i in range(sts["spec"]["replicas"]):
                claim = f"{template['metadata']['name']}-{sts['metadata']['name']}-{i}"
                claims.add(claim)
                volume = volumes[claim]
                assert volume["namespace"] == sts["metadata"]["namespace"], claim
                assert int(volume["size"].removesuffix("Gi")) >= int(request.removesuffix("Gi")), claim
                assert volume["tier"] in tiers(sts["spec"]["template"]["spec"]), claim
    assert claims == set(volumes)
    assert set(Expected().claims["messaging"]) | set(Expected().claims["data"]) == claims


def test_postgresql_archives_wal_and_restores_an_empty_volume(prod: list[dict[str, Any]]) -> None:
    pg = of_kind(prod, "StatefulSet")["postgresql"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pg["containers"]}
    args = containers["postgresql"]["args"]
    settings = dict(a.split("=", 1) for a in args if a != "-c")
    assert settings["archive_mode"] == "on"
    assert settings["archive_command"] == "pgbackrest --stanza=ecoeco archive-push %p"
    assert int(settings["archive_timeout"]) <= 300  # the most committed work a lost volume takes with it
    (restore,) = pg["initContainers"]
    assert restore["command"] == ["sh", "/etc/pgbackrest/restore.sh"]
    assert containers["pgbackrest"]["command"] == ["sh", "/etc/pgbackrest/serve.sh"]
    # Everything that runs pgBackRest has the passphrase, the bucket and the shared configuration.
    users = [restore, containers["postgresql"], containers["pgbackrest"]]
    cron = of_kind(prod, "CronJob")["postgresql-backup"]
    users.append(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0])
    for c in users:
        env = {e["name"]: e for e in c["env"]}
        assert (
            env["PGBACKREST_REPO1_CIPHER_PASS"]["valueFrom"]["secretKeyRef"]["name"]
            == "pgbackrest-credentials"
        )
        assert {"configMapRef": {"name": "pgbackrest-repo"}} in c["envFrom"], c["name"]
        assert {"name": "pgbackrest-config", "mountPath": "/etc/pgbackrest"} in c["volumeMounts"], c["name"]
        assert c["image"] == containers["postgresql"]["image"], c["name"]
    repo = of_kind(prod, "ConfigMap")["pgbackrest-repo"]["data"]
    environment = (DEPLOY / "k8s/overlays/prod/environment/environment.env").read_text()
    assert f"BACKUP_BUCKET={repo['PGBACKREST_REPO1_S3_BUCKET']}\n" in environment
    scripts = of_kind(prod, "ConfigMap")["pgbackrest"]["data"]
    assert set(scripts) == {"pgbackrest.conf", "backup.sh", "restore.sh", "serve.sh"}
    for name, text in scripts.items():
        assert text == (DEPLOY / "k8s/base/storage/pgbackrest" / name).read_text(), name
    # pgBackRest's data directory is PostgreSQL's (the backup's TLS client sends it to the server).
    conf = configparser.ConfigParser()
    conf.read_string(scripts["pgbackrest.conf"])
    pgdata = {e["name"]: e.get("value") for e in containers["postgresql"]["env"]}["PGDATA"]
    assert conf["ecoeco"]["pg1-path"] == pgdata
    assert conf["global"]["repo1-cipher-type"] == "aes-256-cbc"


def test_backup_cronjob_reaches_the_tls_server_it_is_allowed_to(prod: list[dict[str, Any]]) -> None:
    cron = of_kind(prod, "CronJob")["postgresql-backup"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["schedule"] == "0 18 * * *"  # 03:00 KST, the alert allows 26 h between successes
    job = cron["spec"]["jobTemplate"]["spec"]["template"]
    client = job["spec"]["containers"][0]
    assert client["command"] == ["sh", "/etc/pgbackrest/backup.sh"]
    env = {e["name"]: e.get("value") for e in client["env"]}
    certificates = of_kind(prod, "Certificate")
    server, clientcert = certificates["pgbackrest-server"], certificates["pgbackrest-client"]
    service = of_kind(prod, "Service")["postgresql"]
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    assert env["PGBACKREST_PG1_HOST"] == host and env["PGBACKREST_PG1_HOST_TYPE"] == "tls"
    assert server["spec"]["dnsNames"] == [host]
    assert {"name": "pgbackrest", "port": 8432, "targetPort": "pgbackrest"} in service["spec"]["ports"]
    tls_secrets = {v["secret"]["secretName"] for v in job["spec"]["volumes"] if "secret" in v}
    assert tls_secrets == {clientcert["spec"]["secretName"]}
    pg = of_kind(prod, "StatefulSet")["postgresql"]["spec"]["template"]["spec"]
    sidecar = next(c for c in pg["containers"] if c["name"] == "pgbackrest")
    server_env = {e["name"]: e.get("value") for e in sidecar["env"]}
    assert server_env["PGBACKREST_TLS_SERVER_AUTH"] == f"{clientcert['spec']['commonName']}=ecoeco"
    assert {v["secret"]["secretName"] for v in pg["volumes"] if "secret" in v} == {
        server["spec"]["secretName"]
    }
    # default-deny: the backup pods may reach 8432 of PostgreSQL's pod, and that port admits only them.
    policies = of_kind(prod, "NetworkPolicy")
    egress = policies["backup-to-postgresql"]["spec"]["egress"][0]
    assert egress["ports"] == [{"protocol": "TCP", "port": 8432}]
    ingress = policies["postgresql-from-apps"]["spec"]["ingress"]
    to_8432 = [r for r in ingress if {"protocol": "TCP", "port": 8432} in r["ports"]]
    assert to_8432 == [
        {
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgresql-backup"}}}],
            "ports": [{"protocol": "TCP", "port": 8432}],
        }
    ]
    assert job["metadata"]["labels"]["app.kubernetes.io/name"] == "postgresql-backup"


def test_restore_job_runs_restore_sh_on_postgresqls_own_volume(prod: list[dict[str, Any]]) -> None:
    docs = render("k8s/overlays/prod/restore")
    job = of_kind(docs, "Job")["postgresql-restore"]
    spec = job["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    pg = of_kind(prod, "StatefulSet")["postgresql"]
    assert c["command"] == ["sh", "/etc/pgbackrest/restore.sh"]
    assert c["image"] == pg["spec"]["template"]["spec"]["containers"][0]["image"]
    claim = next(v for v in spec["volumes"] if "persistentVolumeClaim" in v)["persistentVolumeClaim"]
    assert claim["claimName"] == "postgresql-data-postgresql-0"
    assert tiers(spec) == {"storage"}
    target = of_kind(docs, "ConfigMap")
    (restore_env,) = [d for n, d in target.items() if n.startswith("postgresql-restore")]
    assert restore_env["data"] == {"RESTORE_TARGET": "latest"}
    pg_env = {e["name"]: e.get("value") for e in pg["spec"]["template"]["spec"]["containers"][0]["env"]}
    job_env = {e["name"]: e.get("value") for e in c["env"]}
    assert job_env["PGDATA"] == pg_env["PGDATA"]


def test_apis_believe_forwarded_headers_only_from_the_vpc_and_keep_metrics_off_the_public_port(
    prod: list[dict[str, Any]],
) -> None:
    variables = (DEPLOY / "terraform/variables.tf").read_text()
    vpc = re.search(r'variable "vpc_cidr" \{[^}]*default\s*=\s*"([^"]+)"', variables)
    assert vpc is not None
    deployments = of_kind(prod, "Deployment")
    services = of_kind(prod, "Service")
    for service in (*API_SERVICES, "web"):
        container = deployments[f"{service}-api"]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env["ECOECO_FORWARDED_ALLOW_IPS"] == vpc.group(1), service  # the ALB's addresses only
        args = container["args"]
        assert args[args.index("--metrics-port") + 1] == "9100", service
        ports = {p["name"]: p["port"] for p in services[f"{service}-api"]["spec"]["ports"]}
        assert ports == {"http": 80, "metrics": 9100}
    ingress = of_kind(prod, "Ingress")["ecoeco"]
    routed = {p["backend"]["service"]["port"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert routed == {"http"}
