#!/usr/bin/env bash
# One-shot rebuild of the production cluster:
#   terraform destroy → terraform apply → wait for SSH → ansible-playbook site.yml → ecoeco verify.
# DESTROYS EVERYTHING FIRST (nodes, volumes, data). Needs: terraform, ansible (deploy/tools), kubectl, uv,
# AWS credentials, deploy/terraform/backend.hcl and terraform.tfvars, the ansible-vault file and its password.
# Usage: scripts/auto-rebuild.sh [--yes] [--dry-run] [--skip-destroy]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tf_dir="$root/deploy/terraform"
ansible_dir="$root/deploy/ansible"
yes=0 dry_run=0 skip_destroy=0

die() { echo "auto-rebuild: $*" >&2; exit 2; }
usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case $1 in
    --yes) yes=1 ;;
    --dry-run) dry_run=1 ;;
    --skip-destroy) skip_destroy=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

step() { printf '\n== [%s] %s\n' "$(date -u +%H:%M:%S)" "$1"; }
run() { # print the command; run it unless --dry-run
  printf '+ %s\n' "$*"
  ((dry_run)) || "$@"
}

preflight() {
  local missing=()
  for tool in terraform ansible-playbook kubectl uv; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (make deploy-tools; PATH=deploy/tools/.venv/bin:\$PATH)"
  [[ -f $tf_dir/backend.hcl ]] || die "missing $tf_dir/backend.hcl (copy backend.hcl.example)"
  [[ -f $tf_dir/terraform.tfvars ]] || die "missing $tf_dir/terraform.tfvars (admin_cidrs, ssh_key_name, domain_name)"
}

if ((dry_run)); then
  echo "dry run: printing the steps, changing nothing"
else
  preflight
  if ((!yes)); then
    [[ -t 0 ]] || die "refusing to destroy without --yes when not on a terminal"
    read -r -p "This DESTROYS the whole environment, data included, and rebuilds it. Type 'rebuild': " answer
    [[ $answer == rebuild ]] || die "aborted"
  fi
fi

step "terraform init"
run terraform -chdir="$tf_dir" init -input=false -backend-config=backend.hcl
if ((!skip_destroy)); then
  step "terraform destroy (≈ 5 min)"
  run terraform -chdir="$tf_dir" destroy -input=false -auto-approve
fi
step "terraform apply (≈ 5-10 min)"
run terraform -chdir="$tf_dir" apply -input=false -auto-approve
inventory="$ansible_dir/inventory/generated.yml"
environment="$root/deploy/k8s/overlays/prod/environment/environment.env"
if ((dry_run)); then
  printf '+ terraform output -raw ansible_inventory > %s\n' "$inventory"
  printf '+ terraform output -raw kustomize_environment > %s\n' "$environment"
else
  terraform -chdir="$tf_dir" output -raw ansible_inventory >"$inventory"
  terraform -chdir="$tf_dir" output -raw kustomize_environment >"$environment"
fi

step "wait for SSH on every node (≤ 10 min)"
run ansible -i "$inventory" all -m ansible.builtin.wait_for_connection -a "timeout=600"

step "ansible-playbook site.yml (≈ 35-40 min)"
run ansible-playbook -i "$inventory" "$ansible_dir/site.yml" --ask-vault-pass

step "verify"
echo "Commit $environment if it changed: Argo CD deploys what is in git."
run ansible -i "$inventory" tier_control -b -m ansible.builtin.fetch \
  -a "src=/etc/kubernetes/admin.conf dest=$root/deploy/.kubeconfig flat=true"
export KUBECONFIG="$root/deploy/.kubeconfig"
if ((!dry_run)); then
  kubectl -n messaging port-forward svc/rabbitmq 15672:15672 >/dev/null 2>&1 &
  forward=$!
  trap 'kill "$forward" 2>/dev/null || true' EXIT
fi
run uv run ecoeco verify --ingress-url "$( ((dry_run)) && echo '<terraform output api_url>' || terraform -chdir="$tf_dir" output -raw api_url)"
step "done"
