import { afterAll, beforeAll, expect, test } from "bun:test";
import { ulid } from "../../src/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { PostgresEventStore, PostgresReadModelStore, type PostgresSql } from "./index.js";

let sql: PostgresSql;
const schema = uniqueSchema("read_model_preload");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 4 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

test("preload reads every key in one go: later gets answer from it, not from the table", async () => {
  const store = new PostgresReadModelStore({ sql, schema });
  const col = `c${ulid()}`;
  await store.put(col, "a", { n: 1 });
  await store.put(col, "b", { n: 2 });
  await store.transaction(async (tx) => {
    await tx.put(col, "b", { n: 20 });
    await tx.preload?.([
      { collection: col, id: "a" },
      { collection: col, id: "b" },
      { collection: col, id: "absent" },
    ]);
    // Changed by another connection after the preload: a get that read the table would see it
    // (read committed); one answered from the preload does not.
    await store.put(col, "a", { n: 100 });
    await store.put(col, "absent", { n: 3 });
    expect(await tx.get(col, "a")).toEqual({ n: 1 });
    expect(await tx.get(col, "absent")).toBeUndefined();
    // What the transaction wrote before the preload is kept, not replaced by the stored row.
    expect(await tx.get(col, "b")).toEqual({ n: 20 });
    // A copy each time: changing what get returned changes nothing held.
    const copy = await tx.get<{ n: number }>(col, "b");
    if (copy !== undefined) copy.n = 0;
    expect(await tx.get(col, "b")).toEqual({ n: 20 });
  });
  expect(await store.get(col, "b")).toEqual({ n: 20 });
});
