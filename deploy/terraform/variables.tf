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
  description = "The four cluster nodes of the original design, by name: size, disks and Kubernetes tier. data_gb: the data volume for the local PersistentVolumes on that node (0 = none)."
  type = map(object({
    instance_type = string
    root_gb       = number
    data_gb       = number
    tier          = string
    subnet_zone   = string
  }))
  # storage: PostgreSQL 50 Gi + RabbitMQ member 10 Gi + headroom; each worker: one RabbitMQ member 10 Gi.
  default = {
    master   = { instance_type = "t3.large", root_gb = 80, data_gb = 0, tier = "control", subnet_zone = "ap-northeast-2a" }
    worker-1 = { instance_type = "t3.medium", root_gb = 40, data_gb = 20, tier = "api", subnet_zone = "ap-northeast-2a" }
    worker-2 = { instance_type = "t3.medium", root_gb = 40, data_gb = 20, tier = "worker", subnet_zone = "ap-northeast-2c" }
    storage  = { instance_type = "t3.large", root_gb = 40, data_gb = 80, tier = "storage", subnet_zone = "ap-northeast-2a" }
  }
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
  description = "DNS name of the ALB that the AWS Load Balancer Controller created; empty until it exists (alb.auto.tfvars, written by scripts/auto-rebuild.sh)."
  type        = string
  default     = ""
}
