terraform {
  required_version = ">= 1.0.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
  # Remote state: the bucket, key, region and lock table come from a file the operator keeps outside git:
  #   terraform init -backend-config=backend.hcl   (see backend.hcl.example)
  backend "s3" {}
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "ecoeco"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
