"""scripts/auto-rebuild.sh: argument handling, the dry run, and whole runs against fake terraform, ansible,
kubectl, docker, aws, uv and getent that record their calls (tests/deploy/fake_tools.py). The real run needs
AWS; what these runs prove is the order of the steps and what the script keeps, skips and refuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, ROOT, kubectl, of_kind, render

SCRIPT = ROOT / "scripts" / "auto-rebuild.sh"
FAKES = ("terraform", "ansible", "ansible-playbook", "kubectl", "docker", "aws", "uv", "getent")
ENVIRONMENT = "deploy/k8s/overlays/prod/environment/environment.env"
LEFTOVER_ALB = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/k8s-ecoeco/0abc"


def run(*args: str, path: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    script = (cwd / "scripts/auto-rebuild.sh") if cwd else SCRIPT
    return subprocess.run(
        ["/bin/bash", str(script), *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )


@dataclass
class Call:
    tool: str
    args: list[str]

    @property
    def line(self) -> str:
        return " ".join([self.tool, *self.args])


@dataclass
class Rebuild:
    """A copy of the repository's scripts/ and deploy/ in git, with the fakes first on PATH."""

    repo: Path
    log: Path
    env: dict[str, str]

    def run(self, *args: str, **world: str) -> subprocess.CompletedProcess[str]:
        self.log.write_text("")
        env = self.env | {f"FAKE_{k.upper()}": v for k, v in world.items()}
        return subprocess.run(
            ["/bin/bash", str(self.repo / "scripts/auto-rebuild.sh"), *args],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    def calls(self) -> list[Call]:
        return [Call(c["tool"], c["args"]) for c in map(json.loads, self.log.read_text().splitlines())]

    def first(self, *words: str) -> int:
        """Position of the first call whose command line contains all the words."""
        for i, call in enumerate(self.calls()):
            if all(w in call.line for w in words):
                return i
        raise AssertionError(f"no call with {words}:\n" + "\n".join(c.line for c in self.calls()))

    def count(self, *words: str) -> int:
        return sum(all(w in c.line for w in words) for c in self.calls())


@pytest.fixture
def rebuild(tmp_path: Path) -> Rebuild:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    ignore = shutil.ignore_patterns(
        ".venv", ".terraform", ".kubeconfig", "generated.yml", "*.tfvars", "backend.hcl"
    )
    shutil.copytree(DEPLOY, repo / "deploy", ignore=ignore)
    (repo / "deploy/terraform/backend.hcl").write_text('bucket = "state"\nkey = "prod/terraform.tfstate"\n')
    (repo / "deploy/terraform/terraform.tfvars").write_text('domain_name = "ecoeco.example.com"\n')
    (repo / "deploy/.kubeconfig").write_text("# the previous run's, for the old cluster\n")
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "deploy"], check=True)
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for tool in FAKES:
        wrapper = fakes / tool
        wrapper.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).with_name("fake_tools.py")}" {tool} "$@"\n'
        )
        wrapper.chmod(0o755)
    git_dir = str(Path(shutil.which("git") or "/usr/bin/git").parent)
    log = tmp_path / "calls.jsonl"
    committed = tmp_path / "environment.env"
    shutil.copy(repo / ENVIRONMENT, committed)
    env = {
        "PATH": f"{fakes}:{git_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(log),
        "FAKE_ENVIRONMENT": str(committed),
        "REAL_KUBECTL": kubectl(),
    }
    return Rebuild(repo, log, env)


def prod_images(prod: list[dict[str, Any]]) -> dict[str, str]:
    """The images in our ECR repositories that the prod overlay runs, by repository name."""
    env = dict(
        line.split("=", 1)
        for line in (ROOT / ENVIRONMENT).read_text().splitlines()
        if "=" in line and line[0] != "#"
    )
    ours = (env["ECR_REPOSITORY"], env["POSTGRESQL_REPOSITORY"])
    images = {
        c["image"]
        for d in prod
        if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")
        for c in _containers(d)
        if c["image"].rsplit(":", 1)[0] in ours
    }
    return {i.rsplit(":", 1)[0].split("/", 1)[1]: i for i in images}


def _containers(doc: dict[str, Any]) -> list[dict[str, str]]:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    pod = spec["template"]["spec"]
    return [*pod["containers"], *pod.get("initContainers", [])]


