# The event store's table, as adapters/dynamodb defines it: the stream id as a string partition key
# (pk), the version as a numeric sort key (sk), and no secondary index (the global feed is kept in
# the table itself). Point-in-time recovery and deletion protection on; an optional customer-managed key.
resource "aws_dynamodb_table" "events" {
  name                        = "${var.name}-events"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "N"
  }

  point_in_time_recovery {
    enabled = true
  }

  # enabled = false is DynamoDB's default encryption with an AWS-owned key.
  server_side_encryption {
    enabled     = var.customer_managed_key
    kms_key_arn = var.customer_managed_key ? aws_kms_key.table[0].arn : null
  }
}

resource "aws_kms_key" "table" {
  count                   = var.customer_managed_key ? 1 : 0
  description             = "Encrypts the EventFlows event store table"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}
