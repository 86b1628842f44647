# The event store's table, as adapters/dynamodb defines it: the stream id as a string partition key
# (pk), the version as a numeric sort key (sk), and no secondary index (the global feed is kept in
# the table itself).
resource "aws_dynamodb_table" "events" {
  name         = "${var.name}-events"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

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
}
