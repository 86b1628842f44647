output "api_url" {
  description = "Base URL of the HTTP API."
  value       = aws_apigatewayv2_api.http.api_endpoint
}

output "event_bus_name" {
  value = aws_cloudwatch_event_bus.bus.name
}

output "table_name" {
  value = aws_dynamodb_table.events.name
}

output "publish_dead_letter_queue_url" {
  value = aws_sqs_queue.publish_dead_letters.url
}

output "consumer_dead_letter_queue_url" {
  value = aws_sqs_queue.consumer_dead_letters.url
}
