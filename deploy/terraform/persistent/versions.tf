# What a rebuild must never destroy: the scan-image and backup buckets, the container registries and the API's
# TLS certificate. Its own root module and state, so `terraform destroy` of the cluster (../) cannot reach
# these resources, and prevent_destroy on each so that not even a destroy run here deletes data by accident.
# scripts/auto-rebuild.sh only ever applies this root:
#   terraform init -backend-config=../backend.hcl -backend-config=key=<environment>/persistent.tfstate
terraform {
  required_version = ">= 1.0.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
  backend "s3" {}
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "ecoeco"
      Environment = var.environment
      ManagedBy   = "terraform"
      Lifetime    = "persistent"
    }
  }
}
