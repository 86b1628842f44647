import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { isUlid, ulidTimestamp } from "../ids.js";
import { jsonIssues, utf8Length } from "../internal/json.js";
import { createEvent, type NewEvent, prepareEvents, storedEventFlaw } from "./envelope.js";

/** One event with `timestamp` through prepareEvents: the timestamp it stores, or the error it throws. */
function prepared(timestamp: string): { stored?: string | undefined; refused?: unknown } {
  try {
    return { stored: prepareEvents([{ type: "A", data: 1, timestamp }], undefined)[0]?.timestamp };
  } catch (refused) {
    return { refused };
  }
}

describe("prepareEvents", () => {
  test("any spelling of a ULID becomes its one upper-case spelling; two spellings of one id in a batch are duplicates (property)", () => {
    const crockford = fc.constantFrom(..."0123456789ABCDEFGHJKMNPQRSTVWXYZ");
    const id = fc
      .tuple(fc.constantFrom(..."01234567"), fc.array(crockford, { minLength: 25, maxLength: 25 }))
      .map(([first, rest]) => first + rest.join(""));
    const spelled = fc
      .tuple(id, fc.array(fc.boolean(), { minLength: 26, maxLength: 26 }))
      .map(([id, upper]) => [id, [...id].map((c, i) => (upper[i] ? c : c.toLowerCase())).join("")] as const);
    fc.assert(
      fc.property(spelled, ([id, spelling]) => {
        expect(prepareEvents([{ id: spelling, type: "A", data: 1 }], undefined)[0]?.id).toBe(id);
        expect(() =>
          prepareEvents(
            [
              { id, type: "A", data: 1 },
              { id: spelling, type: "A", data: 1 },
            ],
            undefined,
          ),
        ).toThrow(ValidationError);
      }),
    );
  });

  test("fixes ids and one timestamp per batch, and merges shared metadata under the event's own", () => {
    const now = new Date("2026-02-03T04:05:06.789Z");
    const prepared = prepareEvents(
      [createEvent("A", { x: 1 }, { correlationId: "own" }), createEvent("B", null)],
      { correlationId: "shared", tenant: "t1" },
      now,
    );
    expect(prepared.map((e) => e.type)).toEqual(["A", "B"]);
    expect(prepared.every((e) => isUlid(e.id) && e.timestamp === now.toISOString())).toBe(true);
    expect(prepared[0]?.metadata).toEqual({ correlationId: "own", tenant: "t1" });
    expect(prepared[1]?.metadata).toEqual({ correlationId: "shared", tenant: "t1" });
  });

  test("an event's own metadata field holding undefined does not erase the shared one", async () => {
    // raise("A", data, { correlationId: request.correlationId }) with none in hand, saved with the request's.
    const [event] = prepareEvents(
      [createEvent("A", null, { correlationId: undefined, causationId: "c-1", extra: undefined })],
      { correlationId: "shared", extra: "x" },
    );
    expect(event?.metadata).toEqual({ correlationId: "shared", causationId: "c-1", extra: "x" });
    const store = new InMemoryEventStore();
    const { events } = await store.appendToStream("Meta-1", [createEvent("A", null, { correlationId: undefined })], {
      metadata: { correlationId: "req-1" },
    });
    expect(events[0]?.metadata).toEqual({ correlationId: "req-1" });
    const keyed = JSON.parse('{"__proto__": {"polluted": true}}');
    const ownMetadata = {};
    Object.defineProperty(ownMetadata, "__proto__", { value: undefined, enumerable: true });
    const [own] = prepareEvents([createEvent("A", null, ownMetadata)], keyed);
    expect(Object.getPrototypeOf(own?.metadata)).toBe(Object.prototype);
    expect(Object.hasOwn(own?.metadata ?? {}, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Metadata that is not an object, with shared metadata: the ValidationError naming it, not a TypeError.
    for (const bad of [null, "x", 5, []]) {
      expect(() => prepareEvents([{ type: "A", data: null, metadata: bad as never }], { correlationId: "s" })).toThrow(
        expect.objectContaining({
          name: "ValidationError",
          issues: [expect.objectContaining({ path: [0, "metadata"] })],
        }),
      );
    }
  });

  test("an event's own timestamp is kept as the same instant in UTC; text that is not an ISO date-time is refused", () => {
    const now = new Date("2026-02-03T04:05:06.789Z");
    const prepared = prepareEvents(
      [
        { type: "A", data: 1, timestamp: "2020-01-02T03:04:05.6+01:00" },
        { type: "B", data: 2, timestamp: "2020-01-02T03:04:05Z" },
        { type: "C", data: 3 },
      ],
      undefined,
      now,
    );
    expect(prepared.map((e) => e.timestamp)).toEqual([
      "2020-01-02T02:04:05.600Z",
      "2020-01-02T03:04:05.000Z",
      now.toISOString(),
    ]);
    // Year 0 too (JavaScript's calendar has it, PostgreSQL's timestamptz does not): every store takes the same times.
    const refused = [
      "2020-01-02",
      "2020-01-02T03:04:05",
      "yesterday",
      "2020-13-02T03:04:05Z",
      5,
      "0000-06-01T00:00:00Z",
    ];
    expect(
      prepareEvents([{ type: "A", data: 1, timestamp: "0001-01-01T00:00:00Z" }], undefined, now)[0]?.timestamp,
    ).toBe("0001-01-01T00:00:00.000Z");
    for (const timestamp of refused) {
      const error = (() => {
        try {
          prepareEvents([{ type: "A", data: 1, timestamp } as never], undefined, now);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]?.path).toEqual([0, "timestamp"]);
    }
  });

  test("a timestamp on a day its month does not have is refused, not rolled over into the next month (property)", async () => {
    const pad = (n: number, width: number) => String(n).padStart(width, "0");
    // The Gregorian calendar repeats every 400 years: Date.UTC on a year past 1999 in the same place of
    // the cycle gives the month's length (day 0 of the next month), whatever the year.
    const daysIn = (year: number, month: number) => new Date(Date.UTC(2000 + (year % 400), month, 0)).getUTCDate();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        (year, month, day) => {
          const date = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
          const timestamp = `${date}T12:00:00Z`;
          const { stored, refused } = prepared(timestamp);
          if (day <= daysIn(year, month)) expect(stored).toBe(`${date}T12:00:00.000Z`);
          else expect((refused as ValidationError).issues[0]?.path).toEqual([0, "timestamp"]);
        },
      ),
      {
        examples: [
          [2023, 2, 29],
          [2024, 2, 29],
          [1900, 2, 29],
          [2000, 2, 29],
          [2024, 4, 31],
          [2024, 2, 30],
        ],
      },
    );
    // Through a store: nothing is written.
    const store = new InMemoryEventStore();
    await expect(
      store.appendToStream("Import-1", [{ type: "A", data: 1, timestamp: "2023-02-29T00:00:00Z" }]),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    expect(await store.streamExists("Import-1")).toBe(false);
  });

  // Date.parse (V8 and JavaScriptCore alike) takes 24:00 as the next day's midnight: stored as another
  // day than written, as a day past the month's end was before.
  test("a time of day at hour 24 is refused as a day past the month's end is, not rolled over (property)", async () => {
    const pad = (n: number) => String(n).padStart(2, "0");
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 24 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 59 }),
        fc.constantFrom("Z", "+01:00", "-05:30"),
        (hour, minute, second, zone) => {
          const timestamp = `2026-12-31T${pad(hour)}:${pad(minute)}:${pad(second)}${zone}`;
          const { stored, refused } = prepared(timestamp);
          if (hour < 24) expect(stored).toBe(new Date(Date.parse(timestamp)).toISOString());
          else {
            expect((refused as ValidationError).issues).toEqual([
              {
                path: [0, "timestamp"],
                message: "a timestamp must be ISO-8601 text with a zone, in the years 1 to 9999",
              },
            ]);
          }
        },
      ),
      {
        examples: [
          [24, 0, 0, "Z"],
          [23, 59, 59, "Z"],
          [0, 0, 0, "Z"],
        ],
      },
    );
    for (const timestamp of ["2026-01-01T24:00Z", "2026-01-01T24:00:00.000+01:00"]) {
      expect(() => prepareEvents([{ type: "A", data: 1, timestamp }], undefined)).toThrow(ValidationError);
    }
    // Through a store: nothing is written.
    const store = new InMemoryEventStore();
    await expect(
      store.appendToStream("Import-24", [{ type: "A", data: 1, timestamp: "2026-12-31T24:00:00Z" }]),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    expect(await store.streamExists("Import-24")).toBe(false);
  });

  // events.md promises "ISO-8601 with a zone", and a snapshot's createdAt took these: an event's refused them.
  test("an offset in any of ISO 8601's forms (±hh:mm, ±hhmm, ±hh) is taken, as the same instant in UTC", () => {
    for (const [timestamp, utc] of [
      ["2020-02-03T10:00:00+01:00", "2020-02-03T09:00:00.000Z"],
      ["2020-02-03T10:00:00+0100", "2020-02-03T09:00:00.000Z"],
      ["2020-02-03T10:00:00+01", "2020-02-03T09:00:00.000Z"],
      ["2020-02-03T04:30-0530", "2020-02-03T10:00:00.000Z"],
    ]) {
      expect(prepared(timestamp as string).stored).toBe(utc);
    }
    for (const timestamp of ["2020-02-03T10:00:00+1", "2020-02-03T10:00:00+01:0", "2020-02-03T10:00:00+2500"]) {
      expect(prepared(timestamp).refused).toBeInstanceOf(ValidationError);
    }
  });

  test("data that throws while it is read is named at that event's data, at any depth; nothing is written", async () => {
    const threw = () => {
      throw new Error("the caller's own text");
    };
    const unreadable: [string, unknown][] = [
      [
        "a getter at the top",
        {
          get email() {
            return threw();
          },
        },
      ],
      [
        "a getter nested",
        {
          a: {
            b: [
              1,
              {
                get email() {
                  return threw();
                },
              },
            ],
          },
        },
      ],
      [
        "a getter beside a Date",
        {
          at: new Date(0),
          get email() {
            return threw();
          },
        },
      ],
      ["a Proxy whose keys throw", new Proxy({}, { ownKeys: threw })],
      ["an array whose item throws", new Proxy([1, 2], { get: (t, k) => (k === "1" ? threw() : Reflect.get(t, k)) })],
    ];
    const store = new InMemoryEventStore();
    for (const [what, data] of unreadable) {
      const refused = await store
        .appendToStream("Unreadable-1", [
          { type: "Ok", data: 1 },
          { type: "A", data },
        ])
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect([what, refused]).toEqual([what, expect.any(ValidationError)]);
      expect([what, (refused as ValidationError).issues]).toEqual([
        what,
        [{ path: [1, "data"], message: "could not be read as JSON data: reading it threw" }],
      ]);
    }
    expect(await store.streamExists("Unreadable-1")).toBe(false);
  });

  test("collects every problem in the batch into one ValidationError with paths", () => {
    const error = (() => {
      try {
        prepareEvents(
          [
            { type: "", data: 1 },
            { type: "Ok", data: { when: new Date() } },
            { type: "Ok", data: 1, metadata: { schemaVersion: 0 } },
          ],
          undefined,
        );
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error?.issues.map((i) => i.path)).toEqual([
      [0, "type"],
      [1, "data", "when"],
      [2, "metadata", "schemaVersion"],
    ]);
    expect(error?.message).toContain("1.data.when: a Date (use toISOString()) is not plain JSON data");
  });

  test("without a given time, the batch's timestamp and its new ids' time are one clock reading", () => {
    for (let round = 0; round < 50; round++) {
      const prepared = prepareEvents([createEvent("A", 1), createEvent("B", 2)], undefined);
      for (const event of prepared) expect(ulidTimestamp(event.id).toISOString()).toBe(event.timestamp);
    }
  });

  test("a hole in a sparse array of events is refused naming its index, as undefined in a filled slot is", () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
    const sparse = [, createEvent("A", 1)] as unknown as NewEvent[];
    expect(() => prepareEvents(sparse, undefined)).toThrow(
      expect.objectContaining({ issues: [{ path: [0], message: expect.stringContaining("a hole") }] }),
    );
    expect(() => prepareEvents([undefined, createEvent("A", 1)] as unknown as NewEvent[], undefined)).toThrow(
      ValidationError,
    );
  });

  test("duplicate ids within one append are refused", () => {
    const id = "01J00000000000000000000000";
    expect(() =>
      prepareEvents(
        [
          { id, type: "A", data: 1 },
          { id, type: "B", data: 2 },
        ],
        undefined,
      ),
    ).toThrow("duplicate event id in one append");
  });
});

