# Every account of an Organization (README, "Organization"): with organization_id, a custom event bus `iam-alarm`
# that any principal of the Organization may put events on, and the user-change and tamper rules on it, to the
# same topic. Each member forwards to it (deploy/terraform/modules/iam-alarm-member, or the StackSet below).

locals {
  organization = var.organization_id != null
  # What members forward about their own side: their trail and their forwarding rules.
  member_tamper_pattern = templatefile("${path.module}/../../../member-tamper-pattern.json", {
    ForwarderRuleName       = var.forwarder_rule_name
    ForwarderTamperRuleName = "${var.forwarder_rule_name}-tamper"
  })
  central_rule_arns = local.organization ? [
    aws_cloudwatch_event_rule.org_user_change[0].arn,
    aws_cloudwatch_event_rule.org_tamper[0].arn,
  ] : []
}

resource "aws_cloudwatch_event_bus" "org" {
  count = local.organization ? 1 : 0
  name  = "iam-alarm"
}

resource "aws_cloudwatch_event_bus_policy" "org" {
  count          = local.organization ? 1 : 0
  event_bus_name = aws_cloudwatch_event_bus.org[0].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "MembersOfTheOrganizationForward"
      Effect    = "Allow"
      Principal = "*"
      Action    = "events:PutEvents"
      Resource  = aws_cloudwatch_event_bus.org[0].arn
      Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })
}

resource "aws_cloudwatch_event_rule" "org_user_change" {
  count          = local.organization ? 1 : 0
  name           = var.rule_name
  event_bus_name = aws_cloudwatch_event_bus.org[0].name
  description    = "IAM user changes forwarded by the Organization's accounts"
  event_pattern  = jsonencode(local.event_pattern)
}

resource "aws_cloudwatch_event_target" "org_user_change" {
  count          = local.organization ? 1 : 0
  rule           = aws_cloudwatch_event_rule.org_user_change[0].name
  event_bus_name = aws_cloudwatch_event_bus.org[0].name
  target_id      = "sns"
  arn            = aws_sns_topic.alarm.arn
}

resource "aws_cloudwatch_event_rule" "org_tamper" {
  count          = local.organization ? 1 : 0
  name           = var.tamper_rule_name
  event_bus_name = aws_cloudwatch_event_bus.org[0].name
  description    = "Changes to a member account's trail or forwarding rules"
  event_pattern  = local.member_tamper_pattern
}

resource "aws_cloudwatch_event_target" "org_tamper" {
  count          = local.organization ? 1 : 0
  rule           = aws_cloudwatch_event_rule.org_tamper[0].name
  event_bus_name = aws_cloudwatch_event_bus.org[0].name
  target_id      = "sns"
  arn            = aws_sns_topic.alarm.arn
}

# The member side in every account of the chosen organizational units, new accounts included: the same
# resources as the member module, from deploy/cloudformation/member.yaml. (A StackSet never deploys to the
# management account itself: that one is the central account.)
resource "aws_cloudformation_stack_set" "members" {
  count            = var.organization_deploy ? 1 : 0
  name             = "${var.name_prefix}-member"
  description      = "iam-alarm member side: forward IAM user changes to the central bus; the bot's read-only role"
  permission_model = "SERVICE_MANAGED"
  call_as          = var.organization_call_as
  capabilities     = ["CAPABILITY_NAMED_IAM"]
  template_body    = file("${path.module}/../../../cloudformation/member.yaml")
  parameters = {
    CentralBusArn     = aws_cloudwatch_event_bus.org[0].arn
    BotRoleArn        = var.bot_role_arn
    ReaderExternalId  = var.reader_external_id
    ReaderRoleName    = var.reader_role_name
    ForwarderRuleName = var.forwarder_rule_name
    Containment       = tostring(var.containment)
    ContainRoleName   = var.containment_role_name
  }
  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = false
  }
  lifecycle {
    precondition {
      condition     = local.organization && var.bot_role_arn != null && var.reader_external_id != null && length(var.organization_unit_ids) > 0
      error_message = "organization_deploy needs organization_id, bot_role_arn, reader_external_id and organization_unit_ids."
    }
    ignore_changes = [administration_role_arn]
  }
}

resource "aws_cloudformation_stack_set_instance" "members" {
  count          = var.organization_deploy ? 1 : 0
  stack_set_name = aws_cloudformation_stack_set.members[0].name
  call_as        = var.organization_call_as
  region         = "us-east-1"
  deployment_targets {
    organizational_unit_ids = var.organization_unit_ids
  }
}

# The organization trail's home region, when it is another one: only the forwarding of CloudTrail's own calls,
# after us-east-1 has made the role it uses.
resource "aws_cloudformation_stack_set_instance" "members_trail_home" {
  count          = var.organization_deploy && var.organization_trail_home_region != "us-east-1" ? 1 : 0
  stack_set_name = aws_cloudformation_stack_set.members[0].name
  call_as        = var.organization_call_as
  region         = var.organization_trail_home_region
  deployment_targets {
    organizational_unit_ids = var.organization_unit_ids
  }
  depends_on = [aws_cloudformation_stack_set_instance.members]
}
