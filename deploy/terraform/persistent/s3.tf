data "aws_caller_identity" "current" {}

locals {
  buckets = {
    images  = "ecoeco-${var.environment}-images-${data.aws_caller_identity.current.account_id}"
    backups = "ecoeco-${var.environment}-backups-${data.aws_caller_identity.current.account_id}"
  }
}

# images: scan photos, uploaded straight from the app with pre-signed PUT URLs.
# backups: the pgBackRest repository of PostgreSQL (pgbackrest/), etcd snapshots (etcd/), VPC flow logs,
# the images bucket's access logs. Neither bucket has force_destroy: a non-empty bucket is never deleted.
resource "aws_s3_bucket" "images" {
  bucket = local.buckets.images
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket" "backups" {
  bucket = local.buckets.backups
  lifecycle {
    prevent_destroy = true
  }
}

locals {
  bucket_ids = {
    images  = aws_s3_bucket.images.id
    backups = aws_s3_bucket.backups.id
  }
}

resource "aws_s3_bucket_public_access_block" "all" {
  for_each                = local.bucket_ids
  bucket                  = each.value
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "all" {
  for_each = local.bucket_ids
  bucket   = each.value
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "all" {
  for_each = local.bucket_ids
  bucket   = each.value
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "all" {
  for_each = local.bucket_ids
  bucket   = each.value
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

# Refuse plain-HTTP access to either bucket.
resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.bucket_ids
  bucket   = each.value
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = ["arn:aws:s3:::${each.value}", "arn:aws:s3:::${each.value}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.all]
}

resource "aws_s3_bucket_lifecycle_configuration" "images" {
  bucket = aws_s3_bucket.images.id
  rule {
    id     = "expire-scan-images"
    status = "Enabled"
    filter {}
    expiration {
      days = var.image_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# Expiry per prefix. pgbackrest/ has no expiration: pgBackRest expires its own backups and WAL by its
# retention (a bucket rule could delete a full backup that later differentials still need); its deletes
# only leave noncurrent versions, removed after a week.
locals {
  backup_expiry_days = {
    etcd             = var.etcd_backup_retention_days
    "vpc-flow-logs"  = var.log_retention_days
    "s3-access-logs" = var.log_retention_days
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  dynamic "rule" {
    for_each = local.backup_expiry_days
    content {
      id     = "expire-${rule.key}"
      status = "Enabled"
      filter {
        prefix = "${rule.key}/"
      }
      expiration {
        days = rule.value
      }
    }
  }
  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# Direct upload from the app and the web client: PUT to pre-signed URLs, GET for previews.
resource "aws_s3_bucket_cors_configuration" "images" {
  bucket = aws_s3_bucket.images.id
  cors_rule {
    allowed_methods = ["PUT", "GET"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["Content-Type", "Content-MD5", "x-amz-*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

resource "aws_s3_bucket_logging" "images" {
  bucket        = aws_s3_bucket.images.id
  target_bucket = aws_s3_bucket.backups.id
  target_prefix = "s3-access-logs/images/"
}
