import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isEventCorruptError } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { ensurePostgres } from "../../test/services/postgres.ts";
import {
  createPostgresClient,
  PostgresCheckpointStore,
  PostgresEventStore,
  PostgresIdempotencyStore,
  PostgresSagaStore,
  PostgresSnapshotStore,
  type PostgresSql,
} from "./index.js";

// Rows edited with SQL into values the columns accept but the library never writes, as another tool would.
const schema = `h54sqlite2_corrupt_${Date.now().toString(36)}`;
let sql: PostgresSql;

beforeAll(async () => {
  sql = createPostgresClient(await ensurePostgres(), { max: 2 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

/** What postgres.js adds to an error a statement failed with: the SQL, its values and their types. */
const POSTGRES_JS_QUERY_PROPERTIES = ["query", "parameters", "args", "types"];

/** What a read threw, or undefined when it read through. */
const readError = (read: () => AsyncIterable<unknown>): Promise<unknown> =>
  collect(read()).then(
    () => undefined,
    (error: unknown) => error,
  );

describe("PostgreSQL rows another tool wrote", () => {
  // Each was handed on as an envelope: type "", metadata null, timestamp null (to_char of an infinite time).
  const notEvents: readonly (readonly [string, string, string])[] = [
    ["an empty event id", "event_id = ''", "no id"],
    ["an empty type", "type = ''", "no type"],
    ["an infinite time", "created_at = 'infinity'", "no time"],
    ["metadata that is JSON null", "metadata = 'null'", "metadata"],
    ["metadata that is an array", "metadata = '[1]'", "metadata"],
    ["metadata that is a string", `metadata = '"4111 1111"'`, "metadata"],
  ];
  for (const [index, [what, assignment, named]] of notEvents.entries()) {
    test(`${what} fails readStream and readAll with an EventCorruptError naming stream and version, not the text`, async () => {
      const store = new PostgresEventStore({ sql, schema });
      const stream = `Order-${index}`;
      await store.appendToStream(stream, [
        { type: "Placed", data: { n: 1 } },
        { type: "Paid", data: { n: 2 } },
      ]);
      await sql.unsafe(`UPDATE ${schema}.events SET ${assignment} WHERE stream_id = $1 AND version = 2`, [stream]);
      for (const read of [() => store.readStream(stream), () => store.readAll()]) {
        const error = (await readError(read)) as Error & Record<string, unknown>;
        expect(isEventCorruptError(error)).toBe(true);
        expect(error).toMatchObject({ code: "EVENT_CORRUPT", streamId: stream, version: 2 });
        expect(error.message).toContain(named);
        expect(error.message).not.toContain("4111");
        // postgres.js gives an error thrown in a row callback the statement and its parameters.
        expect(Object.getOwnPropertyNames(error).filter((name) => POSTGRES_JS_QUERY_PROPERTIES.includes(name))).toEqual(
          [],
        );
      }
      await sql.unsafe(`DELETE FROM ${schema}.events WHERE stream_id = $1`, [stream]);
    });
  }

  // No readStream meets it; readAll handed on an envelope of stream "".
  test("an event with an empty stream id fails readAll with an EventCorruptError naming its global position", async () => {
    const store = new PostgresEventStore({ sql, schema });
    await store.appendToStream("Order-x", [{ type: "Placed", data: { n: 1 } }]);
    const [row] = await sql.unsafe(
      `UPDATE ${schema}.events SET stream_id = '' WHERE stream_id = 'Order-x' RETURNING global_position::text AS p`,
    );
    const error = (await readError(() => store.readAll())) as Error & Record<string, unknown>;
    expect(isEventCorruptError(error)).toBe(true);
    expect(error).toMatchObject({ code: "EVENT_CORRUPT", streamId: "", version: 1 });
    expect(error.message).toContain(`no stream id (global position ${row?.p})`);
    await sql.unsafe(`DELETE FROM ${schema}.events WHERE stream_id = ''`);
  });

  // to_char reads an infinite time as NULL: the load answered createdAt "null".
  test("a snapshot whose time is infinity is a SnapshotCorruptError naming stream and version", async () => {
    const snapshots = new PostgresSnapshotStore({ sql, schema });
    await snapshots.save({ streamId: "Snap-1", version: 2, state: { n: 1 } });
    await sql.unsafe(`UPDATE ${schema}.snapshots SET created_at = 'infinity' WHERE stream_id = 'Snap-1'`);
    const error = await snapshots.load("Snap-1").then(
      (snapshot) => snapshot,
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({ code: "SNAPSHOT_CORRUPT", streamId: "Snap-1", version: 2 });
  });

  // The bigint column takes what a number cannot hold: the load answered 9007199254740992, a position
  // the runner would resume from though no event has it.
  test("a checkpoint past 2^53 - 1 fails its load with a ServiceError CHECKPOINT_CORRUPT, not a rounded position", async () => {
    const checkpoints = new PostgresCheckpointStore({ sql, schema });
    await checkpoints.store("projection:big", 2);
    await sql.unsafe(`UPDATE ${schema}.checkpoints SET position = 9007199254740993 WHERE id = 'projection:big'`);
    const error = await checkpoints.load("projection:big").then(
      (position) => position,
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "CHECKPOINT_CORRUPT", retryable: false });
  });

  // jsonb and text columns take any shape: each was handed on (status "bogus", compensations null, an
  // outbox of [null]) for the saga runtime to fail on with a TypeError or to leave the instance stuck.
  const notInstances: readonly (readonly [string, string])[] = [
    ["a status that is none", "sagas SET status = 'bogus'"],
    ["an empty status", "sagas SET status = ''"],
    ["a negative step", "sagas SET step = -1"],
    ["compensations that are JSON null", "sagas SET compensations = 'null'"],
    ["compensations that are an object", `sagas SET compensations = '{"card": "4111 1111"}'`],
    ["attention that is a number", "sagas SET attention = '5'"],
    ["an outbox entry that is JSON null", "saga_outbox SET entry = 'null'"],
    ["an outbox entry that is a string", `saga_outbox SET entry = '"4111 1111"'`],
  ];
  for (const [index, [what, assignment]] of notInstances.entries()) {
    test(`${what} fails load and list with a ServiceError SAGA_CORRUPT naming the instance, quoting none of it`, async () => {
      const store = new PostgresSagaStore({ sql, schema });
      const saga = `Shape${index}`;
      const entry = { id: `${saga}/k/1`, type: "Cmd", payload: { n: 1 }, causationId: "e", compensation: false };
      await store.commit({
        saga,
        key: "k",
        expectedVersion: 0,
        state: { n: 1 },
        status: "running",
        step: 1,
        compensations: [],
        outbox: [entry],
      });
      await sql.unsafe(`UPDATE ${schema}.${assignment} WHERE saga = $1`, [saga]);
      for (const call of [() => store.load(saga, "k"), () => store.list({ saga })]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toMatchObject({ serviceCode: "SAGA_CORRUPT", retryable: false });
        expect((error as Error).message).toContain(`saga "${saga}" key "k"`);
        expect((error as Error).message).not.toContain("4111");
      }
    });
  }

  test("a failure that is JSON null fails failures() with a ServiceError SAGA_CORRUPT", async () => {
    const store = new PostgresSagaStore({ sql, schema });
    const at = "2026-12-07T00:00:00.000Z";
    await store.recordFailure({ saga: "Failing", key: "k", eventId: "e", eventType: "T", error: "E", at });
    await sql.unsafe(`UPDATE ${schema}.saga_failures SET failure = 'null' WHERE saga = 'Failing'`);
    const error = await store.failures({ saga: "Failing" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ serviceCode: "SAGA_CORRUPT", retryable: false });
  });

  // The smallint column takes what is no HTTP status: replayed, `new Response` threw a RangeError in the
  // HTTP layer, no EventFlowsError, for every retry of the key until it expired.
  // A 1xx is no final response: `new Response` throws on it too.
  for (const stored of [0, 600, -1, 101, 199]) {
    test(`a stored idempotent response of status ${stored} is a ServiceError IDEMPOTENCY_CORRUPT at its claim`, async () => {
      const store = new PostgresIdempotencyStore({ sql, schema });
      const key = `Key-${stored}`;
      const claim = await store.claim(key, "fp");
      if (claim.state !== "claimed") throw new Error(`claimed: ${claim.state}`);
      await store.complete(key, "fp", { status: 201, body: "{}", contentType: "application/json" }, claim.token);
      await sql.unsafe(`UPDATE ${schema}.idempotency_keys SET status = $1 WHERE key = $2`, [stored, key]);
      const error = await store.claim(key, "fp").catch((e: unknown) => e);
      expect(error).toMatchObject({ serviceCode: "IDEMPOTENCY_CORRUPT", retryable: false });
    });
  }
});
