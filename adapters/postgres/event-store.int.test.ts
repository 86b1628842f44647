import { afterAll, beforeAll, describe, test } from "bun:test";
import { eventStoreContract, registerContract } from "../../src/testing/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import type { PostgresSql } from "./index.js";
import { PostgresEventStore } from "./index.js";

let sql: PostgresSql;
const schema = uniqueSchema("contract");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 12 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

registerContract(
  eventStoreContract({
    name: "PostgresEventStore contract",
    create: (options) => new PostgresEventStore({ ...options, sql, schema }),
  }),
  { describe, test },
);
