# Example root: the whole pipeline in us-east-1, the bot policy, and (uncomment) the bot on ECS Fargate.
#
#   terraform init && terraform apply -var 'alert_emails=["security@example.com"]'

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

# IAM events reach EventBridge only in us-east-1.
provider "aws" {
  region = "us-east-1"
}

variable "alert_emails" {
  description = "Who gets the e-mail copy of every alert."
  type        = list(string)
  default     = []
}

module "iam_alarm" {
  source = "../modules/iam-alarm"
  # The trail's home region (for the tamper rule when an existing trail lives elsewhere): here the same.
  providers = {
    aws            = aws
    aws.trail_home = aws
  }
  alert_emails   = var.alert_emails
  watched_events = ["CreateUser", "DeleteUser"]

  # ecs = {
  #   cluster_arn              = "arn:aws:ecs:us-east-1:123456789012:cluster/default"
  #   subnet_ids               = ["subnet-0123456789abcdef0"]
  #   security_group_ids       = ["sg-0123456789abcdef0"]
  #   image                    = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iam-alarm:0.1.0"
  #   discord_token_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-alarm/discord-token"
  #   alert_channel_id         = "123456789012345678"
  #   discord_guild_id         = "123456789012345678"
  # }
}

output "queue_url" {
  value = module.iam_alarm.queue_url
}

output "topic_arn" {
  value = module.iam_alarm.topic_arn
}

output "policy_arn" {
  value = module.iam_alarm.policy_arn
}

output "ops_topic_arn" {
  value = module.iam_alarm.ops_topic_arn
}

output "bot_environment" {
  value = module.iam_alarm.bot_environment
}
