# iam-alarm in a member account of an Organization (README, "Organization"): IAM events reach EventBridge only in
# us-east-1, and an organization trail's member events never reach the management account's EventBridge — so each
# member forwards its own from its us-east-1 default bus to the central `iam-alarm` bus. Plus a read-only role the
# bot assumes for Recent activity, /iam-users, /recent-changes and /health. The same resources, as CloudFormation
# for a StackSet: deploy/cloudformation/member.yaml.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  # Every user call the bot knows: WATCHED_EVENTS decides centrally what alerts.
  base_pattern = jsondecode(file("${path.module}/../../../event-pattern.json"))
  user_change_pattern = merge(local.base_pattern, {
    detail = merge(local.base_pattern.detail, { eventName = jsondecode(file("${path.module}/../../../all-user-events.json")) })
  })
  tamper_rule_name = "${var.forwarder_rule_name}-tamper"
  # Changes to this account's trail and to the forwarding rules themselves.
  tamper_pattern = templatefile("${path.module}/../../../member-tamper-pattern.json", {
    ForwarderRuleName       = var.forwarder_rule_name
    ForwarderTamperRuleName = local.tamper_rule_name
  })
  home_region_differs = var.trail_home_region != "us-east-1"
}

resource "aws_iam_role" "forward" {
  name = "${var.forwarder_rule_name}-events"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    }]
  })
}

resource "aws_iam_role_policy" "forward" {
  name = "put-events-to-the-central-bus"
  role = aws_iam_role.forward.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:PutEvents"
      Resource = var.central_bus_arn
    }]
  })
}

resource "aws_cloudwatch_event_rule" "forward" {
  name          = var.forwarder_rule_name
  description   = "IAM user changes, forwarded to iam-alarm's central bus"
  event_pattern = jsonencode(local.user_change_pattern)

  lifecycle {
    precondition {
      condition     = data.aws_region.current.name == "us-east-1"
      error_message = "IAM events reach EventBridge only in us-east-1: apply this module with a us-east-1 provider."
    }
  }
}

resource "aws_cloudwatch_event_target" "forward" {
  rule      = aws_cloudwatch_event_rule.forward.name
  target_id = "central-bus"
  arn       = var.central_bus_arn
  role_arn  = aws_iam_role.forward.arn
}

resource "aws_cloudwatch_event_rule" "forward_tamper" {
  name          = local.tamper_rule_name
  description   = "Changes to iam-alarm's forwarding and this account's trail, forwarded to the central bus"
  event_pattern = local.tamper_pattern
}

resource "aws_cloudwatch_event_target" "forward_tamper" {
  rule      = aws_cloudwatch_event_rule.forward_tamper.name
  target_id = "central-bus"
  arn       = var.central_bus_arn
  role_arn  = aws_iam_role.forward.arn
}

# CloudTrail's own calls are recorded in the trail's home region.
resource "aws_cloudwatch_event_rule" "forward_tamper_home" {
  count         = local.home_region_differs ? 1 : 0
  provider      = aws.trail_home
  name          = local.tamper_rule_name
  description   = "Changes to this account's trail (home region), forwarded to iam-alarm's central bus"
  event_pattern = local.tamper_pattern
}

resource "aws_cloudwatch_event_target" "forward_tamper_home" {
  count     = local.home_region_differs ? 1 : 0
  provider  = aws.trail_home
  rule      = aws_cloudwatch_event_rule.forward_tamper_home[0].name
  target_id = "central-bus"
  arn       = var.central_bus_arn
  role_arn  = aws_iam_role.forward.arn
}

# The bot's read-only role here: only the bot's role may assume it, and only with the external id.
resource "aws_iam_role" "reader" {
  name = var.reader_role_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = var.bot_role_arn }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = var.reader_external_id } }
      }, {
      # The responder who asked, on the session and so on every read in this account's CloudTrail.
      Effect    = "Allow"
      Principal = { AWS = var.bot_role_arn }
      Action    = "sts:SetSourceIdentity"
      Condition = { StringLike = { "sts:SourceIdentity" = "iam-alarm-*" } }
    }]
  })
}

resource "aws_iam_role_policy" "reader" {
  name = "iam-alarm-reads"
  role = aws_iam_role.reader.id
  # Exactly the reads the bot makes in a member account (a Rust test compares deploy/reader-policy.json with the
  # code); "Comment" documents the template and is dropped here.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [for st in jsondecode(templatefile("${path.module}/../../../reader-policy.json", {
      partition           = local.partition
      account             = local.account
      forwarder_rule_name = var.forwarder_rule_name
    })).Statement : { for k, v in st : k => v if k != "Comment" }]
  })
}

# Containment (the central module's `containment = true`): the role the bot assumes to quarantine a user of this
# account, allowed exactly deploy/containment-policy.json and trusted only by the bot's role.
resource "aws_iam_role" "contain" {
  count = var.containment ? 1 : 0
  name  = var.containment_role_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = var.bot_role_arn }
      Action    = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    }]
  })
}

resource "aws_iam_role_policy" "contain" {
  count = var.containment ? 1 : 0
  name  = "quarantine-and-deactivate-keys"
  role  = aws_iam_role.contain[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [for st in jsondecode(templatefile("${path.module}/../../../containment-policy.json", {
      partition = local.partition
      account   = local.account
    })).Statement : { for k, v in st : k => v if k != "Comment" }]
  })
}
