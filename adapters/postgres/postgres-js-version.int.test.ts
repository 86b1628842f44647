import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
// postgres.js 4, installed beside 3.4 under another name (a devDependency alias): what `bun add
// postgres` installs today, and what a user may hand the stores.
import postgres4 from "postgres4";
import { ensurePostgres } from "../../test/services/postgres.ts";
import {
  PostgresCheckpointStore,
  PostgresDedupStore,
  PostgresEventStore,
  PostgresIdempotencyStore,
  PostgresProjectionLock,
  PostgresReadModelStore,
  PostgresSagaStore,
  PostgresSnapshotStore,
  type PostgresSql,
  PostgresSubjectKeyStore,
  tenantScopedSql,
} from "./index.js";

let url: string;
let masterKey: CryptoKey;
let three: PostgresSql;
let four: ReturnType<typeof postgres4>;

beforeAll(async () => {
  url = await ensurePostgres();
  masterKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  three = postgres(url, { max: 2, onnotice: () => undefined });
  four = postgres4(url, { max: 2, onnotice: () => undefined });
});
afterAll(async () => {
  await three.end();
  await four.end();
});

/** Every store (and tenantScopedSql) made on `sql`: what each threw, or "made". */
function makeEach(sql: unknown): Record<string, unknown> {
  const given = sql as PostgresSql;
  const makers: Record<string, () => unknown> = {
    PostgresEventStore: () => new PostgresEventStore({ sql: given }),
    PostgresReadModelStore: () => new PostgresReadModelStore({ sql: given }),
    PostgresCheckpointStore: () => new PostgresCheckpointStore({ sql: given }),
    PostgresSnapshotStore: () => new PostgresSnapshotStore({ sql: given }),
    PostgresSagaStore: () => new PostgresSagaStore({ sql: given }),
    PostgresDedupStore: () => new PostgresDedupStore({ sql: given }),
    PostgresIdempotencyStore: () => new PostgresIdempotencyStore({ sql: given }),
    PostgresSubjectKeyStore: () => new PostgresSubjectKeyStore({ sql: given, masterKey }),
    PostgresProjectionLock: () => new PostgresProjectionLock({ sql: given }),
    tenantScopedSql: () => tenantScopedSql(given, "acme"),
  };
  const outcomes: Record<string, unknown> = {};
  for (const [name, make] of Object.entries(makers)) {
    try {
      make();
      outcomes[name] = "made";
    } catch (error) {
      outcomes[name] = error;
    }
  }
  return outcomes;
}

/** The outcome of every maker: "made", or what it threw. */
function outcomes(made: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(made).map(([name, outcome]) => [name, outcome === "made" ? "made" : `other: ${String(outcome)}`]),
  );
}

// The stores ran on postgres.js 3.4 only, and a 4.x client was refused for a release: 4.x is what
// `npm install postgres` installs. The whole adapter suite runs on 4.x too (the postgres-js-4 step of
// scripts/test-all.ts); this file checks, in the ordinary run, that each store takes a 4.x client.
describe("postgres.js 3.4 and 4 clients both make every store", () => {
  test("a client: every store and tenantScopedSql", () => {
    for (const sql of [three, four]) {
      // The projection lock needs two connections: both clients have max 2.
      for (const outcome of Object.values(outcomes(makeEach(sql)))) expect(outcome).toBe("made");
    }
  });

  test("a transaction (postgres.js 4's has a nested begin as well as savepoint) and a reserved connection", async () => {
    // Only the stores that take a transaction or a reserved connection are asked.
    const onTransaction = (sql: unknown) => {
      const all = outcomes(makeEach(sql));
      return [all.PostgresEventStore, all.PostgresReadModelStore, all.PostgresCheckpointStore];
    };
    for (const sql of [three, four] as PostgresSql[]) {
      expect(await sql.begin(async (tx) => onTransaction(tx))).toEqual(Array(3).fill("made"));
      const reserved = await sql.reserve();
      try {
        expect(onTransaction(reserved)).toEqual(Array(3).fill("made"));
      } finally {
        reserved.release();
      }
    }
  });

  test("on a 4.x client, an append in withTransaction, a read and a tenant-scoped append all land", async () => {
    const schema = `pgjs4_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const store = new PostgresEventStore({ sql: four as unknown as PostgresSql, schema });
    try {
      await store.migrate();
      const stream = `Four-${crypto.randomUUID()}`;
      await store.withTransaction(async (tx) => {
        await tx.appendToStream(stream, [{ type: "Opened", data: { n: 1 } }], { expectedVersion: "no-stream" });
        await tx.appendToStream(stream, [{ type: "Noted", data: { n: 2 } }], { expectedVersion: 1 });
      });
      const read = [];
      for await (const event of store.readStream(stream)) read.push([event.type, event.version, event.data]);
      expect(read).toEqual([
        ["Opened", 1, { n: 1 }],
        ["Noted", 2, { n: 2 }],
      ]);
      // A conflicting append is refused and writes nothing.
      await expect(
        store.appendToStream(stream, [{ type: "Late", data: {} }], { expectedVersion: 1 }),
      ).rejects.toMatchObject({ code: "CONCURRENCY_CONFLICT" });
      let count = 0;
      for await (const _ of store.readStream(stream)) count++;
      expect(count).toBe(2);
    } finally {
      await four.unsafe(`drop schema if exists ${schema} cascade`);
    }
  });
});
