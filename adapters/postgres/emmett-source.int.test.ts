import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isEventFlowsError, ServiceError } from "../../src/index.js";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import { createPostgresClient, emmettPostgresSource, type PostgresSql } from "./index.js";

// What emmettPostgresSource says when Emmett's table is not where it reads (the 10k-event import is
// emmett-import.int.test.ts): a schema that does not exist, or one without emt_messages.
const empty = uniqueSchema("emmett_none");
let sql: PostgresSql;

beforeAll(async () => {
  sql = createPostgresClient(await ensurePostgres(), { max: 1 });
  await sql.unsafe(`CREATE SCHEMA ${empty}`);
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${empty} CASCADE`);
  await sql.end();
});

async function failure(run: () => Promise<unknown>): Promise<ServiceError> {
  const error = await run().then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(error instanceof ServiceError)) throw new Error(`expected a ServiceError, got ${String(error)}`);
  return error;
}

describe("emmettPostgresSource without Emmett's table", () => {
  test("a missing schema or one without emt_messages: a ServiceError about the source, not the store's migrations", async () => {
    for (const schema of [`${empty}_missing`, empty]) {
      const source = emmettPostgresSource(sql, { schema });
      const fromHead = await failure(() => source.head());
      const fromBatches = await failure(async () => {
        for await (const _ of source.batches(0, 10)) break;
      });
      for (const error of [fromHead, fromBatches]) {
        expect(isEventFlowsError(error)).toBe(true);
        expect(error.serviceCode).toBe("42P01");
        expect(error.retryable).toBe(false);
        expect(error.message).toBe(
          `postgres import failed (42P01): the source database holds no Emmett event table (emt_messages) in schema "${schema}": check the database and the schema option`,
        );
        expect(error.message).not.toContain("migrat");
        expect(error.message).not.toContain("SELECT");
      }
    }
  });

  test("no schema: the search path is named", async () => {
    const onPath = createPostgresClient(await ensurePostgres(), {
      max: 1,
      connection: { search_path: empty },
    });
    try {
      const error = await failure(() => emmettPostgresSource(onPath).head());
      expect(error.message).toContain("no Emmett event table (emt_messages) on the search path");
    } finally {
      await onPath.end();
    }
  });
});
