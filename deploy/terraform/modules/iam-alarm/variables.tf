variable "name_prefix" {
  description = "Prefix for the queue, dead-letter queue, policy and (optional) ECS resources."
  type        = string
  default     = "iam-alarm"
}

variable "trail_name" {
  description = "Name of the CloudTrail trail to create (ignored when existing_trail_name is set)."
  type        = string
  default     = "ct-trail-monitor"
}

variable "existing_trail_name" {
  description = "Reuse this existing multi-region trail instead of creating one (it must log management events)."
  type        = string
  default     = null
}

variable "existing_trail_bucket" {
  description = "The existing trail's bucket (with existing_trail_name): changes to its policy and lifecycle alert."
  type        = string
  default     = null
}

variable "existing_trail_home_region" {
  description = "The existing trail's home region. When not us-east-1, the tamper rule is put there too (pass an aws.trail_home provider for it)."
  type        = string
  default     = "us-east-1"
}

variable "rule_name" {
  description = "Name of the EventBridge rule (default bus, us-east-1)."
  type        = string
  default     = "eventbridge-iam-user-change"
}

variable "tamper_rule_name" {
  description = "Name of the EventBridge rule for changes to the pipeline itself (default bus, us-east-1)."
  type        = string
  default     = "eventbridge-iam-alarm-tamper"
}

variable "heartbeat_rule_name" {
  description = "Name of the scheduled heartbeat rule. The bot recognises heartbeats by this name: keep the default."
  type        = string
  default     = "iam-alarm-heartbeat"
}

variable "canary_minutes" {
  description = "Minutes between canary calls (TagUser through CloudTrail); 0: no canary. The bot calls CloudTrail silent after twice this plus 15 min."
  type        = number
  default     = 15
  validation {
    condition     = var.canary_minutes == 0 || (var.canary_minutes >= 2 && var.canary_minutes == floor(var.canary_minutes))
    error_message = "canary_minutes must be 0 (no canary) or a whole number of at least 2."
  }
}

variable "canary_name" {
  description = "Name of the canary's schedule, rule, user and role. The bot recognises the canary by the user and role: bot_environment passes them."
  type        = string
  default     = "iam-alarm-canary"
}

variable "protect_with_scp" {
  description = "Attach deploy/scp/protect-iam-alarm.json as a service control policy to scp_target_ids (apply from the management account)."
  type        = bool
  default     = false
}

variable "break_glass_role_arn" {
  description = "The one role the SCP lets change the pipeline (wildcards allowed, as in aws:PrincipalArn). Required with protect_with_scp."
  type        = string
  default     = null
}

variable "scp_target_ids" {
  description = "The OUs (ou-…), accounts or root (r-…) the SCP is attached to."
  type        = list(string)
  default     = []
}

variable "operator_principal_arns" {
  description = "Principals (roles, users) that may send to the alert queue besides SNS: whoever runs `iam-alarm dlq replay`. Everyone else is denied."
  type        = list(string)
  default     = []
}

variable "heartbeat_minutes" {
  description = "Minutes between heartbeats through EventBridge → SNS → SQS; the bot calls the pipeline silent after twice this plus 5 min."
  type        = number
  default     = 15
  validation {
    condition     = var.heartbeat_minutes >= 2 && var.heartbeat_minutes == floor(var.heartbeat_minutes)
    error_message = "heartbeat_minutes: a whole number, at least 2 (rate() takes minutes, plural)."
  }
}

variable "bot_down_minutes" {
  description = "E-mail (ops topic) when the queue's oldest message is older than this: nobody consumes it."
  type        = number
  default     = 10
}

variable "ops_topic_name" {
  description = "Name of the SNS topic for the bot-down and dead-letter alarms (e-mailed to alert_emails)."
  type        = string
  default     = "sns-iam-alarm-ops"
}

variable "topic_name" {
  description = "Name of the SNS topic."
  type        = string
  default     = "sns-iam-user-alarm"
}

