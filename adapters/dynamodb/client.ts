import { assertObject, functionIssues, ValidationError } from "../../src/index.js";
import { AwsJsonClient, type AwsJsonClientOptions, AwsServiceError, dynamoDbService } from "../aws/index.js";

export { AwsJsonClient, type AwsJsonClientOptions, AwsServiceError, type SendOptions, sleep } from "../aws/index.js";

/**
 * A DynamoDB client (JSON protocol 1.0, `DynamoDB_20120810.<Operation>`, SigV4 for `dynamodb`).
 * Share one between stores to share its retry budget.
 * @throws {ValidationError} missing or malformed region, endpoint or credentials.
 */
export function createDynamoDbClient(options: AwsJsonClientOptions = {}): AwsJsonClient {
  return new AwsJsonClient(dynamoDbService, options);
}

/** Whether `error` is a DynamoDB error with this code, e.g. `ConditionalCheckFailedException`. */
export function isServiceErrorCode(error: unknown, code: string): error is AwsServiceError {
  return error instanceof AwsServiceError && error.serviceCode === code;
}

/**
 * A store's client: the `client` option, checked to be one (an object with `send`) before any request,
 * or a new one made from the options' region, endpoint and credentials.
 * @throws {ValidationError} `client` is not a client (a string, a plain object without `send`...).
 */
export function clientOption(options: { readonly client?: AwsJsonClient } & AwsJsonClientOptions): AwsJsonClient {
  if (options.client === undefined) return createDynamoDbClient(options);
  assertClient(options.client, "client");
  return options.client;
}

/** Throws a ValidationError naming `path` unless `client` has a `send` method. */
export function assertClient(client: unknown, path: string): asserts client is AwsJsonClient {
  assertObject(client, path, "DynamoDB client");
  const issues = functionIssues((client as { send?: unknown }).send, [path, "send"], true);
  if (issues.length > 0) throw new ValidationError("Invalid DynamoDB client", issues);
}
