import { describe, expect, test } from "bun:test";
import { ServiceError, ValidationError } from "../../src/index.js";
import { dedupStoreContract, idempotencyStoreContract, registerContract } from "../../src/testing/index.js";
import { usePostgresSchema } from "../../test/fixtures/postgres-schema.ts";
import {
  migrate,
  PostgresDedupStore,
  PostgresEventStore,
  PostgresIdempotencyStore,
  type PostgresSql,
} from "./index.js";

const pg = usePostgresSchema("shared_stores", {
  client: { max: 10 },
  migrate: ({ sql, schema }) => new PostgresEventStore({ sql, schema }).migrate(),
});
const { schema } = pg;

registerContract(
  dedupStoreContract({
    name: "PostgresDedupStore contract",
    create: (settings) => new PostgresDedupStore({ ...pg.options, ...settings }),
  }),
  { describe, test },
);
registerContract(
  idempotencyStoreContract({
    name: "PostgresIdempotencyStore contract",
    create: (settings) => new PostgresIdempotencyStore({ ...pg.options, ...settings }),
  }),
  { describe, test },
);

/**
 * The shared client, with the answers of the next `lose(n)` statements lost: each runs, then the
 * connection is lost before its answer, as when the server or a proxy drops it (postgres.js rejects
 * with CONNECTION_CLOSED).
 */
function losingAnswers() {
  let left = 0;
  const flaky = new Proxy(pg.sql, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== "unsafe") return value;
      return (...args: Parameters<PostgresSql["unsafe"]>) => {
        const query = target.unsafe(...args);
        if (left <= 0) return query;
        left--;
        return query.then(() => {
          throw Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" });
        });
      };
    },
  });
  const lose = (count: number) => {
    left = count;
  };
  return { flaky, lose };
}

