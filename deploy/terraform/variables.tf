variable "region" {
  description = "AWS region of everything."
  type        = string
  default     = "ap-northeast-2"
}

variable "environment" {
  description = "Name of this environment, used in resource names."
  type        = string
  default     = "prod"
}

variable "vpc_cidr" {
  description = "The VPC's address range."
  type        = string
  default     = "10.0.0.0/16"
}

variable "public_subnets" {
  description = "One public subnet per availability zone (the ALB needs two zones)."
  type        = map(string)
  default = {
    "ap-northeast-2a" = "10.0.1.0/24"
    "ap-northeast-2c" = "10.0.2.0/24"
  }
}

variable "admin_cidrs" {
  description = "Addresses allowed to reach SSH and the Kubernetes API (the operator's network). No default on purpose."
  type        = list(string)
}

variable "ssh_key_name" {
  description = "Name of an existing EC2 key pair for the ubuntu user."
  type        = string
}

variable "nodes" {
  description = "The four cluster nodes of the original design, by name: size, disk and Kubernetes tier."
  type = map(object({
    instance_type = string
    root_gb       = number
    tier          = string
    subnet_zone   = string
  }))
  default = {
    master   = { instance_type = "t3.large", root_gb = 80, tier = "control", subnet_zone = "ap-northeast-2a" }
    worker-1 = { instance_type = "t3.medium", root_gb = 40, tier = "api", subnet_zone = "ap-northeast-2a" }
    worker-2 = { instance_type = "t3.medium", root_gb = 40, tier = "worker", subnet_zone = "ap-northeast-2c" }
    storage  = { instance_type = "t3.large", root_gb = 40, tier = "storage", subnet_zone = "ap-northeast-2a" }
  }
}

variable "storage_data_gb" {
  description = "Extra EBS volume on the storage node for PostgreSQL (50 Gi) and RabbitMQ (3 x 10 Gi)."
  type        = number
  default     = 100
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

variable "api_alb_dns_name" {
  description = "DNS name of the ALB that the AWS Load Balancer Controller created; empty until it exists (second apply)."
  type        = string
  default     = ""
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
