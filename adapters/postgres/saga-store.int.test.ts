import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ulid } from "../../src/index.js";
import { registerContract, sagaStoreContract } from "../../src/testing/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { PostgresEventStore, PostgresSagaStore, type PostgresSql } from "./index.js";

let sql: PostgresSql;
const schema = uniqueSchema("sagas");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 10 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

registerContract(
  sagaStoreContract({
    name: "PostgresSagaStore contract",
    create: (settings) => new PostgresSagaStore({ sql, schema, ...settings }),
  }),
  { describe, test },
);

describe("PostgresSagaStore", () => {
  test("a commit that fails half-way (its handled id is taken) leaves no outbox entry or timeout behind", async () => {
    const store = new PostgresSagaStore({ sql, schema });
    const saga = `Saga-${ulid()}`;
    const base = { saga, key: "k", state: {}, status: "running" as const, step: 0, compensations: [] };
    await store.commit({ ...base, expectedVersion: 0, handledId: "e1" });
    await expect(
      store.commit({
        ...base,
        expectedVersion: 1,
        handledId: "e1",
        outbox: [{ id: `${saga}/k/1`, type: "Cmd", payload: {}, causationId: "e1", compensation: false }],
        schedule: [{ id: `${saga}/k/t/x/2`, saga, key: "k", name: "x", dueAt: 0, data: null }],
      }),
    ).rejects.toMatchObject({ code: "CONCURRENCY_CONFLICT" });
    const rows = await sql.unsafe(
      `SELECT (SELECT count(*) FROM ${schema}.saga_outbox WHERE saga = $1)::int AS outbox,
              (SELECT count(*) FROM ${schema}.saga_timeouts WHERE saga = $1)::int AS timeouts,
              (SELECT version FROM ${schema}.sagas WHERE saga = $1) AS version`,
      [saga],
    );
    expect({ ...rows[0] } as Record<string, unknown>).toEqual({ outbox: 0, timeouts: 0, version: 1 });
  });

  test("bad options are refused", () => {
    expect(() => new PostgresSagaStore({ sql: undefined as unknown as PostgresSql })).toThrow(
      "Invalid PostgreSQL saga store options",
    );
    expect(() => new PostgresSagaStore({ sql, schema: "Bad-Name" })).toThrow("Invalid PostgreSQL names");
  });
});
