# One repository per image we build: the application (deploy/Dockerfile) and PostgreSQL with pgBackRest
# (deploy/postgresql/Dockerfile). Tags are immutable: a release tag always means the same image.
locals {
  repositories = {
    ecoeco     = "ecoeco"
    postgresql = "ecoeco-postgresql"
  }
}

resource "aws_ecr_repository" "image" {
  for_each             = local.repositories
  name                 = each.value
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
  }
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_ecr_lifecycle_policy" "image" {
  for_each   = aws_ecr_repository.image
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 50 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}