# --- whole runs against the fakes ---------------------------------------------------------------------------


def test_rebuild_keeps_the_data_and_runs_every_step_in_order(
    rebuild: Rebuild, prod: list[dict[str, Any]]
) -> None:
    result = rebuild.run("--yes", old_cluster="up", leftover_albs=LEFTOVER_ALB)
    assert result.returncode == 0, result.stdout + result.stderr
    at = rebuild.first
    calls = rebuild.calls()
    # The cluster root is applied twice: the second time with the ALB's name (alb.auto.tfvars).
    applies = [i for i, c in enumerate(calls) if c.tool == "terraform" and c.args[1:] == APPLY]
    assert len(applies) == 2 and all(calls[i].args[0].endswith("/deploy/terraform") for i in applies)
    images = prod_images(prod)
    assert set(images) == {"ecoeco", "ecoeco-postgresql"}
    order = [
        at("terraform", "persistent", "init", "key=prod/persistent.tfstate"),
        at("terraform", "persistent", "apply", "-var-file=../terraform.tfvars"),
        at("terraform", "deploy/terraform init"),
        # The old cluster: a last backup, completed, then its Ingress (and so its ALB) goes.
        at("kubectl", "create job", "--from=cronjob/postgresql-backup"),
        at("kubectl", "wait --for=condition=complete"),
        at("kubectl", "delete ingress --all"),
        at("aws elbv2 delete-load-balancer", LEFTOVER_ALB),
        at("terraform", "deploy/terraform destroy"),
        applies[0],
        at("terraform", "output -raw kustomize_environment"),
        at("aws ecr describe-images", "--repository-name ecoeco-postgresql"),
        at("docker login"),
        at("docker build", images["ecoeco-postgresql"], "deploy/postgresql"),
        at("docker push", images["ecoeco-postgresql"]),
        at("docker build", images["ecoeco"], "deploy/Dockerfile"),
        at("docker push", images["ecoeco"]),
        at("ansible", "wait_for_connection"),
        at("ansible-playbook", "site.yml"),
        at("ansible", "ansible.builtin.fetch", "admin.conf"),
        at("kubectl", "wait --for=create application/ecoeco "),
        at("kubectl", "Healthy application/ecoeco-apps"),
        at("kubectl", "Healthy application/ecoeco-monitoring"),
        at("kubectl", "get ingress ecoeco"),
        applies[1],
        at("getent", "api.ecoeco.example.com"),
        at("uv run ecoeco verify --ingress-url https://api.ecoeco.example.com"),
    ]
    assert order == sorted(order), [calls[i].line for i in order]
    tfvars = (rebuild.repo / "deploy/terraform/alb.auto.tfvars").read_text()
    assert tfvars == 'api_alb_dns_name = "k8s-ecoeco-0123456789.ap-northeast-2.elb.amazonaws.com"\n'
    # Nothing that holds data is destroyed: no destroy of the persistent root, no bucket or image deletion.
    for c in calls:
        assert not (c.tool == "terraform" and "destroy" in c.args and "persistent" in c.line), c.line
        assert not any(a.startswith("-target") for a in c.args), c.line
        assert not (c.tool == "aws" and c.args[0] in ("s3", "s3api")), c.line
        assert not (c.tool == "aws" and "batch-delete-image" in c.args), c.line
    # Every Argo CD Application is waited for: the script's list is the one in deploy/argocd.
    apps = {"ecoeco", *of_kind(render("argocd/apps"), "Application")}
    assert {a for a in apps if rebuild.count(f"Healthy application/{a}")} == apps


APPLY = ["apply", "-input=false", "-auto-approve"]


def test_images_already_in_ecr_are_not_built_again(rebuild: Rebuild, prod: list[dict[str, Any]]) -> None:
    tags = " ".join(i.split("/", 1)[1] for i in prod_images(prod).values())
    result = rebuild.run("--yes", old_cluster="up", ecr_tags=tags)
    assert result.returncode == 0, result.stderr
    assert rebuild.count("aws ecr describe-images") == 2
    assert rebuild.count("docker") == 0
    assert "already in ECR" in result.stdout


