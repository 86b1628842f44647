import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { isEventCorruptError, isEventFlowsError } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import {
  bunSqliteDriver,
  DurableObjectEventStore,
  handleEventStoreRequest,
  SqliteCheckpointStore,
  SqliteEventStore,
  SqliteIdempotencyStore,
  SqliteReadModelStore,
  SqliteSnapshotStore,
} from "./index.js";

/** What loading Order-1's snapshot (version 2) gives once `edit` has changed its row, as another tool would. */
async function snapshotLoadAfter(edit: string): Promise<unknown> {
  const db = new Database(":memory:");
  try {
    const driver = bunSqliteDriver(db);
    await new SqliteEventStore({ driver }).migrate();
    const snapshots = new SqliteSnapshotStore({ driver });
    await snapshots.save({ streamId: "Order-1", version: 2, state: { n: 1 } });
    db.run(edit);
    return await snapshots.load("Order-1").then(
      (snapshot) => snapshot,
      (thrown: unknown) => thrown,
    );
  } finally {
    db.close();
  }
}

/** A migrated event store on `db` whose stream Order-1 holds two events (positions 1 and 2). */
async function twoEvents(db: Database): Promise<SqliteEventStore> {
  const store = new SqliteEventStore({ driver: bunSqliteDriver(db) });
  await store.migrate();
  await store.appendToStream("Order-1", [
    { type: "Placed", data: { n: 1 } },
    { type: "Paid", data: { n: 2 } },
  ]);
  return store;
}

/** What a read threw, or undefined when it read through. */
const readError = (read: () => AsyncIterable<unknown>): Promise<unknown> =>
  collect(read()).then(
    () => undefined,
    (error: unknown) => error,
  );

