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
