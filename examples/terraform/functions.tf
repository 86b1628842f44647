# The functions' code: `bun examples/terraform/build.ts` bundles examples/aws-cdk/functions with
# esbuild into var.bundle_dir, and Terraform zips it.
data "archive_file" "function" {
  for_each    = toset(["api", "consumer", "saga-timer"])
  type        = "zip"
  source_dir  = "${var.bundle_dir}/${each.key}"
  output_path = "${path.module}/.build/${each.key}.zip"
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = toset(["api", "consumer", "saga-timer"])
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = 30
}

# The API function: the DynamoDB actions the event store sends (adapters/dynamodb/iam.ts, checked by
# terraform.test.ts) on its table, PutEvents on the bus, SendMessage on the publish dead-letter
# queue, its own logs, and the table's key when it has a customer-managed one. Nothing else.
resource "aws_iam_role" "api" {
  name               = "${var.name}-api"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function["api"].arn}:*"]
  }

  statement {
    sid = "EventStore"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.events.arn]
  }

  statement {
    sid       = "Publish"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.bus.arn]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.publish_dead_letters.arn]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "eventflows"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

# What DynamoDB needs of a customer-managed key on the caller's behalf, only through DynamoDB.
data "aws_iam_policy_document" "api_table_key" {
  count = var.customer_managed_key ? 1 : 0

  statement {
    sid = "TableKey"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = [aws_kms_key.table[0].arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "api_table_key" {
  count  = var.customer_managed_key ? 1 : 0
  name   = "eventflows-table-key"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api_table_key[0].json
}

resource "aws_lambda_function" "api" {
  function_name    = "${var.name}-api"
  role             = aws_iam_role.api.arn
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "index.handler"
  filename         = data.archive_file.function["api"].output_path
  source_code_hash = data.archive_file.function["api"].output_base64sha256
  memory_size      = 512
  timeout          = 10

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function["api"].name
  }

  environment {
    variables = {
      EVENTFLOWS_TABLE           = aws_dynamodb_table.events.name
      EVENTFLOWS_EVENT_BUS       = aws_cloudwatch_event_bus.bus.name
      EVENTFLOWS_EVENT_SOURCE    = var.event_source
      EVENTFLOWS_PUBLISH_DLQ_URL = aws_sqs_queue.publish_dead_letters.url
    }
  }

  depends_on = [aws_iam_role_policy.api, aws_iam_role_policy.api_table_key]
}

# The consumer function: reads its queue, starts the follow-up saga (DynamoDbSagaStore, in the event
# store's table: the saga store's actions from adapters/dynamodb/iam.ts), and writes its logs.
resource "aws_iam_role" "consumer" {
  name               = "${var.name}-consumer"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "consumer" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function["consumer"].arn}:*"]
  }

  statement {
    sid = "ReadQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.events.arn]
  }

  statement {
    sid = "SagaStore"
    actions = [
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.events.arn]
  }
}

resource "aws_iam_role_policy" "consumer" {
  name   = "eventflows"
  role   = aws_iam_role.consumer.id
  policy = data.aws_iam_policy_document.consumer.json
}

resource "aws_lambda_function" "consumer" {
  function_name    = "${var.name}-consumer"
  role             = aws_iam_role.consumer.arn
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "index.handler"
  filename         = data.archive_file.function["consumer"].output_path
  source_code_hash = data.archive_file.function["consumer"].output_base64sha256
  memory_size      = 256
  timeout          = 30

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function["consumer"].name
  }

  environment {
    variables = {
      EVENTFLOWS_EVENT_SOURCE = var.event_source
      EVENTFLOWS_TABLE        = aws_dynamodb_table.events.name
    }
  }

  depends_on = [aws_iam_role_policy.consumer, aws_iam_role_policy.saga_table_key]
}

# Only failed messages return to the queue: the handler answers with batchItemFailures.
resource "aws_lambda_event_source_mapping" "consumer" {
  event_source_arn                   = aws_sqs_queue.events.arn
  function_name                      = aws_lambda_function.consumer.arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
}

# The table's key for the saga store's two functions, on the same terms as the API's.
resource "aws_iam_role_policy" "saga_table_key" {
  for_each = {
    for name, role in { consumer = aws_iam_role.consumer.id, saga_timer = aws_iam_role.saga_timer.id } :
    name => role if var.customer_managed_key
  }
  name   = "eventflows-table-key"
  role   = each.value
  policy = data.aws_iam_policy_document.api_table_key[0].json
}

# The saga-timer function: EventBridge Scheduler invokes it every minute, and it fires the follow-up
# saga's due timeouts (leases make overlapping invocations safe). The saga store's actions on the
# table, and its own logs.
resource "aws_iam_role" "saga_timer" {
  name               = "${var.name}-saga-timer"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "saga_timer" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function["saga-timer"].arn}:*"]
  }

  statement {
    sid = "SagaStore"
    actions = [
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.events.arn]
  }
}

resource "aws_iam_role_policy" "saga_timer" {
  name   = "eventflows"
  role   = aws_iam_role.saga_timer.id
  policy = data.aws_iam_policy_document.saga_timer.json
}

resource "aws_lambda_function" "saga_timer" {
  function_name    = "${var.name}-saga-timer"
  role             = aws_iam_role.saga_timer.arn
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "index.handler"
  filename         = data.archive_file.function["saga-timer"].output_path
  source_code_hash = data.archive_file.function["saga-timer"].output_base64sha256
  memory_size      = 256
  timeout          = 50

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function["saga-timer"].name
  }

  environment {
    variables = {
      EVENTFLOWS_TABLE = aws_dynamodb_table.events.name
    }
  }

  depends_on = [aws_iam_role_policy.saga_timer, aws_iam_role_policy.saga_table_key]
}

# The schedule's role may invoke the saga-timer function and nothing else.
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "saga_timer_scheduler" {
  name               = "${var.name}-saga-timer-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "saga_timer_scheduler" {
  statement {
    sid       = "InvokeSagaTimer"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.saga_timer.arn]
  }
}

resource "aws_iam_role_policy" "saga_timer_scheduler" {
  name   = "eventflows"
  role   = aws_iam_role.saga_timer_scheduler.id
  policy = data.aws_iam_policy_document.saga_timer_scheduler.json
}

resource "aws_scheduler_schedule" "saga_timer" {
  name                = "${var.name}-saga-timer"
  schedule_expression = "rate(1 minute)"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.saga_timer.arn
    role_arn = aws_iam_role.saga_timer_scheduler.arn

    # A missed minute is covered by the next one: retry briefly, never pile invocations up.
    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 60
    }
  }
}
