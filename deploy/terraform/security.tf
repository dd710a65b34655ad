# Every port the cluster opens, in one table (tests/deploy/test_terraform.py asserts this exact set).
# Calico runs VXLAN with BGP off, so pod-to-pod traffic (PostgreSQL, Redis, AMQP, the APIs) rides inside
# UDP 4789 and needs no rule of its own. etcd, the scheduler and the controller manager listen on the single
# control-plane node only and are not opened.
locals {
  ingress_rules = {
    vxlan         = { sg = "nodes", from = "nodes", protocol = "udp", from_port = 4789, to_port = 4789, description = "Calico VXLAN overlay" }
    typha         = { sg = "nodes", from = "nodes", protocol = "tcp", from_port = 5473, to_port = 5473, description = "Calico Typha" }
    kubelet       = { sg = "nodes", from = "nodes", protocol = "tcp", from_port = 10250, to_port = 10250, description = "kubelet API (API server, metrics-server)" }
    node_exporter = { sg = "nodes", from = "nodes", protocol = "tcp", from_port = 9100, to_port = 9100, description = "Prometheus node-exporter" }
    nodeports     = { sg = "nodes", from = "alb", protocol = "tcp", from_port = 30000, to_port = 32767, description = "ALB to NodePort Services (instance targets)" }
    apiserver     = { sg = "control_plane", from = "nodes", protocol = "tcp", from_port = 6443, to_port = 6443, description = "Kubernetes API from the nodes" }
    http          = { sg = "alb", from = "internet", protocol = "tcp", from_port = 80, to_port = 80, description = "HTTP (redirected to HTTPS)" }
    https         = { sg = "alb", from = "internet", protocol = "tcp", from_port = 443, to_port = 443, description = "HTTPS" }
  }
  # The operator's networks reach SSH (Ansible) and the Kubernetes API (kubectl, ecoeco verify).
  admin_rules = {
    ssh       = { sg = "nodes", protocol = "tcp", port = 22, description = "SSH for Ansible" }
    apiserver = { sg = "control_plane", protocol = "tcp", port = 6443, description = "Kubernetes API for operators" }
  }
  admin_ingress = merge([
    for name, rule in local.admin_rules : {
      for cidr in var.admin_cidrs : "${name}-${cidr}" => merge(rule, { cidr = cidr })
    }
  ]...)
  security_groups = {
    nodes         = aws_security_group.nodes.id
    control_plane = aws_security_group.control_plane.id
    alb           = aws_security_group.alb.id
  }
}

resource "aws_security_group" "nodes" {
  name        = "ecoeco-${var.environment}-nodes"
  description = "All four Kubernetes nodes"
  vpc_id      = aws_vpc.main.id
}

resource "aws_security_group" "control_plane" {
  name        = "ecoeco-${var.environment}-control-plane"
  description = "The Kubernetes control-plane node"
  vpc_id      = aws_vpc.main.id
}

# The Ingress names this group by its Name tag (the prod overlay's ALB_SECURITY_GROUP), which stays the same
# across rebuilds while the group's id does not.
resource "aws_security_group" "alb" {
  name        = "ecoeco-${var.environment}-alb"
  description = "The public ALB of the ecoeco Ingress"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "ecoeco-${var.environment}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "cluster" {
  for_each                     = local.ingress_rules
  security_group_id            = local.security_groups[each.value.sg]
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from_port
  to_port                      = each.value.to_port
  cidr_ipv4                    = each.value.from == "internet" ? "0.0.0.0/0" : null
  referenced_security_group_id = each.value.from == "internet" ? null : local.security_groups[each.value.from]
  description                  = each.value.description
}

resource "aws_vpc_security_group_ingress_rule" "admin" {
  for_each          = local.admin_ingress
  security_group_id = local.security_groups[each.value.sg]
  ip_protocol       = each.value.protocol
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
  description       = each.value.description
}

# Nodes reach package mirrors, container registries, S3 and the OAuth/vision APIs over the internet gateway.
resource "aws_vpc_security_group_egress_rule" "nodes" {
  security_group_id = aws_security_group.nodes.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "Outbound from the nodes"
}

resource "aws_vpc_security_group_egress_rule" "alb" {
  security_group_id            = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = 30000
  to_port                      = 32767
  referenced_security_group_id = aws_security_group.nodes.id
  description                  = "ALB to NodePort Services only"
}
