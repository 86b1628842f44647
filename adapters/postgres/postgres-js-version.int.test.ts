import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
// postgres.js 4, installed beside 3.4 under another name (a devDependency alias): what `bun add
// postgres` installs today, and what a user may hand the stores.
import postgres4 from "postgres4";
import { isValidationError } from "../../src/index.js";
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

/** The outcome of every maker, as a refusal of postgres.js 4 or not. */
function refusals(outcomes: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(outcomes).map(([name, outcome]) => [
      name,
      isValidationError(outcome) &&
      outcome.issues.some(
        (issue) => issue.path[0] === "sql" && issue.message.includes("postgres.js 4 is not supported"),
      )
        ? "refused: postgres.js 4"
        : outcome === "made"
          ? "made"
          : `other: ${String(outcome)}`,
    ]),
  );
}

describe("postgres.js 4 clients are refused with what to install; 3.4 ones are taken", () => {
  test("a client: every store and tenantScopedSql", () => {
    const fromFour = refusals(makeEach(four));
    for (const outcome of Object.values(fromFour)) expect(outcome).toBe("refused: postgres.js 4");
    const refusal = makeEach(four).PostgresEventStore as { message: string; issues: { message: string }[] };
    expect(refusal.issues[0]?.message).toContain("npm install postgres@3");
    expect(JSON.stringify(refusal)).not.toContain(url);
    const fromThree = refusals(makeEach(three));
    // The 3.4 client makes every store (the projection lock needs two connections: max 2).
    for (const outcome of Object.values(fromThree)) expect(outcome).toBe("made");
  });

  test("a transaction (postgres.js 4's has a nested begin as well as savepoint) and a reserved connection", async () => {
    // Only the stores that take a transaction or a reserved connection are asked.
    const onTransaction = (sql: unknown) => {
      const all = refusals(makeEach(sql));
      return [all.PostgresEventStore, all.PostgresReadModelStore, all.PostgresCheckpointStore];
    };
    const fourInTransaction = await four.begin(async (tx) => onTransaction(tx));
    expect(fourInTransaction).toEqual(Array(3).fill("refused: postgres.js 4"));
    const threeInTransaction = await three.begin(async (tx) => onTransaction(tx));
    expect(threeInTransaction).toEqual(Array(3).fill("made"));

    const reservedFour = await four.reserve();
    const reservedThree = await three.reserve();
    try {
      expect(onTransaction(reservedFour)).toEqual(Array(3).fill("refused: postgres.js 4"));
      expect(onTransaction(reservedThree)).toEqual(Array(3).fill("made"));
    } finally {
      reservedFour.release();
      reservedThree.release();
    }
  });
});
