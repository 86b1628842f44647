/** The order-fulfilment demo with its saga instances on PostgreSQL: the same outcome as in memory. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { PostgresEventStore, PostgresSagaStore, type PostgresSql } from "../../adapters/postgres/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { runDemo } from "./demo.js";

let sql: PostgresSql;
const schema = uniqueSchema("fulfilment");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 5 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

test("on PostgreSQL the demo ships one order, compensates two, cancels one, each command once", async () => {
  const onPostgres = await runDemo(new PostgresSagaStore({ sql, schema }));
  const inMemory = await runDemo();
  expect(onPostgres.orders).toEqual(inMemory.orders);
  expect(onPostgres.orders.map((o) => o.status)).toEqual(["completed", "compensated", "compensated", "completed"]);
  expect(onPostgres.commands).toEqual(inMemory.commands);
  expect(onPostgres.fired.map((f) => [f.key, f.latenessMs, f.outcome])).toEqual([["o-3", 2000, "completed"]]);
  expect(onPostgres.stockLeft).toBe(3);
  expect([onPostgres.failures, onPostgres.needsAttention]).toEqual([[], 0]);
});
