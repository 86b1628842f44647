/**
 * A projection rebuild on DynamoDB Local in a process of its own, for the kill-and-resume test: the
 * test kills it with SIGKILL half-way and resumes the rebuild itself. Prints
 * "progress <done> <position> <events/s>" after each committed shadow batch.
 *   bun test/dynamodb/rebuild-worker.ts <endpoint> <table> <projection name> <collection> <batch size>
 */
import { DynamoDbEventStore, DynamoDbReadModelStore } from "../../adapters/dynamodb/index.ts";
import { rebuildProjection } from "../../src/index.ts";
import { countingProjection } from "../postgres/counting-projection.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../services/dynamodb.ts";

const [endpoint, tableName, name, collection, batchSize] = process.argv.slice(2);
if (endpoint === undefined || tableName === undefined || name === undefined || collection === undefined) {
  console.error("usage: rebuild-worker.ts <endpoint> <table> <projection name> <collection> <batch size>");
  process.exit(2);
}
const options = { endpoint, tableName, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
await rebuildProjection({
  projection: countingProjection(name, collection),
  eventStore: new DynamoDbEventStore(options),
  readModels: new DynamoDbReadModelStore(options),
  collections: [collection],
  batchSize: Number(batchSize ?? 50),
  onProgress: (p) => console.log(`progress ${p.done} ${p.position} ${Math.round(p.eventsPerSecond)}`),
});
console.log("done");
