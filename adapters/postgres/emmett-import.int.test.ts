import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql";
import pg from "pg";
import { importEvents, isAbortedError } from "../../src/index.js";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import {
  createPostgresClient,
  emmettPostgresSource,
  PostgresCheckpointStore,
  PostgresEventStore,
  type PostgresSql,
} from "./index.js";

// Events written with Emmett 0.42's own library into a database of its own (Emmett's table names
// are fixed), imported into EventFlows schemas on the same server, then checked with SQL of our own.
// EVENTFLOWS_IMPORT_EVENTS sets the count: 10,000 here; `bun scripts/import-100k.ts` runs 100,000.
const TOTAL = Number(process.env.EVENTFLOWS_IMPORT_EVENTS ?? 10_000);
// Generous for a loaded two-core machine (10k events: 2 minutes a step), bounded so that a hang still fails.
const TIMEOUT_MS = Math.max(120_000, TOTAL * 12);
const PER_STREAM = 100;
const PER_APPEND = 10;
const STREAMS = Math.ceil(TOTAL / PER_STREAM);
const database = uniqueSchema("emmett");
let admin: PostgresSql;
let source: PostgresSql;
let target: PostgresSql;
let emmettPool: pg.Pool;
const schemas: string[] = [];

beforeAll(async () => {
  const url = await ensurePostgres();
  admin = await postgresTestClient({ max: 1 });
  await admin.unsafe(`CREATE DATABASE ${database}`);
  const emmettUrl = url.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
  emmettPool = new pg.Pool({ connectionString: emmettUrl, max: 16 });
  emmettPool.on("error", () => undefined);
  const emmett = getPostgreSQLEventStore(emmettUrl, {
    connectionOptions: { pooled: true, pool: emmettPool, connectionString: emmettUrl },
  });
  await emmett.schema.migrate();
  const started = performance.now();
  // Ten appends of ten events per stream, the streams side by side: the global order interleaves them.
  for (let round = 0; round < PER_STREAM / PER_APPEND; round++) {
    for (let from = 0; from < STREAMS; from += 16) {
      await Promise.all(
        Array.from({ length: Math.min(16, STREAMS - from) }, (_, k) => {
          const s = from + k;
          const events = Array.from({ length: PER_APPEND }, (_, i) => {
            const n = round * PER_APPEND + i + 1;
            return {
              type: n === 1 ? "CartOpened" : "ItemAdded",
              data: { cart: s, n, sku: `SKU-${n}`, note: "ünïcødé ' \"" },
              metadata: { correlationId: `cart-${s}`, tenant: "acme" },
            };
          });
          return emmett.appendToStream(`cart-${s}`, events, { expectedStreamVersion: BigInt(round * PER_APPEND) });
        }),
      );
    }
  }
  console.log(`emmett: wrote ${TOTAL} events in ${Math.round(performance.now() - started)} ms`);
  source = createPostgresClient(emmettUrl, { max: 2 });
  target = createPostgresClient(url, { max: 10 });
}, TIMEOUT_MS);

