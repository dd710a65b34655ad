output "images_bucket" {
  description = "Scan images (ECOECO_S3_BUCKET)."
  value       = aws_s3_bucket.images.id
}

output "backups_bucket" {
  description = "pgBackRest repository, etcd snapshots, VPC flow logs, S3 access logs."
  value       = aws_s3_bucket.backups.id
}

output "repository_urls" {
  description = "ECR repository URL of each image we build, by name."
  value       = { for k, r in aws_ecr_repository.image : k => r.repository_url }
}

output "api_certificate_arn" {
  description = "The validated ACM certificate of the API host."
  value       = aws_acm_certificate_validation.api.certificate_arn
}
