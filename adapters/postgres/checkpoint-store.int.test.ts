import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { checkpointStoreContract, registerContract } from "../../src/testing/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { PostgresCheckpointStore, PostgresEventStore, type PostgresSql } from "./index.js";

let sql: PostgresSql;
const schema = uniqueSchema("checkpoints");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 10 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

registerContract(
  checkpointStoreContract({
    name: "PostgresCheckpointStore contract",
    create: () => new PostgresCheckpointStore({ sql, schema }),
  }),
  { describe, test },
);

describe("PostgresCheckpointStore", () => {
  test("a checkpoint saved in a transaction that rolls back is not saved", async () => {
    const id = `rolled-back-${crypto.randomUUID()}`;
    await expect(
      sql.begin(async (tx) => {
        await new PostgresCheckpointStore({ sql: tx, schema }).store(id, 12);
        throw new Error("read model update failed");
      }),
    ).rejects.toThrow("read model update failed");
    expect(await new PostgresCheckpointStore({ sql, schema }).load(id)).toBeUndefined();
  });

  test("ids with unpaired surrogates are refused: UTF-8 could not store them verbatim", async () => {
    const store = new PostgresCheckpointStore({ sql, schema });
    await expect(store.store("broken-\ud800", 1)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  test("bad options are refused", () => {
    expect(() => new PostgresCheckpointStore({ sql: undefined as unknown as PostgresSql })).toThrow(
      "Invalid checkpoint store options",
    );
    expect(() => new PostgresCheckpointStore({ sql, schema: "Bad-Name" })).toThrow("Invalid PostgreSQL names");
  });
});
