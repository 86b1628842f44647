/** The Worker on DynamoDB: the `main` of wrangler.toml's `[env.dynamodb]`. Only the DynamoDB store is bundled. */
import { openDynamoDbStore } from "./stores/dynamodb.js";
import { todoWorker } from "./worker.js";

export default todoWorker(openDynamoDbStore);
