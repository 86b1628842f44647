import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { InMemoryEventBus, isValidationError } from "../../src/index.js";
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

  test("an append inside a transaction that commits later says written, not committed, on its span: withTransaction and a store on your own", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const stream = `Tx-${crypto.randomUUID()}`;
    // Rolled back after the append returned: its span must not claim a commit.
    await store
      .withTransaction(async (tx) => {
        await tx.appendToStream(stream, [{ type: "RolledBack", data: {} }]);
        throw new Error("roll back");
      })
      .catch(() => undefined);
    await sql
      .begin(async (tx) => {
        await new PostgresEventStore({ sql: tx, schema }).appendToStream(stream, [{ type: "RolledBack", data: {} }]);
        throw new Error("roll back");
      })
      .catch(() => undefined);
    await store.appendToStream(stream, [{ type: "Committed", data: {} }]);
    const outcomes = tracing
      .spans()
      .filter((span) => span.name === "appendToStream" && span.attributes["eventflows.stream_id"] === stream)
      .map((span) => span.attributes["eventflows.outcome"]);
    expect(outcomes).toEqual(["written", "written", "committed"]);
    expect(await store.getStreamVersion(stream)).toBe(1);
  });

  test("a store on your own transaction takes no bus: it would publish at the INSERT, before a rollback", async () => {
    let thrown: unknown;
    await sql
      .begin(async (tx) => {
        try {
          new PostgresEventStore({ sql: tx, schema, bus: new InMemoryEventBus() });
        } catch (error) {
          thrown = error;
        }
      })
      .catch(() => undefined);
    expect(isValidationError(thrown)).toBe(true);
    expect((thrown as { issues: { path: string[] }[] }).issues.map((issue) => issue.path.join("."))).toEqual(["bus"]);
  });
});
