output "queue_url" {
  description = "SQS_QUEUE_URL for the bot."
  value       = aws_sqs_queue.alerts.id
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue (see `iam-alarm dlq list`)."
  value       = aws_sqs_queue.dlq.id
}

output "topic_arn" {
  description = "The alert topic; add more subscriptions here."
  value       = aws_sns_topic.alarm.arn
}

output "policy_arn" {
  description = "The bot's least-privilege policy: attach it to the role or user the bot runs as."
  value       = aws_iam_policy.bot.arn
}

output "operator_policy_arn" {
  description = "The operator's policy for `iam-alarm dlq list` / `dlq replay`: attach it to whoever runs them."
  value       = aws_iam_policy.operator.arn
}

output "trail_name" {
  description = "The trail feeding the rule."
  value       = local.trail_name
}

output "ops_topic_arn" {
  description = "The bot-down and dead-letter alarms' topic (e-mailed to alert_emails)."
  value       = aws_sns_topic.ops.arn
}

output "bot_environment" {
  description = "Environment for the bot (add DISCORD_TOKEN, ALERT_CHANNEL_ID and DISCORD_GUILD_ID)."
  value       = local.pipeline_env
}

output "central_bus_arn" {
  description = "The `iam-alarm` event bus the member accounts forward to (null without organization_id)."
  value       = try(aws_cloudwatch_event_bus.org[0].arn, null)
}
