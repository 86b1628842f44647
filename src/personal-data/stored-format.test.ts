import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FIXED_IV, FixedKey, RAW_KEY, nameText as text, toBase64 } from "../../test/personal-data/fixed-key.ts";
import {
  ErrorCode,
  type EventEnvelope,
  InMemoryEventStore,
  InMemorySubjectKeyStore,
  personalData,
  type SubjectKeyStore,
} from "../index.js";
import { collect, StoreView } from "../testing/index.js";

// A ciphertext of format aes-256-gcm/2 as stored, built here from its definition with Web Crypto: a
// fixed key and IV, the values as JSON, and as additional data the label followed by
// JSON.stringify([subject, ["event", id, type], fields]). Events are immutable: whatever the library
// changes in how it builds this, what it wrote before must still read.
const IV = FIXED_IV;
// Characters JSON escapes (quote, backslash), non-ASCII and a surrogate pair, in the authenticated strings.
const SUBJECT = 'cus"to\\mer-é😀';
const EVENT_ID = "01JBQ3Y5G6M8P9R2S4T6V8W0XY";
const TYPE = "Registered";
const FIELDS = ['e"mail', "name"];
const VALUES = ["ada@example.com", { first: "Ada", last: "Lovelace" }];
const AAD = `eventflows/personal-data/v2\u0000${JSON.stringify([SUBJECT, ["event", EVENT_ID, TYPE], FIELDS])}`;
// The same ciphertext, pinned: it was computed once and must never change.
const PINNED_DATA = "mY3+e+z2Lm9UJrWgwCaab2FaIsCjZmHjaGk+fix3Eg63lYU1DAvr7Yzmusvz8YqlUN4Us5V7rqiVaSERCMSYqcaZI5V0";

async function storedCiphertext(): Promise<string> {
  const key = await crypto.subtle.importKey("raw", RAW_KEY, "AES-GCM", false, ["encrypt"]);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: IV, additionalData: new TextEncoder().encode(AAD) },
    key,
    new TextEncoder().encode(JSON.stringify(VALUES)),
  );
  return toBase64(new Uint8Array(sealed));
}