afterAll(async () => {
  await source?.end();
  await emmettPool?.end();
  for (const schema of schemas) await target.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await target?.end();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

async function freshTarget(label: string) {
  const schema = uniqueSchema(label);
  schemas.push(schema);
  const store = new PostgresEventStore({ sql: target, schema });
  await store.migrate();
  return { schema, store, checkpoints: new PostgresCheckpointStore({ sql: target, schema }) };
}

/** Every event of a store as `stream/version type data time`, from the tables themselves. */
async function emmettRows(): Promise<string[]> {
  const rows = await source.unsafe(`SELECT stream_id || '/' || stream_position || ' ' || message_type || ' ' ||
      message_data::text || ' ' || to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS line
    FROM emt_messages ORDER BY stream_id, stream_position`);
  return rows.map((row) => row.line as string);
}
async function eventflowsRows(schema: string): Promise<string[]> {
  const rows = await target.unsafe(`SELECT stream_id || '/' || version || ' ' || type || ' ' ||
      data::text || ' ' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS line
    FROM ${schema}.events ORDER BY stream_id, version`);
  return rows.map((row) => row.line as string);
}
async function counts(schema: string): Promise<Record<string, number> | undefined> {
  const [row] = await target.unsafe<
    Record<string, number>[]
  >(`SELECT count(*)::int AS events, count(DISTINCT event_id)::int AS ids,
      count(DISTINCT stream_id)::int AS streams,
      (SELECT count(*)::int FROM (SELECT stream_id FROM ${schema}.events GROUP BY stream_id
        HAVING min(version) = 1 AND max(version) = count(*) AND count(*) = ${PER_STREAM}) whole) AS whole_streams
    FROM ${schema}.events`);
  return row;
}

describe(`importing ${TOTAL} events from Emmett on PostgreSQL`, () => {
  test(
    "every event arrives once, in its stream at its Emmett stream position, with type, data, metadata and time",
    async () => {
      const { schema, store, checkpoints } = await freshTarget("emmett_import");
      const started = performance.now();
      const result = await importEvents({ source: emmettPostgresSource(source), target: store, checkpoints });
      console.log(`emmett import: ${TOTAL} events in ${Math.round(performance.now() - started)} ms`);
      expect(result).toMatchObject({ read: TOTAL, imported: TOTAL, skipped: 0, streams: STREAMS });
      expect(await counts(schema)).toEqual({ events: TOTAL, ids: TOTAL, streams: STREAMS, whole_streams: STREAMS });
      expect(await eventflowsRows(schema)).toEqual(await emmettRows());
      const [meta] = await target.unsafe(
        `SELECT metadata FROM ${schema}.events WHERE stream_id = 'cart-7' AND version = 3`,
      );
      expect(meta?.metadata).toEqual({ correlationId: "cart-7", tenant: "acme", schemaVersion: 1 });

      // A second run continues from the checkpoint (nothing new); a restarted one finds everything stored.
      const again = await importEvents({ source: emmettPostgresSource(source), target: store, checkpoints });
      expect(again).toMatchObject({ read: 0, imported: 0 });
      const restarted = await importEvents({
        source: emmettPostgresSource(source),
        target: store,
        checkpoints,
        restart: true,
        batchSize: 5000,
      });
      expect(restarted).toMatchObject({ read: TOTAL, imported: 0, skipped: TOTAL });
      expect(await counts(schema)).toEqual({ events: TOTAL, ids: TOTAL, streams: STREAMS, whole_streams: STREAMS });
    },
    TIMEOUT_MS,
  );

  test(
    "an import interrupted after three batches resumes where it stopped",
    async () => {
      const { schema, store, checkpoints } = await freshTarget("emmett_resume");
      const controller = new AbortController();
      let batches = 0;
      const stopped = await importEvents({
        source: emmettPostgresSource(source),
        target: store,
        checkpoints,
        batchSize: 500,
        signal: controller.signal,
        onProgress: () => {
          if (++batches === 3) controller.abort(new Error("Ctrl-C"));
        },
      }).catch((error) => error);
      expect(isAbortedError(stopped)).toBe(true);
      // Three batches of 500, each completed with the rest of the Emmett transaction the limit cut: at
      // least 1,500 events, a few more when a batch's last transaction went on past it.
      const storedBeforeResume = Number((await counts(schema))?.events);
      expect(storedBeforeResume).toBeGreaterThanOrEqual(1500);
      expect(storedBeforeResume).toBeLessThan(2000);
      const resumed = await importEvents({ source: emmettPostgresSource(source), target: store, checkpoints });
      // The checkpoint is the last transaction the three batches read, each whole: what follows is new,
      // and anything read again would be skipped, never written twice.
      expect(resumed.imported).toBe(TOTAL - storedBeforeResume);
      expect(resumed.read - resumed.skipped).toBe(TOTAL - storedBeforeResume);
      expect(resumed.skipped).toBeLessThanOrEqual(storedBeforeResume - 1500);
      expect(await counts(schema)).toEqual({ events: TOTAL, ids: TOTAL, streams: STREAMS, whole_streams: STREAMS });
    },
    TIMEOUT_MS,
  );

  test(
    "an append still running when a batch is read comes in a later run, though a later append committed first",
    async () => {
      // Emmett takes positions from a sequence before commit: here the running append holds a position
      // below the committed one's. Read by global position, the checkpoint passed it and it was never imported.
      const { schema, store, checkpoints } = await freshTarget("emmett_inflight");
      const [early, late] = [await emmettPool.connect(), await emmettPool.connect()];
      const append = (client: pg.PoolClient, stream: string) =>
        client.query(
          `INSERT INTO emt_messages (stream_id, stream_position, partition, message_data, message_metadata,
             message_schema_version, message_type, message_kind, message_id, transaction_id)
           VALUES ($1, 1, 'emt:default', '{"late":true}', '{}', '1', 'Late', 'E', gen_random_uuid()::text, pg_current_xact_id())
           RETURNING global_position::text AS position`,
          [stream],
        );
      try {
        await early.query("BEGIN");
        await early.query("SELECT pg_current_xact_id()");
        await late.query("BEGIN");
        await late.query("SELECT pg_current_xact_id()");
        const running = await append(late, "inflight-late");
        const committed = await append(early, "inflight-early");
        expect(Number(running.rows[0].position)).toBeLessThan(Number(committed.rows[0].position));
        await early.query("COMMIT");
        const first = await importEvents({ source: emmettPostgresSource(source), target: store, checkpoints });
        expect(first.imported).toBe(TOTAL + 1);
        await late.query("COMMIT");
        const second = await importEvents({ source: emmettPostgresSource(source), target: store, checkpoints });
        expect(second).toMatchObject({ imported: 1, skipped: 0 });
        const rows = await target.unsafe(
          `SELECT stream_id FROM ${schema}.events WHERE stream_id LIKE 'inflight-%' ORDER BY stream_id`,
        );
        expect(rows.map((row) => row.stream_id)).toEqual(["inflight-early", "inflight-late"]);
      } finally {
        await early.query("ROLLBACK").catch(() => undefined);
        await late.query("ROLLBACK").catch(() => undefined);
        early.release();
        late.release();
      }
    },
    TIMEOUT_MS,
  );
});
