# Resources of ./persistent (buckets, registries, the API certificate), looked up by name: this root only
# reads them, so destroying it cannot touch them. The names follow ./persistent (tests/deploy checks both).
data "aws_caller_identity" "current" {}

locals {
  buckets = {
    images  = "ecoeco-${var.environment}-images-${data.aws_caller_identity.current.account_id}"
    backups = "ecoeco-${var.environment}-backups-${data.aws_caller_identity.current.account_id}"
  }
}

data "aws_s3_bucket" "images" {
  bucket = local.buckets.images
}

data "aws_s3_bucket" "backups" {
  bucket = local.buckets.backups
}

data "aws_ecr_repository" "ecoeco" {
  name = "ecoeco"
}

data "aws_ecr_repository" "postgresql" {
  name = "ecoeco-postgresql"
}

data "aws_acm_certificate" "api" {
  domain      = local.api_host
  statuses    = ["ISSUED"]
  most_recent = true
}
