import { describe, expect, test } from "bun:test";
import {
  InMemoryEventStore,
  InMemorySubjectKeyStore,
  isPersonalDataError,
  isValidationError,
  personalData,
  type SubjectKeyLookup,
  unwrapSubjectKey,
  wrapSubjectKey,
} from "../index.js";

const SECRET = "ada@example.com";
/** Looks like a raw 256-bit key: what an error must never repeat. */
const KEY_TEXT = "6b3a1f0c9e2d4b7a8c5e1f3a2b4c6d8e";

/**
 * Answers of a key store written by hand (the port's `readKey` and `insertKey` are the application's code) that are
 * no SubjectKeyLookup, or an active one whose key cannot seal: each is refused as the key store's fault.
 */
const garbage: [string, () => Promise<unknown>][] = [
  ["undefined", async () => undefined],
  ["null", async () => null],
  ["a string", async () => "active"],
  ["an unknown status", async () => ({ status: "maybe" })],
  ["an active lookup without a key", async () => ({ status: "active" })],
  ["an active lookup whose key is text", async () => ({ status: "active", key: KEY_TEXT })],
  [
    "an active lookup whose key is an HMAC key",
    async () => ({
      status: "active",
      key: await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
    }),
  ],
  // Records sealed with it were labelled aes-256-gcm.
  [
    "an active lookup whose key is a 128-bit AES-GCM key",
    async () => ({
      status: "active",
      key: await crypto.subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt", "decrypt"]),
    }),
  ],
  [
    "an active lookup whose key may only encrypt",
    async () => ({
      status: "active",
      key: await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt"]),
    }),
  ],
];

/** A key store over the in-memory one whose answers are replaced by `answer` once `broken` is set. */
function faultyStore(answer: () => Promise<unknown>) {
  const state = { broken: false };
  class Faulty extends InMemorySubjectKeyStore {
    protected override async readKey(subjectId: string): Promise<SubjectKeyLookup> {
      return state.broken ? ((await answer()) as SubjectKeyLookup) : super.readKey(subjectId);
    }
    protected override async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
      return state.broken ? ((await answer()) as SubjectKeyLookup) : super.insertKey(subjectId);
    }
  }
  return { keys: new Faulty({ cacheSize: 0 }), state };
}

function expectKeyStoreFault(error: unknown, subject: string): void {
  expect(isPersonalDataError(error)).toBe(true);
  expect(error).toMatchObject({ reason: "key-store", subjectId: subject });
  expect(
    JSON.stringify([String(error), (error as Error).cause === undefined ? "" : String((error as Error).cause)]),
  ).not.toContain(KEY_TEXT);
}

describe("a key store that answers garbage fails closed (key stores made by hand)", () => {
  for (const [name, answer] of garbage) {
    test(`${name}: appends and reads are a PersonalDataError "key-store", nothing written`, async () => {
      const { keys, state } = faultyStore(answer);
      const personal = personalData({ keys, events: { T: { fields: ["email"], subject: (e) => String(e.streamId) } } });
      const store = new InMemoryEventStore({ personalData: personal });
      await store.appendToStream("C-1", [{ type: "T", data: { email: SECRET } }]);
      state.broken = true;

      expectKeyStoreFault(await keys.createOrGet("C-2").catch((e: unknown) => e), "C-2");
      expectKeyStoreFault(await keys.get("C-1").catch((e: unknown) => e), "C-1");
      const append = await store.appendToStream("C-2", [{ type: "T", data: { email: SECRET } }]).catch((e) => e);
      expectKeyStoreFault(append, "C-2");
      expect(await store.streamExists("C-2")).toBe(false);
      const read = await (async () => {
        for await (const _ of store.readStream("C-1"));
      })().catch((e: unknown) => e);
      expectKeyStoreFault(read, "C-1");
    });
  }
});

describe("wrapping and unwrapping a subject key (for key store adapters)", () => {
  test("a subject id that is none is a ValidationError first, so no error keeps it (a BigInt broke JSON.stringify)", async () => {
    const masterKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const raw = new Uint8Array(32);
    for (const subjectId of [10n, 5, undefined, "", "a\u0000b"]) {
      for (const call of [
        () => unwrapSubjectKey(masterKey, subjectId as never, new Uint8Array(40)),
        () => wrapSubjectKey(masterKey, subjectId as never, raw),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect({ subjectId: String(subjectId), validation: isValidationError(error) }).toEqual({
          subjectId: String(subjectId),
          validation: true,
        });
        expect(() => JSON.stringify(error)).not.toThrow();
      }
    }
  });

  test("a master key that is no AES-GCM CryptoKey, or bytes that are no Uint8Array, is a ValidationError, not the runtime's TypeError", async () => {
    const aes = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const hmac = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const bytes = new Uint8Array(40);
    const cases: [string, unknown, unknown, string][] = [
      ["a string master key", "secret", bytes, "masterKey"],
      ["an object master key", {}, bytes, "masterKey"],
      ["an HMAC master key", hmac, bytes, "masterKey"],
      ["an array of bytes", aes, [1, 2, 3], "bytes"],
      ["an ArrayBuffer", aes, new ArrayBuffer(40), "bytes"],
    ];
    for (const [what, masterKey, given, path] of cases) {
      for (const [name, call] of [
        ["wrap", () => wrapSubjectKey(masterKey as never, "subject-1", given as never)],
        ["unwrap", () => unwrapSubjectKey(masterKey as never, "subject-1", given as never)],
      ] as const) {
        const error = await call().catch((e: unknown) => e);
        const paths = isValidationError(error) ? error.issues.map((issue) => String(issue.path[0])) : [];
        const expected = path === "bytes" ? (name === "wrap" ? "raw" : "wrapped") : "masterKey";
        expect({ what, name, validation: isValidationError(error), paths }).toEqual({
          what,
          name,
          validation: true,
          paths: [expected],
        });
      }
    }
  });
});
