import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { WebCryptoOnlyKeys } from "../../test/personal-data/fixed-key.ts";
import {
  ERASED_FIELDS_METADATA,
  ErrorCode,
  type EventEnvelope,
  eventRegistry,
  InMemoryEventBus,
  InMemoryEventStore,
  InMemorySnapshotStore,
  InMemorySubjectKeyStore,
  isValidationError,
  type PendingEvent,
  personalData,
  type SubjectKeyLookup,
} from "../index.js";
import { collect, StoreView } from "../testing/index.js";

type Customer =
  | { type: "Registered"; data: { customerId: string; email: string; name: string; address: { city: string } } }
  | { type: "Renamed"; data: { customerId: string; name: string } };

const registered = (customerId: string, email: string) => ({
  type: "Registered",
  data: { customerId, email, name: `Name of ${customerId}`, address: { city: "Lyon" }, plan: "gold" },
});

function setup(keys = new InMemorySubjectKeyStore(), format?: 2 | 3) {
  const personal = personalData<Customer>({
    keys,
    ...(format === undefined ? {} : { format }),
    events: {
      Registered: { fields: ["email", "name", "address.city"], subject: (e) => e.data.customerId },
      Renamed: { fields: ["name"], subject: (e) => e.data.customerId },
    },
    snapshots: { Customer: { fields: ["email"], subject: (s) => s.streamId.slice("Customer-".length) } },
  });
  const backing = new InMemoryEventStore();
  const bus = new InMemoryEventBus();
  const store = new StoreView(backing, { personalData: personal, bus });
  return { keys, personal, backing, store, bus };
}

const rawText = async (store: InMemoryEventStore) => JSON.stringify(await collect(store.readAll({ raw: true })));

