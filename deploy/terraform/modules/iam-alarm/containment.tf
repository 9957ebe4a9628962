# Containment from Discord (docs/responding.md, "Contain"): a role the bot assumes for each quarantine, deactivation
# or undo — never its own read-only role — allowed exactly the calls the bot makes (deploy/containment-policy.json,
# which a Rust test compares with the code) and trusted only by the bot's role. Member accounts get the same role
# from the member module or the StackSet (`containment`).

locals {
  containment_trusted = coalesce(var.bot_role_arn, try(aws_iam_role.task[0].arn, null), "arn:${local.partition}:iam::${local.account}:root")
  containment_env = var.containment ? merge({
    CONTAIN           = "on"
    CONTAIN_ROLE_ARN  = aws_iam_role.contain[0].arn
    CONTAIN_APPROVALS = tostring(var.containment_approvals)
    }, var.organization_id == null ? {} : {
    CONTAIN_ROLE_NAME = var.containment_role_name
  }) : {}
}

resource "aws_iam_role" "contain" {
  count = var.containment ? 1 : 0
  name  = var.containment_role_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = local.containment_trusted }
      Action    = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    }]
  })
  lifecycle {
    precondition {
      condition     = var.bot_role_arn != null || local.ecs_enabled
      error_message = "containment needs the bot's role: set bot_role_arn, or run the bot on ECS (the task role)."
    }
  }
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
