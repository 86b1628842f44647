import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isValidationError, sagaTimeoutId, ulid } from "../../src/index.js";
import { registerContract, sagaStoreContract } from "../../src/testing/index.js";
import { usePostgresSchema } from "../../test/fixtures/postgres-schema.ts";
import { PostgresEventStore, PostgresSagaStore, type PostgresSql } from "./index.js";

const pg = usePostgresSchema("sagas", {
  client: { max: 10 },
  migrate: ({ sql, schema }) => new PostgresEventStore({ sql, schema }).migrate(),
});
const { schema } = pg;

registerContract(
  sagaStoreContract({
    name: "PostgresSagaStore contract",
    create: (settings) => new PostgresSagaStore({ ...pg.options, ...settings }),
  }),
  { describe, test },
);

describe("PostgresSagaStore", () => {
  test("a commit that fails half-way (its handled id is taken) leaves no outbox entry or timeout behind", async () => {
    const store = new PostgresSagaStore(pg.options);
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
    const rows = await pg.sql.unsafe(
      `SELECT (SELECT count(*) FROM ${schema}.saga_outbox WHERE saga = $1)::int AS outbox,
              (SELECT count(*) FROM ${schema}.saga_timeouts WHERE saga = $1)::int AS timeouts,
              (SELECT version FROM ${schema}.sagas WHERE saga = $1) AS version`,
      [saga],
    );
    expect({ ...rows[0] } as Record<string, unknown>).toEqual({ outbox: 0, timeouts: 0, version: 1 });
  });

  // PostgreSQL caps an index entry at 2,704 bytes: saga, key and a handled id, an outbox entry id or a
  // timeout name together can pass it within the core's character limits (docs/adapters/postgres.md,
  // "Saga store"). Such a commit must be the documented ValidationError with nothing written; any
  // other commit is stored and read back verbatim.
  test("names, keys and ids up to the core's limits, in any script: stored verbatim, or refused whole as too large (property)", async () => {
    const store = new PostgresSagaStore(pg.options);
    // Random code points (compressible text passes the limit: PostgreSQL compresses index entries).
    const unit = fc
      .oneof(
        fc.integer({ min: 0x21, max: 0x7e }),
        fc.integer({ min: 0xa1, max: 0x24f }),
        fc.integer({ min: 0x4e00, max: 0x9fff }),
        fc.integer({ min: 0x1f300, max: 0x1faff }),
      )
      .filter((code) => code !== 0x2f && code !== 0x25) // no "/" or "%", which the timeout id escapes
      .map((code) => String.fromCodePoint(code));
    const text = (max: number) =>
      fc.array(unit, { minLength: 1, maxLength: max, size: "max" }).map((parts) => {
        let joined = "";
        for (const part of parts) if (joined.length + part.length <= max) joined += part;
        return joined;
      });
    const outcomes = { stored: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(text(486), text(512), text(2048), text(200), async (name, key, handledId, timeoutName) => {
        const saga = `${ulid()}${name}`;
        const outbox = [{ id: handledId, type: "Cmd", payload: {}, causationId: handledId, compensation: false }];
        const timeoutId = sagaTimeoutId(saga, key, timeoutName, 1);
        const schedule =
          timeoutId.length > 2048 ? [] : [{ id: timeoutId, saga, key, name: timeoutName, dueAt: 0, data: null }];
        const commit = { saga, key, state: { n: 1 }, status: "running" as const, step: 0, compensations: [] };
        const outcome = await store.commit({ ...commit, expectedVersion: 0, handledId, outbox, schedule }).then(
          () => "stored",
          (error: unknown) => error,
        );
        if (outcome === "stored") {
          outcomes.stored++;
          expect(await store.load(saga, key)).toMatchObject({ saga, key, version: 1, state: { n: 1 } });
          expect(await store.hasHandled(saga, key, handledId)).toBe(true);
          return;
        }
        outcomes.refused++;
        expect(isValidationError(outcome)).toBe(true);
        expect((outcome as Error).message).toStartWith("A value was too large for the store");
        expect(await store.load(saga, key)).toBeUndefined();
        const [left] = await pg.sql.unsafe(
          `SELECT (SELECT count(*) FROM ${schema}.saga_handled WHERE saga = $1)::int
                + (SELECT count(*) FROM ${schema}.saga_outbox WHERE saga = $1)::int
                + (SELECT count(*) FROM ${schema}.saga_timeouts WHERE saga = $1)::int AS n`,
          [saga],
        );
        expect(left?.n).toBe(0);
      }),
      { numRuns: 40, endOnFailure: true },
    );
    // Both sides of the limit were reached.
    expect(outcomes.stored).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  }, 60_000);

  test("bad options are refused", () => {
    expect(() => new PostgresSagaStore({ sql: undefined as unknown as PostgresSql })).toThrow(
      "Invalid PostgreSQL saga store options",
    );
    expect(() => new PostgresSagaStore({ sql: pg.sql, schema: "Bad-Name" })).toThrow("Invalid PostgreSQL names");
  });
});
