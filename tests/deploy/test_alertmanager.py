"""deploy/monitoring/alertmanager.yaml: Alertmanager's own checker accepts it, every alert rule of
prometheus-rules.yaml reaches the receiver its severity calls for (`amtool config routes test`, labels taken
from the rules, so a new rule is covered without touching this file), and every receiver's secret is a file
from the Secret the Ansible role creates."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY

CONFIG = DEPLOY / "monitoring/alertmanager.yaml"
RULES = DEPLOY / "monitoring/prometheus-rules.yaml"
SECRETS_TEMPLATE = DEPLOY / "ansible/roles/ecoeco_secrets/templates/secrets.yaml.j2"
SECRET_DIR = "/etc/alertmanager/secrets/alertmanager-receivers/"
# Who hears about an alert, by its severity.
RECEIVER_BY_SEVERITY = {"critical": "critical", "warning": "warning"}


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("amtool")
    if exe is None:
        pytest.fail("amtool missing: scripts/install-system-packages.sh installs prometheus-alertmanager")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def route(labels: dict[str, str]) -> str:
    result = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", *(f"{k}={v}" for k, v in labels.items())
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def test_amtool_accepts_the_configuration() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_every_alert_rule_reaches_the_receiver_of_its_severity(rule: dict[str, Any]) -> None:
    labels = {"alertname": rule["alert"], **rule.get("labels", {})}
    assert labels.get("severity") in RECEIVER_BY_SEVERITY, f"{rule['alert']}: give it a known severity"
    assert route(labels) == RECEIVER_BY_SEVERITY[labels["severity"]]


def test_there_are_rules_of_each_severity() -> None:
    severities = {r["labels"]["severity"] for r in alert_rules()}
    assert severities == set(RECEIVER_BY_SEVERITY)


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        # kube-prometheus-stack's always-firing heartbeat and its info-level alerts stay out of the channels.
        ({"alertname": "Watchdog", "severity": "none"}, "null"),
        ({"alertname": "InfoInhibitor", "severity": "none"}, "null"),
        ({"alertname": "KubeletTooManyPods", "severity": "info"}, "null"),
        # Its critical and warning alerts (cluster, nodes) are routed like ours.
        ({"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "ecoeco"}, "warning"),
        ({"alertname": "etcdInsufficientMembers", "severity": "critical"}, "critical"),
        # An alert without a known severity still reaches someone.
        ({"alertname": "SomethingNew"}, "warning"),
        ({"alertname": "SomethingNew", "severity": "page"}, "warning"),
    ],
)
def test_other_alerts(labels: dict[str, str], receiver: str) -> None:
    assert route(labels) == receiver


def test_receivers_read_their_secrets_from_the_secret_ansible_creates() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    text = CONFIG.read_text()
    for inline in ("api_url:", "auth_password:", "smtp_auth_password:", "webhook_url:"):
        assert inline not in text, f"{inline} would put a secret into git; use the *_file form"
    files = set(re.findall(r"_file: (\S+)", text))
    assert files and all(f.startswith(SECRET_DIR) for f in files)
    # The Secret monitoring/alertmanager-receivers holds exactly these keys.
    template = SECRETS_TEMPLATE.read_text()
    block = template[template.index("name: alertmanager-receivers") :]
    keys = set(re.findall(r"^  ([a-z0-9-]+): ", block[block.index("stringData:") :], re.MULTILINE))
    assert {f.removeprefix(SECRET_DIR) for f in files} == keys
    # The chart mounts that Secret where the files are read.
    monitoring = (DEPLOY / "ansible/roles/monitoring/tasks/main.yml").read_text()
    assert "secrets: [alertmanager-receivers]" in monitoring and "alertmanager.yaml" in monitoring
    # Every receiver that is not the sink has at least one integration.
    for receiver in config["receivers"]:
        integrations = [k for k in receiver if k.endswith("_configs")]
        assert bool(integrations) == (receiver["name"] != "null"), receiver["name"]


def test_the_receivers_secret_exists_before_alertmanager_starts() -> None:
    """Helm waits for Alertmanager, whose pod cannot start without the Secret it mounts."""
    plays = yaml.safe_load((DEPLOY / "ansible/site.yml").read_text())
    roles = [r for play in plays for r in play.get("roles", [])]
    assert roles.index("ecoeco_secrets") < roles.index("monitoring")
