"""Structure of deploy/terraform, parsed with python-hcl2 (no provider can run here)."""

from __future__ import annotations

from typing import Any


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


def test_images_bucket_is_private_encrypted_versioned_and_expires(terraform: dict[str, Any]) -> None:
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
    policies = local(terraform, "role_policies")
    workload = {k for k, v in policies.items() if "workload" in v["role"]}
    assert workload == {"workload_ecr", "workload_images"}  # no load balancer, DNS or backup rights
    images = block(terraform, "data", "aws_iam_policy_document", "images")
    resources = [r for s in images["statement"] for r in s["resources"]]
    assert all("aws_s3_bucket.images.arn" in r for r in resources)


def test_outputs_feed_ansible_and_the_prod_overlay(terraform: dict[str, Any]) -> None:
    outputs = {k for e in terraform["output"] for k in e}
    assert {"ansible_inventory", "kustomize_environment", "api_url"} <= outputs
    env = next(e for e in terraform["output"] if "kustomize_environment" in e)["kustomize_environment"][
        "value"
    ]
    from tests.deploy.conftest import DEPLOY

    keys = {
        line.split("=")[0]
        for line in (DEPLOY / "k8s/overlays/prod/environment/environment.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert all(f"{k}=" in env for k in keys)


def test_state_backend_is_remote_and_configurable(terraform: dict[str, Any]) -> None:
    backend = terraform["terraform"][0]["backend"][0]
    # An empty s3 block: bucket, key and lock table come from -backend-config (backend.hcl.example).
    assert list(backend) == ["s3"]
    assert set(backend["s3"]) <= {"__is_block__"}
