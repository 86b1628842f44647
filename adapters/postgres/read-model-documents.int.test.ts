import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { jsonIssues, ulid } from "../../src/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { PostgresEventStore, PostgresReadModelStore, type PostgresSql } from "./index.js";

// A read-model transaction keeps the documents it read and wrote as objects, copies them on every
// get and put and serializes each changed one once, at commit. These tests hold it to what the text
// round trip it replaced gave: JSON's own copy, at every step, and jsonb's limits refused at the put.

let sql: PostgresSql;
const schema = uniqueSchema("read_model_documents");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 2 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

const asJson = (value: unknown) => JSON.parse(JSON.stringify(value));
// JSON data as handlers build it: undefined properties and -0 included, which JSON drops and writes as 0.
const documents = fc
  .jsonValue({ maxDepth: 3 })
  .chain((value) =>
    fc.constantFrom(value, { value, gone: undefined }, { zero: -0, list: [value, -0] }, [value, { x: undefined }]),
  )
  .filter((value) => jsonIssues(value).length === 0 && !JSON.stringify(value).includes("\\u0000"));

test("put, get and commit give what a JSON round trip gives; changing a put or got object afterwards changes nothing (property)", async () => {
  const store = new PostgresReadModelStore({ sql, schema });
  const col = `c${ulid()}`;
  await fc.assert(
    fc.asyncProperty(documents, documents, async (first, second) => {
      const id = ulid();
      await store.transaction(async (tx) => {
        const put = structuredClone(first) as unknown;
        await tx.put(col, id, put);
        if (typeof put === "object" && put !== null) (put as Record<string, unknown>).changed = true;
        const got = await tx.get(col, id);
        expect(got).toEqual(asJson(first));
        if (typeof got === "object" && got !== null) (got as Record<string, unknown>).changed = true;
        expect(await tx.get(col, id)).toEqual(asJson(first));
        // A second put of the key (many events of a batch on one document): the last one is written.
        await tx.put(col, id, second);
        expect(await tx.get(col, id)).toEqual(asJson(second));
      });
      expect(await store.get(col, id)).toEqual(asJson(second));
    }),
    { numRuns: 40 },
  );
});

test("a document read in the transaction is handed out as a copy: changing it without a put writes nothing", async () => {
  const store = new PostgresReadModelStore({ sql, schema });
  const col = `c${ulid()}`;
  await store.put(col, "a", { n: 1, tags: ["x"] });
  await store.transaction(async (tx) => {
    await tx.preload?.([{ collection: col, id: "a" }]);
    const got = await tx.get<{ n: number; tags: string[] }>(col, "a");
    got?.tags.push("y");
    expect(await tx.get(col, "a")).toEqual({ n: 1, tags: ["x"] });
  });
  expect(await store.get(col, "a")).toEqual({ n: 1, tags: ["x"] });
});

test("U+0000 anywhere in a document, in a string or a key, is refused at the put with a ValidationError; nothing commits", async () => {
  const store = new PostgresReadModelStore({ sql, schema });
  const col = `c${ulid()}`;
  for (const bad of [{ s: "a\u0000b" }, { deep: [{ ["k\u0000"]: 1 }] }, "\u0000"]) {
    const failure = await store
      .transaction(async (tx) => {
        await tx.put(col, "ok", { n: 1 });
        await tx.put(col, "bad", bad);
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect((failure as { code?: string }).code).toBe("VALIDATION_FAILED");
    expect(await store.list(col)).toEqual([]);
  }
});

test("a document past the server's size limits (36 million numbers as jsonb) is a ValidationError naming no server internals; nothing commits", async () => {
  const store = new PostgresReadModelStore({ sql, schema });
  const col = `c${ulid()}`;
  const huge = { xs: new Array(36_000_000).fill(0) };
  const alone = await store.put(col, "huge", huge).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect((alone as { code?: string }).code).toBe("VALIDATION_FAILED");
  expect(`${(alone as Error).message} ${JSON.stringify(alone)}`).not.toMatch(/alloc|memory|jsonb/i);
  const batched = await store
    .transaction(async (tx) => {
      await tx.put(col, "ok", { n: 1 });
      await tx.put(col, "huge", huge);
    })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  expect((batched as { code?: string }).code).toBe("VALIDATION_FAILED");
  expect(await store.list(col)).toEqual([]);
}, 60_000);

test("a transaction's documents are written in chunks: 300 documents of 1 MB each (300 MB, past jsonb's 256 MB as one value) commit", async () => {
  const store = new PostgresReadModelStore({ sql, schema });
  const col = `c${ulid()}`;
  const text = "d".repeat(1024 * 1024);
  // Before: the batch went as one jsonb array and the server refused it (54000), every time it was retried.
  await store.transaction(async (tx) => {
    for (let i = 0; i < 300; i++) await tx.put(col, `doc-${i}`, { i, text });
  });
  const [row] = await sql.unsafe(
    `SELECT count(*)::int AS n, sum(length(document->>'text'))::bigint::text AS chars FROM ${schema}.read_models WHERE collection = $1`,
    [col],
  );
  expect([row?.n, row?.chars]).toEqual([300, String(300 * 1024 * 1024)]);
}, 120_000);

test("a document whose JSON is over 256 MiB is a PayloadTooLargeError before anything is sent, alone or in a transaction", async () => {
  const store = new PostgresReadModelStore({ sql, schema });
  const col = `c${ulid()}`;
  const huge = { s: "x".repeat(2 ** 28) };
  for (const write of [
    () => store.put(col, "huge", huge),
    () =>
      store.transaction(async (tx) => {
        await tx.put(col, "ok", { n: 1 });
        await tx.put(col, "huge", huge);
      }),
  ]) {
    const error = await write().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    // Before: a ServiceError 54000 quoting "string too long to represent as jsonb string" (over 1 GB: a
    // reset connection, reported retryable).
    expect(error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", limit: 2 ** 28 - 1 });
    expect(await store.list(col)).toEqual([]);
  }
}, 120_000);