describe("SQLite rows another tool wrote", () => {
  for (const column of ["data", "metadata"] as const) {
    test(`${column} that is not JSON fails every read with an EventCorruptError naming stream and version, not the text`, async () => {
      const db = new Database(":memory:");
      try {
        const store = await twoEvents(db);
        db.run(`UPDATE eventflows_events SET ${column} = '{"card": "4111 1111' WHERE version = 2`);
        for (const read of [() => store.readStream("Order-1"), () => store.readAll()]) {
          const error = (await readError(read)) as Error & Record<string, unknown>;
          expect(isEventCorruptError(error) && isEventFlowsError(error)).toBe(true);
          expect(error).toMatchObject({ code: "EVENT_CORRUPT", streamId: "Order-1", version: 2 });
          expect(error.message).toContain(column);
          expect(`${error.message} ${String(error.cause)}`).not.toContain("4111");
        }
      } finally {
        db.close();
      }
    });
  }

  // A BLOB another tool wrote where JSON text belongs: String() of its bytes read x'37' as the number 55
  // on bun:sqlite, node:sqlite and D1, where a Durable Object refused it (outside audit).
  test("data or metadata stored as a BLOB fails every read with an EventCorruptError, as text that is not JSON does", async () => {
    for (const column of ["data", "metadata"]) {
      const db = new Database(":memory:");
      try {
        const store = await twoEvents(db);
        db.run(`UPDATE eventflows_events SET ${column} = x'37' WHERE version = 2`);
        for (const read of [() => store.readStream("Order-1"), () => store.readAll()]) {
          expect({ column, error: await readError(read) }).toMatchObject({
            column,
            error: { code: "EVENT_CORRUPT", streamId: "Order-1", version: 2 },
          });
        }
      } finally {
        db.close();
      }
    }
  });

  test("getStreamVersion refuses a stored version that is no safe integer, as a read of the stream does (it answered 2^53 for 2^53 + 1)", async () => {
    for (const stored of ["9007199254740993", "x'02'", "'2x'"]) {
      const db = new Database(":memory:");
      try {
        const store = await twoEvents(db);
        db.run(`UPDATE eventflows_events SET version = ${stored} WHERE version = 2`);
        const error = await store.getStreamVersion("Order-1").catch((thrown: unknown) => thrown);
        expect({ stored, error }).toMatchObject({ stored, error: { code: "EVENT_CORRUPT", streamId: "Order-1" } });
      } finally {
        db.close();
      }
    }
  });

  test("a read-model document stored as a BLOB is a ServiceError DOCUMENT_CORRUPT, not the number its bytes spell", async () => {
    const db = new Database(":memory:");
    try {
      const driver = bunSqliteDriver(db);
      await new SqliteEventStore({ driver }).migrate();
      const readModels = new SqliteReadModelStore({ driver });
      await readModels.put("carts", "Cart-1", 7);
      db.run("UPDATE eventflows_read_models SET document = x'37'");
      for (const read of [() => readModels.get("carts", "Cart-1"), () => readModels.list("carts")]) {
        const error = await read().catch((thrown: unknown) => thrown);
        expect(error).toMatchObject({ service: "SQLite", serviceCode: "DOCUMENT_CORRUPT" });
      }
    } finally {
      db.close();
    }
  });

  // Valid JSON or text that still is no event: what the DynamoDB store refuses as EVENT_CORRUPT too.
  const notEvents: readonly (readonly [string, string, string])[] = [
    ["metadata that is JSON null", "metadata = 'null'", "metadata"],
    ["metadata that is an array", "metadata = '[1]'", "metadata"],
    ["metadata that is a string", `metadata = '"4111 1111"'`, "metadata"],
    ["an empty type", "type = ''", "type"],
    ["an empty event id", "id = ''", "id"],
    ["an empty time", "timestamp = ''", "time"],
    ["a time that is no ISO-8601 time", "timestamp = 'yesterday, around noon'", "time"],
    ["a version that is not an integer", "version = '2x'", "version"],
    ["a version that is a BLOB", "version = x'02'", "version"],
  ];
  for (const [what, assignment, named] of notEvents) {
    test(`${what} fails every read, through a Durable Object's client too, with an EventCorruptError naming the stream, not the text`, async () => {
      const db = new Database(":memory:");
      try {
        const store = await twoEvents(db);
        db.run(`UPDATE eventflows_events SET ${assignment} WHERE position = 2`);
        // The object's client checks the answer's shape: it got BAD_REPLY for a version that was not one.
        const client = new DurableObjectEventStore({
          stub: { fetch: (url, init) => handleEventStoreRequest(store, new Request(url, init)) },
        });
        const reads = [() => store.readStream("Order-1"), () => store.readAll(), () => client.readAll()];
        for (const read of reads) {
          const error = (await readError(read)) as Error & Record<string, unknown>;
          expect(isEventCorruptError(error)).toBe(true);
          expect(error).toMatchObject({ code: "EVENT_CORRUPT", streamId: "Order-1" });
          expect(Number.isInteger(error.version)).toBe(true);
          expect(error.message).toContain(named);
          expect(error.message).not.toContain("4111");
        }
      } finally {
        db.close();
      }
    });
  }

  // SQLite's INTEGER column keeps text it cannot read as a number, and a REAL as it is: the load
  // answered NaN or 2.5, which a runner then reported as its own invalid "after".
  // A BLOB or empty text converted by Number() too: x'01' read as 1, '' as 0.
  for (const stored of ["'12abc'", "2.5", "9007199254740993", "x'01'", "''"]) {
    test(`a checkpoint stored as ${stored} fails its load with a ServiceError CHECKPOINT_CORRUPT, not a position`, async () => {
      const db = new Database(":memory:");
      try {
        const driver = bunSqliteDriver(db);
        await new SqliteEventStore({ driver }).migrate();
        const checkpoints = new SqliteCheckpointStore({ driver });
        await checkpoints.store("projection:orders", 2);
        db.run(`UPDATE eventflows_checkpoints SET position = ${stored}`);
        const error = await checkpoints.load("projection:orders").then(
          (position) => position,
          (thrown: unknown) => thrown,
        );
        expect(error).toMatchObject({ code: "SERVICE_ERROR", service: "SQLite", serviceCode: "CHECKPOINT_CORRUPT" });
        expect(String((error as Error).message)).not.toContain("12abc");
      } finally {
        db.close();
      }
    });
  }

  // A schema version that is no integer compared as neither older nor current: a repository took the
  // snapshot for a newer deployment's and never replaced it, replaying the whole stream on every load.
  for (const stored of ["'v2'", "1.5", "x'01'"]) {
    test(`a snapshot whose schema version is stored as ${stored} is a SnapshotCorruptError`, async () => {
      const error = await snapshotLoadAfter(`UPDATE eventflows_snapshots SET schema_version = ${stored}`);
      expect(error).toMatchObject({ code: "SNAPSHOT_CORRUPT", streamId: "Order-1", version: 2 });
    });
  }

  test("a snapshot with an empty time is a SnapshotCorruptError, not a createdAt of ''", async () => {
    const error = await snapshotLoadAfter(`UPDATE eventflows_snapshots SET created_at = ''`);
    expect(error).toMatchObject({ code: "SNAPSHOT_CORRUPT", streamId: "Order-1", version: 2 });
  });

  // No readStream meets such a row: the global reads do, and handed on an envelope of stream "".
  test("an event with an empty stream id fails the global reads with an EventCorruptError naming its position", async () => {
    const db = new Database(":memory:");
    try {
      const store = new SqliteEventStore({ driver: bunSqliteDriver(db) });
      await store.migrate();
      await store.appendToStream("Order-1", [
        { type: "Placed", data: { n: 1 } },
        { type: "Paid", data: { n: 2 } },
      ]);
      db.run(`UPDATE eventflows_events SET stream_id = '' WHERE position = 2`);
      const client = new DurableObjectEventStore({
        stub: { fetch: (url, init) => handleEventStoreRequest(store, new Request(url, init)) },
      });
      for (const read of [() => store.readAll(), () => client.readAll()]) {
        const error = (await readError(read)) as Error & Record<string, unknown>;
        expect(isEventCorruptError(error)).toBe(true);
        expect(error).toMatchObject({ code: "EVENT_CORRUPT", streamId: "", version: 2 });
        expect(error.message).toContain("no stream id (global position 2)");
      }
    } finally {
      db.close();
    }
  });

  // The columns keep what another tool wrote: replayed, a status of text or a BLOB body made the
  // dispatcher's `new Response` throw, or answered a status that is no HTTP status.
  for (const [what, edit] of [
    ["a status of text", "status = 'created'"],
    ["a status that is no HTTP status", "status = 42"],
    // A 1xx is no final response: replayed, new Response threw a RangeError (a 500).
    ["a 1xx status", "status = 101"],
    ["a fractional status", "status = 201.5"],
    ["a body that is a BLOB", "body = x'7b7d'"],
    ["a content type that is a BLOB", "content_type = x'6a'"],
    ["a fingerprint that is a BLOB", "fingerprint = x'6670'"],
    // Compared in SQL, text sorts above every number: the record never expired and blocked its key for good.
    ["an expiry of text", "expires_at = 'later'"],
  ] as const) {
    test(`an idempotency record with ${what} is a ServiceError IDEMPOTENCY_CORRUPT, not a response`, async () => {
      const db = new Database(":memory:");
      try {
        const driver = bunSqliteDriver(db);
        await new SqliteEventStore({ driver }).migrate();
        const keys = new SqliteIdempotencyStore({ driver });
        const claim = await keys.claim("key-1", "fp");
        if (claim.state !== "claimed") throw new Error("expected a claim");
        await keys.complete("key-1", "fp", { status: 201, body: "{}", contentType: "application/json" }, claim.token);
        db.run(`UPDATE eventflows_idempotency_keys SET ${edit}`);
        const error = await keys.claim("key-1", "fp").then(
          (answer) => answer,
          (thrown: unknown) => thrown,
        );
        expect(isEventFlowsError(error)).toBe(true);
        expect(error).toMatchObject({ code: "SERVICE_ERROR", service: "SQLite", serviceCode: "IDEMPOTENCY_CORRUPT" });
        expect(String((error as Error).message)).not.toMatch(/key-1|SELECT|idempotency_keys/);
      } finally {
        db.close();
      }
    });
  }
});
