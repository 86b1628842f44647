import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import { oneTraceThroughSubscription } from "../../test/telemetry/one-trace.ts";
import { useTracing } from "../../test/telemetry/tracing.ts";
import { createPostgresClient, PostgresEventStore, type PostgresSql } from "./index.js";

const tracing = useTracing();
const schema = uniqueSchema("tracing");
let sql: PostgresSql;

beforeAll(async () => {
  sql = createPostgresClient(await ensurePostgres(), { max: 4 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql?.end();
});

describe("tracing on PostgreSQL", () => {
  test("one trace from an HTTP request through command, append and a store subscription's handler", async () => {
    const { append } = await oneTraceThroughSubscription(new PostgresEventStore({ sql, schema }), tracing);
    expect(append.attributes).toMatchObject({
      "db.system": "postgresql",
      "eventflows.stream_id": "Order-o1",
      "eventflows.event_count": 1,
      "eventflows.outcome": "committed",
    });
  });
});
