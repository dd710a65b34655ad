data "aws_route53_zone" "main" {
  name         = var.domain_name
  private_zone = false
}

locals {
  api_host = "${var.api_subdomain}.${var.domain_name}"
}

resource "aws_acm_certificate" "api" {
  domain_name       = local.api_host
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "api_validation" {
  for_each = {
    for o in aws_acm_certificate.api.domain_validation_options : o.domain_name => o
  }
  zone_id         = data.aws_route53_zone.main.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "api" {
  certificate_arn         = aws_acm_certificate.api.arn
  validation_record_fqdns = [for r in aws_route53_record.api_validation : r.fqdn]
}

# The ALB is created by the AWS Load Balancer Controller from the Ingress, after this apply; a second apply
# with -var api_alb_dns_name=... (scripts/auto-rebuild.sh does it) points the API host at it.
resource "aws_route53_record" "api" {
  count   = var.api_alb_dns_name == "" ? 0 : 1
  zone_id = data.aws_route53_zone.main.zone_id
  name    = local.api_host
  type    = "CNAME"
  ttl     = 300
  records = [var.api_alb_dns_name]
}
