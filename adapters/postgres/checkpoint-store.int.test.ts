import { describe, expect, test } from "bun:test";
import { checkpointStoreContract, registerContract } from "../../src/testing/index.js";
import { usePostgresSchema } from "../../test/fixtures/postgres-schema.ts";
import { PostgresCheckpointStore, PostgresEventStore, type PostgresSql } from "./index.js";

const pg = usePostgresSchema("checkpoints", {
  client: { max: 10 },
  migrate: ({ sql, schema }) => new PostgresEventStore({ sql, schema }).migrate(),
});
const { schema } = pg;

registerContract(
  checkpointStoreContract({
    name: "PostgresCheckpointStore contract",
    create: () => new PostgresCheckpointStore(pg.options),
  }),
  { describe, test },
);

describe("PostgresCheckpointStore", () => {
  test("a checkpoint saved in a transaction that rolls back is not saved", async () => {
    const id = `rolled-back-${crypto.randomUUID()}`;
    await expect(
      pg.sql.begin(async (tx) => {
        await new PostgresCheckpointStore({ sql: tx, schema }).store(id, 12);
        throw new Error("read model update failed");
      }),
    ).rejects.toThrow("read model update failed");
    expect(await new PostgresCheckpointStore(pg.options).load(id)).toBeUndefined();
  });

  test("ids with unpaired surrogates are refused: UTF-8 could not store them verbatim", async () => {
    const store = new PostgresCheckpointStore(pg.options);
    await expect(store.store("broken-\ud800", 1)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  test("bad options are refused", () => {
    expect(() => new PostgresCheckpointStore({ sql: undefined as unknown as PostgresSql })).toThrow(
      "Invalid checkpoint store options",
    );
    expect(() => new PostgresCheckpointStore({ sql: pg.sql, schema: "Bad-Name" })).toThrow("Invalid PostgreSQL names");
  });
});
