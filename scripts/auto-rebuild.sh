#!/usr/bin/env bash
# One-shot rebuild of the production cluster, keeping its data:
#   Terraform deploy/terraform/persistent (buckets, registries, certificate: applied, never destroyed)
#   → a last backup of PostgreSQL and the release of the load balancer, while the old cluster still answers
#   → terraform destroy + apply of the cluster → Ansible inventory and environment.env (must equal git)
#   → build and push the images ECR does not hold yet → wait for SSH → ansible-playbook site.yml
#   → wait until Argo CD has synced every tier → DNS for the API → ecoeco verify.
# PostgreSQL comes back from its backups (restore init container); scan images never leave their bucket.
# Needs: terraform, ansible (deploy/tools), kubectl, uv, docker, aws, git; AWS credentials;
# deploy/terraform/backend.hcl and terraform.tfvars; the ansible-vault file and its password.
# Usage: scripts/auto-rebuild.sh [--yes] [--dry-run] [--skip-destroy]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tf_dir="$root/deploy/terraform"
persistent_dir="$tf_dir/persistent"
ansible_dir="$root/deploy/ansible"
inventory="$ansible_dir/inventory/generated.yml"
environment="$root/deploy/k8s/overlays/prod/environment/environment.env"
kubeconfig="$root/deploy/.kubeconfig"
alb_vars="$tf_dir/alb.auto.tfvars" # read by every later `terraform apply` of the cluster root
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-ap-northeast-2}}"
cluster_name=ecoeco # the AWS Load Balancer Controller's elbv2.k8s.aws/cluster tag (ansible group_vars)
# The root Application and one per tier (deploy/argocd), in their sync order.
argocd_apps=(ecoeco ecoeco-platform ecoeco-storage ecoeco-messaging ecoeco-apps ecoeco-monitoring)
yes=0 dry_run=0 skip_destroy=0

die() { echo "auto-rebuild: $*" >&2; exit 2; }
usage() { sed -n '2,/^# Usage/p' "$0" | sed 's/^# \{0,1\}//'; }

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
wait_for() { # wait_for SECONDS DESCRIPTION CMD...: poll CMD until it succeeds
  local limit=$1 what=$2 deadline
  shift 2
  printf '+ wait (at most %ss) until %s\n' "$limit" "$what"
  ((dry_run)) && return 0
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "gave up after ${limit}s waiting until $what"
    sleep 10
  done
}

preflight() {
  local missing=()
  for tool in terraform ansible ansible-playbook kubectl uv docker aws git; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (make deploy-tools; PATH=deploy/tools/.venv/bin:\$PATH)"
  [[ -f $tf_dir/backend.hcl ]] || die "missing $tf_dir/backend.hcl (copy backend.hcl.example)"
  [[ -f $tf_dir/terraform.tfvars ]] || die "missing $tf_dir/terraform.tfvars (admin_cidrs, ssh_key_name, domain_name)"
}

