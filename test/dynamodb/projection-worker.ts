/**
 * A projection runner on DynamoDB Local in a process of its own, for the kill-and-resume test: the
 * test kills it with SIGKILL and checks that a new runner, once the dead one's lease has lapsed,
 * resumes from the checkpoint and ends with the read model a run from scratch makes. Prints
 * "batch <position>" after each committed batch.
 *   bun test/dynamodb/projection-worker.ts <endpoint> <table> <projection name> <collection> <leaseMs>
 */
import { DynamoDbEventStore, DynamoDbProjectionLock, DynamoDbReadModelStore } from "../../adapters/dynamodb/index.ts";
import { ProjectionRunner } from "../../src/index.ts";
import { countingProjection } from "../postgres/counting-projection.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../services/dynamodb.ts";

const [endpoint, tableName, name, collection, leaseMs] = process.argv.slice(2);
if (endpoint === undefined || tableName === undefined || name === undefined || collection === undefined) {
  console.error("usage: projection-worker.ts <endpoint> <table> <projection name> <collection> <leaseMs>");
  process.exit(2);
}
const options = { endpoint, tableName, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const runner = new ProjectionRunner({
  projection: countingProjection(name, collection, 2),
  eventStore: new DynamoDbEventStore(options),
  readModels: new DynamoDbReadModelStore(options),
  lock: new DynamoDbProjectionLock(options),
  owner: "worker",
  leaseMs: Number(leaseMs ?? 1000),
  batchSize: 10,
  pollIntervalMs: 20,
  onBatch: (batch) => console.log(`batch ${batch.position}`),
  onError: (error) => console.error(String(error)),
  onFailure: (error) => console.error(String(error)),
});
runner.start();
