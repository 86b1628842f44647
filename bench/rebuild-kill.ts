/**
 * A by-hand figure, not a mitata benchmark (not run by `bun run bench`): a blue/green projection
 * rebuild on PostgreSQL over a large feed, SIGKILLed half-way in a child process and resumed, while
 * the live read model is queried. The integration test runs the same with 50,000 events.
 *   bun bench/rebuild-kill.ts [events, default 1000000] [streams, default 1000]
 * Prints the figures and fails (exit 1) when the swapped read model differs from a fresh run's.
 */
import { PostgresEventStore } from "../adapters/postgres/index.ts";
import { rebuildKillRun } from "../test/postgres/rebuild-kill.ts";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../test/services/postgres.ts";

const events = Number(process.argv[2] ?? 1_000_000);
const streams = Number(process.argv[3] ?? 1000);
const sql = await postgresTestClient({ max: 8 });
const schema = uniqueSchema("rebuildkill");
await new PostgresEventStore({ sql, schema }).migrate();
try {
  const run = await rebuildKillRun({
    sql,
    url: await ensurePostgres(),
    schema,
    events,
    streams,
    batchSize: 1000,
    log: (line) => console.log(line),
  });
  const same =
    JSON.stringify(run.swapped) === JSON.stringify(run.fresh) &&
    run.resumedRead === run.leftAtKill &&
    run.liveFailures.length === 0 &&
    run.shadowCheckpoint === undefined &&
    run.liveCheckpoint === run.head;
  console.log(
    [
      `events ${events} over ${streams} streams`,
      `seed ${(run.seedMs / 1000).toFixed(1)} s`,
      `child rebuild ${run.childEventsPerSecond} events/s before the kill`,
      `killed with ${run.leftAtKill} events left; resumed and swapped: ${run.resumedRead} events in ${(run.resumeMs / 1000).toFixed(1)} s = ${Math.round(run.resumedRead / (run.resumeMs / 1000))} events/s`,
      `fresh run ${(run.freshMs / 1000).toFixed(1)} s = ${Math.round(events / (run.freshMs / 1000))} events/s`,
      `live queries during the rebuild ${run.liveQueries}, slowest ${run.liveMaxMs.toFixed(0)} ms, torn generations seen ${run.liveFailures.length}`,
      `swapped read model equals a fresh run's, nothing read twice: ${same}`,
    ].join("\n"),
  );
  if (!same) process.exitCode = 1;
} finally {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
}