# The persistent root keeps its own state next to the cluster's: <dir of the cluster's key>/persistent.tfstate.
persistent_state_key() {
  local key
  key="$(sed -n 's/^[[:space:]]*key[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' "$tf_dir/backend.hcl" 2>/dev/null || true)"
  if [[ $key == */* ]]; then echo "${key%/*}/persistent.tfstate"; else echo persistent.tfstate; fi
}

old_cluster_answers() {
  [[ -f $kubeconfig ]] && kubectl --kubeconfig "$kubeconfig" --request-timeout=15s get --raw /readyz >/dev/null 2>&1
}

# A last backup (WAL keeps being archived until the end, see archive_timeout), then the Ingress: the controller
# deletes the ALB it made, which would otherwise keep the VPC, subnets and security group from being destroyed.
release_old_cluster() {
  local k=(kubectl --kubeconfig "$kubeconfig") job
  job="postgresql-backup-rebuild-$(date -u +%Y%m%d%H%M%S)"
  if ((dry_run)) || old_cluster_answers; then
    run "${k[@]}" -n data create job "$job" --from=cronjob/postgresql-backup
    run "${k[@]}" -n data wait --for=condition=complete "job/$job" --timeout=3600s
    run "${k[@]}" -n ecoeco delete ingress --all --wait=true --timeout=600s
  else
    echo "The old cluster does not answer: no last backup (what its WAL archive holds is restored)."
  fi
  # Whatever the controller left behind (the cluster died before it could clean up).
  local arns
  printf '+ aws resourcegroupstaggingapi get-resources (tag elbv2.k8s.aws/cluster=%s)\n' "$cluster_name"
  ((dry_run)) && return 0
  for kind in loadbalancer targetgroup; do
    arns="$(aws resourcegroupstaggingapi get-resources --region "$region" \
      --tag-filters "Key=elbv2.k8s.aws/cluster,Values=$cluster_name" \
      --resource-type-filters "elasticloadbalancing:$kind" \
      --query 'ResourceTagMappingList[].ResourceARN' --output text)"
    for arn in $arns; do
      if [[ $kind == loadbalancer ]]; then
        run aws elbv2 delete-load-balancer --region "$region" --load-balancer-arn "$arn"
        run aws elbv2 wait load-balancers-deleted --region "$region" --load-balancer-arns "$arn"
      else
        run aws elbv2 delete-target-group --region "$region" --target-group-arn "$arn"
      fi
    done
  done
}

# Every image of the prod overlay that lives in our ECR repositories, built and pushed unless ECR has its tag
# already (tags are immutable there: a release tag is built once).
push_missing_images() {
  local app_repo pg_repo images image name tag dockerfile context logged_in=0
  app_repo="$(sed -n 's/^ECR_REPOSITORY=//p' "$environment")"
  pg_repo="$(sed -n 's/^POSTGRESQL_REPOSITORY=//p' "$environment")"
  if ! images="$(kubectl kustomize "$root/deploy/k8s/overlays/prod" | sed -n 's/^ *image: //p' | sort -u)"; then
    ((dry_run)) || die "cannot render deploy/k8s/overlays/prod"
    echo "+ docker build + docker push of each ECR image of the prod overlay (kubectl missing: not listed)"
    return 0
  fi
  for image in $images; do
    case ${image%:*} in
      "$app_repo") dockerfile="$root/deploy/Dockerfile" context="$root" ;;
      "$pg_repo") dockerfile="$root/deploy/postgresql/Dockerfile" context="$root/deploy/postgresql" ;;
      *) continue ;;
    esac
    name="${image%:*}" name="${name#*/}" tag="${image##*:}"
    if ((!dry_run)) && aws ecr describe-images --region "$region" --repository-name "$name" \
      --image-ids "imageTag=$tag" >/dev/null 2>&1; then
      echo "$image: already in ECR"
      continue
    fi
    if ((!logged_in)); then
      printf '+ aws ecr get-login-password | docker login --username AWS --password-stdin %s\n' "${app_repo%%/*}"
      ((dry_run)) || aws ecr get-login-password --region "$region" |
        docker login --username AWS --password-stdin "${app_repo%%/*}"
      logged_in=1
    fi
    run docker build -f "$dockerfile" -t "$image" "$context"
    run docker push "$image"
  done
}

resolves_to() { # resolves_to HOST TARGET: HOST has an address of TARGET (the new ALB, not a cached old one)
  local a b
  a="$(getent ahostsv4 "$1" | awk '{print $1}' | sort -u)"
  b="$(getent ahostsv4 "$2" | awk '{print $1}' | sort -u)"
  [[ -n $a && -n $(comm -12 <(echo "$a") <(echo "$b")) ]]
}

if ((dry_run)); then
  echo "dry run: printing the steps, changing nothing"
else
  preflight
  if ((!yes && !skip_destroy)); then
    [[ -t 0 ]] || die "refusing to destroy without --yes when not on a terminal"
    read -r -p "This DESTROYS the cluster and rebuilds it (buckets, registries and backups are kept). Type 'rebuild': " answer
    [[ $answer == rebuild ]] || die "aborted"
  fi
fi

step "terraform: buckets, registries, certificate (deploy/terraform/persistent; never destroyed)"
run terraform -chdir="$persistent_dir" init -input=false -backend-config=../backend.hcl \
  -backend-config="key=$(persistent_state_key)"
run terraform -chdir="$persistent_dir" apply -input=false -auto-approve -var-file=../terraform.tfvars

step "terraform init (cluster)"
run terraform -chdir="$tf_dir" init -input=false -backend-config=backend.hcl
if ((!skip_destroy)); then
  step "last backup and load balancer of the old cluster"
  release_old_cluster
  step "terraform destroy of the cluster (≈ 5 min)"
  run terraform -chdir="$tf_dir" destroy -input=false -auto-approve
  run rm -f "$alb_vars"
fi

step "terraform apply of the cluster (≈ 5-10 min)"
run terraform -chdir="$tf_dir" apply -input=false -auto-approve
printf '+ terraform output -raw ansible_inventory > %s\n' "$inventory"
printf '+ terraform output -raw kustomize_environment > %s\n' "$environment"
printf '+ git diff --quiet -- %s (unchanged, or stop here)\n' "$environment"
if ((!dry_run)); then
  terraform -chdir="$tf_dir" output -raw ansible_inventory >"$inventory"
  terraform -chdir="$tf_dir" output -raw kustomize_environment >"$environment"
  # Argo CD deploys what is in git: a changed file must be committed and pushed before anything syncs.
  git -C "$root" diff --quiet -- "$environment" ||
    die "$environment changed (see git diff): commit and push it, then run again with --skip-destroy"
fi

step "images: build and push what ECR does not hold yet"
push_missing_images

step "wait for SSH on every node (≤ 10 min)"
run ansible -i "$inventory" all -m ansible.builtin.wait_for_connection -a "timeout=600"

step "ansible-playbook site.yml (≈ 35-40 min)"
run ansible-playbook -i "$inventory" "$ansible_dir/site.yml" --ask-vault-pass
run ansible -i "$inventory" tier_control -b -m ansible.builtin.fetch \
  -a "src=/etc/kubernetes/admin.conf dest=$kubeconfig flat=true"
export KUBECONFIG="$kubeconfig"

step "wait until Argo CD has synced every tier (PostgreSQL restores its backup on the way)"
for app in "${argocd_apps[@]}"; do
  run kubectl -n argocd wait --for=create "application/$app" --timeout=900s
  run kubectl -n argocd wait --for=jsonpath='{.status.sync.status}'=Synced "application/$app" --timeout=2700s
  run kubectl -n argocd wait --for=jsonpath='{.status.health.status}'=Healthy "application/$app" --timeout=2700s
done

step "DNS: the API host to the load balancer the Ingress got"
printf '+ kubectl -n ecoeco get ingress ecoeco -o jsonpath={.status.loadBalancer.ingress[0].hostname}\n'
if ((dry_run)); then
  alb="<load balancer>" api_url="<terraform output api_url>"
else
  alb="$(kubectl -n ecoeco get ingress ecoeco -o jsonpath='{.status.loadBalancer.ingress[0].hostname}')"
  [[ -n $alb ]] || die "the Ingress has no load balancer"
  printf 'api_alb_dns_name = "%s"\n' "$alb" >"$alb_vars"
fi
printf '+ echo api_alb_dns_name = "%s" > %s\n' "$alb" "$alb_vars"
run terraform -chdir="$tf_dir" apply -input=false -auto-approve
((dry_run)) || api_url="$(terraform -chdir="$tf_dir" output -raw api_url)"
wait_for 900 "${api_url#https://} resolves to $alb" resolves_to "${api_url#https://}" "$alb"

step "verify"
if ((!dry_run)); then
  kubectl -n messaging port-forward svc/rabbitmq 15672:15672 >/dev/null 2>&1 &
  forward=$!
  trap 'kill "$forward" 2>/dev/null || true' EXIT
fi
run uv run ecoeco verify --ingress-url "$api_url"
step "done"
