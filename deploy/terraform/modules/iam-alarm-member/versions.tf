terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
      # The trail's home region, for the CloudTrail part of the tamper forwarding when it is not us-east-1 (pass
      # the default provider otherwise).
      configuration_aliases = [aws.trail_home]
    }
  }
}
