/**
 * A projection runner in a process of its own, for the crash test: the test kills it with SIGKILL
 * and checks that a new runner resumes from the checkpoint without applying a batch twice.
 * Prints "batch <position>" after each committed batch.
 *   bun test/postgres/projection-worker.ts <url> <schema> <projection name>
 */
import { createPostgresClient, PostgresEventStore } from "../../adapters/postgres/index.ts";

const [url, schema, name] = process.argv.slice(2);
if (url === undefined || schema === undefined || name === undefined) {
  console.error("usage: projection-worker.ts <url> <schema> <projection name>");
  process.exit(2);
}
const store = new PostgresEventStore({ sql: createPostgresClient(url, { max: 3 }), schema });
const runner = store.projectionRunner(
  {
    name,
    handle: async (events, { sql }) => {
      for (const event of events) {
        await sql.unsafe(`INSERT INTO ${schema}.applied (event_id, projection) VALUES ($1, $2)`, [event.id, name]);
      }
      // Slow batches, so that the kill can land inside one as well as between two.
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
  },
  {
    batchSize: 10,
    pollIntervalMs: 20,
    onBatch: (batch) => console.log(`batch ${batch.position}`),
    onError: (error) => console.error(String(error)),
  },
);
runner.start();
