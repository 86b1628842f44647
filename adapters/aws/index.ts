/**
 * @module @eventflows/core/aws: a small client for AWS JSON-protocol services (DynamoDB, EventBridge,
 * SQS): SigV4 signing (aws4fetch's canonical request, signed synchronously), endpoint, region and
 * credential resolution (options, then the environment or Workers bindings), typed errors, and
 * retries with full-jitter backoff and a budget.
 */
export {
  type AwsClientConfig,
  type AwsCredentials,
  type AwsCredentialsProvider,
  isCredentialFreeHttpUrl,
  publicEndpoint,
  type ResolvedAwsConfig,
  resolveAwsConfig,
  signableEndpoint,
} from "./config.js";
export {
  type AwsFailure,
  AwsServiceError,
  type AwsServiceErrorDetails,
  type CancellationReason,
  codeFromType,
  DYNAMODB_MAX_ITEM_BYTES,
  failureFromResponse,
  type GaveUp,
  isRetryable,
  THROTTLING_CODES,
} from "./errors.js";
export {
  AWS_JSON_CLIENT_OPTIONS,
  AwsJsonClient,
  type AwsJsonClientOptions,
  type FetchFunction,
  MAX_ANSWER_BYTES,
  type SendOptions,
} from "./json-client.js";
export { PageTrail } from "./page-trail.js";
export {
  backoffDelay,
  RetryBudget,
  type RetryOptions,
  type RetryPolicy,
  retryDelay,
  retryPolicy,
  sleep,
} from "./retry.js";
export { type AwsJsonService, dynamoDbService, eventBridgeService, sqsService } from "./services.js";
