/**
 * A projection runner in a process of its own, for the kill-and-resume test: the test kills it with
 * SIGKILL and checks that a new runner resumes from the checkpoint and ends with the read model a run
 * from scratch makes. Prints "batch <position>" after each committed batch.
 *   bun test/postgres/projection-worker.ts <url> <schema> <projection name> <collection>
 */
import { createPostgresClient, PostgresEventStore, postgresProjectionRunner } from "../../adapters/postgres/index.ts";
import { countingProjection } from "./counting-projection.ts";

const [url, schema, name, collection] = process.argv.slice(2);
if (url === undefined || schema === undefined || name === undefined || collection === undefined) {
  console.error("usage: projection-worker.ts <url> <schema> <projection name> <collection>");
  process.exit(2);
}
const store = new PostgresEventStore({ sql: createPostgresClient(url, { max: 3 }), schema });
const runner = postgresProjectionRunner(store, countingProjection(name, collection, 2), {
  batchSize: 10,
  // Batches of 10 from the start (a catch-up would read 10,000 at first): the test kills it between two.
  maxBatchSize: 10,
  pollIntervalMs: 20,
  onBatch: (batch) => console.log(`batch ${batch.position}`),
  onError: (error) => console.error(String(error)),
  onFailure: (error) => console.error(String(error)),
});
runner.start();
