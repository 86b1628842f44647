resource "aws_cloudwatch_event_bus" "bus" {
  name = "${var.name}-events"
}

# Events that never reached the events queue: PutEvents entries the publisher gave up on, and
# events the rule could not deliver. Both carry the envelope, so the consumer can re-drive them.
resource "aws_sqs_queue" "publish_dead_letters" {
  name                      = "${var.name}-publish-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

# Messages the consumer failed five times.
resource "aws_sqs_queue" "consumer_dead_letters" {
  name                      = "${var.name}-consumer-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "events" {
  name = "${var.name}-events"
  # Six times the consumer's timeout, as AWS advises for Lambda event sources.
  visibility_timeout_seconds = 180
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.consumer_dead_letters.arn
    maxReceiveCount     = 5
  })
}

resource "aws_cloudwatch_event_rule" "to_queue" {
  name           = "${var.name}-to-queue"
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  event_pattern = jsonencode({
    source = [var.event_source]
  })
}

resource "aws_cloudwatch_event_target" "queue" {
  rule           = aws_cloudwatch_event_rule.to_queue.name
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  target_id      = "events-queue"
  arn            = aws_sqs_queue.events.arn

  dead_letter_config {
    arn = aws_sqs_queue.publish_dead_letters.arn
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}

# Only the rule may send to the events queue, and to the dead-letter queue on its behalf.
data "aws_iam_policy_document" "from_rule" {
  for_each = {
    events       = aws_sqs_queue.events.arn
    dead_letters = aws_sqs_queue.publish_dead_letters.arn
  }

  statement {
    sid       = "FromTheRule"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [each.value]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.to_queue.arn]
    }
  }

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.from_rule["events"].json
}

resource "aws_sqs_queue_policy" "publish_dead_letters" {
  queue_url = aws_sqs_queue.publish_dead_letters.id
  policy    = data.aws_iam_policy_document.from_rule["dead_letters"].json
}