describe("PostgreSQL dedup and idempotency stores", () => {
  test("purgeExpired deletes only expired rows", async () => {
    let now = 1_000_000;
    const dedup = new PostgresDedupStore({ ...pg.options, now: () => now, ttlMs: 100 });
    const keys = new PostgresIdempotencyStore({ ...pg.options, now: () => now, ttlMs: 100, inProgressTtlMs: 50 });
    const id = `purge-${crypto.randomUUID()}`;
    await dedup.add(id);
    await keys.claim(id, "fp");
    now += 60;
    expect(await keys.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await dedup.has(id)).toBe(true);
    now += 40;
    expect(await dedup.purgeExpired()).toBeGreaterThanOrEqual(1);
    const [row] = await pg.sql.unsafe(`SELECT count(*)::int AS n FROM ${schema}.dedup WHERE id = $1`, [id]);
    expect(row?.n).toBe(0);
  });

  test("a clock that reads fractions of a millisecond works (the bigint columns take whole ones)", async () => {
    let now = 1_000_000.75;
    const dedup = new PostgresDedupStore({ ...pg.options, now: () => now, ttlMs: 100 });
    const keys = new PostgresIdempotencyStore({ ...pg.options, now: () => now, ttlMs: 100, inProgressTtlMs: 50 });
    const id = `fraction-${crypto.randomUUID()}`;
    await dedup.add(id);
    expect(await dedup.has(id)).toBe(true);
    const claim = await keys.claim(id, "fp");
    expect(claim).toEqual({ state: "claimed", token: expect.any(String) });
    expect(await keys.claim(id, "fp")).toEqual({ state: "in-progress", fingerprint: "fp" });
    const token = (claim as { token: string }).token;
    await keys.complete(id, "fp", { status: 201, body: "done", contentType: "text/plain" }, token);
    expect((await keys.claim(id, "fp")).state).toBe("completed");
    await keys.release(id, "fp", token);
    now += 100.5;
    expect(await dedup.has(id)).toBe(false);
    expect((await keys.claim(id, "fp")).state).toBe("claimed");
    expect(await dedup.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await keys.purgeExpired()).toBeGreaterThanOrEqual(0);
  });

  test("a clock reading that is no time (NaN, Infinity) is a ValidationError naming now, before any statement", async () => {
    for (const reading of [Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      const dedup = new PostgresDedupStore({ ...pg.options, now: () => reading });
      const keys = new PostgresIdempotencyStore({ ...pg.options, now: () => reading });
      for (const call of [() => dedup.add("c"), () => dedup.has("c"), () => keys.claim("c", "fp")]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).issues[0]?.path).toEqual(["now"]);
      }
    }
  });

  test("text PostgreSQL cannot store is a ValidationError, not a server error", async () => {
    const dedup = new PostgresDedupStore(pg.options);
    const keys = new PostgresIdempotencyStore(pg.options);
    await expect(dedup.add("lone-\ud800")).rejects.toBeInstanceOf(ValidationError);
    await expect(keys.claim("lone-\ud800", "fp")).rejects.toBeInstanceOf(ValidationError);
    const key = `nul-body-${crypto.randomUUID()}`;
    const claim = await keys.claim(key, "fp");
    const token = claim.state === "claimed" ? claim.token : "none";
    await expect(
      keys.complete(key, "fp", { status: 200, body: "a\u0000b", contentType: "" }, token),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  test("on a schema without migration 11 (a release deployed before its migration ran), claims say to migrate", async () => {
    const behind = `${schema}_behind`;
    await migrate(pg.sql, { schema: behind, to: 10 });
    try {
      const keys = new PostgresIdempotencyStore({ sql: pg.sql, schema: behind });
      const error = await keys.claim(`k-${crypto.randomUUID()}`, "fp").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServiceError);
      expect((error as ServiceError).serviceCode).toBe("42703");
      expect((error as ServiceError).message).toContain("run the migrations");
      expect((error as ServiceError).message).not.toContain("idempotency_keys");
      await migrate(pg.sql, { schema: behind });
      expect((await keys.claim(`k-${crypto.randomUUID()}`, "fp")).state).toBe("claimed");
    } finally {
      await pg.sql.unsafe(`DROP SCHEMA IF EXISTS ${behind} CASCADE`);
    }
  });

  test("a claim, complete or release whose statement ran but whose connection was lost before the answer is retried, and knows its own claim", async () => {
    const { flaky, lose } = losingAnswers();
    const keys = new PostgresIdempotencyStore({ sql: flaky, schema });
    const key = `lost-${crypto.randomUUID()}`;
    lose(1);
    const claim = await keys.claim(key, "fp");
    expect(claim).toEqual({ state: "claimed", token: expect.any(String) });
    const token = (claim as { token: string }).token;
    lose(1);
    await keys.complete(key, "fp", { status: 201, body: "{}", contentType: "application/json" }, token);
    expect(await keys.claim(key, "fp")).toEqual({
      state: "completed",
      fingerprint: "fp",
      response: { status: 201, body: "{}", contentType: "application/json" },
    });
    const other = `lost-${crypto.randomUUID()}`;
    const otherToken = ((await keys.claim(other, "fp")) as { token: string }).token;
    lose(1);
    await keys.release(other, "fp", otherToken);
    expect((await keys.claim(other, "fp")).state).toBe("claimed");
  });

  test("mock of lost connections (no service drops one on cue): a dedup add or has whose statement ran but whose answer was lost runs again; the id is stored once and found", async () => {
    const { flaky, lose } = losingAnswers();
    const dedup = new PostgresDedupStore({ sql: flaky, schema });
    const id = `lost-${crypto.randomUUID()}`;
    lose(1);
    expect(await dedup.has(id)).toBe(false);
    // Up to the pool's size of connections may turn out lost, one after the other.
    lose(3);
    await dedup.add(id);
    lose(1);
    expect(await dedup.has(id)).toBe(true);
    const [row] = await pg.sql.unsafe(`SELECT count(*)::int AS n FROM ${schema}.dedup WHERE id = $1`, [id]);
    expect(row?.n).toBe(1);
    // More lost than the pool has connections (10, and the 2 runs postgres.js may need): a retryable error.
    lose(13);
    const gaveUp = await dedup.add(id).catch((error: unknown) => error);
    expect(gaveUp).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "CONNECTION_CLOSED", retryable: true });
    // A purge is not run again: a repeat would report what the first run deleted as none.
    lose(1);
    expect(await dedup.purgeExpired().catch((error: unknown) => error)).toBeInstanceOf(ServiceError);
    lose(0);
  });

  test("bad options are a ValidationError", () => {
    expect(() => new PostgresDedupStore({ ...pg.options, ttlMs: 0 })).toThrow(ValidationError);
    // null meant the default 14 days here, never expire in memory: refused on every dedup store now.
    expect(() => new PostgresDedupStore({ ...pg.options, ttlMs: null as never })).toThrow(ValidationError);
    expect(() => new PostgresDedupStore({ sql: undefined as never })).toThrow(ValidationError);
    expect(() => new PostgresIdempotencyStore({ sql: pg.sql, schema: "Bad Name" })).toThrow(ValidationError);
    expect(() => new PostgresIdempotencyStore({ sql: pg.sql, inProgressTtlMs: 1.5 })).toThrow(ValidationError);
  });
});
