import { assertObject, functionIssues, ValidationError } from "../../src/index.js";
import {
  AWS_JSON_CLIENT_OPTIONS,
  AwsJsonClient,
  type AwsJsonClientOptions,
  AwsServiceError,
  dynamoDbService,
  sleep,
} from "../aws/index.js";

export { AwsJsonClient, type AwsJsonClientOptions, AwsServiceError, type SendOptions, sleep } from "../aws/index.js";

/**
 * A DynamoDB client (JSON protocol 1.0, `DynamoDB_20120810.<Operation>`, SigV4 for `dynamodb`).
 * Share one between stores to share its retry budget.
 * @throws {ValidationError} missing or malformed region, endpoint or credentials.
 */
export function createDynamoDbClient(options: AwsJsonClientOptions = {}): AwsJsonClient {
  return new AwsJsonClient(dynamoDbService, options);
}

const CLIENT_KEYS = Object.keys(AWS_JSON_CLIENT_OPTIONS);

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
  if (options.client === undefined) {
    // The client's own options only: the store's (its table, its limits) are the store's to check.
    const own: Record<string, unknown> = {};
    for (const key of CLIENT_KEYS) if (Object.hasOwn(options, key)) own[key] = options[key as keyof typeof options];
    return createDynamoDbClient(own);
  }
  assertClient(options.client, "client");
  return options.client;
}

/** Throws a ValidationError naming `path` unless `client` has a `send` method. */
export function assertClient(client: unknown, path: string): asserts client is AwsJsonClient {
  assertObject(client, path, "DynamoDB client");
  const issues = functionIssues((client as { send?: unknown }).send, [path, "send"], true);
  if (issues.length > 0) throw new ValidationError("Invalid DynamoDB client", issues);
}

/**
 * The typed timeout of an operation whose deadline passed before its next request was sent (none
 * was): what the client throws for a call whose deadline has passed, `retryable`, `gaveUp: "deadline"`.
 */
export function deadlinePassedError(operation: string, message: string): AwsServiceError {
  return new AwsServiceError("DynamoDB", operation, "TimeoutError", true, message, { attempts: 0, gaveUp: "deadline" });
}

/**
 * Pauses `ms` before the next request (`operation`) of a call due by `deadline`, or, when the pause
 * would end at or past it, throws {@link deadlinePassedError} now: like the client before a retry,
 * a call does not sleep into its deadline only to give up. Without a deadline it just pauses.
 */
export async function pauseWithin(ms: number, deadline: number | undefined, operation: string): Promise<void> {
  if (deadline !== undefined && Date.now() + ms >= deadline) {
    throw deadlinePassedError(operation, "the deadline would pass during the pause before it");
  }
  await sleep(ms);
}
