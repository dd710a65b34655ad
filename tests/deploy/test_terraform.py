"""Structure of deploy/terraform (the cluster) and deploy/terraform/persistent (what a rebuild keeps), parsed
with python-hcl2 (no provider can run here)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.deploy.conftest import DEPLOY


def block(tf: dict[str, Any], kind: str, type_: str, name: str) -> dict[str, Any]:
    for entry in tf[kind]:
        if type_ in entry and name in entry[type_]:
            return dict(entry[type_][name])
    raise AssertionError(f"{kind} {type_}.{name} not found")


def local(tf: dict[str, Any], name: str) -> Any:
    for entry in tf["locals"]:
        if name in entry:
            return entry[name]
    raise AssertionError(f"local {name} not found")


def variable_default(tf: dict[str, Any], name: str) -> Any:
    for entry in tf["variable"]:
        if name in entry:
            return entry[name].get("default")
    raise AssertionError(name)


def test_vpc_and_subnets(terraform: dict[str, Any]) -> None:
    assert variable_default(terraform, "vpc_cidr") == "10.0.0.0/16"
    subnets = variable_default(terraform, "public_subnets")
    assert sorted(subnets.values()) == ["10.0.1.0/24", "10.0.2.0/24"]
    assert len(set(subnets)) == 2  # two zones, as the ALB requires


def test_four_nodes_with_the_seed_sizes(terraform: dict[str, Any]) -> None:
    nodes = variable_default(terraform, "nodes")
    assert {n: (v["instance_type"], v["tier"]) for n, v in nodes.items()} == {
        "master": ("t3.large", "control"),
        "worker-1": ("t3.medium", "api"),
        "worker-2": ("t3.medium", "worker"),
        "storage": ("t3.large", "storage"),
    }
    instance = block(terraform, "resource", "aws_instance", "node")
    assert instance["for_each"] == "${var.nodes}"
    assert instance["metadata_options"][0]["http_tokens"] == "required"
    assert instance["root_block_device"][0]["encrypted"] is True


def test_security_groups_open_exactly_the_cluster_ports(terraform: dict[str, Any]) -> None:
    rules = local(terraform, "ingress_rules")
    opened = {(r["sg"], r["from"], r["protocol"], r["from_port"], r["to_port"]) for r in rules.values()}
    assert opened == {
        ("nodes", "nodes", "udp", 4789, 4789),  # Calico VXLAN
        ("nodes", "nodes", "tcp", 5473, 5473),  # Calico Typha
        ("nodes", "nodes", "tcp", 10250, 10250),  # kubelet
        ("nodes", "nodes", "tcp", 9100, 9100),  # node-exporter
        ("nodes", "alb", "tcp", 30000, 32767),  # NodePorts behind the ALB
        ("control_plane", "nodes", "tcp", 6443, 6443),  # API server
        ("alb", "internet", "tcp", 80, 80),
        ("alb", "internet", "tcp", 443, 443),
    }
    admin = local(terraform, "admin_rules")
    assert {(r["sg"], r["port"]) for r in admin.values()} == {("nodes", 22), ("control_plane", 6443)}
    # Only the ALB faces the internet; SSH and the API server only the operator's CIDRs (no default).
    assert "default" not in next(e for e in terraform["variable"] if "admin_cidrs" in e)["admin_cidrs"]


def test_images_bucket_is_private_encrypted_versioned_and_expires(
    terraform_persistent: dict[str, Any],
) -> None:
    terraform = terraform_persistent
    pab = block(terraform, "resource", "aws_s3_bucket_public_access_block", "all")
    assert all(
        pab[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    sse = block(terraform, "resource", "aws_s3_bucket_server_side_encryption_configuration", "all")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    versioning = block(terraform, "resource", "aws_s3_bucket_versioning", "all")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    lifecycle = block(terraform, "resource", "aws_s3_bucket_lifecycle_configuration", "images")
    assert lifecycle["rule"][0]["expiration"][0]["days"] == "${var.image_retention_days}"
    cors = block(terraform, "resource", "aws_s3_bucket_cors_configuration", "images")["cors_rule"][0]
    assert "PUT" in cors["allowed_methods"] and cors["allowed_origins"] == "${var.cors_allowed_origins}"
    policy = block(terraform, "resource", "aws_s3_bucket_policy", "tls_only")["policy"]
    assert "aws:SecureTransport" in policy and "Deny" in policy


def test_node_roles_are_scoped(terraform: dict[str, Any]) -> None:
    assert local(terraform, "node_role") == {
        "control": "control_plane",
        "api": "workload",
        "worker": "workload",
        "storage": "storage",
    }
    policies = local(terraform, "role_policies")
    by_role: dict[str, set[str]] = {}
    for p in policies.values():
        # "${data.aws_iam_policy_document.backups["etcd"].json}" → backups["etcd"]
        by_role.setdefault(p["role"], set()).add(p["policy"].split(".")[2])
    assert by_role == {
        "control_plane": {"ecr_pull", 'backups["etcd"]', "cert_manager_dns", "lb_controller"},
        "workload": {"ecr_pull", "images"},  # no load balancer, DNS or backup rights
        "storage": {"ecr_pull", 'backups["pgbackrest"]'},  # its backups' prefix only, no scan images
    }
    images = block(terraform, "data", "aws_iam_policy_document", "images")
    resources = [r for s in images["statement"] for r in s["resources"]]
    assert all("aws_s3_bucket.images.arn" in r for r in resources)
    backups = block(terraform, "data", "aws_iam_policy_document", "backups")
    objects, listing = backups["statement"]
    assert objects["resources"] == ["${data.aws_s3_bucket.backups.arn}/${each.key}/*"]
    assert listing["condition"][0]["values"] == ["${each.key}/*"]
    assert local(terraform, "backup_prefix_actions") == {
        "etcd": ["s3:PutObject"],
        "pgbackrest": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    }


def test_outputs_feed_ansible_and_the_prod_overlay(terraform: dict[str, Any]) -> None:
    outputs = {k for e in terraform["output"] for k in e}
    assert {"ansible_inventory", "kustomize_environment", "api_url"} <= outputs
    env = next(e for e in terraform["output"] if "kustomize_environment" in e)["kustomize_environment"][
        "value"
    ]
    committed = (DEPLOY / "k8s/overlays/prod/environment/environment.env").read_text().splitlines()
    keys = [line.split("=")[0] for line in committed if "=" in line and not line.startswith("#")]
    produced = re.findall(r'"([A-Z0-9_]+)=', env)
    # The same keys in the same order, and the same header: auto-rebuild.sh compares the file with git.
    assert produced == keys
    assert all(f'"{line}"' in env for line in committed if line.startswith("#"))


def test_environment_values_survive_a_rebuild(terraform: dict[str, Any]) -> None:
    """Argo CD deploys the committed environment.env: every value must be the same after destroy + apply, so
    none may come from a resource of the cluster root (ids, ARNs, addresses change), only from data sources
    (./persistent), variables, locals and the security group's fixed Name tag."""
    env = next(e for e in terraform["output"] if "kustomize_environment" in e)["kustomize_environment"][
        "value"
    ]
    refs = re.findall(r"\$\{([^{}$]+)\}", env)
    assert len(refs) >= 9
    for ref in refs:
        assert ref.startswith(("data.", "var.", "local.")) or ref == "aws_security_group.alb.tags.Name", ref


