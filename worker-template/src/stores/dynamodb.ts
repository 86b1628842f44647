/** The DynamoDB store, over fetch with SigV4: it holds nothing but configuration and costs nothing to make. */
import { DynamoDbEventStore, DynamoDbIdempotencyStore } from "@eventflows/core/dynamodb";
import { ConfigurationError, type Env, storeOpener } from "../config.js";

/** The table and the AWS settings, from string variables only (region, credentials, endpoint). */
function tableOf(env: Env) {
  const tableName = env.DYNAMODB_TABLE;
  if (tableName === undefined || tableName === "") throw new ConfigurationError("DYNAMODB_TABLE is not set");
  const awsEnv = {
    AWS_REGION: env.AWS_REGION,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_DYNAMODB: env.AWS_ENDPOINT_URL_DYNAMODB,
  };
  return { tableName, env: awsEnv };
}

export const openDynamoDbStore = storeOpener("dynamodb", (env) => ({
  store: new DynamoDbEventStore(tableOf(env)),
  close: async () => {},
}));

/**
 * Idempotency-Keys in the event store's table (partitions of their own, which stream ids cannot
 * reach), shared by every isolate. Undefined when the store is misconfigured: its opener says why.
 */
export function dynamoDbIdempotencyStore(env: Env): DynamoDbIdempotencyStore | undefined {
  try {
    return new DynamoDbIdempotencyStore(tableOf(env));
  } catch {
    return undefined;
  }
}
