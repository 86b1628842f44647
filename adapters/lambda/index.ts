/**
 * @module @eventflows/core/lambda: AWS Lambda handlers: API Gateway HTTP API (payload format 2.0)
 * requests routed to the command and query buses with problem+json errors, and SQS batches handed
 * to a consumer with partial batch responses. Web standards only; no AWS SDK, no `@types/aws-lambda`.
 */
export type {
  ApiGatewayAuthorizerV2,
  ApiGatewayProxyEventV2,
  ApiGatewayProxyResultV2,
  ApiGatewayRequestContextV2,
  LambdaContext,
} from "./api-gateway-types.js";
export { requestFromEvent } from "./event-request.js";
export { createHttpApiHandler, type HttpApiHandler, type HttpApiHandlerOptions } from "./http-api-handler.js";
export { createSqsHandler, type SqsBatchConsumer, type SqsHandler } from "./sqs-handler.js";
export type {
  SqsBatchResponse,
  SqsEvent,
  SqsMessageAttribute,
  SqsRecord,
  SqsRecordAttributes,
} from "./sqs-types.js";