variable "watched_events" {
  description = "IAM user-lifecycle events that alert, or [\"all\"]; bot_environment passes the same to the bot's WATCHED_EVENTS."
  type        = list(string)
  default     = ["CreateUser", "DeleteUser"]
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the topic (each must confirm); e-mail keeps working when the bot is down."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the topic, queues and trail logs. Null: the module creates one. (The AWS-managed SNS key would silently block EventBridge.)"
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days CloudTrail log files are kept in the bucket."
  type        = number
  default     = 365
}

variable "ecs" {
  description = "Run the bot on ECS Fargate. Null: don't (use the policy with your own runtime)."
  type = object({
    cluster_arn        = string
    subnet_ids         = list(string)
    security_group_ids = list(string)
    image              = string
    # Secrets Manager or SSM Parameter Store ARN holding the bot token.
    discord_token_secret_arn = string
    alert_channel_id         = string
    # The one server the bot serves (required: interactions from anywhere else are refused).
    discord_guild_id  = string
    responder_role_id = optional(string)
    alert_timezone    = optional(string)
    assign_public_ip  = optional(bool, false)
  })
  default = null
}

# ---------------------------------------------------------------------------------------------------------------
# Every account of an Organization (README, "Organization").

variable "organization_id" {
  description = "The Organization (o-…) whose accounts may forward to the central `iam-alarm` bus. Null: this account only."
  type        = string
  default     = null
}

variable "organization_deploy" {
  description = "Deploy the member side (deploy/cloudformation/member.yaml) to every account of organization_unit_ids, new ones included, as a service-managed StackSet."
  type        = bool
  default     = false
}

variable "organization_unit_ids" {
  description = "Organizational units (or the root, r-…) the StackSet deploys to."
  type        = list(string)
  default     = []
}

variable "organization_trail_home_region" {
  description = "Home region of the organization trail: the StackSet forwards CloudTrail's own calls from there too."
  type        = string
  default     = "us-east-1"
}

variable "organization_call_as" {
  description = "SELF from the management account, DELEGATED_ADMIN from a delegated StackSets administrator."
  type        = string
  default     = "SELF"
}

variable "organization_lookup" {
  description = "Let the bot name accounts from Organizations ListAccounts (management account or delegated administrator): adds organizations:ListAccounts to its policy."
  type        = bool
  default     = false
}

variable "bot_role_arn" {
  description = "The role the bot runs as: the only principal the member accounts' reader role trusts."
  type        = string
  default     = null
}

variable "reader_role_name" {
  description = "The read-only role the bot assumes in member accounts (READER_ROLE_NAME)."
  type        = string
  default     = "iam-alarm-reader"
}

variable "reader_external_id" {
  description = "The external id the reader roles demand (READER_EXTERNAL_ID): a random string, kept like a secret."
  type        = string
  default     = null
  sensitive   = true
}

variable "forwarder_rule_name" {
  description = "Name of the member accounts' forwarding rule (FORWARDER_RULE_NAME)."
  type        = string
  default     = "iam-alarm-forward"
}

variable "containment" {
  description = "Let responders quarantine IAM users and deactivate keys from Discord (CONTAIN=on): creates the containment role, allowed exactly those calls and trusted only by the bot's role (bot_role_arn, or the ECS task role)."
  type        = bool
  default     = false
}

variable "containment_role_name" {
  description = "Name of the containment role, here and in member accounts (CONTAIN_ROLE_NAME). The SCP's quarantine statement trusts iam-alarm-contain for Undo."
  type        = string
  default     = "iam-alarm-contain"
}

variable "containment_approvals" {
  description = "Responders a containment needs: 1 (the one who confirms) or 2 (a different responder approves) (CONTAIN_APPROVALS)."
  type        = number
  default     = 1
  validation {
    condition     = contains([1, 2], var.containment_approvals)
    error_message = "containment_approvals is 1 or 2."
  }
}
