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
  iam_instance_profile   = aws_iam_instance_profile.node[local.node_role[each.value.tier]].name
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

# Stateful pods keep their data on a volume of their own, one per node that hosts them (var.nodes[*].data_gb),
# mounted by Ansible (role data_volumes): PostgreSQL and a RabbitMQ member on the storage node, one RabbitMQ
# member on each worker.
resource "aws_ebs_volume" "data" {
  for_each          = { for name, n in var.nodes : name => n if n.data_gb > 0 }
  availability_zone = each.value.subnet_zone
  size              = each.value.data_gb
  type              = "gp3"
  encrypted         = true
  tags              = { Name = "ecoeco-${var.environment}-${each.key}-data" }
}

resource "aws_volume_attachment" "data" {
  for_each    = aws_ebs_volume.data
  device_name = "/dev/sdf"
  volume_id   = each.value.id
  instance_id = aws_instance.node[each.key].id
}
