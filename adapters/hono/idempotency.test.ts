import { describe, expect, test } from "bun:test";
import { InMemoryIdempotencyStore, idempotencyKeyFrom, requestFingerprint } from "./idempotency.js";

const ok = { status: 200, body: '{"ok":true}', contentType: "application/json" };

describe("InMemoryIdempotencyStore", () => {
  test("claims a key once; later claims see it in progress, then completed", async () => {
    const store = new InMemoryIdempotencyStore();
    expect(await store.claim("k", "f1")).toEqual({ state: "claimed" });
    expect(await store.claim("k", "f2")).toEqual({ state: "in-progress", fingerprint: "f1" });
    await store.complete("k", "f1", ok);
    expect(await store.claim("k", "f1")).toEqual({ state: "completed", fingerprint: "f1", response: ok });
  });

  test("release forgets only an in-progress claim with the same fingerprint", async () => {
    const store = new InMemoryIdempotencyStore();
    await store.claim("k", "f1");
    await store.release("k", "other");
    expect((await store.claim("k", "f1")).state).toBe("in-progress");
    await store.release("k", "f1");
    expect((await store.claim("k", "f1")).state).toBe("claimed");
    await store.complete("k", "f1", ok);
    await store.release("k", "f1");
    expect((await store.claim("k", "f1")).state).toBe("completed");
  });

  test("completed keys expire after ttlMs, abandoned claims after inProgressTtlMs", async () => {
    let now = 0;
    const store = new InMemoryIdempotencyStore({ ttlMs: 100, inProgressTtlMs: 10, now: () => now });
    await store.claim("done", "f");
    await store.complete("done", "f", ok);
    await store.claim("stuck", "f");
    now = 11;
    expect((await store.claim("stuck", "f")).state).toBe("claimed");
    expect((await store.claim("done", "f")).state).toBe("completed");
    now = 101;
    expect((await store.claim("done", "f")).state).toBe("claimed");
  });

  test("keeps at most maxEntries keys, forgetting the oldest", async () => {
    const store = new InMemoryIdempotencyStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c", "d"]) await store.claim(key, "f");
    expect(store.size).toBe(3);
    expect((await store.claim("a", "f")).state).toBe("claimed");
    expect((await store.claim("d", "f")).state).toBe("in-progress");
  });

  test("refuses bad options", () => {
    expect(() => new InMemoryIdempotencyStore({ ttlMs: 0 })).toThrow("ttlMs");
    expect(() => new InMemoryIdempotencyStore({ maxEntries: 1.5 })).toThrow("maxEntries");
    expect(() => new InMemoryIdempotencyStore({ inProgressTtlMs: Number.NaN })).toThrow("inProgressTtlMs");
  });
});

describe("idempotencyKeyFrom", () => {
  test("reads a plain or quoted key; absent is undefined", () => {
    expect(idempotencyKeyFrom(new Headers({ "idempotency-key": "abc-123" }))).toBe("abc-123");
    expect(idempotencyKeyFrom(new Headers({ "idempotency-key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"' }))).toBe(
      "8e03978e-40d5-43e8-bc93-6894a57f9324",
    );
    expect(idempotencyKeyFrom(new Headers())).toBeUndefined();
  });

  test("refuses empty, overlong and non-ASCII keys", () => {
    for (const bad of ["", '""', "k".repeat(256), "with space", "clé"]) {
      expect(() => idempotencyKeyFrom(new Headers({ "idempotency-key": bad }))).toThrow("Idempotency-Key");
    }
  });
});

describe("requestFingerprint", () => {
  test("differs by type and by body bytes; equal for equal requests", async () => {
    const body = new TextEncoder().encode('{"a":1}');
    const same = await requestFingerprint("A", new TextEncoder().encode('{"a":1}'));
    expect(await requestFingerprint("A", body)).toBe(same);
    expect(await requestFingerprint("B", body)).not.toBe(same);
    expect(await requestFingerprint("A", new TextEncoder().encode('{"a":2}'))).not.toBe(same);
    expect(same).toMatch(/^[0-9a-f]{64}$/);
  });
});
