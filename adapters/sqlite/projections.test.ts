import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { ErrorCode, InMemoryProjectionLock, ProjectionRunner, projection, replay, ulid } from "../../src/index.js";
import { projectionContract, registerContract } from "../../src/testing/index.js";
import { d1OverBunSqlite } from "../../test/sqlite/d1-over-bun-sqlite.ts";
import {
  bunSqliteDriver,
  D1_MAX_BATCH_STATEMENTS,
  type D1DatabaseLike,
  d1Driver,
  SqliteEventStore,
  SqliteReadModelStore,
} from "./index.js";

// A file database in WAL mode, migrated once, shared by every case. SQLite has no lease lock of its
// own: one database is one process's (or one Durable Object's), so the in-memory lock serves.
const dir = mkdtempSync(join(tmpdir(), "eventflows-sqlite-projections-"));
const db = new Database(join(dir, "projections.db"));
const driver = bunSqliteDriver(db);
await new SqliteEventStore({ driver }).migrate();
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

registerContract(
  projectionContract({
    name: "projection contract on SQLite (bun:sqlite, file, WAL)",
    create: () => ({
      eventStore: new SqliteEventStore({ driver }),
      readModels: new SqliteReadModelStore({ driver }),
      lock: new InMemoryProjectionLock(),
    }),
  }),
  { describe, test },
);

