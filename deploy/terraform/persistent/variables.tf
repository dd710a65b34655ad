variable "region" {
  description = "AWS region of everything."
  type        = string
  default     = "ap-northeast-2"
}

variable "environment" {
  description = "Name of this environment, used in resource names (the same as the cluster root's)."
  type        = string
  default     = "prod"
}

variable "domain_name" {
  description = "An existing Route53 public hosted zone, e.g. ecoeco.example.com."
  type        = string
}

variable "api_subdomain" {
  description = "The API host is <api_subdomain>.<domain_name>."
  type        = string
  default     = "api"
}

variable "cors_allowed_origins" {
  description = "Origins allowed to PUT images straight into the bucket with pre-signed URLs."
  type        = list(string)
  default     = ["https://ecoeco.example.com"]
}

variable "image_retention_days" {
  description = "Scan images are deleted after this many days."
  type        = number
  default     = 180
}

variable "etcd_backup_retention_days" {
  description = "etcd snapshots are deleted after this many days."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "VPC flow logs and S3 access logs are deleted after this many days."
  type        = number
  default     = 90
}
