import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { idempotencyKeyFrom, principalIdentity, requestFingerprint, scopedIdempotencyKey } from "./idempotency.js";

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

// The digests are computed in JavaScript for small inputs and by Web Crypto for large ones: both
// must be plain SHA-256, so a key stored by either path (or by an earlier version) still matches.
async function webCryptoHex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

describe("digests", () => {
  test("the fingerprint is SHA-256 of `<type>\\n<body>`, small bodies and large alike", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 16_000, maxLength: 40_000 })),
        async (type, body) => {
          const input = new Uint8Array([...new TextEncoder().encode(`${type}\n`), ...body]);
          expect(await requestFingerprint(type, body)).toBe(await webCryptoHex(input));
        },
      ),
      { numRuns: 60 },
    );
  });

  test("the scoped key is SHA-256 of the scope (first 32 hex digits) and of the key, short scopes and long", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 200 }), fc.string({ minLength: 6_000, maxLength: 9_000 })),
        fc.string({ minLength: 1, maxLength: 255 }),
        async (scope, key) => {
          const encode = (text: string) => new TextEncoder().encode(text);
          const expected = `${(await webCryptoHex(encode(scope))).slice(0, 32)}:${await webCryptoHex(encode(key))}`;
          expect(await scopedIdempotencyKey(scope, key)).toBe(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("scopedIdempotencyKey", () => {
  test("is 97 characters whatever the key and scope, and differs by either", async () => {
    const long = await scopedIdempotencyKey("s".repeat(10_000), "k".repeat(255));
    expect(long).toMatch(/^[0-9a-f]{32}:[0-9a-f]{64}$/);
    const base = await scopedIdempotencyKey("scope", "key");
    expect(await scopedIdempotencyKey("scope", "key")).toBe(base);
    expect(await scopedIdempotencyKey("scope2", "key")).not.toBe(base);
    expect(await scopedIdempotencyKey("scope", "key2")).not.toBe(base);
  });
});

describe("principalIdentity", () => {
  test("covers userId and every metadata field, in any key order; none without either", () => {
    expect(principalIdentity(undefined)).toBeUndefined();
    expect(principalIdentity({})).toBeUndefined();
    expect(principalIdentity({ metadata: {} })).toBeUndefined();
    const a = principalIdentity({ userId: "u", metadata: { tenant: "t1", role: { x: 1, y: 2 } } });
    expect(principalIdentity({ metadata: { role: { y: 2, x: 1 }, tenant: "t1" }, userId: "u" })).toBe(a as string);
    expect(principalIdentity({ userId: "u", metadata: { tenant: "t2", role: { x: 1, y: 2 } } })).not.toBe(a as string);
    expect(principalIdentity({ metadata: { tenant: "t1" } })).not.toBe(
      principalIdentity({ metadata: { tenant: "t2" } }),
    );
    // A "__proto__" key, as JSON.parse makes it (from claims, say), is part of the identity like any other.
    const claims = (role: string) => JSON.parse(`{"tenant":"t1","__proto__":{"role":"${role}"}}`);
    expect(principalIdentity({ userId: "u", metadata: claims("admin") })).not.toBe(
      principalIdentity({ userId: "u", metadata: claims("reader") }) as string,
    );
    expect(principalIdentity({ userId: "u", metadata: claims("admin") })).not.toBe(
      principalIdentity({ userId: "u", metadata: { tenant: "t1" } }) as string,
    );
  });
});
