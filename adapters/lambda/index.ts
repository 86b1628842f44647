/**
 * @module @eventflows/core/lambda: AWS Lambda handlers: API Gateway HTTP API (payload format 2.0)
 * events translated onto the HTTP dispatcher of `@eventflows/core/http` (the same routes and checks
 * as the Hono routes), SQS batches handed to a consumer with partial batch responses, and a scheduled
 * handler that fires due saga timeouts. Web
 * standards only; no AWS SDK, no `@types/aws-lambda`.
 */
export type {
  ApiGatewayAuthorizerV2,
  ApiGatewayProxyEventV2,
  ApiGatewayProxyResultV2,
  ApiGatewayRequestContextV2,
  LambdaContext,
} from "./api-gateway-types.js";
export { requestFromEvent, resultFromResponse } from "./event-request.js";
export {
  authorizerPrincipal,
  createHttpApiHandler,
  type HttpApiHandler,
  type HttpApiHandlerOptions,
  type HttpApiRequestContext,
} from "./http-api-handler.js";
export { createSagaTimerHandler, type SagaTimerHandler, type SagaTimerResult } from "./saga-timer-handler.js";
export { createSqsHandler, type SqsBatchConsumer, type SqsHandler } from "./sqs-handler.js";
export type {
  SqsBatchResponse,
  SqsEvent,
  SqsMessageAttribute,
  SqsRecord,
  SqsRecordAttributes,
} from "./sqs-types.js";