def test_a_changed_environment_file_stops_before_anything_is_deployed(
    rebuild: Rebuild, tmp_path: Path
) -> None:
    changed = tmp_path / "changed.env"
    changed.write_text(Path(rebuild.env["FAKE_ENVIRONMENT"]).read_text().replace("api.", "api2."))
    result = rebuild.run("--yes", old_cluster="up", environment=str(changed))
    assert result.returncode == 2
    assert "changed (see git diff): commit and push it" in result.stderr
    assert not [c for c in rebuild.calls() if c.tool.startswith("ansible") or c.tool == "docker"]
    # The file now holds Terraform's values, for the operator to commit.
    assert "API_HOST=api2.ecoeco.example.com" in (rebuild.repo / ENVIRONMENT).read_text()


def test_an_unreachable_old_cluster_is_destroyed_without_a_last_backup(rebuild: Rebuild) -> None:
    result = rebuild.run("--yes", old_cluster="down", leftover_albs=LEFTOVER_ALB)
    assert result.returncode == 0, result.stderr
    assert "does not answer: no last backup" in result.stdout
    assert rebuild.count("create job") == 0 and rebuild.count("delete ingress") == 0
    # Its load balancer is removed through the AWS API instead, before the VPC's destroy needs it gone.
    assert rebuild.first("aws elbv2 delete-load-balancer") < rebuild.first("destroy")


def test_skip_destroy_builds_without_touching_an_old_cluster(rebuild: Rebuild) -> None:
    result = rebuild.run("--skip-destroy", old_cluster="up")  # no --yes needed: nothing is destroyed
    assert result.returncode == 0, result.stderr
    for words in ("deploy/terraform destroy", "create job", "delete ingress", "resourcegroupstaggingapi"):
        assert rebuild.count(words) == 0, words
    assert rebuild.count("ansible-playbook") == 1 and rebuild.count("ecoeco verify") == 1


def test_refuses_to_destroy_without_yes_when_not_interactive(rebuild: Rebuild) -> None:
    result = rebuild.run(old_cluster="up")
    assert result.returncode == 2
    assert "refusing to destroy without --yes" in result.stderr
    assert rebuild.calls() == []


def test_dry_run_prints_the_whole_sequence_in_order_and_changes_nothing(rebuild: Rebuild) -> None:
    result = rebuild.run("--dry-run", old_cluster="up")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    steps = [
        "persistent init",
        "persistent apply",
        "--from=cronjob/postgresql-backup",
        "delete ingress",
        "deploy/terraform destroy -input=false -auto-approve",
        "deploy/terraform apply -input=false -auto-approve",
        "output -raw ansible_inventory",
        "docker build",
        "wait_for_connection",
        "ansible-playbook",
        "Healthy application/ecoeco-monitoring",
        "echo api_alb_dns_name",
        "ecoeco verify",
    ]
    positions = [out.index(s) for s in steps]
    assert positions == sorted(positions)
    # Only the read-only rendering of the prod overlay (to list its images) ran.
    assert {c.line.split()[1] for c in rebuild.calls()} <= {"kustomize"}
    assert not (rebuild.repo / "deploy/terraform/alb.auto.tfvars").exists()


# --- arguments ----------------------------------------------------------------------------------------------


def test_skip_destroy_dry_run() -> None:
    result = run("--dry-run", "--skip-destroy")
    assert result.returncode == 0
    assert "terraform destroy" not in result.stdout and "delete ingress" not in result.stdout


def test_unknown_argument_fails_with_usage() -> None:
    result = run("--frobnicate")
    assert result.returncode == 2
    assert "unknown argument: --frobnicate" in result.stderr
    assert "Usage:" in result.stderr


def test_help() -> None:
    result = run("--help")
    assert result.returncode == 0 and "--dry-run" in result.stdout and "never destroyed" in result.stdout


@pytest.mark.parametrize("missing", [(), ("docker", "aws")], ids=["nothing-on-path", "no-docker-no-aws"])
def test_missing_tools_fail_fast_before_anything_runs(tmp_path: Path, missing: tuple[str, ...]) -> None:
    path = "/nonexistent"
    if missing:
        present = tmp_path / "bin"
        present.mkdir()
        for tool in set(FAKES) - set(missing):
            (present / tool).symlink_to("/bin/true")
        path = f"{present}:/usr/bin:/bin"
    result = run("--yes", path=path)
    assert result.returncode == 2
    want = (
        "missing tools: " + " ".join(missing)
        if missing
        else "missing tools: terraform ansible ansible-playbook"
    )
    assert want in result.stderr
