variable "central_bus_arn" {
  description = "The central account's `iam-alarm` event bus (the central module's output central_bus_arn)."
  type        = string
}

variable "bot_role_arn" {
  description = "The role the bot runs as in the central account: the only principal that may assume the reader role."
  type        = string
}

variable "reader_external_id" {
  description = "The external id the bot presents (its READER_EXTERNAL_ID)."
  type        = string
  sensitive   = true
}

variable "reader_role_name" {
  description = "Name of the read-only role the bot assumes here (its READER_ROLE_NAME)."
  type        = string
  default     = "iam-alarm-reader"
}

variable "forwarder_rule_name" {
  description = "Name of the rule forwarding IAM user changes to the central bus (the bot's FORWARDER_RULE_NAME)."
  type        = string
  default     = "iam-alarm-forward"
}

variable "trail_home_region" {
  description = "Home region of the trail that records this account (an organization trail's, usually). When not us-east-1, its CloudTrail calls are forwarded from there too (pass an aws.trail_home provider)."
  type        = string
  default     = "us-east-1"
}

variable "containment" {
  description = "Create the containment role here too (the central module's containment = true): quarantine and key deactivation from Discord, trusted only by the bot's role."
  type        = bool
  default     = false
}

variable "containment_role_name" {
  description = "Name of the containment role (CONTAIN_ROLE_NAME)."
  type        = string
  default     = "iam-alarm-contain"
}