describe("SqliteReadModelStore", () => {
  test("bad options are refused", () => {
    expect(() => new SqliteReadModelStore({ driver: undefined as never })).toThrow("Invalid read-model store options");
    expect(() => new SqliteReadModelStore({ driver, tablePrefix: "bad prefix" })).toThrow("Invalid");
  });

  test("with a driver's maxValueBytes (2 MB on D1 and Durable Objects), a document whose row is over it is a PayloadTooLargeError before anything is sent; in a runner, a ProjectionFailedError at its event", async () => {
    let batches = 0;
    const capped = {
      ...driver,
      maxValueBytes: 300,
      batch: (statements: Parameters<typeof driver.batch>[0]) => {
        batches += 1;
        return driver.batch(statements);
      },
    };
    const readModels = new SqliteReadModelStore({ driver: capped });
    const collection = `capped-${ulid()}`;
    const tooBig = { code: ErrorCode.PayloadTooLarge, limit: 300 };
    // The row: collection (33), id (1) and the document's JSON (2 + its characters).
    const fits = "x".repeat(300 - collection.length - 1 - 2);
    await expect(readModels.put(collection, "a", `${fits}x`)).rejects.toMatchObject({ ...tooBig, size: 301 });
    await expect(
      readModels.transaction(async (tx) => {
        await tx.put(collection, "b", "small");
        await tx.put(collection, "a", "é".repeat(200)); // 402 bytes of UTF-8 in 202 characters
      }),
    ).rejects.toMatchObject({ ...tooBig, size: 436 });
    expect(batches).toBe(0);
    expect(await readModels.list(collection)).toEqual([]);
    await readModels.put(collection, "a", fits);
    await readModels.transaction((tx) => tx.put(collection, "b", fits));
    expect((await readModels.list<string>(collection)).map((d) => d.document)).toEqual([fits, fits]);

    const eventStore = new SqliteEventStore({ driver });
    const stream = `Capped-${ulid()}`;
    const [, big] = (
      await eventStore.appendToStream(stream, [
        { type: "Small", data: 1 },
        { type: "Big", data: 2 },
      ])
    ).events;
    const name = `capped-${ulid()}`;
    const runner = new ProjectionRunner({
      projection: projection({
        name,
        streams: [stream],
        handle: (event, { readModels }) =>
          readModels.put(collection, event.id, event.type === "Big" ? "y".repeat(400) : 1),
      }),
      eventStore,
      readModels,
      onFailure: () => undefined,
    });
    const failed = await runner.catchUp().catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: ErrorCode.ProjectionFailed, eventId: big?.id });
    expect((failed as Error).cause).toMatchObject(tooBig);
    expect(await readModels.checkpoints.load(`projection:${name}`)).toBeUndefined();
    expect(await readModels.list(collection)).toHaveLength(2);
  });

  test("a replay's dry run fails at a document over the driver's maxValueBytes as the run that writes does (it passed the dry run)", async () => {
    const readModels = new SqliteReadModelStore({ driver: { ...driver, maxValueBytes: 300 } });
    const eventStore = new SqliteEventStore({ driver });
    const stream = `Capped-${ulid()}`;
    const collection = `capped-${ulid()}`;
    await eventStore.appendToStream(stream, [{ type: "Big", data: 1 }]);
    const failures = [];
    for (const dryRun of [true, false]) {
      const failed = await replay({
        eventStore,
        readModels,
        stream,
        dryRun,
        handle: (_event, { readModels: writer }) => writer.put(collection, "a", "y".repeat(400)),
      }).catch((e: unknown) => e);
      failures.push({ code: (failed as { code?: string }).code, cause: (failed as Error).cause });
    }
    const tooBig = {
      code: ErrorCode.ReplayFailed,
      cause: expect.objectContaining({ code: ErrorCode.PayloadTooLarge }),
    };
    expect(failures).toEqual([tooBig, tooBig]);
    expect(await readModels.list(collection)).toEqual([]);
  });

  test("on D1 a read-model transaction of more statements than maxBatchStatements (1,000 by default: D1's queries per Worker invocation) is refused with a ReadModelTransactionTooLargeError before anything is sent, nothing written; any fewer commit (fast-check, a D1 stand-in over bun:sqlite)", async () => {
    const { d1, sent } = d1StandIn();
    expect(d1Driver(d1).maxBatchStatements).toBe(D1_MAX_BATCH_STATEMENTS);
    for (const bad of [0, -1, 1.5, Number.NaN, "10"]) {
      expect(() => d1Driver(d1, { maxBatchStatements: bad as never })).toThrow(
        expect.objectContaining({ code: ErrorCode.Validation }),
      );
    }
    const tooMany = (limit: number) => ({
      code: ErrorCode.ReadModelTransactionTooLarge,
      name: "ReadModelTransactionTooLargeError",
      store: "SQLite (d1)",
      limit,
      unit: "writes",
    });
    // The default: 1,001 documents in one transaction cannot go as one D1 batch.
    const defaults = new SqliteReadModelStore({ driver: d1Driver(d1) });
    const wide = `d1-wide-${ulid()}`;
    await expect(
      defaults.transaction(async (tx) => {
        for (let n = 0; n <= D1_MAX_BATCH_STATEMENTS; n++) await tx.put(wide, `${n}`, n);
      }),
    ).rejects.toMatchObject({ ...tooMany(D1_MAX_BATCH_STATEMENTS), size: D1_MAX_BATCH_STATEMENTS + 1 });
    expect(sent).toEqual([]);
    expect(await defaults.list(wide)).toEqual([]);
    await defaults.transaction(async (tx) => {
      for (let n = 1; n <= D1_MAX_BATCH_STATEMENTS; n++) await tx.put(wide, `${n}`, n);
    });
    expect(sent).toEqual([D1_MAX_BATCH_STATEMENTS]);
    expect(await defaults.list(wide)).toHaveLength(D1_MAX_BATCH_STATEMENTS);
    // The driver refuses any batch over it, whoever sends it (not a read-model transaction: a ValidationError).
    await expect(
      d1Driver(d1, { maxBatchStatements: 2 }).batch([{ sql: "SELECT 1" }, { sql: "SELECT 2" }, { sql: "SELECT 3" }]),
    ).rejects.toMatchObject({ code: ErrorCode.Validation, name: "ValidationError" });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 30 }),
        fc.boolean(),
        async (maxBatchStatements, documents, checkpoint) => {
          sent.length = 0;
          const readModels = new SqliteReadModelStore({ driver: d1Driver(d1, { maxBatchStatements }) });
          const collection = `d1-capped-${ulid()}`;
          const id = `d1-capped-${ulid()}`;
          // A checkpoint saved for the first time is one statement.
          const statements = documents + (checkpoint ? 1 : 0);
          const run = readModels.transaction(async (tx) => {
            for (let n = 0; n < documents; n++) await tx.put(collection, `${n}`, { n });
            if (checkpoint) await tx.checkpoints.store(id, 7);
          });
          if (statements <= maxBatchStatements) {
            await run;
            expect(sent).toEqual([statements]);
            expect(await readModels.list(collection)).toHaveLength(documents);
            expect(await readModels.checkpoints.load(id)).toBe(checkpoint ? 7 : undefined);
          } else {
            await expect(run).rejects.toMatchObject({ ...tooMany(maxBatchStatements), size: statements });
            expect(sent).toEqual([]);
            expect(await readModels.list(collection)).toEqual([]);
            expect(await readModels.checkpoints.load(id)).toBeUndefined();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("on D1's Free plan (50 statements a batch) a runner with the default batchSize, one document per event, commits its batches in halves and ends with every document (a D1 stand-in over bun:sqlite)", async () => {
    const { d1, sent } = d1StandIn();
    const d1Db = d1Driver(d1, { maxBatchStatements: 50 });
    const eventStore = new SqliteEventStore({ driver });
    const readModels = new SqliteReadModelStore({ driver: d1Db });
    const stream = `FreePlan-${ulid()}`;
    const appended = (
      await eventStore.appendToStream(
        stream,
        Array.from({ length: 250 }, (_, n) => ({ type: "Counted", data: n })),
      )
    ).events;
    const collection = `free-plan-${ulid()}`;
    const errors: unknown[] = [];
    const runner = new ProjectionRunner({
      projection: projection({
        name: `free-plan-${ulid()}`,
        streams: [stream],
        handle: (event, { readModels }) => readModels.put(collection, event.id, event.data),
      }),
      eventStore,
      readModels,
      onError: (error) => errors.push(error),
    });
    const done = await runner.catchUp();
    expect(done?.position).toBe(await eventStore.getLastGlobalPosition());
    expect(errors).toEqual([]);
    // Every batch sent fit; none of the runner's first batch (100 events) could.
    expect(sent.length).toBeGreaterThan(0);
    for (const statements of sent) expect(statements).toBeLessThanOrEqual(50);
    const expected = appended
      .map((event) => ({ id: event.id, document: event.data }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(await readModels.list(collection)).toEqual(expected);
  });

  test("a stored document that is not JSON (another tool wrote it) is a DOCUMENT_CORRUPT ServiceError, quoting none of it", async () => {
    const store = new SqliteReadModelStore({ driver });
    await store.put("corrupt-docs", "1", { card: "4111 1111 1111 1111" });
    db.run(`UPDATE eventflows_read_models SET document = '{"card": "4111 1111' WHERE collection = 'corrupt-docs'`);
    const corrupt = (operation: string) =>
      expect.objectContaining({
        name: "ServiceError",
        service: "SQLite",
        operation,
        serviceCode: "DOCUMENT_CORRUPT",
        retryable: false,
        message: expect.not.stringContaining("4111"),
      });
    await expect(store.get("corrupt-docs", "1")).rejects.toEqual(corrupt("getReadModel"));
    await expect(store.list("corrupt-docs")).rejects.toEqual(corrupt("listReadModels"));
  });
});

/** A D1 binding over this file's database; `sent` counts the statements of each batch that reached it. */
function d1StandIn(): { d1: D1DatabaseLike; sent: number[] } {
  const sent: number[] = [];
  return { d1: d1OverBunSqlite(db, (statements) => sent.push(statements)), sent };
}
