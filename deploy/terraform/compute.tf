data "aws_ami" "ubuntu" {
  most_recent = true
  owners      = ["099720109477"] # Canonical
  filter {
    name   = "name"
    values = ["ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"]
  }
}

resource "aws_instance" "node" {
  for_each               = var.nodes
  ami                    = data.aws_ami.ubuntu.id
  instance_type          = each.value.instance_type
  subnet_id              = aws_subnet.public[each.value.subnet_zone].id
  key_name               = var.ssh_key_name
  iam_instance_profile   = each.value.tier == "control" ? aws_iam_instance_profile.control_plane.name : aws_iam_instance_profile.workload.name
  vpc_security_group_ids = each.value.tier == "control" ? [aws_security_group.nodes.id, aws_security_group.control_plane.id] : [aws_security_group.nodes.id]
  ebs_optimized          = true
  monitoring             = true

  root_block_device {
    volume_type = "gp3"
    volume_size = each.value.root_gb
    encrypted   = true
  }

  # IMDSv2 only. Hop limit 2: pods (one hop behind the node) use the node role for S3 and ECR.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }

  tags = {
    Name          = "ecoeco-${var.environment}-${each.key}"
    "ecoeco/tier" = each.value.tier
  }

  lifecycle {
    ignore_changes = [ami]
  }
}

# PostgreSQL and RabbitMQ data live on their own volume, mounted by Ansible (role storage_volumes).
resource "aws_ebs_volume" "storage_data" {
  availability_zone = var.nodes["storage"].subnet_zone
  size              = var.storage_data_gb
  type              = "gp3"
  encrypted         = true
  tags              = { Name = "ecoeco-${var.environment}-storage-data" }
}

resource "aws_volume_attachment" "storage_data" {
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.storage_data.id
  instance_id = aws_instance.node["storage"].id
}

resource "aws_ecr_repository" "ecoeco" {
  name                 = "ecoeco"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "ecoeco" {
  repository = aws_ecr_repository.ecoeco.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 50 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}