describe("crypto-shredding on an event store", () => {
  test("marked fields are stored encrypted and every read path, the append result and the bus see them decrypted", async () => {
    const { store, backing, bus } = setup();
    const published: EventEnvelope[] = [];
    bus.subscribe({ all: true }, (event) => {
      published.push(event);
    });
    const result = await store.appendToStream("Customer-c1", [registered("c1", "ada@example.com")]);
    expect((result.events[0]?.data as { email?: string } | undefined)?.email).toBe("ada@example.com");
    expect((published[0]?.data as { email?: string } | undefined)?.email).toBe("ada@example.com");

    const stored = await rawText(backing);
    for (const secret of ["ada@example.com", "Name of c1", "Lyon"]) expect(stored).not.toContain(secret);
    expect(stored).toContain("gold"); // unmarked fields stay as they are
    expect(stored).toContain('"$personal":["aes-256-gcm/3"');

    const expected = registered("c1", "ada@example.com").data;
    const [fromStream] = await collect(store.readStream("Customer-c1"));
    const [fromAll] = await collect(store.readAll());
    expect(fromStream?.data).toEqual(expected);
    expect(fromAll?.data).toEqual(expected);
    const handled: EventEnvelope[] = [];
    const subscription = store.subscribeToAll({ handler: (event) => void handled.push(event), pollIntervalMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await subscription.stop();
    expect(handled[0]?.data).toEqual(expected);
    // raw reads are as stored: for copies and audits.
    const [raw] = await collect(store.readStream("Customer-c1", { raw: true }));
    expect(JSON.stringify(raw)).not.toContain("ada@example.com");
  });

  for (const [cipher, makeKeys] of [
    ["synchronous AES-GCM", () => new InMemorySubjectKeyStore()],
    ["Web Crypto", () => new WebCryptoOnlyKeys()],
  ] as const) {
    test(`an erased subject's fields read as null, listed in metadata, while the rest of the event and other subjects read (${cipher})`, async () => {
      const { store, keys } = setup(makeKeys());
      await store.appendToStream("Customer-c1", [registered("c1", "ada@example.com")]);
      await store.appendToStream("Customer-c2", [registered("c2", "bob@example.com")]);
      await keys.delete("c1");
      const [erased, kept] = await collect(store.readAll());
      expect(erased?.data).toEqual({
        customerId: "c1",
        email: null,
        name: null,
        address: { city: null },
        plan: "gold",
      });
      expect(erased?.metadata[ERASED_FIELDS_METADATA]).toEqual(["address.city", "email", "name"]);
      expect((kept?.data as { email?: string } | undefined)?.email).toBe("bob@example.com");
      expect(kept?.metadata[ERASED_FIELDS_METADATA]).toBeUndefined();
    });
  }

  test("an append retried with the same event ids is a retry in either format, though its ciphertexts differ; other personal values are refused", async () => {
    for (const format of [3, 2] as const) {
      const { store, backing } = setup(undefined, format);
      const events = [
        { ...registered("c1", "ada@example.com"), id: "01J9Z3M1F6K2T8VQ0R5W7XYZA1" },
        { type: "Renamed", data: { customerId: "c1", name: "Ada L." }, id: "01J9Z3M1F6K2T8VQ0R5W7XYZA2" },
      ];
      const first = await store.appendToStream("Customer-c1", events);
      const retried = await store.appendToStream("Customer-c1", events);
      expect(retried.retried).toBe(true);
      expect(retried.events.map((event) => event.data)).toEqual(first.events.map((event) => event.data));
      const other = [events[0], { ...events[1], data: { customerId: "c1", name: "Someone else" } }];
      await expect(store.appendToStream("Customer-c1", other)).rejects.toMatchObject({ code: ErrorCode.Validation });
      expect((await collect(backing.readAll())).length).toBe(2);
    }
  });

  test("a store without personal data still compares a retry whole, a marker-like value of its own data included", async () => {
    const store = new InMemoryEventStore();
    const looksSealed = (sealed: string) => ({
      type: "Imported",
      id: "01J9Z3M1F6K2T8VQ0R5W7XYZA3",
      data: { $personal: ["aes-256-gcm/3", "c1", ["email"], sealed] },
    });
    await store.appendToStream("Import-1", [looksSealed("first")]);
    expect((await store.appendToStream("Import-1", [looksSealed("first")])).retried).toBe(true);
    await expect(store.appendToStream("Import-1", [looksSealed("second")])).rejects.toMatchObject({
      code: ErrorCode.Validation,
    });
  });

  test("a copy of raw reads, appended through a store without personalData with ids and types kept, reads decrypted through one with it", async () => {
    const { store, backing, personal } = setup();
    await store.appendToStream("Customer-c1", [registered("c1", "ada@example.com")]);
    const raw = await collect(backing.readAll({ raw: true }));
    const copy = raw.map(({ id, type, data, metadata }) => ({ id, type, data, metadata }));
    // A store with personalData takes no $personal key of an event's own.
    const refused = await new StoreView(new InMemoryEventStore(), { personalData: personal })
      .appendToStream("Customer-c1", copy)
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ErrorCode.Validation });
    const target = new InMemoryEventStore();
    await target.appendToStream("Customer-c1", copy);
    const [read] = await collect(new StoreView(target, { personalData: personal }).readStream("Customer-c1"));
    expect((read?.data as { email?: string } | undefined)?.email).toBe("ada@example.com");
  });

  test("a stream change's metadata with personalDataErased is refused by a store with personalData, as an append's is", async () => {
    const keys = new InMemorySubjectKeyStore();
    const personal = personalData({ keys, events: { T: { fields: ["email"], subject: () => "s" } } });
    for (const store of [
      new InMemoryEventStore({ personalData: personal }),
      new StoreView(new InMemoryEventStore(), { personalData: personal }),
    ]) {
      await store.appendToStream("C-1", [{ type: "T", data: { email: "ada@example.com" } }]);
      const metadata = { [ERASED_FIELDS_METADATA]: ["email"] };
      for (const change of [
        () => store.deleteStream("C-1", { metadata }),
        () => store.truncateStream("C-1", { before: 1, metadata }),
        () => store.deleteStream("C-1", { mode: "hard", metadata }),
      ]) {
        const refused = await change().catch((e: unknown) => e);
        expect(isValidationError(refused) && refused.issues.map((issue) => issue.path)).toEqual([
          ["metadata", ERASED_FIELDS_METADATA],
        ]);
      }
      // Nothing was written: the stream reads as before, and $streams holds no lifecycle event.
      expect(await collect(store.readStream("$streams"))).toEqual([]);
      expect((await collect(store.readStream("C-1"))).length).toBe(1);
    }
  });

  test("appending personal data of an erased subject is refused and writes nothing", async () => {
    const { store, keys, backing } = setup();
    await keys.delete("c1");
    await expect(store.appendToStream("Customer-c1", [registered("c1", "x@example.com")])).rejects.toMatchObject({
      code: ErrorCode.SubjectErased,
    });
    expect(await collect(backing.readAll())).toEqual([]);
  });

  test("a subject function that throws (a record without the id it reads) is a ValidationError naming the record, its error the cause and not in the message; nothing is written", async () => {
    const secret = new Error("lookup failed at 10.0.0.7");
    const keys = new InMemorySubjectKeyStore();
    const personal = personalData({
      keys,
      events: {
        Registered: { fields: ["email"], subject: (e) => (e.data as { customer: { id: string } }).customer.id },
      },
      snapshots: {
        Customer: {
          fields: ["email"],
          subject: () => {
            throw secret;
          },
        },
      },
    });
    const backing = new InMemoryEventStore();
    const store = new StoreView(backing, { personalData: personal });
    const error = await store
      .appendToStream("Customer-c1", [
        { type: "Registered", data: { customer: { id: "c1" }, email: "a@example.com" } },
        { type: "Registered", data: { email: "b@example.com" } },
      ])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.Validation, issues: [{ path: [1, "data"] }] });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(await collect(backing.readAll())).toEqual([]);
    const snapshots = new InMemorySnapshotStore({ personalData: personal });
    const saved = await snapshots
      .save({ streamId: "Customer-c1", version: 1, state: { email: "a@example.com" } })
      .catch((e: unknown) => e);
    expect(saved).toMatchObject({ code: ErrorCode.Validation, issues: [{ path: ["state"] }], cause: secret });
    expect((saved as Error).message).not.toContain("10.0.0.7");
    expect(await snapshots.load("Customer-c1")).toBeUndefined();
  });

  test("a subject function that returns no valid subject id is a ValidationError naming the record; nothing is written", async () => {
    // What the subject function answers for the record marked "bad" (the data itself stays valid).
    let answer: unknown;
    const subjectOf = (record: { customerId: string }) => (record.customerId === "bad" ? answer : record.customerId);
    const keys = new InMemorySubjectKeyStore();
    const personal = personalData({
      keys,
      events: {
        Registered: { fields: ["email"], subject: (e) => subjectOf(e.data as { customerId: string }) as string },
      },
      snapshots: {
        Customer: { fields: ["email"], subject: (s) => subjectOf(s.state as { customerId: string }) as string },
      },
    });
    const backing = new InMemoryEventStore();
    const store = new StoreView(backing, { personalData: personal });
    const snapshots = new InMemorySnapshotStore({ personalData: personal });
    for (const bad of [undefined, 42, "", "   ", "x".repeat(257), "a\u0000b", "\ud800"]) {
      answer = bad;
      const error = await store
        .appendToStream("Customer-c1", [
          { type: "Registered", data: { customerId: "c1", email: "a@example.com" } },
          { type: "Registered", data: { customerId: "bad", email: "b@example.com" } },
        ])
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.Validation, issues: [{ path: [1, "data"] }] });
      const saved = await snapshots
        .save({ streamId: "Customer-c1", version: 1, state: { customerId: "bad", email: "a@example.com" } })
        .catch((e: unknown) => e);
      expect(saved).toMatchObject({ code: ErrorCode.Validation, issues: [{ path: ["state"] }] });
    }
    expect(await collect(backing.readAll())).toEqual([]);
    expect(await snapshots.load("Customer-c1")).toBeUndefined();
  });

  test("one append mixing cached keys, keys still to make, other types and absent fields seals each event in place, in order, in either format", async () => {
    for (const format of [2, 3] as const) {
      for (const keys of [new InMemorySubjectKeyStore(), new WebCryptoOnlyKeys()]) {
        const { store, backing } = setup(keys, format);
        await keys.createOrGet("warm");
        const events = [
          registered("warm", "a@example.com"),
          registered("cold-1", "b@example.com"),
          { type: "Noted", data: { note: "no personal data" } },
          registered("warm", "c@example.com"),
          { type: "Registered", data: { customerId: "cold-2", email: "d@example.com", address: {} } },
          registered("cold-1", "e@example.com"),
        ];
        const { events: appended } = await store.appendToStream("Mixed-1", events);
        expect(appended.map((e) => e.data)).toEqual(events.map((e) => e.data));
        expect((await collect(store.readStream("Mixed-1"))).map((e) => e.data)).toEqual(events.map((e) => e.data));
        const stored = await collect(backing.readStream("Mixed-1", { raw: true }));
        // Each sealed record's IV (/3: the first 16 base64 characters of its sealed text) and field list.
        type Stored = { email?: { iv?: string; fields?: string[] }; $personal?: [string, string, string[], string] };
        const sealedOf = (data: unknown) => {
          const record = data as Stored;
          return format === 2
            ? { iv: record.email?.iv, fields: record.email?.fields }
            : { iv: record.$personal?.[3].slice(0, 16), fields: record.$personal?.[2] };
        };
        const ivs = stored.map((e) => sealedOf(e.data).iv);
        expect(ivs.filter((iv) => iv !== undefined)).toHaveLength(5);
        expect(new Set(ivs).size).toBe(6);
        expect(stored[2]?.data).toEqual({ note: "no personal data" });
        expect(sealedOf(stored[4]?.data).fields).toEqual(["email"]);
      }
    }
  });

  test("an event without its marked fields needs no key; other event types are untouched", async () => {
    const { store, keys } = setup();
    await store.appendToStream("Other-1", [
      { type: "Registered", data: { customerId: "c9" } },
      { type: "Noted", data: {} },
    ]);
    expect((await keys.get("c9")).status).toBe("unknown");
  });

  test("null fields need no key, so an erased subject's aggregate and snapshot can still be saved", async () => {
    const { store, keys, personal } = setup();
    await keys.delete("c5");
    const nulls = { customerId: "c5", email: null, name: null, address: { city: null }, plan: "gold" };
    await store.appendToStream("Customer-c5", [{ type: "Registered", data: nulls }]);
    const [event] = await collect(store.readStream("Customer-c5"));
    expect(event?.data).toEqual(nulls);
    const snapshots = new InMemorySnapshotStore({ personalData: personal });
    await snapshots.save({ streamId: "Customer-c5", version: 1, state: { email: null, visits: 1 } });
    expect((await snapshots.load("Customer-c5"))?.state).toEqual({ email: null, visits: 1 });
  });

  test("upcasters see decrypted data", async () => {
    const { personal, backing } = setup();
    // The first release wrote Renamed v1; the second upcasts it, reading the personal field.
    const v1 = new StoreView(backing, { personalData: personal });
    await v1.appendToStream("Customer-c3", [{ type: "Renamed", data: { customerId: "c3", name: "Cleo" } }]);
    const registry = eventRegistry().upcast("Renamed", 1, (data: { name: string }) => ({
      ...data,
      initial: data.name.slice(0, 1),
    }));
    const v2 = new StoreView(backing, { personalData: personal, eventRegistry: registry });
    const [event] = await collect(v2.readStream("Customer-c3"));
    expect(event?.data).toEqual({ customerId: "c3", name: "Cleo", initial: "C" });
  });

  test("any JSON value of any subset of the marked fields round-trips, sealed in one ciphertext, in either format (fast-check)", async () => {
    const personal = { 2: setup(undefined, 2).personal, 3: setup().personal };
    const field = fc.option(fc.jsonValue(), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(2 as const, 3 as const),
        field,
        field,
        field,
        async (format, email, name, city) => {
          const data = JSON.parse(JSON.stringify({ customerId: "c-prop", email, name, address: { city } }));
          const pending: PendingEvent = { id: "e", type: "Registered", data, metadata: {}, timestamp: "t" };
          const [sealed] = await personal[format].encryptEvents("Customer-p", [pending]);
          const present = [email, name, city].filter((v) => v !== undefined && v !== null).length;
          const stored = JSON.stringify((sealed as PendingEvent).data);
          expect(stored.split(format === 2 ? '"iv":' : '"$personal":').length - 1).toBe(present === 0 ? 0 : 1);
          const envelope = { ...(sealed as PendingEvent), streamId: "Customer-p", version: 1 };
          const opened = await personal[format].decryptEvent(envelope);
          // JSON has one zero: -0 is stored as 0, as every backend's JSON stores it.
          expect(opened.data).toEqual(data);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a value whose toJSON decrypts another event while it is being encrypted still seals to its own record", async () => {
    const { personal } = setup();
    const [other] = await personal.encryptEvents("Customer-o", [
      { id: "o", type: "Registered", data: registered("c-o", "o@example.com").data, metadata: {}, timestamp: "t" },
    ]);
    const otherEvent = { ...(other as PendingEvent), streamId: "Customer-o", version: 1 };
    let reads = 0;
    const email = {
      toJSON: () => {
        // Starts (and, the key being cached, finishes) a synchronous decryption in the middle of the seal.
        void personal.decryptEvent(otherEvent);
        reads++;
        return "x@example.com";
      },
    };
    const data = { ...registered("c-x", "unused").data, email };
    const [sealed] = await personal.encryptEvents("Customer-x", [
      { id: "x", type: "Registered", data, metadata: {}, timestamp: "t" },
    ]);
    expect(reads).toBeGreaterThan(0);
    const opened = await personal.decryptEvent({ ...(sealed as PendingEvent), streamId: "Customer-x", version: 1 });
    expect((opened.data as { email: string }).email).toBe("x@example.com");
  });

  test("encrypting and decrypting never write to the record they are given, however its fields nest or share objects, in either format (fast-check)", async () => {
    const declared = (format: 2 | 3) =>
      personalData({
        keys: new InMemorySubjectKeyStore(),
        format,
        events: { Nested: { fields: ["a.b.c", "a.b.d", "a.e", "f", "g.b.c", "h.0.x"], subject: () => "s-nested" } },
      });
    const formats = { 2: declared(2), 3: declared(3) };
    const frozen = <T>(value: T): T => {
      if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
        for (const child of Object.values(value)) frozen(child);
        Object.freeze(value);
      }
      return value;
    };
    const leaf = fc.option(fc.jsonValue(), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(2 as const, 3 as const),
        leaf,
        leaf,
        leaf,
        leaf,
        leaf,
        fc.boolean(),
        async (format, c, d, e, f, x, shared) => {
          const personal = formats[format];
          const data = JSON.parse(JSON.stringify({ a: { b: { c, d, other: 1 }, e, keep: [1, 2] }, f, h: [{ x }, 2] }));
          // The same object at two places (an in-memory record may share them), or one of its own.
          data.g = shared ? data.a : { b: { c: "g", other: 2 } };
          const expected = JSON.parse(JSON.stringify(data));
          const pending: PendingEvent = { id: "e", type: "Nested", data: frozen(data), metadata: {}, timestamp: "t" };
          const [sealed] = await personal.encryptEvents("Nested-1", [pending]);
          const envelope = frozen({ ...(sealed as PendingEvent), streamId: "Nested-1", version: 1 });
          const stored = JSON.stringify(envelope);
          expect((await personal.decryptEvent(envelope)).data).toEqual(expected);
          expect(JSON.stringify(envelope)).toBe(stored);
          expect(JSON.parse(JSON.stringify(data))).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  for (const [cipher, makeKeys] of [
    ["synchronous AES-GCM", () => new InMemorySubjectKeyStore()],
    ["Web Crypto", () => new WebCryptoOnlyKeys()],
  ] as const) {
    test(`tampered, moved, re-labelled and malformed ciphertext are typed errors, never garbage (format /2, ${cipher})`, async () => {
      const { store, backing, keys } = setup(makeKeys(), 2);
      await store.appendToStream("Customer-c1", [
        registered("c1", "ada@example.com"),
        registered("c1", "ada@example.org"),
      ]);
      await keys.createOrGet("c2");
      const [stored, second] = await collect(backing.readAll({ raw: true }));
      type Stored = EventEnvelope<string, Record<string, Record<string, string>>>;
      const data = (stored as Stored).data;
      const email = data.email as Record<string, string>;
      const name = data.name as Record<string, string>;
      // One ciphertext per event holds all three fields, at the first; the others refer to it.
      expect(Object.keys(email).sort()).toEqual(["$personal", "data", "fields", "iv", "subject"]);
      expect(email.fields as unknown).toEqual(["email", "name", "address.city"]);
      expect(name).toEqual({ $personal: "aes-256-gcm/2", subject: "c1", in: "email" });
      const flipped = `${(email.data as string).slice(0, -4)}${(email.data as string).slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
      const variants: [string, unknown, string][] = [
        ["altered ciphertext", { ...data, email: { ...email, data: flipped } }, "tampered"],
        ["moved to another field", { ...data, email: name }, "tampered"],
        ["moved to another event of the subject", (second as Stored).data, "tampered"],
        ["fields relabelled", { ...data, email: { ...email, fields: ["email", "address.city", "name"] } }, "tampered"],
        ["a reference without its ciphertext", { ...data, email: "ada@example.com" }, "tampered"],
        ["a reference to another field", { ...data, name: { ...name, in: "address.city" } }, "tampered"],
        ["relabelled to another subject", { ...data, email: { ...email, subject: "c2" } }, "tampered"],
        ["a subject with no key", { ...data, email: { ...email, subject: "nobody" } }, "unknown-key"],
        // Not the key store's ValidationError: the stored record is at fault, not the reader's input.
        ["an empty subject", { ...data, email: { ...email, subject: "" } }, "malformed"],
        ["a subject over 256 characters", { ...data, email: { ...email, subject: "c".repeat(257) } }, "malformed"],
        [
          "malformed",
          { ...data, email: { $personal: "aes-256-gcm/2", subject: "c1", iv: "!!", data: "" } },
          "malformed",
        ],
        ["an unknown format version", { ...data, email: { ...email, $personal: "aes-256-gcm/9" } }, "malformed"],
        // Naming no format, it is the record's own data: the references to it are left without their ciphertext.
        ["no format named", { ...data, email: { ...email, $personal: "rot13" } }, "tampered"],
        ["an IV of 16 bytes", { ...data, email: { ...email, iv: btoa("x".repeat(16)) } }, "malformed"],
        ["an IV of 8 bytes", { ...data, email: { ...email, iv: btoa("x".repeat(8)) } }, "malformed"],
        ["a ciphertext that is not base64", { ...data, email: { ...email, data: "!!!!" } }, "malformed"],
        ["a ciphertext shorter than its tag", { ...data, email: { ...email, data: btoa("short") } }, "tampered"],
      ];
      for (const [label, altered, reason] of variants) {
        const event = { ...(stored as EventEnvelope), data: altered };
        const error = await setup(keys)
          .personal.decryptEvent(event)
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
        expect(String((error as Error).message)).not.toContain("ada@example.com");
      }
    });
  }

  test("key store faults fail closed: the append writes nothing and the read stops with a typed error (a failing key store made by hand)", async () => {
    let failing = false;
    class Flaky extends InMemorySubjectKeyStore {
      protected override async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
        if (failing) throw new Error("connection reset");
        return super.insertKey(subjectId);
      }
      protected override async readKey(subjectId: string): Promise<SubjectKeyLookup> {
        if (failing) throw new Error("connection reset");
        return super.readKey(subjectId);
      }
    }
    const { store, backing } = setup(new Flaky({ cacheSize: 0 }));
    await store.appendToStream("Customer-c1", [registered("c1", "ada@example.com")]);
    failing = true;
    await expect(store.appendToStream("Customer-c2", [registered("c2", "bob@example.com")])).rejects.toMatchObject({
      code: ErrorCode.PersonalDataUnreadable,
    });
    expect((await collect(backing.readAll())).length).toBe(1);
    await expect(collect(store.readAll())).rejects.toMatchObject({ code: ErrorCode.PersonalDataUnreadable });
  });

  for (const [cipher, makeKeys, ahead] of [
    ["synchronous AES-GCM: in turn", () => new InMemorySubjectKeyStore(), 0],
    ["Web Crypto: reading ahead", () => new WebCryptoOnlyKeys(), 16],
  ] as const) {
    test(`reads in order, releases the store's reader when stopped early, and stops at a bad event (${cipher})`, async () => {
      const { personal, store } = setup(makeKeys());
      await store.appendToStream(
        "Customer-many",
        Array.from({ length: 50 }, (_, i) => registered(`m${i}`, `m${i}@example.com`)),
      );
      const all = await collect(store.readStream("Customer-many"));
      expect(all.map((event) => (event.data as { email: string }).email)).toEqual(
        Array.from({ length: 50 }, (_, i) => `m${i}@example.com`),
      );
      let released = 0;
      let pulled = 0;
      async function* source(events: EventEnvelope[], breakAt?: number) {
        try {
          for (const [i, event] of events.entries()) {
            pulled++;
            yield i === breakAt ? { ...event, data: { email: { $personal: "aes-256-gcm/2", subject: "m1" } } } : event;
          }
        } finally {
          released++;
        }
      }
      const stored = await collect(store.readStream("Customer-many", { raw: true }));
      for await (const event of personal.decrypting(source(stored))) {
        if (event.version === 3) break;
      }
      expect(released).toBe(1);
      expect(pulled).toBeLessThanOrEqual(3 + ahead);
      const error = await collect(personal.decrypting(source(stored, 20))).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.PersonalDataUnreadable, reason: "malformed" });
      expect(released).toBe(2);
    });
  }

  test("declarations are checked", () => {
    const keys = new InMemorySubjectKeyStore();
    expect(() => personalData({ keys: {} as InMemorySubjectKeyStore })).toThrow(/keys/);
    expect(() => personalData({ keys, events: { A: { fields: [], subject: () => "s" } } })).toThrow(/fields/);
    expect(() => personalData({ keys, events: { A: { fields: ["a..b"], subject: () => "s" } } })).toThrow(/dotted/);
    expect(() => personalData({ keys, events: { A: { fields: ["a", "a.b"], subject: () => "s" } } })).toThrow(/inside/);
    for (const field of ["__proto__", "a.__proto__"]) {
      expect(() => personalData({ keys, events: { A: { fields: [field], subject: () => "s" } } })).toThrow(/__proto__/);
      expect(() => personalData({ keys, snapshots: { A: { fields: [field], subject: () => "s" } } })).toThrow(
        /__proto__/,
      );
    }
  });

  test("a field inside another listed field is refused at its own index, naming the field it lies in", () => {
    const keys = new InMemorySubjectKeyStore();
    const issues = (fields: unknown[]) => {
      try {
        personalData({ keys, events: { A: { fields: fields as string[], subject: () => "s" } } });
      } catch (e) {
        return isValidationError(e) ? e.issues : "untyped";
      }
      return "accepted";
    };
    // The issue named only the list: with many fields, which one to fix was left to guess.
    expect(issues(["email", "address", "phones.0", "address.street"])).toEqual([
      { path: ["events", "A", "fields", 3], message: '"address.street" lies inside "address", another listed field' },
    ]);
    expect(issues(["a.b", "a"])).toEqual([
      { path: ["events", "A", "fields", 0], message: '"a.b" lies inside "a", another listed field' },
    ]);
    // A bad entry before does not shift the index given.
    expect(issues(["", "a", "a"])).toEqual([
      { path: ["events", "A", "fields", 0], message: 'expected a dotted path like "address.street"' },
      { path: ["events", "A", "fields", 2], message: '"a" is listed twice' },
    ]);
    expect(issues(["a.b", "a.bc", "ab"])).toBe("accepted");
  });

  test("a key the options or a rule do not take, and a snapshot category holding '-', are refused by path", () => {
    const keys = new InMemorySubjectKeyStore();
    const rule = { fields: ["email"], subject: () => "s" };
    const paths = (options: unknown) => {
      try {
        personalData(options as never);
      } catch (e) {
        return isValidationError(e) ? e.issues.map((issue) => issue.path) : "untyped";
      }
      return "accepted";
    };
    // A misspelt snapshots left the category's snapshots in plaintext without a word.
    expect(paths({ keys, snapshot: { Customer: rule } })).toEqual([["snapshot"]]);
    expect(paths({ keys, events: { T: { ...rule, subjet: () => "s" } } })).toEqual([["events", "T", "subjet"]]);
    expect(paths({ keys, snapshots: { Customer: { ...rule, field: ["name"] } } })).toEqual([
      ["snapshots", "Customer", "field"],
    ]);
    // A category ends at a stream id's first "-": "Customer-eu" would match no snapshot's stream.
    expect(paths({ keys, snapshots: { "Customer-eu": rule } })).toEqual([["snapshots", "Customer-eu"]]);
    // Its message named a `streams` option (the projections' advice) that personalData does not take.
    expect(() => personalData({ keys, snapshots: { "Customer-eu": rule } })).toThrow(
      'snapshots.Customer-eu: a category holds no "-" ("-" ends it): it would match no snapshot',
    );
    // Event types may hold "-": they are no categories.
    expect(paths({ keys, events: { "customer-registered": rule }, snapshots: { Customer: rule } })).toBe("accepted");
  });
});

describe("crypto-shredding of snapshots", () => {
  test("the category's fields are stored encrypted, load decrypted, and load as null once erased", async () => {
    const { personal, keys } = setup();
    const snapshots = new InMemorySnapshotStore({ personalData: personal });
    const state = { email: "ada@example.com", visits: 3 };
    await snapshots.save({ streamId: "Customer-c1", version: 1, state });
    await snapshots.save({ streamId: "Order-1", version: 1, state: { email: "not-declared@example.com" } });
    const direct = snapshots as unknown as { readSnapshot(s: string): Promise<{ payload: Uint8Array }> };
    const payload = new TextDecoder().decode((await direct.readSnapshot("Customer-c1")).payload);
    expect(payload).not.toContain("ada@example.com");
    expect((await snapshots.load("Customer-c1"))?.state).toEqual(state);
    expect((await snapshots.load("Order-1"))?.state).toEqual({ email: "not-declared@example.com" });
    await keys.delete("c1");
    expect((await snapshots.load("Customer-c1"))?.state).toEqual({ email: null, visits: 3 });
  });

  // A declared field is sealed as JSON, apart from the serializer: a Date came back a string, a Map {},
  // a NaN null, and a BigInt threw a raw TypeError. Refused now, nothing saved; the rest of a state may
  // hold them, as the serializer carries it.
  test("a declared field holding no JSON data (a Date, a Map, a BigInt, NaN) is a ValidationError naming it, nothing saved", async () => {
    const { personal } = setup();
    const snapshots = new InMemorySnapshotStore({ personalData: personal });
    for (const email of [new Date(0), new Map([["a", 1]]), 1n, Number.NaN, new Uint8Array([1])]) {
      const error = await snapshots
        .save({ streamId: "Customer-c2", version: 1, state: { email } })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.Validation });
      expect((error as { issues: { path: unknown[] }[] }).issues[0]?.path.slice(0, 2)).toEqual(["state", "email"]);
    }
    expect(await snapshots.load("Customer-c2")).toBeUndefined();
    await snapshots.save({ streamId: "Customer-c2", version: 1, state: { email: "x@example.com", seen: new Date(0) } });
    expect((await snapshots.load("Customer-c2"))?.state).toEqual({ email: "x@example.com", seen: new Date(0) });
  });
});
