import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isIdempotencyClaimLostError, ValidationError } from "../errors.js";
import { registerContract } from "../testing/contract.js";
import { idempotencyStoreContract } from "../testing/idempotency-store-contract.js";
import { InMemoryIdempotencyStore, idempotencyScopeOf } from "./in-memory-idempotency-store.js";

registerContract(
  idempotencyStoreContract({
    name: "InMemoryIdempotencyStore contract",
    create: (settings) => new InMemoryIdempotencyStore(settings),
  }),
  { describe, test },
);

const ok = { status: 200, body: '{"ok":true}', contentType: "application/json" };

/** Claims a free key; the claim's token. */
async function claim(store: InMemoryIdempotencyStore, key: string, fingerprint: string): Promise<string> {
  const claimed = await store.claim(key, fingerprint);
  if (claimed.state !== "claimed") throw new Error(`${key} was not free: ${claimed.state}`);
  return claimed.token;
}

describe("InMemoryIdempotencyStore", () => {
  test("claims a key once; later claims see it in progress, then completed", async () => {
    const store = new InMemoryIdempotencyStore();
    const token = await claim(store, "k", "f1");
    expect(await store.claim("k", "f2")).toEqual({ state: "in-progress", fingerprint: "f1" });
    await store.complete("k", "f1", ok, token);
    expect(await store.claim("k", "f1")).toEqual({ state: "completed", fingerprint: "f1", response: ok });
  });

  test("release forgets only an in-progress claim with the same fingerprint", async () => {
    const store = new InMemoryIdempotencyStore();
    const first = await claim(store, "k", "f1");
    await store.release("k", "other", first);
    expect((await store.claim("k", "f1")).state).toBe("in-progress");
    await store.release("k", "f1", first);
    const second = await claim(store, "k", "f1");
    await store.complete("k", "f1", ok, second);
    await store.release("k", "f1", second);
    expect((await store.claim("k", "f1")).state).toBe("completed");
  });

  test("completed keys expire after ttlMs, abandoned claims after inProgressTtlMs", async () => {
    let now = 0;
    const store = new InMemoryIdempotencyStore({ ttlMs: 100, inProgressTtlMs: 10, now: () => now });
    await store.complete("done", "f", ok, await claim(store, "done", "f"));
    await store.claim("stuck", "f");
    now = 11;
    expect((await store.claim("stuck", "f")).state).toBe("claimed");
    expect((await store.claim("done", "f")).state).toBe("completed");
    now = 101;
    expect((await store.claim("done", "f")).state).toBe("claimed");
  });

  test("expired claims are forgotten even when a live response was stored before them", async () => {
    let now = 0;
    const store = new InMemoryIdempotencyStore({ ttlMs: 100, inProgressTtlMs: 10, now: () => now });
    await store.complete("done", "f", ok, await claim(store, "done", "f"));
    for (let i = 0; i < 50; i++) await store.claim(`stuck-${i}`, "f");
    await store.complete("late", "f", ok, await claim(store, "late", "f"));
    now = 10;
    await store.claim("next", "f");
    // "done", "late" and "next" are live; the 50 abandoned claims behind "done" are gone from memory.
    expect(store.size).toBe(3);
    now = 20;
    await store.claim("after", "f");
    expect(store.size).toBe(3);
    expect((await store.claim("next", "f")).state).toBe("claimed");
  });

  test("property: only the claim holding a key writes it; a stale or unknown token changes nothing", async () => {
    type Op =
      | { kind: "claim"; key: number; fp: number }
      | { kind: "complete" | "release"; key: number; fp: number; token: number }
      | { kind: "advance"; ms: number };
    const key = fc.nat({ max: 2 });
    const fp = fc.nat({ max: 1 });
    const token = fc.nat({ max: 5 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("claim" as const), key, fp }),
      fc.record({ kind: fc.constantFrom("complete" as const, "release" as const), key, fp, token }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.constantFrom(1, 9, 10, 50, 100) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        let now = 0;
        const store = new InMemoryIdempotencyStore({ ttlMs: 100, inProgressTtlMs: 10, now: () => now });
        // The model: per key, the holder's token, fingerprint, expiry and whether it completed.
        const held = new Map<number, { token: string; fp: number; expiresAt: number; done: boolean }>();
        const tokens: string[] = [];
        for (const step of ops) {
          if (step.kind === "advance") {
            now += step.ms;
            continue;
          }
          const live = held.get(step.key);
          const isLive = live !== undefined && live.expiresAt > now;
          if (step.kind === "claim") {
            const claim = await store.claim(`k${step.key}`, `f${step.fp}`);
            expect(claim.state === "claimed").toBe(!isLive);
            if (claim.state === "claimed") {
              tokens.push(claim.token);
              held.set(step.key, { token: claim.token, fp: step.fp, expiresAt: now + 10, done: false });
            } else expect(claim.fingerprint).toBe(`f${live?.fp}`);
            continue;
          }
          const given = tokens[step.token] ?? "never-given";
          const own = live !== undefined && live.token === given && live.fp === step.fp;
          if (step.kind === "complete") {
            const outcome = await store.complete(`k${step.key}`, `f${step.fp}`, ok, given).then(
              () => "stored",
              (error: unknown) => (isIdempotencyClaimLostError(error) ? "lost" : error),
            );
            expect(outcome).toBe(own || !isLive ? "stored" : "lost");
            if (outcome === "stored") {
              held.set(step.key, { token: given, fp: step.fp, expiresAt: now + 100, done: true });
            }
          } else {
            await store.release(`k${step.key}`, `f${step.fp}`, given);
            if (own && !live.done) held.delete(step.key);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  test("keeps at most maxEntries keys, forgetting the oldest", async () => {
    const store = new InMemoryIdempotencyStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c", "d"]) await store.claim(key, "f");
    expect(store.size).toBe(3);
    expect((await store.claim("a", "f")).state).toBe("claimed");
    expect((await store.claim("d", "f")).state).toBe("in-progress");
  });

  test("one caller flooding its scope forgets only its own keys, not another caller's", async () => {
    const store = new InMemoryIdempotencyStore({ maxEntriesPerScope: 5 });
    await store.complete("victim:retry-me", "f", ok, await claim(store, "victim:retry-me", "f"));
    for (let i = 0; i < 100; i++) await store.claim(`attacker:${i}`, "f");
    expect(store.size).toBe(6);
    expect((await store.claim("victim:retry-me", "f")).state).toBe("completed");
    expect((await store.claim("attacker:0", "f")).state).toBe("claimed");
    expect((await store.claim("attacker:99", "f")).state).toBe("in-progress");
  });

  test("stored bytes are bounded per scope and overall; a response over a scope's bound is not kept", async () => {
    const store = new InMemoryIdempotencyStore({ maxBytesPerScope: 2_000, maxBytes: 5_000 });
    const big = { ...ok, body: "x".repeat(900) };
    await store.complete("victim:a", "f", big, await claim(store, "victim:a", "f"));
    for (let i = 0; i < 10; i++) {
      await store.complete(`attacker:${i}`, "f", big, await claim(store, `attacker:${i}`, "f"));
    }
    expect(store.bytes).toBeLessThanOrEqual(5_000);
    expect((await store.claim("victim:a", "f")).state).toBe("completed");
    // Two of the attacker's responses fit in its 2,000 bytes: only its newest two are left.
    expect((await store.claim("attacker:9", "f")).state).toBe("completed");
    expect((await store.claim("attacker:7", "f")).state).toBe("claimed");
    await store.complete("huge:a", "f", { ...ok, body: "é".repeat(1_500) }, await claim(store, "huge:a", "f"));
    expect((await store.claim("huge:a", "f")).state).toBe("claimed");
  });

  test("the overall byte bound holds however many callers there are", async () => {
    const store = new InMemoryIdempotencyStore({ maxBytes: 10_000 });
    for (let i = 0; i < 200; i++) {
      const token = await claim(store, `caller-${i}:k`, "f");
      await store.complete(`caller-${i}:k`, "f", { ...ok, body: "y".repeat(500) }, token);
      expect(store.bytes).toBeLessThanOrEqual(10_000);
    }
    expect((await store.claim("caller-199:k", "f")).state).toBe("completed");
  });

  test("keys without a scope count only against the overall bounds", async () => {
    const store = new InMemoryIdempotencyStore({ maxEntriesPerScope: 2, maxEntries: 5 });
    for (const key of ["a", "b", "c", "d"]) await store.claim(key, "f");
    expect(store.size).toBe(4);
    expect((await store.claim("a", "f")).state).toBe("in-progress");
  });

  test("a key's scope is what precedes its first colon", () => {
    expect(idempotencyScopeOf("abc:def:g")).toBe("abc");
    expect(idempotencyScopeOf("plain")).toBe("");
  });

  test("refuses bad options", () => {
    expect(() => new InMemoryIdempotencyStore({ ttlMs: 0 })).toThrow("ttlMs");
    expect(() => new InMemoryIdempotencyStore({ maxEntries: 1.5 })).toThrow("maxEntries");
    expect(() => new InMemoryIdempotencyStore({ inProgressTtlMs: Number.NaN })).toThrow("inProgressTtlMs");
    expect(() => new InMemoryIdempotencyStore({ maxBytes: -1 })).toThrow("maxBytes");
    expect(() => new InMemoryIdempotencyStore({ maxBytesPerScope: 0 })).toThrow("maxBytesPerScope");
    expect(() => new InMemoryIdempotencyStore({ maxEntriesPerScope: 0 })).toThrow("maxEntriesPerScope");
    // Callbacks are checked up front: a TypeError at the first claim before.
    expect(() => new InMemoryIdempotencyStore({ now: 5 as never })).toThrow("now: must be a function, got 5");
    expect(() => new InMemoryIdempotencyStore({ scopeOf: "x" as never })).toThrow(
      'scopeOf: must be a function, got "x"',
    );
    expect(() => new InMemoryIdempotencyStore({ scopeOf: null as never })).toThrow(ValidationError);
  });
});
