# What keeps the alarm from going dark quietly (docs/architecture.md, "Watching the watcher"):
# - a heartbeat: a scheduled event through the same EventBridge → SNS → SQS path, which the bot expects and
#   announces the absence of (HEARTBEAT_MAX_AGE_S);
# - the bot-down alarms: the bot cannot report its own death, so CloudWatch e-mails through a separate topic when
#   the queue's oldest message grows old (heartbeats keep it young while someone consumes) or the DLQ fills;
# - the tamper rule in the trail's home region, when that is not us-east-1 (CloudTrail's own calls are
#   recorded where they are made).

resource "aws_cloudwatch_event_rule" "heartbeat" {
  name                = var.heartbeat_rule_name
  description         = "iam-alarm heartbeat: proves EventBridge → SNS → SQS → bot still carries events"
  schedule_expression = "rate(${var.heartbeat_minutes} minutes)"
}

resource "aws_cloudwatch_event_target" "heartbeat_topic" {
  rule      = aws_cloudwatch_event_rule.heartbeat.name
  target_id = "sns"
  arn       = aws_sns_topic.alarm.arn
}

resource "aws_sns_topic" "ops" {
  name              = var.ops_topic_name
  kms_master_key_id = local.kms_key_arn
}

resource "aws_sns_topic_policy" "ops" {
  arn = aws_sns_topic.ops.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OnlyTheAlarmsPublish"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.ops.arn
      Condition = {
        ArnEquals    = { "aws:SourceArn" = [aws_cloudwatch_metric_alarm.bot_down.arn, aws_cloudwatch_metric_alarm.dead_letters.arn] }
        StringEquals = { "aws:SourceAccount" = local.account }
      }
    }]
  })
}

resource "aws_sns_topic_subscription" "ops_email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.ops.arn
  protocol  = "email"
  endpoint  = each.value
}

# Nobody consumes: the oldest message is older than bot_down_minutes. A queue that stops reporting (deleted, or no
# heartbeat reaches it) counts as breaching.
resource "aws_cloudwatch_metric_alarm" "bot_down" {
  alarm_name          = "${var.name_prefix}-bot-down"
  alarm_description   = "iam-alarm: nobody has consumed the alert queue for ${var.bot_down_minutes} min — the bot is down or cannot reach SQS. Alerts still arrive by e-mail; see the README's troubleshooting."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.alerts.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.bot_down_minutes * 60
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
  ok_actions          = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name_prefix}-dead-letters"
  alarm_description   = "iam-alarm: alerts wait in the dead-letter queue. See why with `iam-alarm dlq list`, then `iam-alarm dlq replay`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  # An empty dead-letter queue stops reporting after a few hours of inactivity: that is the good case.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_sns_topic.ops.arn]
  ok_actions         = [aws_sns_topic.ops.arn]
}

# ---------------------------------------------------------------------------------------------------------------
# The trail's home region, when it is not us-east-1: the same tamper pattern there, forwarded to us-east-1's
# default bus, where the tamper rule sends it on (cross-region targets must be event buses).

locals {
  home_region_differs = var.existing_trail_home_region != "us-east-1"
}

resource "aws_iam_role" "forward_home" {
  count = local.home_region_differs ? 1 : 0
  name  = "${var.name_prefix}-forward-trail-region"
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

resource "aws_iam_role_policy" "forward_home" {
  count = local.home_region_differs ? 1 : 0
  name  = "put-events-us-east-1"
  role  = aws_iam_role.forward_home[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:PutEvents"
      Resource = "arn:${local.partition}:events:us-east-1:${local.account}:event-bus/default"
    }]
  })
}

resource "aws_cloudwatch_event_rule" "tamper_home" {
  count         = local.home_region_differs ? 1 : 0
  provider      = aws.trail_home
  name          = var.tamper_rule_name
  description   = "Changes to iam-alarm's trail in its home region, forwarded to us-east-1"
  event_pattern = local.tamper_pattern
}

resource "aws_cloudwatch_event_target" "tamper_home" {
  count     = local.home_region_differs ? 1 : 0
  provider  = aws.trail_home
  rule      = aws_cloudwatch_event_rule.tamper_home[0].name
  target_id = "us-east-1"
  arn       = "arn:${local.partition}:events:us-east-1:${local.account}:event-bus/default"
  role_arn  = aws_iam_role.forward_home[0].arn
}
