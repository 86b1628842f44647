import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import {
  FIXED_IV,
  FixedKey,
  fromBase64,
  RAW_KEY,
  nameText as text,
  toBase64,
  WebCryptoOnlyKeys,
} from "../../test/personal-data/fixed-key.ts";
import {
  ERASED_FIELDS_METADATA,
  ErrorCode,
  type EventEnvelope,
  eventRegistry,
  InMemoryEventStore,
  InMemorySnapshotStore,
  InMemorySubjectKeyStore,
  type PendingEvent,
  personalData,
} from "../index.js";
import { collect, StoreView } from "../testing/index.js";

// A record of format aes-256-gcm/3 as stored, built here from its definition with Web Crypto: a fixed
// key and IV, the values as JSON, as additional data the /3 label followed by
// JSON.stringify([subject, ["event", id, type], fields]), and the marker
// ["aes-256-gcm/3", subject, fields, base64(IV + ciphertext + tag)] under the data's "$personal" key,
// the fields themselves absent. Events are immutable: what the library wrote must always read.
const SUBJECT = 'cus"to\\mer-é😀';
const EVENT_ID = "01JBQ3Y5G6M8P9R2S4T6V8W0XY";
const TYPE = "Registered";
const FIELDS = ['e"mail', "name.first"];
const VALUES = ["ada@example.com", { given: "Ada", family: "Lovelace" }];
const label = (format: 2 | 3) => `eventflows/personal-data/v${format}\u0000`;
const aadOf = (format: 2 | 3, subject: string, context: readonly string[], fields: readonly string[]) =>
  new TextEncoder().encode(`${label(format)}${JSON.stringify([subject, context, fields])}`);
// The same IV + ciphertext + tag, pinned: it was computed once and must never change.
const PINNED =
  "yMfGxcTDwsHAv769mY3+e+z2Lm9UJrWgwCaab2FaIsCjZ2HnfnM+fix3Eg63lYU/DBX2o8/mzIbJ+5ChX9pVq+oe171E/xqFwdnLA70QlzpugoY=";

async function storedCiphertext(): Promise<string> {
  const key = await crypto.subtle.importKey("raw", RAW_KEY, "AES-GCM", false, ["encrypt"]);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: FIXED_IV, additionalData: aadOf(3, SUBJECT, ["event", EVENT_ID, TYPE], FIELDS) },
    key,
    new TextEncoder().encode(JSON.stringify(VALUES)),
  );
  return toBase64(new Uint8Array([...FIXED_IV, ...new Uint8Array(sealed)]));
}

const ciphers = [
  ["synchronous AES-GCM", () => new InMemorySubjectKeyStore()],
  ["Web Crypto", () => new WebCryptoOnlyKeys()],
] as const;

type Marker = [string, string, string[], string];
const customer = (id: string) => ({
  customerId: id,
  email: `${id}@example.com`,
  name: `Name of ${id}`,
  address: { street: `1 rue ${id}`, city: "Lyon" },
  plan: "gold",
});
const declared = (keys: InMemorySubjectKeyStore, format?: 2 | 3) =>
  personalData({
    keys,
    ...(format === undefined ? {} : { format }),
    events: {
      Registered: {
        fields: ["email", "name", "address.street"],
        subject: (e) => (e.data as { customerId: string }).customerId,
      },
    },
    snapshots: { Customer: { fields: ["email", "name"], subject: (s) => s.streamId.slice("Customer-".length) } },
  });

