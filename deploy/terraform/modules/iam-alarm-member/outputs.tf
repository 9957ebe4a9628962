output "reader_role_arn" {
  description = "The role the bot assumes here."
  value       = aws_iam_role.reader.arn
}

output "forwarder_rule_arn" {
  description = "The rule forwarding IAM user changes to the central bus."
  value       = aws_cloudwatch_event_rule.forward.arn
}
