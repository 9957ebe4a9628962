# Optional: run the bot on ECS Fargate (var.ecs). One task, no load balancer: the bot only makes outbound calls.

locals {
  ecs_enabled = var.ecs != null
  bot_env = merge(
    local.pipeline_env,
    {
      ALERT_CHANNEL_ID = try(var.ecs.alert_channel_id, "")
      DISCORD_GUILD_ID = try(var.ecs.discord_guild_id, "")
      HEALTH_ADDR      = "127.0.0.1:8080"
      LOG_FORMAT       = "json"
    },
    try(var.ecs.responder_role_id, null) == null ? {} : { RESPONDER_ROLE_ID = var.ecs.responder_role_id },
    try(var.ecs.alert_timezone, null) == null ? {} : { ALERT_TIMEZONE = var.ecs.alert_timezone },
  )
}

resource "aws_cloudwatch_log_group" "bot" {
  count             = local.ecs_enabled ? 1 : 0
  name              = "/ecs/${var.name_prefix}"
  retention_in_days = 365
  kms_key_id        = local.kms_key_arn
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

# The task role: what the bot itself may do (exactly the bot policy).
resource "aws_iam_role" "task" {
  count              = local.ecs_enabled ? 1 : 0
  name               = "${var.name_prefix}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy_attachment" "task_bot" {
  count      = local.ecs_enabled ? 1 : 0
  role       = aws_iam_role.task[0].name
  policy_arn = aws_iam_policy.bot.arn
}

# The execution role: what ECS may do to start the task (pull the image, write logs, read the token secret).
resource "aws_iam_role" "execution" {
  count              = local.ecs_enabled ? 1 : 0
  name               = "${var.name_prefix}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy_attachment" "execution_managed" {
  count      = local.ecs_enabled ? 1 : 0
  role       = aws_iam_role.execution[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secret" {
  count = local.ecs_enabled ? 1 : 0
  name  = "read-discord-token"
  role  = aws_iam_role.execution[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue", "ssm:GetParameters"]
      Resource = var.ecs.discord_token_secret_arn
    }]
  })
}

resource "aws_ecs_task_definition" "bot" {
  count                    = local.ecs_enabled ? 1 : 0
  family                   = var.name_prefix
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  task_role_arn            = aws_iam_role.task[0].arn
  execution_role_arn       = aws_iam_role.execution[0].arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name                   = "iam-alarm"
    image                  = var.ecs.image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "65532:65532"
    command                = ["run"]
    environment            = [for k, v in local.bot_env : { name = k, value = v }]
    secrets                = [{ name = "DISCORD_TOKEN", valueFrom = var.ecs.discord_token_secret_arn }]
    stopTimeout            = 15
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/iam-alarm", "healthcheck"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.bot[0].name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "bot"
      }
    }
  }])
}

resource "aws_ecs_service" "bot" {
  count           = local.ecs_enabled ? 1 : 0
  name            = var.name_prefix
  cluster         = var.ecs.cluster_arn
  task_definition = aws_ecs_task_definition.bot[0].arn
  desired_count   = 1
  launch_type     = "FARGATE"
  # One consumer at a time: stop the old task before starting the new one (SQS keeps the messages).
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  network_configuration {
    subnets          = var.ecs.subnet_ids
    security_groups  = var.ecs.security_group_ids
    assign_public_ip = var.ecs.assign_public_ip
  }
}