describe("the stored format aes-256-gcm/3", () => {
  test("the construction matches the pinned ciphertext", async () => {
    expect(await storedCiphertext()).toBe(PINNED);
  });

  for (const how of ["unwrapped", "imported"] as const) {
    test(`a record written to the format reads back (key ${how}), cold and cached, and not once altered`, async () => {
      const backing = new InMemoryEventStore();
      const marker = ["aes-256-gcm/3", SUBJECT, FIELDS, PINNED];
      await backing.appendToStream("Customer-1", [
        { id: EVENT_ID, type: TYPE, data: { name: { middle: "King" }, plan: "gold", $personal: marker } },
      ]);
      const store = new StoreView(backing, { personalData: personalData({ keys: new FixedKey(how) }) });
      for (let read = 0; read < 2; read++) {
        const [event] = await collect(store.readStream("Customer-1"));
        expect(event?.data).toEqual({
          'e"mail': VALUES[0],
          name: { middle: "King", first: VALUES[1] },
          plan: "gold",
        });
      }
      const altered = ["aes-256-gcm/3", SUBJECT, FIELDS, PINNED.replace("yMfG", "yMfH")];
      await backing.appendToStream("Customer-2", [
        { id: "01JBQ3Y5G6M8P9R2S4T6V8W0XZ", type: TYPE, data: { $personal: altered } },
      ]);
      await expect(collect(store.readStream("Customer-2"))).rejects.toMatchObject({
        code: ErrorCode.PersonalDataUnreadable,
        reason: "tampered",
      });
    });
  }

  test("what the library seals opens under the format's definition, whatever the subject and field names (fast-check)", async () => {
    const name = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((n) => n.trim().length > 0);
    const field = fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 8 })
      .filter((f) => !f.includes(".") && f !== "$personal");
    const key = await crypto.subtle.importKey("raw", RAW_KEY, "AES-GCM", false, ["decrypt"]);
    await fc.assert(
      fc.asyncProperty(name, fc.uniqueArray(field, { minLength: 1, maxLength: 3 }), async (subject, fields) => {
        fc.pre(!/\p{Cc}/u.test(subject));
        const personal = personalData({
          keys: new FixedKey("unwrapped"),
          events: { T: { fields, subject: () => subject } },
        });
        const backing = new InMemoryEventStore();
        const store = new StoreView(backing, { personalData: personal });
        const data = { ...Object.fromEntries(fields.map((f, i) => [f, `value ${i}`])), kept: 1 };
        await store.appendToStream("S-1", [{ type: "T", data }]);
        const [event] = (await collect(backing.readStream("S-1"))) as EventEnvelope[];
        const stored = event?.data as Record<string, unknown>;
        // The marked fields are absent; only the marker and the other fields are stored.
        expect(Object.keys(stored).sort()).toEqual(["$personal", "kept"]);
        const [format, markerSubject, markerFields, sealed] = stored.$personal as Marker;
        expect([format, markerSubject, markerFields]).toEqual(["aes-256-gcm/3", subject, fields]);
        const bytes = fromBase64(sealed);
        const plain = await crypto.subtle.decrypt(
          {
            name: "AES-GCM",
            iv: bytes.subarray(0, 12),
            additionalData: aadOf(3, subject, ["event", event?.id as string, "T"], fields),
          },
          key,
          bytes.subarray(12),
        );
        expect(JSON.parse(new TextDecoder().decode(plain))).toEqual(fields.map((_, i) => `value ${i}`));
      }),
      { numRuns: 100 },
    );
  });

  test("a record built from the format's definition reads back, whatever the subject, id, type and field names (fast-check)", async () => {
    const subject = text(256).filter((s) => s.trim().length > 0 && !/\p{Cc}/u.test(s));
    // "__proto__" can name no personal field (declarations refuse it; a marker listing it is malformed).
    const field = text(300).filter((f) => f.length > 0 && !f.includes(".") && f !== "$personal" && f !== "__proto__");
    const key = await crypto.subtle.importKey("raw", RAW_KEY, "AES-GCM", false, ["encrypt"]);
    const personal = personalData({ keys: new FixedKey("unwrapped") });
    await fc.assert(
      fc.asyncProperty(
        subject,
        text(600),
        text(100).filter((t) => t.length > 0),
        fc.uniqueArray(field, { minLength: 1, maxLength: 3 }),
        async (subject, id, type, fields) => {
          const values = fields.map((_, i) => `value ${i}`);
          const sealed = await crypto.subtle.encrypt(
            { name: "AES-GCM", iv: FIXED_IV, additionalData: aadOf(3, subject, ["event", id, type], fields) },
            key,
            new TextEncoder().encode(JSON.stringify(values)),
          );
          const marker = [
            "aes-256-gcm/3",
            subject,
            fields,
            toBase64(new Uint8Array([...FIXED_IV, ...new Uint8Array(sealed)])),
          ];
          const event = {
            id,
            type,
            streamId: "S-1",
            version: 1,
            timestamp: new Date(0),
            data: { $personal: marker },
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

  test("events sealed and read one after another, whose additional data differ only in their type or field list, each under its own (fast-check)", async () => {
    // Types and field lists of one length, subjects of one length: each event's additional data differs
    // from the one before it only in its type or which fields it lists, at the same places.
    const key = await crypto.subtle.importKey("raw", RAW_KEY, "AES-GCM", false, ["decrypt"]);
    const rule = { fields: ["ab", "cd", "ef"], subject: (e: { data: unknown }) => (e.data as { who: string }).who };
    const record = fc.record({
      type: fc.constantFrom("TypeA", "TypeB"),
      who: fc.constantFrom("s-1", "s-2"),
      absent: fc.constantFrom("ab", "cd", "ef", "none"),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 2, maxLength: 12 }), async (records) => {
        const personal = personalData({ keys: new FixedKey("unwrapped"), events: { TypeA: rule, TypeB: rule } });
        const backing = new InMemoryEventStore();
        const store = new StoreView(backing, { personalData: personal });
        const events = records.map(({ type, who, absent }, i) => {
          const data: Record<string, unknown> = { who, ab: `a${i}`, cd: `c${i}`, ef: `e${i}` };
          delete data[absent];
          return { type, data };
        });
        // Twice: the first append fetches the keys, the second seals with them cached (synchronously).
        for (const stream of ["S-1", "S-2"]) await store.appendToStream(stream, events);
        for (const stream of ["S-1", "S-2"]) {
          for (const stored of (await collect(backing.readStream(stream))) as EventEnvelope[]) {
            const [, subject, fields, sealed] = (stored.data as { $personal: Marker }).$personal;
            const bytes = fromBase64(sealed);
            const additionalData = aadOf(3, subject, ["event", stored.id, stored.type], fields);
            const plain = await crypto.subtle.decrypt(
              { name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData },
              key,
              bytes.subarray(12),
            );
            expect(JSON.parse(new TextDecoder().decode(plain))).toHaveLength(fields.length);
          }
          // One read of the stream: every event opened in one page, keys cached.
          const read = (await collect(store.readStream(stream))) as EventEnvelope[];
          expect(read.map((e) => [e.type, e.data])).toEqual(events.map((e) => [e.type, e.data]));
        }
      }),
      { numRuns: 60 },
    );
  });

  for (const [cipher, makeKeys] of ciphers) {
    test(`tampered, moved, re-labelled, version-swapped and malformed markers are typed errors, never garbage (${cipher})`, async () => {
      const keys = makeKeys();
      const personal = declared(keys);
      const backing = new InMemoryEventStore();
      const store = new StoreView(backing, { personalData: personal });
      const legacy = new StoreView(backing, { personalData: declared(keys, 2) });
      await store.appendToStream("Customer-c1", [{ type: "Registered", data: customer("c1") }]);
      await store.appendToStream("Customer-c1", [{ type: "Registered", data: customer("c1") }]);
      await legacy.appendToStream("Customer-c1", [{ type: "Registered", data: customer("c1") }]);
      const snapshots = new InMemorySnapshotStore({ personalData: personal });
      await snapshots.save({ streamId: "Customer-c1", version: 1, state: { email: "x@example.com" } });
      const snapshotMarker = (
        (await personal.encryptSnapshot("Customer-c1", { email: "x@example.com", name: "X" })) as {
          $personal: Marker;
        }
      ).$personal;
      await keys.createOrGet("c2");
      const [first, second, old] = await collect(backing.readAll({ raw: true }));
      const data = first?.data as { $personal: Marker } & Record<string, unknown>;
      const marker = data.$personal;
      expect(Object.keys(data).sort()).toEqual(["$personal", "address", "customerId", "plan"]);
      expect(data.address).toEqual({ city: "Lyon" });
      expect(marker.slice(0, 3)).toEqual(["aes-256-gcm/3", "c1", ["email", "name", "address.street"]]);
      const [format, subject, fields, sealed] = marker;
      const flipped = `${sealed.slice(0, -4)}${sealed.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
      const oldData = old?.data as { email: { iv: string; data: string } };
      const variants: [string, unknown, string][] = [
        ["altered ciphertext", { ...data, $personal: [format, subject, fields, flipped] }, "tampered"],
        // The IV is random: its first base64 digit is replaced by another one, never by itself (1 run in 64 did).
        [
          "an altered IV",
          { ...data, $personal: [format, subject, fields, `${sealed.startsWith("B") ? "C" : "B"}${sealed.slice(1)}`] },
          "tampered",
        ],
        ["moved to another event of the subject", second?.data, "tampered"],
        ["moved from a snapshot", { ...data, $personal: snapshotMarker }, "tampered"],
        [
          "fields relabelled",
          { ...data, $personal: [format, subject, ["email", "address.street", "name"], sealed] },
          "tampered",
        ],
        [
          "a field dropped from the list",
          { ...data, $personal: [format, subject, ["email", "name"], sealed] },
          "tampered",
        ],
        ["relabelled to another subject", { ...data, $personal: [format, "c2", fields, sealed] }, "tampered"],
        ["a subject with no key", { ...data, $personal: [format, "nobody", fields, sealed] }, "unknown-key"],
        [
          "a /3 ciphertext stored as /2",
          {
            ...data,
            $personal: undefined,
            email: { $personal: "aes-256-gcm/2", subject, fields, iv: sealed.slice(0, 16), data: sealed.slice(16) },
          },
          "tampered",
        ],
        [
          "a /2 ciphertext stored as /3",
          { ...data, $personal: [format, subject, fields, oldData.email.iv + oldData.email.data] },
          "tampered",
        ],
        [
          "a ciphertext shorter than IV and tag",
          { ...data, $personal: [format, subject, fields, btoa("short")] },
          "tampered",
        ],
        ["an unknown format version", { ...data, $personal: ["aes-256-gcm/4", subject, fields, sealed] }, "malformed"],
        ["a /2 label on the marker", { ...data, $personal: ["aes-256-gcm/2", subject, fields, sealed] }, "malformed"],
        ["a marker that is a string", { ...data, $personal: "aes-256-gcm/3" }, "malformed"],
        ["a marker without its ciphertext", { ...data, $personal: [format, subject, fields] }, "malformed"],
        ["an empty field list", { ...data, $personal: [format, subject, [], sealed] }, "malformed"],
        ["a field that is not a string", { ...data, $personal: [format, subject, ["email", 1], sealed] }, "malformed"],
        // Put back, it would set the record's prototype: no declaration can name it.
        ["a field named __proto__", { ...data, $personal: [format, subject, ["__proto__"], sealed] }, "malformed"],
        ["a nested __proto__", { ...data, $personal: [format, subject, ["a.__proto__.b"], sealed] }, "malformed"],
        ["a subject that is not a string", { ...data, $personal: [format, 7, fields, sealed] }, "malformed"],
        // Not the key store's ValidationError: the stored record is at fault, not the reader's input.
        ["an empty subject", { ...data, $personal: [format, "", fields, sealed] }, "malformed"],
        [
          "a subject over 256 characters",
          { ...data, $personal: [format, "c".repeat(257), fields, sealed] },
          "malformed",
        ],
        [
          "a subject with a control character",
          { ...data, $personal: [format, "c\u0001", fields, sealed] },
          "malformed",
        ],
        ["a ciphertext that is not base64", { ...data, $personal: [format, subject, fields, "!!!!"] }, "malformed"],
      ];
      for (const [label, altered, reason] of variants) {
        // A fresh declaration each time, so that the first lookup of a key is cold.
        const event = { ...(first as EventEnvelope), data: JSON.parse(JSON.stringify(altered)) };
        const error = await declared(keys)
          .decryptEvent(event)
          .catch((e: unknown) => e);
        expect({
          label,
          code: (error as { code?: string }).code,
          reason: (error as { reason?: string }).reason,
        }).toEqual({
          label,
          code: ErrorCode.PersonalDataUnreadable,
          reason,
        });
        expect(String((error as Error).message)).not.toContain("c1@example.com");
      }
      // The unaltered record reads back, the snapshot too.
      expect((await personal.decryptEvent(first as EventEnvelope)).data).toEqual(customer("c1"));
      expect((await snapshots.load("Customer-c1"))?.state).toEqual({ email: "x@example.com" });
    });

    test(`an erased subject's fields read as null, listed in metadata; its snapshots load as null (${cipher})`, async () => {
      const keys = makeKeys();
      const personal = declared(keys);
      const backing = new InMemoryEventStore();
      const store = new StoreView(backing, { personalData: personal });
      const snapshots = new InMemorySnapshotStore({ personalData: personal });
      await store.appendToStream("Customer-c1", [{ type: "Registered", data: customer("c1") }]);
      await store.appendToStream("Customer-c2", [{ type: "Registered", data: customer("c2") }]);
      await snapshots.save({ streamId: "Customer-c1", version: 1, state: { email: "c1@example.com", visits: 2 } });
      await keys.delete("c1");
      const [erased, kept] = await collect(store.readAll());
      expect(erased?.data).toEqual({
        customerId: "c1",
        email: null,
        name: null,
        address: { street: null, city: "Lyon" },
        plan: "gold",
      });
      expect(erased?.metadata[ERASED_FIELDS_METADATA]).toEqual(["address.street", "email", "name"]);
      expect(kept?.data).toEqual(customer("c2"));
      expect(kept?.metadata[ERASED_FIELDS_METADATA]).toBeUndefined();
      expect((await snapshots.load("Customer-c1"))?.state).toEqual({ email: null, visits: 2 });
    });
  }
});

describe("format /3 and the rest of the library", () => {
  test("for random records and field lists, a read gives the record back, and once erased the record with its present fields null: events and snapshots (fast-check)", async () => {
    const key = fc.constantFrom("a", "b", "c", "d", "é", "$x", "0");
    const leaf = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant(null), fc.constant(undefined));
    const node = fc.dictionary(key, fc.oneof(leaf, fc.dictionary(key, leaf), fc.array(leaf, { maxLength: 3 })));
    const paths = ["a", "b", "é", "$x", "a.b", "b.c", "c.0", "c.1", "d.a", "d.0", "0", "0.0"];
    const fieldList = fc
      .uniqueArray(fc.constantFrom(...paths), { minLength: 1, maxLength: 5 })
      .filter((list) => !list.some((a) => list.some((b) => a !== b && b.startsWith(`${a}.`))));
    const valueAt = (root: unknown, path: string) =>
      path
        .split(".")
        .reduce<unknown>(
          (at, s) => (typeof at === "object" && at !== null ? (at as Record<string, unknown>)[s] : undefined),
          root,
        );
    const withNulls = (root: unknown, fields: readonly string[]) => {
      const out = JSON.parse(JSON.stringify(root));
      for (const field of fields) {
        const value = valueAt(out, field);
        if (value === undefined || value === null) continue;
        const segments = field.split(".");
        const holder = valueAt(out, segments.slice(0, -1).join(".")) ?? out;
        (holder as Record<string, unknown>)[segments.at(-1) as string] = null;
      }
      return out;
    };
    await fc.assert(
      fc.asyncProperty(node, fieldList, async (generated, fields) => {
        const record = JSON.parse(JSON.stringify(generated));
        const keys = new InMemorySubjectKeyStore();
        const personal = personalData({
          keys,
          events: { T: { fields, subject: () => "s" } },
          snapshots: { S: { fields, subject: () => "s" } },
        });
        const pending: PendingEvent = { id: "e1", type: "T", data: record, metadata: {}, timestamp: "t" };
        const [sealed] = await personal.encryptEvents("S-1", [pending]);
        // As a store hands it back: through JSON.
        const stored = JSON.parse(JSON.stringify({ ...sealed, streamId: "S-1", version: 1 })) as EventEnvelope;
        const present = fields.filter((f) => valueAt(record, f) !== undefined && valueAt(record, f) !== null);
        expect((stored.data as { $personal?: Marker }).$personal?.[2]).toEqual(
          present.length > 0 ? present : undefined,
        );
        for (const field of present) expect(valueAt(stored.data, field) ?? null).toBeNull();
        const state = JSON.parse(JSON.stringify(await personal.encryptSnapshot("S-1", record)));
        expect((await personal.decryptEvent(stored)).data).toEqual(record);
        expect(await personal.decryptSnapshot("S-1", state)).toEqual(record);
        await keys.delete("s");
        const erased = await personal.decryptEvent(stored);
        expect(erased.data).toEqual(withNulls(record, fields));
        expect(erased.metadata[ERASED_FIELDS_METADATA]).toEqual(present.length > 0 ? [...present].sort() : undefined);
        expect(await personal.decryptSnapshot("S-1", state)).toEqual(withNulls(record, fields));
      }),
      { numRuns: 300 },
    );
  });

  test("a snapshot whose state is not a plain object is stored in format /2's places, and reads back", async () => {
    const keys = new InMemorySubjectKeyStore();
    const personal = personalData({
      keys,
      snapshots: { List: { fields: ["0.email"], subject: () => "s" } },
    });
    const state = [{ email: "a@example.com", n: 1 }, { n: 2 }];
    const stored = (await personal.encryptSnapshot("List-1", state)) as [{ email: { $personal: string } }];
    expect(stored[0].email.$personal).toBe("aes-256-gcm/2");
    expect(await personal.decryptSnapshot("List-1", JSON.parse(JSON.stringify(stored)))).toEqual(state);
  });

  test("a top-level $personal key of one's own is refused on append and on save, whatever the format", async () => {
    for (const format of [2, 3] as const) {
      const keys = new InMemorySubjectKeyStore();
      const backing = new InMemoryEventStore();
      const store = new StoreView(backing, { personalData: declared(keys, format) });
      for (const type of ["Registered", "Undeclared"]) {
        const error = await store
          .appendToStream("Customer-c1", [{ type, data: { ...customer("c1"), $personal: "mine" } }])
          .catch((e: unknown) => e);
        expect(error).toMatchObject({ code: ErrorCode.Validation, issues: [{ path: [0, "data", "$personal"] }] });
      }
      expect(await collect(backing.readAll())).toEqual([]);
      const snapshots = new InMemorySnapshotStore({ personalData: declared(keys, format) });
      await expect(
        snapshots.save({ streamId: "Customer-c1", version: 1, state: { $personal: 1 } }),
      ).rejects.toMatchObject({ code: ErrorCode.Validation });
      // A store without personal data reserves nothing.
      await new InMemoryEventStore().appendToStream("Other-1", [{ type: "T", data: { $personal: "mine" } }]);
    }
  });

  test("personalDataErased in an appended event's metadata is refused, whatever the event's type, and nothing is written: only reads set it", async () => {
    for (const format of [2, 3] as const) {
      const keys = new InMemorySubjectKeyStore();
      const backing = new InMemoryEventStore();
      const store = new StoreView(backing, { personalData: declared(keys, format) });
      for (const type of ["Registered", "Undeclared"]) {
        const error = await store
          .appendToStream("Customer-c1", [
            { type: "Undeclared", data: { plain: 1 } },
            { type, data: customer("c1"), metadata: { [ERASED_FIELDS_METADATA]: ["email"] } },
          ])
          .catch((e: unknown) => e);
        expect({ format, type, error }).toMatchObject({
          format,
          type,
          error: { code: ErrorCode.Validation, issues: [{ path: [1, "metadata", ERASED_FIELDS_METADATA] }] },
        });
      }
      expect(await collect(backing.readAll())).toEqual([]);
    }
    // A store without personal data reserves nothing.
    await new InMemoryEventStore().appendToStream("Other-1", [
      { type: "T", data: {}, metadata: { [ERASED_FIELDS_METADATA]: [] } },
    ]);
  });

  test("nested, a $personal key is data under a /3 marker; in a record stored without one, whose reads would take it for a /2 value and fail, it is refused and nothing is written", async () => {
    const nested = { note: { $personal: "aes-256-gcm/2", subject: "x" }, list: [{ $personal: 1 }] };
    for (const format of [2, 3] as const) {
      const keys = new InMemorySubjectKeyStore();
      const backing = new InMemoryEventStore();
      const store = new StoreView(backing, { personalData: declared(keys, format) });
      const { email: _email, name: _name, address: _address, ...nothingPersonal } = customer("c1");
      const refused: [string, PendingEvent["data"]][] = [
        ["Undeclared", { ...customer("c1"), ...nested }],
        ["Registered", { ...nothingPersonal, ...nested }],
      ];
      if (format === 2) refused.push(["Registered", { ...customer("c1"), ...nested }]);
      for (const [type, data] of refused) {
        const error = await store
          .appendToStream("Customer-c1", [
            { type: "Undeclared", data: { plain: 1 } },
            { type, data },
          ])
          .catch((e: unknown) => e);
        expect({ format, type, error }).toMatchObject({
          format,
          type,
          error: { code: ErrorCode.Validation, issues: [{ path: [1, "data", "note", "$personal"] }] },
        });
      }
      const snapshots = new InMemorySnapshotStore({ personalData: declared(keys, format) });
      for (const [streamId, state] of [
        ["Other-1", nested],
        ["Customer-c1", [{ email: "a@example.com" }, nested]],
      ] as const) {
        await expect(snapshots.save({ streamId, version: 1, state })).rejects.toMatchObject({
          code: ErrorCode.Validation,
        });
      }
      if (format === 3) {
        await store.appendToStream("Customer-c1", [{ type: "Registered", data: { ...customer("c1"), ...nested } }]);
        await snapshots.save({ streamId: "Customer-c1", version: 1, state: { email: "a@example.com", ...nested } });
        expect((await collect(store.readAll())).map((event) => event.data)).toEqual([{ ...customer("c1"), ...nested }]);
        expect((await snapshots.load("Customer-c1"))?.state).toEqual({ email: "a@example.com", ...nested });
      } else {
        expect(await collect(backing.readAll())).toEqual([]);
        expect(await snapshots.load("Customer-c1")).toBeUndefined();
      }
    }
  });

  test("format: 2 keeps writing /2 for readers of an older release; either format reads both", async () => {
    const keys = new InMemorySubjectKeyStore();
    const backing = new InMemoryEventStore();
    const old = new StoreView(backing, { personalData: declared(keys, 2) });
    const current = new StoreView(backing, { personalData: declared(keys) });
    await old.appendToStream("Customer-c1", [{ type: "Registered", data: customer("c1") }]);
    await current.appendToStream("Customer-c2", [{ type: "Registered", data: customer("c2") }]);
    const [two, three] = await collect(backing.readAll({ raw: true }));
    expect((two as EventEnvelope<string, { email: { $personal: string } }>).data.email.$personal).toBe("aes-256-gcm/2");
    expect((three as EventEnvelope<string, { $personal: Marker }>).data.$personal[0]).toBe("aes-256-gcm/3");
    for (const reader of [old, current]) {
      expect((await collect(reader.readAll())).map((event) => event.data)).toEqual([customer("c1"), customer("c2")]);
    }
    expect(() => personalData({ keys, format: 4 as never })).toThrow(/format/);
  });

  test("a key named __proto__ (an own key, as JSON.parse makes it) is kept, and a field the record only inherits is absent, in either format", async () => {
    for (const format of [2, 3] as const) {
      const keys = new InMemorySubjectKeyStore();
      const personal = personalData({
        keys,
        format,
        events: { T: { fields: ["email", "a.b", "toString", "a.constructor"], subject: () => "s" } },
        snapshots: { S: { fields: ["email", "a.b", "valueOf"], subject: () => "s" } },
      });
      const text = '{"id":"s1","email":"x@y","__proto__":{"polluted":1},"a":{"b":"q","__proto__":{"p":2}}}';
      const backing = new InMemoryEventStore();
      const store = new StoreView(backing, { personalData: personal });
      await store.appendToStream("S-1", [{ type: "T", data: JSON.parse(text) }]);
      const [raw] = await collect(backing.readAll({ raw: true }));
      const [read] = await collect(store.readStream("S-1"));
      const snapshot = await personal.decryptSnapshot("S-1", await personal.encryptSnapshot("S-1", JSON.parse(text)));
      for (const data of [(raw as EventEnvelope).data, (read as EventEnvelope).data, snapshot] as Record<
        string,
        unknown
      >[]) {
        expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
        expect(Object.hasOwn(data, "__proto__")).toBe(true);
        expect(JSON.stringify(Object.getOwnPropertyDescriptor(data, "__proto__")?.value)).toBe('{"polluted":1}');
        const a = data.a as Record<string, unknown>;
        expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
        expect(Object.hasOwn(a, "__proto__")).toBe(true);
      }
      // Only the fields the record holds were sealed; inherited names stay absent after the read.
      if (format === 3)
        expect(((raw as EventEnvelope).data as { $personal: Marker }).$personal[2]).toEqual(["email", "a.b"]);
      const plain = (read as EventEnvelope).data as Record<string, unknown>;
      expect(JSON.parse(JSON.stringify(plain))).toEqual(JSON.parse(text));
      expect(Object.keys(plain).sort()).toEqual(["__proto__", "a", "email", "id"]);
      expect(Object.keys(plain.a as object).sort()).toEqual(["__proto__", "b"]);
      expect(Object.keys(snapshot as object).sort()).toEqual(["__proto__", "a", "email", "id"]);
      expect((read as EventEnvelope).metadata[ERASED_FIELDS_METADATA]).toBeUndefined();
    }
  });

  test("an array element listed as a field is stored as null and read back", async () => {
    const personal = personalData({
      keys: new InMemorySubjectKeyStore(),
      events: { T: { fields: ["phones.1"], subject: () => "s" } },
    });
    const data = { phones: ["+33 1", "+33 2", "+33 3"] };
    const [sealed] = await personal.encryptEvents("S-1", [{ id: "e", type: "T", data, metadata: {}, timestamp: "t" }]);
    expect(((sealed as PendingEvent).data as { phones: unknown[] }).phones).toEqual(["+33 1", null, "+33 3"]);
    const event = { ...(sealed as PendingEvent), streamId: "S-1", version: 1 };
    expect((await personal.decryptEvent(event)).data).toEqual(data);
  });

  test("an array's length is no field: declared, it is absent, and the array reads whole before and after erasure", async () => {
    for (const format of [2, 3] as const) {
      const keys = new InMemorySubjectKeyStore();
      const personal = personalData({
        keys,
        format,
        events: { T: { fields: ["phones.length", "email"], subject: () => "s" } },
      });
      const data = { email: "a@example.com", phones: ["+33 1", "+33 2"] };
      const [sealed] = await personal.encryptEvents("S-1", [
        { id: "e", type: "T", data, metadata: {}, timestamp: "t" },
      ]);
      const event = { ...(sealed as PendingEvent), streamId: "S-1", version: 1 };
      expect(JSON.stringify(event.data)).not.toContain("a@example.com");
      expect((await personal.decryptEvent(event)).data).toEqual(data);
      await keys.delete("s");
      const erased = await personal.decryptEvent(event);
      expect(erased.data).toEqual({ email: null, phones: ["+33 1", "+33 2"] });
      expect(erased.metadata[ERASED_FIELDS_METADATA]).toEqual(["email"]);
    }
  });

  test("an erased subject's field list altered in the store puts nothing where the record has no such place: typed errors, in either format", async () => {
    for (const format of [2, 3] as const) {
      const keys = new InMemorySubjectKeyStore();
      const personal = personalData({
        keys,
        format,
        events: { T: { fields: ["email", "phones.1"], subject: () => "s" } },
      });
      const data = { id: "1", email: "a@example.com", phones: ["+33 1", "+33 2"], note: "kept" };
      const [sealed] = await personal.encryptEvents("S-1", [
        { id: "e", type: "T", data, metadata: {}, timestamp: "t" },
      ]);
      const event = { ...(sealed as PendingEvent), streamId: "S-1", version: 1 };
      await keys.delete("s");
      expect((await personal.decryptEvent(event)).data).toEqual({ ...data, email: null, phones: ["+33 1", null] });
      const relisted = (fields: string[]) => {
        const copy = JSON.parse(JSON.stringify(event.data));
        if (format === 3) copy.$personal[2] = fields;
        else copy.email.fields = fields;
        return { ...event, data: copy };
      };
      const variants: [string[], string][] = [
        // Put back, these would set the record's prototype (to an object, or to null).
        [["email", "__proto__.x"], "malformed"],
        [["email", "__proto__"], "malformed"],
        // Through a value that is not an object: it would become one.
        [["email", "note.x"], "tampered"],
        [["email", "id.0"], "tampered"],
        // Elements the array does not hold: the array would grow (to 4 billion elements for the last).
        [["email", "phones.2"], "tampered"],
        [["email", "phones.4294967294"], "tampered"],
        [["email", "phones.01"], "tampered"],
        [["email", "phones.x"], "tampered"],
        [["email", "phones.1.x"], "tampered"],
        // Places the record holds a value of its own at: nothing vouches for an erased subject's list,
        // and these would read as null (or, listed twice, put one value over another).
        [["email", "id"], "tampered"],
        [["email", "note"], "tampered"],
        [["email", "phones.0"], "tampered"],
        [["phones", "email"], "tampered"],
        [["email", "phones.1", "email"], "tampered"],
      ];
      for (const [fields, reason] of variants) {
        const error = await personal.decryptEvent(relisted(fields)).catch((e: unknown) => e);
        expect({
          format,
          fields,
          code: (error as { code?: string }).code,
          reason: (error as { reason?: string }).reason,
        }).toEqual({
          format,
          fields,
          code: ErrorCode.PersonalDataUnreadable,
          reason,
        });
      }
    }
  });

  test("records written before personalData was turned on read back as stored, whatever $personal keys they hold: only a value naming a format of the library (aes-256-gcm/…) is a marker", async () => {
    const own: Record<string, unknown>[] = [
      { $personal: "mine", plan: "gold" },
      { $personal: { format: "aes-256-gcm/3", subject: "c1", fields: ["email"], sealed: "AAAA" } },
      { $personal: ["not", "c1", ["email"], "AAAA"] },
      { $personal: null, email: "a@example.com" },
      { note: { $personal: true, x: 1 }, list: [{ $personal: 1 }, { $personal: ["aes"] }] },
      { email: { $personal: "AES-256-GCM/2", subject: "c1", in: "name" } },
    ];
    const keys = new InMemorySubjectKeyStore();
    const backing = new InMemoryEventStore();
    const undeclared = new InMemoryEventStore();
    await backing.appendToStream(
      "Customer-c1",
      own.map((data) => ({ type: "Registered", data })),
    );
    await undeclared.appendToStream("Other-1", [{ type: "T", data: own[4] as Record<string, unknown> }]);
    for (const format of [2, 3] as const) {
      const store = new StoreView(backing, { personalData: declared(keys, format) });
      const read = await collect(store.readAll());
      expect(read.map((event) => event.data)).toEqual(own);
      expect(read.every((event) => event.metadata[ERASED_FIELDS_METADATA] === undefined)).toBe(true);
      for (const state of own) {
        expect(await declared(keys, format).decryptSnapshot("Customer-c1", state)).toEqual(state);
      }
      // Appended with personalData on, a nested $personal key that names no format is data too.
      const later = new StoreView(undeclared, { personalData: declared(keys, format) });
      await later.appendToStream("Other-1", [{ type: "T", data: own[4] as Record<string, unknown> }]);
    }
    expect(
      (await collect(new StoreView(undeclared, { personalData: declared(keys) }).readAll())).map((e) => e.data),
    ).toEqual([own[4], own[4], own[4]]);
    // What the library wrote still reads, in either format, beside them.
    for (const format of [2, 3] as const) {
      const store = new StoreView(backing, { personalData: declared(keys, format) });
      await store.appendToStream("Customer-c2", [{ type: "Registered", data: customer("c2") }]);
    }
    const read = await collect(new StoreView(backing, { personalData: declared(keys) }).readStream("Customer-c2"));
    expect(read.map((event) => event.data)).toEqual([customer("c2"), customer("c2")]);
  });

  test("any record of the library's data without a marker of its own reads back as stored (fast-check)", async () => {
    const keys = new InMemorySubjectKeyStore();
    const personal = declared(keys);
    // JSON whose objects may have a $personal key, holding anything but a string naming a format.
    const notAFormat = fc.jsonValue().filter((value) => {
      const tag = Array.isArray(value) ? value[0] : value;
      return !(typeof tag === "string" && tag.startsWith("aes-256-gcm/"));
    });
    const { record } = fc.letrec((tie) => ({
      record: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 1 }),
        fc.array(tie("record"), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom("a", "b", "$personal", "email"), tie("record"), { maxKeys: 3 }),
        fc.record({ $personal: notAFormat, a: tie("record") }),
      ),
    }));
    await fc.assert(
      fc.asyncProperty(record, async (data) => {
        const stored = JSON.parse(JSON.stringify(data ?? null));
        const event = {
          id: "01JBQ3Y5G6M8P9R2S4T6V8W0XY",
          type: "Registered",
          streamId: "Customer-c1",
          version: 1,
          timestamp: new Date(0).toISOString(),
          data: stored,
          metadata: {},
        } as EventEnvelope;
        expect((await personal.decryptEvent(event)).data).toEqual(stored);
        expect(await personal.decryptSnapshot("Other-1", stored)).toEqual(stored);
      }),
      { numRuns: 300 },
    );
  });

  test("schemas check the plaintext on append and on read, and upcasters see it", async () => {
    const keys = new InMemorySubjectKeyStore();
    const personal = declared(keys);
    const backing = new InMemoryEventStore();
    const strict = v.object({
      customerId: v.string(),
      email: v.pipe(v.string(), v.email()),
      name: v.string(),
      address: v.object({ street: v.string(), city: v.string() }),
      plan: v.string(),
    });
    const writer = new StoreView(backing, {
      personalData: personal,
      eventRegistry: eventRegistry().schema("Registered", 1, strict),
    });
    await writer.appendToStream("Customer-c1", [{ type: "Registered", data: customer("c1") }]);
    await expect(
      writer.appendToStream("Customer-c1", [
        { type: "Registered", data: { ...customer("c1"), email: "not an e-mail" } },
      ]),
    ).rejects.toMatchObject({ code: ErrorCode.Validation });
    // Read: decrypted before upcasting and the read schema (of the upcast version).
    const upcast = eventRegistry({ validateOnRead: true })
      .upcast("Registered", 1, (data: { email: string | null }) => ({
        ...data,
        domain: data.email?.split("@")[1] ?? null,
      }))
      .schema(
        "Registered",
        2,
        v.object({ email: v.nullable(v.pipe(v.string(), v.email())), domain: v.nullable(v.string()) }),
      );
    const reader = new StoreView(backing, { personalData: personal, eventRegistry: upcast });
    const [event] = await collect(reader.readStream("Customer-c1"));
    expect(event?.data).toMatchObject({ email: "c1@example.com", domain: "example.com" });
    await keys.delete("c1");
    const [erased] = await collect(reader.readStream("Customer-c1"));
    expect(erased?.data).toMatchObject({ email: null, domain: null });
  });
});