describe("the stored format aes-256-gcm/2", () => {
  test("the construction matches the pinned ciphertext", async () => {
    expect(await storedCiphertext()).toBe(PINNED_DATA);
  });

  for (const how of ["unwrapped", "imported"] as const) {
    test(`a ciphertext written to the format reads back (key ${how}), cold and cached, and not once altered`, async () => {
      const backing = new InMemoryEventStore();
      const sealed = {
        $personal: "aes-256-gcm/2",
        subject: SUBJECT,
        fields: FIELDS,
        iv: toBase64(IV),
        data: PINNED_DATA,
      };
      const reference = { $personal: "aes-256-gcm/2", subject: SUBJECT, in: FIELDS[0] };
      await backing.appendToStream("Customer-1", [
        { id: EVENT_ID, type: TYPE, data: { 'e"mail': sealed, name: reference, plan: "gold" } },
      ]);
      const store = new StoreView(backing, { personalData: personalData({ keys: new FixedKey(how) }) });
      for (let read = 0; read < 2; read++) {
        const [event] = await collect(store.readStream("Customer-1"));
        expect(event?.data).toEqual({ 'e"mail': VALUES[0], name: VALUES[1], plan: "gold" });
      }
      const altered = { ...sealed, data: PINNED_DATA.replace("mY3+", "nY3+") };
      await backing.appendToStream("Customer-2", [
        { id: "01JBQ3Y5G6M8P9R2S4T6V8W0XZ", type: TYPE, data: { 'e"mail': altered, name: reference } },
      ]);
      await expect(collect(store.readStream("Customer-2"))).rejects.toMatchObject({
        code: ErrorCode.PersonalDataUnreadable,
        reason: "tampered",
      });
    });
  }

  test("what the library seals opens under the format's definition, whatever the subject and field names (fast-check)", async () => {
    const name = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((n) => n.trim().length > 0);
    const field = fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }).filter((f) => !f.includes("."));
    const key = await crypto.subtle.importKey("raw", RAW_KEY, "AES-GCM", false, ["decrypt"]);
    await fc.assert(
      fc.asyncProperty(name, fc.uniqueArray(field, { minLength: 1, maxLength: 3 }), async (subject, fields) => {
        fc.pre(!/\p{Cc}/u.test(subject));
        const personal = personalData({
          keys: new FixedKey("unwrapped"),
          format: 2,
          events: { T: { fields, subject: () => subject } },
        });
        const backing = new InMemoryEventStore();
        const store = new StoreView(backing, { personalData: personal });
        const data = Object.fromEntries(fields.map((f, i) => [f, `value ${i}`]));
        await store.appendToStream("S-1", [{ type: "T", data }]);
        const [event] = (await collect(backing.readStream("S-1"))) as EventEnvelope[];
        if (event === undefined) throw new Error("nothing stored");
        const sealed = (event.data as Record<string, { fields: string[]; iv: string; data: string }>)[
          fields[0] as string
        ];
        const bytes = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
        const aad = `eventflows/personal-data/v2\u0000${JSON.stringify([subject, ["event", event.id, "T"], sealed?.fields])}`;
        const plain = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: bytes(sealed?.iv ?? ""), additionalData: new TextEncoder().encode(aad) },
          key,
          bytes(sealed?.data ?? ""),
        );
        expect(JSON.parse(new TextDecoder().decode(plain))).toEqual(fields.map((_, i) => `value ${i}`));
      }),
      { numRuns: 100 },
    );
  });
  test("a ciphertext built from the format's definition reads back, whatever the subject, id, type and field names, short or long (fast-check)", async () => {
    // Names long enough together to outgrow the buffer the additional data is first written into.
    const subject = text(256).filter((s) => s.trim().length > 0 && !/\p{Cc}/u.test(s));
    // Not "__proto__": no declaration may name it, and a stored list naming it is refused as malformed.
    const field = text(300).filter((f) => f.length > 0 && !f.includes(".") && f !== "__proto__");
    const key = await crypto.subtle.importKey("raw", RAW_KEY, "AES-GCM", false, ["encrypt"]);
    const personal = personalData({ keys: new FixedKey("unwrapped") });
    await fc.assert(
      fc.asyncProperty(
        subject,
        text(600),
        text(100).filter((t) => t.length > 0),
        fc.uniqueArray(field, { minLength: 1, maxLength: 3 }),
        async (subject, id, type, fields) => {
          const aad = `eventflows/personal-data/v2\u0000${JSON.stringify([subject, ["event", id, type], fields])}`;
          const values = fields.map((_, i) => `value ${i}`);
          const data = await crypto.subtle.encrypt(
            { name: "AES-GCM", iv: IV, additionalData: new TextEncoder().encode(aad) },
            key,
            new TextEncoder().encode(JSON.stringify(values)),
          );
          const sealed = {
            $personal: "aes-256-gcm/2",
            subject,
            fields,
            iv: toBase64(IV),
            data: toBase64(new Uint8Array(data)),
          };
          const reference = { $personal: "aes-256-gcm/2", subject, in: fields[0] };
          const event = {
            id,
            type,
            streamId: "S-1",
            version: 1,
            timestamp: new Date(0),
            data: Object.fromEntries(fields.map((f, i) => [f, i === 0 ? sealed : reference])),
            metadata: {},
          } as unknown as EventEnvelope;
          // Twice: the first read fetches the key, the second finds it cached.
          for (let read = 0; read < 2; read++) {
            expect((await personal.decryptEvent(event)).data).toEqual(
              Object.fromEntries(fields.map((f, i) => [f, values[i]])),
            );
          }
          await expect(personal.decryptEvent({ ...event, id: `${id}x` })).rejects.toMatchObject({ reason: "tampered" });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("IVs", () => {
  for (const [how, keys] of [
    ["synchronous AES-GCM", () => new InMemorySubjectKeyStore()],
    ["Web Crypto", () => new FixedKey("imported")],
  ] as const) {
    for (const format of [2, 3] as const)
      test(`every encryption gets its own 96-bit IV, across many appends (${how}, format /${format})`, async () => {
        const personal = personalData({
          keys: keys(),
          format,
          events: { T: { fields: ["email"], subject: () => "s1" } },
        });
        const backing = new InMemoryEventStore();
        const store = new StoreView(backing, { personalData: personal });
        // More than one draw of the IV pool, and appends of one and of many events.
        for (let i = 0; i < 300; i++) await store.appendToStream(`S-${i}`, [{ type: "T", data: { email: "same" } }]);
        await store.appendToStream(
          "S-many",
          Array.from({ length: 300 }, () => ({ type: "T", data: { email: "same" } })),
        );
        // Format /3 stores the IV as the first 16 base64 characters (12 bytes) of its one string.
        const ivOf = (data: unknown) =>
          format === 2
            ? (data as { email: { iv: string } }).email.iv
            : (data as { $personal: [string, string, string[], string] }).$personal[3].slice(0, 16);
        const ivs = (await collect(backing.readAll())).map((event) => ivOf(event.data));
        expect(ivs.length).toBe(600);
        expect(new Set(ivs).size).toBe(600);
        for (const iv of ivs) expect(atob(iv).length).toBe(12);
      });
  }
});

describe("scratch buffers", () => {
  test("a huge record sealed and read does not keep its size in memory afterwards, in either format (synchronous AES-GCM)", async () => {
    const keys = new InMemorySubjectKeyStore();
    // A field name of 70,000 characters: the additional data is as large.
    const longName = "n".repeat(70_000);
    const retained = () => {
      Bun.gc(true);
      return process.memoryUsage().arrayBuffers;
    };
    for (const format of [2, 3] as const) {
      const personal = personalData({
        keys,
        format,
        events: { T: { fields: ["email", "bio"], subject: () => "s" }, L: { fields: [longName], subject: () => "s" } },
      });
      const roundTrip = async (type: string, data: Record<string, unknown>) => {
        const [sealed] = await personal.encryptEvents("S-1", [
          { id: EVENT_ID, type, data, metadata: {}, timestamp: new Date(0).toISOString() },
        ]);
        const event = { ...(sealed as EventEnvelope), streamId: "S-1", version: 1 };
        expect((await personal.decryptEvent(event)).data).toEqual(data);
      };
      await roundTrip("T", { email: "a@example.com", bio: "short" });
      const before = retained();
      // 8 MB of UTF-8 in one field: decoded, sealed and opened through the scratch buffers.
      await roundTrip("T", { email: "a@example.com", bio: "é".repeat(4_000_000) });
      await roundTrip("L", { [longName]: "x" });
      await roundTrip("T", { email: "a@example.com", bio: "short" });
      // Before, the buffers kept the largest size they had grown to (20 MB and more here).
      expect({ format, grown: retained() - before < 1_000_000 }).toEqual({ format, grown: true });
    }
  });
});

describe("decrypting a store's pages", () => {
  const registered = (customerId: string) => ({
    type: "Registered",
    data: { customerId, email: `${customerId}@example.com`, plan: "gold" },
  });
  const declared = (keys: SubjectKeyStore) =>
    personalData({
      keys,
      events: {
        Registered: { fields: ["email"], subject: (e) => String((e.data as { customerId: string }).customerId) },
      },
    });

  /** The stored events as pages of `size`, counting pages asked for and releases. */
  function pagesOf(events: readonly EventEnvelope[], size: number) {
    const seen = { pulled: 0, released: 0 };
    async function* pages() {
      try {
        for (let i = 0; i < events.length; i += size) {
          seen.pulled++;
          yield events.slice(i, i + size);
        }
      } finally {
        seen.released++;
      }
    }
    return { pages: pages(), seen };
  }

  async function stored(keys: SubjectKeyStore, count: number) {
    const personal = declared(keys);
    const store = new StoreView(new InMemoryEventStore(), { personalData: personal });
    await store.appendToStream(
      "Customer-many",
      Array.from({ length: count }, (_, i) => registered(`c${i}`)),
    );
    return { personal, events: await collect(store.readStream("Customer-many", { raw: true })) };
  }

  const emails = (pages: (readonly EventEnvelope[])[]) =>
    pages.flat().map((event) => (event.data as { email: string }).email);

  test("with every key cached, each page is decrypted whole, in order", async () => {
    const { personal, events } = await stored(new InMemorySubjectKeyStore(), 25);
    const { pages, seen } = pagesOf(events, 10);
    const out = await collect(personal.decryptingPages(pages));
    expect(out.map((page) => page.length)).toEqual([10, 10, 5]);
    expect(emails(out)).toEqual(Array.from({ length: 25 }, (_, i) => `c${i}@example.com`));
    expect(seen.released).toBe(1);
  });

  test("from the first key not cached, the rest is read event by event, in order", async () => {
    const keys = new InMemorySubjectKeyStore({ cacheSize: 12 });
    const { personal, events } = await stored(keys, 25);
    // The cache holds the 12 keys made last: c13..c24. c0..c12 need the key store.
    const { pages, seen } = pagesOf(events.slice(13).concat(events.slice(0, 13)), 10);
    const out = await collect(personal.decryptingPages(pages));
    expect(emails(out)).toEqual(
      [...Array.from({ length: 12 }, (_, i) => i + 13), ...Array.from({ length: 13 }, (_, i) => i)].map(
        (i) => `c${i}@example.com`,
      ),
    );
    expect(seen.released).toBe(1);
  });

  test("a bad event mid-page: the events before it, then the error, and the store's read released", async () => {
    const { personal, events } = await stored(new InMemorySubjectKeyStore(), 20);
    const bad = { ...events[13], data: { email: { $personal: "aes-256-gcm/2", subject: "c13" } } } as EventEnvelope;
    const { pages, seen } = pagesOf([...events.slice(0, 13), bad, ...events.slice(14)], 10);
    const handed: EventEnvelope[] = [];
    const error = await (async () => {
      for await (const page of personal.decryptingPages(pages)) handed.push(...page);
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.PersonalDataUnreadable, reason: "malformed" });
    expect(handed.length).toBe(13);
    expect(seen.released).toBe(1);
  });

  test("stopping early releases the store's read", async () => {
    const { personal, events } = await stored(new InMemorySubjectKeyStore(), 30);
    const { pages, seen } = pagesOf(events, 10);
    for await (const page of personal.decryptingPages(pages)) if (page.length > 0) break;
    expect(seen).toEqual({ pulled: 1, released: 1 });
  });
});
