# `terraform output -raw ansible_inventory > ../ansible/inventory/generated.yml` (scripts/auto-rebuild.sh).
output "ansible_inventory" {
  description = "Ansible inventory (YAML): one group per tier, public address for SSH, private for the cluster."
  value = yamlencode({
    all = {
      vars = {
        ansible_user       = "ubuntu"
        aws_region         = var.region
        etcd_backup_bucket = data.aws_s3_bucket.backups.id
        api_server_address = aws_instance.node["master"].private_ip
      }
      children = {
        for tier in distinct([for n in var.nodes : n.tier]) : "tier_${tier}" => {
          hosts = {
            for name, n in var.nodes : name => {
              ansible_host = aws_instance.node[name].public_ip
              private_ip   = aws_instance.node[name].private_ip
              node_tier    = n.tier
            } if n.tier == tier
          }
        }
      }
    }
  })
}

# `terraform output -raw kustomize_environment > ../k8s/overlays/prod/environment/environment.env`.
# Only values that survive a rebuild (./persistent, names, the zone), so the committed file stays valid.
output "kustomize_environment" {
  description = "The non-secret values the prod overlay injects into the manifests."
  value = join("\n", [
    "# Values of one AWS environment (not secrets). `scripts/auto-rebuild.sh` rewrites this file from",
    "# `terraform output -raw kustomize_environment`; commit it so Argo CD deploys the same values.",
    "ECR_REPOSITORY=${data.aws_ecr_repository.ecoeco.repository_url}",
    "POSTGRESQL_REPOSITORY=${data.aws_ecr_repository.postgresql.repository_url}",
    "API_HOST=${local.api_host}",
    "ACM_CERTIFICATE_ARN=${data.aws_acm_certificate.api.arn}",
    "S3_BUCKET=${data.aws_s3_bucket.images.id}",
    "BACKUP_BUCKET=${data.aws_s3_bucket.backups.id}",
    "ROUTE53_ZONE_ID=${data.aws_route53_zone.main.zone_id}",
    "ACME_EMAIL=ops@${var.domain_name}",
    "ALB_SECURITY_GROUP=${aws_security_group.alb.tags.Name}",
    "",
  ])
}

output "node_public_ips" {
  description = "Public address of each node, by name."
  value       = { for name, i in aws_instance.node : name => i.public_ip }
}

output "api_url" {
  description = "The public API base URL (ecoeco verify --ingress-url)."
  value       = "https://${local.api_host}"
}
