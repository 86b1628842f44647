/**
 * The Worker on DynamoDB: the `main` of wrangler.toml's `[env.dynamodb]`. Only the DynamoDB store is
 * bundled; Idempotency-Keys are kept in the event store's table (`DynamoDbIdempotencyStore`).
 */
import { dynamoDbIdempotencyStore, openDynamoDbStore } from "./stores/dynamodb.js";
import { todoWorkerPerBindings } from "./worker.js";

export default todoWorkerPerBindings(openDynamoDbStore, dynamoDbIdempotencyStore);
