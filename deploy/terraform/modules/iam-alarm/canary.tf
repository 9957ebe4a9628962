# The canary (docs/operations.md, "Watching the watcher"): every canary_minutes an EventBridge Scheduler schedule
# makes one harmless IAM call — TagUser on a user that can do nothing — through a role allowed exactly that call.
# CloudTrail records it, the rule iam-alarm-canary forwards it to the topic, and the bot takes its arrival as proof
# that the whole path still works, CloudTrail → EventBridge included: the hop the heartbeat skips and an attacker
# turns off (trail stopped, selectors narrowed, organization trail removed). The bot deletes canaries without
# posting them, measures their detection latency, and says which hop broke when they stop (CANARY_MAX_AGE_S).

locals {
  canary = var.canary_minutes > 0
  canary_env = local.canary ? {
    CANARY_USER_NAME = var.canary_name
    CANARY_ROLE_NAME = var.canary_name
    # Twice the interval plus 15 minutes: CloudTrail → EventBridge is best effort and can take minutes.
    CANARY_MAX_AGE_S = tostring(var.canary_minutes * 2 * 60 + 900)
  } : {}
}

resource "aws_iam_user" "canary" {
  #checkov:skip=CKV_AWS_273:The canary is deliberately an IAM user: it has no policies, keys or password and exists only to be tagged.
  count = local.canary ? 1 : 0
  name  = var.canary_name
  tags  = { purpose = "iam-alarm canary: tagged on a schedule to prove CloudTrail still reaches the bot" }
}

resource "aws_iam_role" "canary" {
  count = local.canary ? 1 : 0
  name  = var.canary_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    }]
  })
}

resource "aws_iam_role_policy" "canary" {
  count = local.canary ? 1 : 0
  name  = "tag-the-canary-user"
  role  = aws_iam_role.canary[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "TagTheCanaryUserOnly"
      Effect   = "Allow"
      Action   = "iam:TagUser"
      Resource = aws_iam_user.canary[0].arn
    }]
  })
}

resource "aws_scheduler_schedule" "canary" {
  #checkov:skip=CKV_AWS_297:The schedule's input is one fixed, non-secret tag; AWS-owned encryption is enough.
  count               = local.canary ? 1 : 0
  name                = var.canary_name
  description         = "iam-alarm canary: proves CloudTrail → EventBridge → SNS → SQS → bot"
  schedule_expression = "rate(${var.canary_minutes} minutes)"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:aws:scheduler:::aws-sdk:iam:tagUser"
    role_arn = aws_iam_role.canary[0].arn
    input = jsonencode({
      UserName = aws_iam_user.canary[0].name
      Tags     = [{ Key = "iam-alarm-canary", Value = "<aws.scheduler.scheduled-time>" }]
    })
  }
}

resource "aws_cloudwatch_event_rule" "canary" {
  count       = local.canary ? 1 : 0
  name        = var.canary_name
  description = "iam-alarm canary: the schedule's TagUser, recorded by CloudTrail, to the bot"
  event_pattern = templatefile("${path.module}/../../../canary-pattern.json", {
    canary_user = var.canary_name
    canary_role = var.canary_name
  })
}

resource "aws_cloudwatch_event_target" "canary_topic" {
  count     = local.canary ? 1 : 0
  rule      = aws_cloudwatch_event_rule.canary[0].name
  target_id = "sns"
  arn       = aws_sns_topic.alarm.arn
}
