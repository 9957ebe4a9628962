# Prevent, not only detect (docs/deploy.md, "Protecting the pipeline"): with protect_with_scp, a service control
# policy denies the calls that switch the alarm off — on this pipeline's trail, rules, central bus, topics, queues,
# key, bucket, roles, canary schedule, alarms and ECS service, and leaving the Organization — to everyone but the
# break-glass role. Apply it from the Organization's management account (SCPs are managed there and never limit
# it), to the OUs in scp_target_ids. Tamper alerts still fire for what the SCP cannot stop.

resource "aws_organizations_policy" "protect" {
  count       = var.protect_with_scp ? 1 : 0
  name        = "protect-iam-alarm"
  description = "iam-alarm: nobody but the break-glass role switches the alarm off"
  type        = "SERVICE_CONTROL_POLICY"
  # Minified: an SCP may hold 5,120 characters.
  content = jsonencode(jsondecode(templatefile("${path.module}/../../../scp/protect-iam-alarm.json", {
    partition            = local.partition
    break_glass_role_arn = coalesce(var.break_glass_role_arn, "unset")
    trail_arn            = local.trail_arn
    topic_arn            = aws_sns_topic.alarm.arn
    ops_topic_arn        = aws_sns_topic.ops.arn
    queue_arn            = aws_sqs_queue.alerts.arn
    dlq_arn              = aws_sqs_queue.dlq.arn
    key_arn              = local.kms_key_arn
    bucket               = local.trail_bucket
  })))

  lifecycle {
    precondition {
      condition     = var.break_glass_role_arn != null
      error_message = "protect_with_scp needs break_glass_role_arn: the one role that may still change the pipeline."
    }
  }
}

resource "aws_organizations_policy_attachment" "protect" {
  for_each  = var.protect_with_scp ? toset(var.scp_target_ids) : toset([])
  policy_id = aws_organizations_policy.protect[0].id
  target_id = each.value
}