describe("storedEventFlaw", () => {
  test("what is no object at all is a flaw too, for the store to refuse as corrupt, not a TypeError", () => {
    for (const row of [null, undefined, "row", 5]) {
      expect(storedEventFlaw(row as never)).toBe("it is not an object");
    }
    const event = { streamId: "S-1", id: "e-1", type: "A", timestamp: "2026-01-01T00:00:00.000Z", metadata: {} };
    expect(storedEventFlaw(event as never)).toBeUndefined();
  });
});

describe("jsonIssues", () => {
  test("accepts anything JSON.parse can produce (property)", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => jsonIssues(value).length === 0));
  });

  test("a value with no issues survives a JSON round trip unchanged (property)", () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true }),
        (value) => {
          if (jsonIssues(value).length > 0) return true;
          const text = JSON.stringify(value);
          // Objects lose their undefined-valued keys, which is the one change JSON makes to valid data.
          const normalise = (v: unknown): unknown =>
            Array.isArray(v)
              ? v.map(normalise)
              : v !== null && typeof v === "object"
                ? Object.fromEntries(
                    Object.entries(v)
                      .filter(([, x]) => x !== undefined)
                      .map(([k, x]) => [k, normalise(x)]),
                  )
                : Object.is(v, -0)
                  ? 0
                  : v;
          expect(JSON.parse(text)).toEqual(normalise(value) as never);
          return true;
        },
      ),
    );
  });

  test("names each problem", () => {
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(jsonIssues({ a: 1n })[0]?.message).toBe("BigInt is not JSON; encode it as a string");
    expect(jsonIssues(cyclic)[0]).toEqual({ path: ["self"], message: "circular reference" });
    expect(jsonIssues([undefined])[0]?.path).toEqual([0]);
    expect(jsonIssues({ a: undefined })).toEqual([]);
    expect(jsonIssues(new Set())[0]?.message).toBe("an instance of Set is not plain JSON data");
    expect(jsonIssues({ n: Number.POSITIVE_INFINITY })[0]?.message).toBe("Infinity is not a JSON number");
    const shared = { x: 1 };
    expect(jsonIssues({ a: shared, b: shared })).toEqual([]);
  });

  test("utf8Length matches TextEncoder (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => utf8Length(text) === new TextEncoder().encode(text).length),
    );
  });
});
