/**
 * A projection rebuild in a process of its own, for the kill-and-resume test: the test kills it with
 * SIGKILL half-way and resumes the rebuild itself. Prints "progress <done> <position> <events/s>"
 * after each committed shadow batch.
 *   bun test/postgres/rebuild-worker.ts <url> <schema> <projection name> <collection> <batch size>
 */
import { createPostgresClient, PostgresEventStore, PostgresReadModelStore } from "../../adapters/postgres/index.ts";
import { rebuildProjection } from "../../src/index.ts";
import { countingProjection } from "./counting-projection.ts";

const [url, schema, name, collection, batchSize] = process.argv.slice(2);
if (url === undefined || schema === undefined || name === undefined || collection === undefined) {
  console.error("usage: rebuild-worker.ts <url> <schema> <projection name> <collection> <batch size>");
  process.exit(2);
}
const sql = createPostgresClient(url, { max: 3 });
await rebuildProjection({
  projection: countingProjection(name, collection),
  eventStore: new PostgresEventStore({ sql, schema }),
  readModels: new PostgresReadModelStore({ sql, schema }),
  collections: [collection],
  batchSize: Number(batchSize ?? 1000),
  onProgress: (p) => console.log(`progress ${p.done} ${p.position} ${Math.round(p.eventsPerSecond)}`),
});
console.log("done");
await sql.end();
