/** The DynamoDB store, over fetch with SigV4: it holds nothing but configuration and costs nothing to make. */
import { DynamoDbEventStore } from "@eventflows/core/dynamodb";
import { ConfigurationError, storeOpener } from "../config.js";

export const openDynamoDbStore = storeOpener("dynamodb", (env) => {
  const tableName = env.DYNAMODB_TABLE;
  if (tableName === undefined || tableName === "") throw new ConfigurationError("DYNAMODB_TABLE is not set");
  // Only string variables: the AWS client reads region, credentials and endpoint from them.
  const awsEnv = {
    AWS_REGION: env.AWS_REGION,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_DYNAMODB: env.AWS_ENDPOINT_URL_DYNAMODB,
  };
  return { store: new DynamoDbEventStore({ tableName, env: awsEnv }), close: async () => {} };
});
