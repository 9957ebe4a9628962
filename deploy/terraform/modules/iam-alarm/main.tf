# iam-alarm's AWS side (docs/architecture.md): CloudTrail → EventBridge (us-east-1) → SNS → e-mail + SQS (+ DLQ), and the
# bot's least-privilege policy. IAM is global: its events reach EventBridge only in us-east-1, so this module
# must be applied with a us-east-1 provider.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  # The pattern the Rust tests check lives in one file; only the event names come from the variable.
  base_pattern = jsondecode(file("${path.module}/../../../event-pattern.json"))
  # ["all"]: every call the bot knows (deploy/all-user-events.json, which a test compares with the code).
  watched_events = contains(var.watched_events, "all") ? jsondecode(file("${path.module}/../../../all-user-events.json")) : var.watched_events
  event_pattern = merge(local.base_pattern, {
    detail = merge(local.base_pattern.detail, { eventName = local.watched_events })
  })
  create_trail = var.existing_trail_name == null
  trail_name   = coalesce(var.existing_trail_name, var.trail_name)
  kms_key_arn  = coalesce(var.kms_key_arn, try(aws_kms_key.this[0].arn, null))
  # What the bot needs to find and watch this pipeline (the bot_environment output; the ECS task adds its own).
  pipeline_env = merge({
    SQS_QUEUE_URL = aws_sqs_queue.alerts.id
    # Only notifications signed by SNS from this topic are believed (SNS_SIGNATURES defaults to verify).
    TOPIC_ARN        = aws_sns_topic.alarm.arn
    AWS_REGION       = data.aws_region.current.name
    WATCHED_EVENTS   = join(",", local.watched_events)
    TRAIL_NAME       = local.trail_name
    EVENT_RULE_NAME  = var.rule_name
    TAMPER_RULE_NAME = var.tamper_rule_name
    # Twice the heartbeat interval plus five minutes: one late heartbeat is not silence.
    HEARTBEAT_MAX_AGE_S = tostring(var.heartbeat_minutes * 2 * 60 + 300)
    }, local.canary_env, local.containment_env, var.organization_id == null ? {} : {
    READER_ROLE_NAME    = var.reader_role_name
    FORWARDER_RULE_NAME = var.forwarder_rule_name
    ORGANIZATION_LOOKUP = tostring(var.organization_lookup)
    # READER_EXTERNAL_ID is a secret of its own: give it to the bot like the token.
  })
}

# ---------------------------------------------------------------------------------------------------------------
# Encryption: one customer-managed key. EventBridge must be allowed to use it, or publishing to the encrypted
# topic fails silently (the AWS-managed SNS key cannot grant that).

resource "aws_kms_key" "this" {
  count               = var.kms_key_arn == null ? 1 : 0
  description         = "${var.name_prefix}: SNS topic, SQS queues and CloudTrail logs"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # EventBridge publishes to the encrypted topic, SNS delivers to the encrypted queue, CloudWatch alarms publish
        # to the ops topic: only on behalf of this account's own rules, topics and alarms (confused deputy).
        Sid       = "EventBridgeSnsAndCloudWatchUseTheKey"
        Effect    = "Allow"
        Principal = { Service = ["events.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com"] }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account }
          ArnLike = { "aws:SourceArn" = [
            "arn:${local.partition}:events:*:${local.account}:rule/*",
            "arn:${local.partition}:sns:*:${local.account}:*",
            "arn:${local.partition}:cloudwatch:*:${local.account}:alarm:*",
          ] }
        }
      },
      {
        # The ECS option's log group is encrypted with this key.
        Sid       = "CloudWatchLogsEncryptsLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${data.aws_region.current.name}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${data.aws_region.current.name}:${local.account}:log-group:*"
          }
        }
      },
      {
        Sid       = "CloudTrailEncryptsLogs"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          StringLike = {
            "kms:EncryptionContext:aws:cloudtrail:arn" = "arn:${local.partition}:cloudtrail:*:${local.account}:trail/*"
          }
        }
      },
    ]
  })
}

# ---------------------------------------------------------------------------------------------------------------
# CloudTrail: multi-region, management events, into a private, encrypted bucket that only CloudTrail writes to.

resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_18:Access logging of the log bucket needs a second bucket; CloudTrail data is already an audit log.
  #checkov:skip=CKV_AWS_144:Cross-region replication is an organisation-level choice, not this module's.
  #checkov:skip=CKV2_AWS_62:Nothing consumes S3 event notifications for trail logs; alerts come through EventBridge.
  count         = local.create_trail ? 1 : 0
  bucket_prefix = "${var.name_prefix}-trail-"
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "trail" {
  count                   = local.create_trail ? 1 : 0
  bucket                  = aws_s3_bucket.trail[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "trail" {
  count  = local.create_trail ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  count  = local.create_trail ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  count  = local.create_trail ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    id     = "expire-trail-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  count  = local.create_trail ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CloudTrailAclCheck"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:GetBucketAcl"
        Resource  = aws_s3_bucket.trail[0].arn
        Condition = { StringEquals = { "aws:SourceArn" = local.trail_arn } }
      },
      {
        Sid       = "CloudTrailWrite"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.trail[0].arn}/AWSLogs/${local.account}/*"
        Condition = {
          StringEquals = {
            "s3:x-amz-acl"  = "bucket-owner-full-control"
            "aws:SourceArn" = local.trail_arn
          }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.trail[0].arn, "${aws_s3_bucket.trail[0].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

locals {
  trail_arn = "arn:${local.partition}:cloudtrail:${data.aws_region.current.name}:${local.account}:trail/${local.trail_name}"
}

resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV2_AWS_10:CloudWatch Logs delivery is not needed: alerts come through EventBridge, which CloudTrail feeds directly.
  #checkov:skip=CKV_AWS_252:An SNS notification per log file would be noise; the alert topic carries the events that matter.
  count                         = local.create_trail ? 1 : 0
  name                          = var.trail_name
  s3_bucket_name                = aws_s3_bucket.trail[0].id
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  kms_key_id                    = local.kms_key_arn

  event_selector {
    read_write_type           = "All"
    include_management_events = true
  }

  depends_on = [aws_s3_bucket_policy.trail]
}

# ---------------------------------------------------------------------------------------------------------------
# EventBridge rule (default bus) → SNS topic.

resource "aws_cloudwatch_event_rule" "iam_user_change" {
  name          = var.rule_name
  description   = "IAM user changes (CloudTrail) for iam-alarm"
  event_pattern = jsonencode(local.event_pattern)

  lifecycle {
    precondition {
      condition     = data.aws_region.current.name == "us-east-1"
      error_message = "IAM events reach EventBridge only in us-east-1: apply this module with a us-east-1 provider."
    }
  }
}

resource "aws_cloudwatch_event_target" "topic" {
  rule      = aws_cloudwatch_event_rule.iam_user_change.name
  target_id = "sns"
  arn       = aws_sns_topic.alarm.arn
}

# Calls that can switch the alarm off quietly: the bot always alerts on them as critical. The pattern lives in
# deploy/tamper-pattern.json (the Rust tests render and check the same file), narrowed to this pipeline's own
# trail, rules, topics, queues, key and bucket; StopLogging and DeleteTrail of any trail alert.
locals {
  trail_bucket = local.create_trail ? aws_s3_bucket.trail[0].id : coalesce(var.existing_trail_bucket, "unknown")
  tamper_pattern = templatefile("${path.module}/../../../tamper-pattern.json", {
    trail_name       = local.trail_name
    trail_arn        = local.trail_arn
    user_change_rule = var.rule_name
    tamper_rule      = var.tamper_rule_name
    heartbeat_rule   = var.heartbeat_rule_name
    topic_arn        = aws_sns_topic.alarm.arn
    ops_topic_arn    = aws_sns_topic.ops.arn
    queue_path       = "/${local.account}/${var.name_prefix}"
    dlq_path         = "/${local.account}/${var.name_prefix}-dlq"
    key_id           = reverse(split("/", local.kms_key_arn))[0]
    key_arn          = local.kms_key_arn
    bucket           = local.trail_bucket
    canary_rule      = var.canary_name
    canary_schedule  = var.canary_name
    # The pipeline's own roles: a change to their policies or trust can silence a part of it.
    canary_role    = local.canary ? var.canary_name : "${var.name_prefix}-none"
    task_role      = local.ecs_enabled ? "${var.name_prefix}-task" : "${var.name_prefix}-none"
    execution_role = local.ecs_enabled ? "${var.name_prefix}-execution" : "${var.name_prefix}-none"
    forward_role   = local.home_region_differs ? "${var.name_prefix}-forward-trail-region" : "${var.name_prefix}-none"
    # Whoever may assume the containment role may deactivate any user's keys: its trust and policy are watched too.
    contain_role       = var.containment ? var.containment_role_name : "${var.name_prefix}-none"
    central_bus        = local.organization ? "iam-alarm" : "${var.name_prefix}-none"
    bot_down_alarm     = "${var.name_prefix}-bot-down"
    dead_letters_alarm = "${var.name_prefix}-dead-letters"
    ecs_service        = local.ecs_enabled ? var.name_prefix : "${var.name_prefix}-none"
  })
}

resource "aws_cloudwatch_event_rule" "tamper" {
  name          = var.tamper_rule_name
  description   = "Changes to iam-alarm's own pipeline (CloudTrail) for iam-alarm"
  event_pattern = local.tamper_pattern

  lifecycle {
    precondition {
      condition     = local.create_trail || var.existing_trail_bucket != null
      error_message = "With existing_trail_name, set existing_trail_bucket too: changes to its bucket's policy and lifecycle must alert."
    }
  }
}

resource "aws_cloudwatch_event_target" "tamper_topic" {
  rule      = aws_cloudwatch_event_rule.tamper.name
  target_id = "sns"
  arn       = aws_sns_topic.alarm.arn
}

resource "aws_sns_topic" "alarm" {
  name              = var.topic_name
  kms_master_key_id = local.kms_key_arn
}

resource "aws_sns_topic_policy" "alarm" {
  arn = aws_sns_topic.alarm.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "OnlyTheRulesPublish"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alarm.arn
        Condition = {
          ArnEquals    = { "aws:SourceArn" = local.publishing_rules }
          StringEquals = { "aws:SourceAccount" = local.account }
        }
      },
      {
        # An Allow to a service says nothing about anyone else in the account, whose identity policies may grant
        # sns:Publish on "*": only this Deny keeps them from publishing forged alerts or heartbeats.
        Sid       = "NobodyElsePublishes"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alarm.arn
        Condition = { ArnNotEquals = { "aws:SourceArn" = local.publishing_rules } }
      },
    ]
  })
}

locals {
  # Every rule that may publish to the alert topic.
  publishing_rules = concat([
    aws_cloudwatch_event_rule.iam_user_change.arn,
    aws_cloudwatch_event_rule.tamper.arn,
    aws_cloudwatch_event_rule.heartbeat.arn,
  ], aws_cloudwatch_event_rule.canary[*].arn, local.central_rule_arns)
}

# People get real alerts only: heartbeats (detail-type "Scheduled Event") are for the bot. The policy is
# deploy/email-filter-policy.json (a Rust test checks it against moto's SNS filtering).
resource "aws_sns_topic_subscription" "email" {
  for_each            = toset(var.alert_emails)
  topic_arn           = aws_sns_topic.alarm.arn
  protocol            = "email"
  endpoint            = each.value
  filter_policy_scope = "MessageBody"
  filter_policy       = file("${path.module}/../../../email-filter-policy.json")
}

# ---------------------------------------------------------------------------------------------------------------
# SQS queue for the bot, with its dead-letter queue.

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name_prefix}-dlq"
  message_retention_seconds = 1209600 # 14 days: time to notice, fix and `iam-alarm dlq replay`
  kms_master_key_id         = local.kms_key_arn
}

resource "aws_sqs_queue" "alerts" {
  name                       = var.name_prefix
  visibility_timeout_seconds = 60
  message_retention_seconds  = 345600 # 4 days
  receive_wait_time_seconds  = 20
  kms_master_key_id          = local.kms_key_arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.alerts.arn]
  })
}

resource "aws_sqs_queue_policy" "alerts" {
  queue_url = aws_sqs_queue.alerts.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "OnlyTheTopicSends"
        Effect    = "Allow"
        Principal = { Service = "sns.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.alerts.arn
        Condition = {
          ArnEquals    = { "aws:SourceArn" = aws_sns_topic.alarm.arn }
          StringEquals = { "aws:SourceAccount" = local.account }
        }
      },
      {
        # Identity policies can grant sqs:SendMessage without the queue's say: only this Deny stops someone in
        # the account from writing to the queue directly (the bot rejects and announces what they write anyway).
        # The operators who run `iam-alarm dlq replay` are the one exception.
        Sid       = "NobodyButTheTopicSends"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.alerts.arn
        Condition = merge(
          { ArnNotEquals = { "aws:SourceArn" = aws_sns_topic.alarm.arn } },
          length(var.operator_principal_arns) == 0 ? {} : { ArnNotLike = { "aws:PrincipalArn" = var.operator_principal_arns } },
        )
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "queue" {
  topic_arn            = aws_sns_topic.alarm.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.alerts.arn
  raw_message_delivery = false
}

# ---------------------------------------------------------------------------------------------------------------
# Two policies, each exactly the calls it is for (a Rust test compares them with the code), plus the key use that
# SQS encryption implies: the running bot's (deploy/bot-policy.json; attach it to an ECS task role, an EC2 instance
# role or a user), and the operator's for `iam-alarm dlq list` / `dlq replay` (deploy/operator-policy.json).

locals {
  # Both policies' queues are encrypted: reading and sending need the key.
  use_queue_key = {
    Sid      = "UseQueueEncryptionKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = local.kms_key_arn
  }
}

resource "aws_iam_policy" "bot" {
  name        = "${var.name_prefix}-bot"
  description = "iam-alarm bot: consume its queue, dead-letter the malformed; the reads behind its buttons and commands"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      # "Comment" documents the template; IAM has no such element, so it is dropped here.
      [for st in jsondecode(templatefile("${path.module}/../../../bot-policy.json", {
        queue_arn = aws_sqs_queue.alerts.arn
        dlq_arn   = aws_sqs_queue.dlq.arn
        partition = local.partition
        account   = local.account
        trail_arn = local.trail_arn
        rule_arn  = aws_cloudwatch_event_rule.iam_user_change.arn
        topic_arn = aws_sns_topic.alarm.arn
        # The tamper rule is checked by the watchdog.
        tamper_rule_arn = aws_cloudwatch_event_rule.tamper.arn
      })).Statement : { for k, v in st : k => v if k != "Comment" }],
      # Only with the features on: reading member accounts, names from Organizations.
      var.organization_id == null ? [] : [
        for st in jsondecode(templatefile("${path.module}/../../../bot-policy-readers.json", {
          partition        = local.partition
          reader_role_name = var.reader_role_name
          organization_id  = var.organization_id
        })).Statement : { for k, v in st : k => v if k != "Comment" }
      ],
      var.organization_lookup ? [
        for st in jsondecode(file("${path.module}/../../../bot-policy-organization-lookup.json")).Statement :
        { for k, v in st : k => v if k != "Comment" }
      ] : [],
      var.containment ? [
        for st in jsondecode(templatefile("${path.module}/../../../bot-policy-containment.json", {
          partition             = local.partition
          containment_role_name = var.containment_role_name
          scope_key             = var.organization_id == null ? "aws:ResourceAccount" : "aws:ResourceOrgID"
          scope_value           = coalesce(var.organization_id, local.account)
        })).Statement : { for k, v in st : k => v if k != "Comment" }
      ] : [],
      [local.use_queue_key]
    )
  })
}

resource "aws_iam_policy" "operator" {
  name        = "${var.name_prefix}-operator"
  description = "iam-alarm operator: list the dead-letter queue and replay it to the alert queue"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for st in jsondecode(templatefile("${path.module}/../../../operator-policy.json", {
        queue_arn = aws_sqs_queue.alerts.arn
        dlq_arn   = aws_sqs_queue.dlq.arn
      })).Statement : { for k, v in st : k => v if k != "Comment" }],
      [local.use_queue_key]
    )
  })
}
