# Three node roles. Pods use their node's role through IMDSv2, so each role holds only what the pods placed on
# those nodes need:
#  - control_plane: AWS Load Balancer Controller (runs only there), cert-manager DNS-01 in our zone, etcd
#    snapshots into backups/etcd/, image pulls.
#  - workload (worker-1, worker-2): read/write scan images in the images bucket, image pulls.
#  - storage: pgBackRest's repository under backups/pgbackrest/ (WAL archive, backups, restores), image pulls.
locals {
  node_role = { control = "control_plane", api = "workload", worker = "workload", storage = "storage" }
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  for_each           = toset(values(local.node_role))
  name               = "ecoeco-${var.environment}-${replace(each.key, "_", "-")}"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_instance_profile" "node" {
  for_each = aws_iam_role.node
  name     = each.value.name
  role     = each.value.name
}

data "aws_iam_policy_document" "ecr_pull" {
  statement {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # this action has no resource-level permissions
  }
  statement {
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [data.aws_ecr_repository.ecoeco.arn, data.aws_ecr_repository.postgresql.arn]
  }
}

data "aws_iam_policy_document" "images" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${data.aws_s3_bucket.images.arn}/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [data.aws_s3_bucket.images.arn]
  }
}

# One prefix of the backups bucket per writer: etcd snapshots only go in; pgBackRest also reads (restores,
# its own info files) and deletes (it expires old backups and WAL itself).
locals {
  backup_prefix_actions = {
    etcd       = ["s3:PutObject"]
    pgbackrest = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
  }
}

data "aws_iam_policy_document" "backups" {
  for_each = local.backup_prefix_actions
  statement {
    actions   = each.value
    resources = ["${data.aws_s3_bucket.backups.arn}/${each.key}/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [data.aws_s3_bucket.backups.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${each.key}/*"]
    }
  }
}

data "aws_iam_policy_document" "cert_manager_dns" {
  statement {
    actions   = ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"]
    resources = [data.aws_route53_zone.main.arn]
  }
  statement {
    actions   = ["route53:GetChange"]
    resources = ["arn:aws:route53:::change/*"]
  }
  statement {
    actions   = ["route53:ListHostedZonesByName"]
    resources = ["*"] # list actions have no resource-level permissions
  }
}

# Written for our use of the controller: instance targets, security groups supplied by us (it never edits
# security groups), no WAF/Shield. It may create load balancers and target groups only with its cluster tag,
# and change or delete only those carrying it.
data "aws_iam_policy_document" "lb_controller" {
  statement {
    sid = "Read"
    actions = [
      "ec2:DescribeAccountAttributes", "ec2:DescribeAvailabilityZones", "ec2:DescribeInstances",
      "ec2:DescribeInternetGateways", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets", "ec2:DescribeTags", "ec2:DescribeVpcs", "ec2:DescribeRouteTables",
      "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeSSLPolicies",
      "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeListenerAttributes",
      "acm:ListCertificates",
    ]
    resources = ["*"] # describe/list actions have no resource-level permissions
  }
  statement {
    sid       = "ReadCertificates"
    actions   = ["acm:DescribeCertificate"]
    resources = ["arn:aws:acm:${var.region}:${data.aws_caller_identity.current.account_id}:certificate/*"]
  }
  statement {
    sid     = "CreateOnlyTagged"
    actions = ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"]
    resources = [
      "arn:aws:elasticloadbalancing:${var.region}:${data.aws_caller_identity.current.account_id}:loadbalancer/app/*/*",
      "arn:aws:elasticloadbalancing:${var.region}:${data.aws_caller_identity.current.account_id}:targetgroup/*/*",
    ]
    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }
  statement {
    sid = "ChangeOnlyOwn"
    actions = [
      "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
      "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
    ]
    resources = [
      "arn:aws:elasticloadbalancing:${var.region}:${data.aws_caller_identity.current.account_id}:loadbalancer/app/*/*",
      "arn:aws:elasticloadbalancing:${var.region}:${data.aws_caller_identity.current.account_id}:targetgroup/*/*",
    ]
    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }
  statement {
    sid = "ListenersAndTargets"
    actions = [
      "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:ModifyListener", "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
    ]
    resources = [
      "arn:aws:elasticloadbalancing:${var.region}:${data.aws_caller_identity.current.account_id}:loadbalancer/app/*/*",
      "arn:aws:elasticloadbalancing:${var.region}:${data.aws_caller_identity.current.account_id}:listener/app/*/*/*",
      "arn:aws:elasticloadbalancing:${var.region}:${data.aws_caller_identity.current.account_id}:listener-rule/app/*/*/*/*",
      "arn:aws:elasticloadbalancing:${var.region}:${data.aws_caller_identity.current.account_id}:targetgroup/*/*",
    ]
  }
  statement {
    sid       = "ServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/elasticloadbalancing.amazonaws.com/*"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticloadbalancing.amazonaws.com"]
    }
  }
}

locals {
  role_policies = {
    control_plane_ecr  = { role = "control_plane", policy = data.aws_iam_policy_document.ecr_pull.json }
    control_plane_etcd = { role = "control_plane", policy = data.aws_iam_policy_document.backups["etcd"].json }
    control_plane_dns  = { role = "control_plane", policy = data.aws_iam_policy_document.cert_manager_dns.json }
    control_plane_lbc  = { role = "control_plane", policy = data.aws_iam_policy_document.lb_controller.json }
    workload_ecr       = { role = "workload", policy = data.aws_iam_policy_document.ecr_pull.json }
    workload_images    = { role = "workload", policy = data.aws_iam_policy_document.images.json }
    storage_ecr        = { role = "storage", policy = data.aws_iam_policy_document.ecr_pull.json }
    storage_pgbackrest = { role = "storage", policy = data.aws_iam_policy_document.backups["pgbackrest"].json }
  }
}

resource "aws_iam_role_policy" "node" {
  for_each = local.role_policies
  name     = each.key
  role     = aws_iam_role.node[each.value.role].id
  policy   = each.value.policy
}
