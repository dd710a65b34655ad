data "aws_route53_zone" "main" {
  name         = var.domain_name
  private_zone = false
}

locals {
  api_host = "${var.api_subdomain}.${var.domain_name}"
}

# The ALB is created by the AWS Load Balancer Controller from the Ingress, after the first apply.
# scripts/auto-rebuild.sh waits for it, writes its DNS name to alb.auto.tfvars (read by every later apply,
# so a plain `terraform apply` keeps the record) and applies again.
resource "aws_route53_record" "api" {
  count   = var.api_alb_dns_name == "" ? 0 : 1
  zone_id = data.aws_route53_zone.main.zone_id
  name    = local.api_host
  type    = "CNAME"
  ttl     = 60
  records = [var.api_alb_dns_name]
}