def test_rebuild_cannot_destroy_buckets_registries_or_certificate(
    terraform: dict[str, Any], terraform_persistent: dict[str, Any]
) -> None:
    kept = {"aws_s3_bucket", "aws_ecr_repository", "aws_acm_certificate"}
    cluster = {t for e in terraform["resource"] for t in e}
    assert not cluster & kept, "the cluster root is destroyed by every rebuild"
    assert kept <= {t for e in terraform["data"] for t in e}  # it reads them
    for kind in ("aws_s3_bucket", "aws_ecr_repository"):
        for entry in terraform_persistent["resource"]:
            for name, res in entry.get(kind, {}).items():
                assert res["lifecycle"][0]["prevent_destroy"] is True, (kind, name)
                assert not res.get("force_destroy") and not res.get("force_delete"), (kind, name)
    # Both roots name the buckets the same way (the cluster root looks them up by name).
    assert local(terraform, "buckets") == local(terraform_persistent, "buckets")
    repos = set(local(terraform_persistent, "repositories").values())
    looked_up = {v["name"] for e in terraform["data"] for k, v in e.get("aws_ecr_repository", {}).items()}
    assert looked_up == repos == {"ecoeco", "ecoeco-postgresql"}


def test_backups_bucket_never_expires_pgbackrest_files(terraform_persistent: dict[str, Any]) -> None:
    """pgBackRest expires its own backups; a bucket rule on pgbackrest/ could delete a full backup that later
    differentials need."""
    rules = block(terraform_persistent, "resource", "aws_s3_bucket_lifecycle_configuration", "backups")
    expiring = local(terraform_persistent, "backup_expiry_days")
    assert set(expiring) == {"etcd", "vpc-flow-logs", "s3-access-logs"}
    assert not any(k.startswith("pgbackrest") for k in expiring)
    unfiltered = [r for r in rules["rule"] if r.get("filter") == [{"__is_block__": True}]]
    assert all("expiration" not in r for r in unfiltered)


def test_data_volumes_match_the_local_volumes_ansible_creates(terraform: dict[str, Any]) -> None:
    nodes = variable_default(terraform, "nodes")
    group_vars = yaml.safe_load((DEPLOY / "ansible/group_vars/all.yml").read_text())
    need: dict[str, int] = {}
    for volume in group_vars["storage_volumes"].values():
        need[volume["tier"]] = need.get(volume["tier"], 0) + int(volume["size"].removesuffix("Gi"))
    for node in nodes.values():
        # Each node with local volumes has a data volume that holds them all (GB ≥ GiB ⋅ 1.074).
        assert node["data_gb"] >= need.get(node["tier"], 0) * 1.074, node
        assert (node["data_gb"] > 0) == (node["tier"] in need), node


def test_state_backend_is_remote_and_configurable(terraform: dict[str, Any]) -> None:
    backend = terraform["terraform"][0]["backend"][0]
    # An empty s3 block: bucket, key and lock table come from -backend-config (backend.hcl.example).
    assert list(backend) == ["s3"]
    assert set(backend["s3"]) <= {"__is_block__"}
