/**
 * Reading event items back, including items other tools wrote: native DynamoDB values are read as
 * the JSON they spell; what has no sane reading is an EventCorruptError naming the stream and
 * version, never a raw SyntaxError or a silent null.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isEventFlowsError } from "../../src/index.js";
import { decodeItem } from "./codec.js";
import { EventCorruptError, isEventCorruptError } from "./errors.js";
import { tableLayout } from "./layout.js";

const layout = tableLayout({ tableName: "events" });
const base = {
  pk: { S: "Order-1" },
  sk: { N: "7" },
  id: { S: "01J9Z3M1F6K2T8VQ0R5W7XYZAB" },
  type: { S: "OrderPlaced" },
  ts: { S: "2026-01-02T03:04:05.000Z" },
};

/** JSON as the AWS SDK's marshall writes it: maps, lists, strings, numbers, booleans, null. */
function marshall(value: unknown): unknown {
  if (value === null) return { NULL: true };
  if (typeof value === "string") return { S: value };
  if (typeof value === "number") return { N: String(value) };
  if (typeof value === "boolean") return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(marshall) };
  return { M: Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, marshall(v)])) };
}

// JSON values as another tool could hold them: safe numbers only (DynamoDB keeps 38 digits, a
// JavaScript number does not), keys that include the awkward ones.
const key = fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "", "a.b", "🚀"));
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.string(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
    fc.array(tie("json"), { maxLength: 4 }),
    fc.dictionary(key, tie("json"), { maxKeys: 4 }),
  ),
}));
const object = fc.dictionary(key, json, { maxKeys: 4 });
/** What JSON keeps of a value (-0 becomes 0), with "__proto__" as a plain key: JSON.parse's reading. */
const asJson = (value: unknown) => JSON.parse(JSON.stringify(value));

describe("decodeItem", () => {
  test("data and metadata as native DynamoDB values read as the JSON they spell; as JSON text, exactly", () => {
    // A string attribute at the top is JSON text (what this store writes): a native string must be nested.
    const data = json.filter((value) => typeof value !== "string");
    fc.assert(
      fc.property(data, object, (data, metadata) => {
        const native = decodeItem(layout, { ...base, data: marshall(data), meta: marshall(metadata) });
        expect(native.data).toEqual(asJson(data));
        expect(native.metadata).toEqual(asJson(metadata));
        expect(Object.getPrototypeOf(native.metadata)).toBe(Object.prototype);
        const text = decodeItem(layout, {
          ...base,
          data: { S: JSON.stringify(data) },
          meta: { S: JSON.stringify(metadata) },
        });
        expect([text.data, text.metadata]).toEqual([native.data, native.metadata]);
      }),
      { numRuns: 300 },
    );
  });

  test("a map another tool wrote is read as an object, sets as arrays, a numeric time as epoch ms", () => {
    const event = decodeItem(layout, {
      ...base,
      ts: { N: "1767323045000" },
      data: { M: { total: { N: "42.5" }, tags: { SS: ["a", "b"] }, sizes: { NS: ["1", "2"] }, paid: { BOOL: false } } },
    });
    expect(event).toMatchObject({
      streamId: "Order-1",
      version: 7,
      timestamp: "2026-01-02T03:04:05.000Z",
      data: { total: 42.5, tags: ["a", "b"], sizes: [1, 2], paid: false },
      metadata: {},
    });
    const polluted = decodeItem(layout, {
      ...base,
      data: JSON.parse('{"M":{"__proto__":{"M":{"admin":{"BOOL":true}}}}}'),
    });
    expect(Object.hasOwn(polluted.data as object, "__proto__")).toBe(true);
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
  });

  test("what has no sane reading is an EventCorruptError naming the stream and version", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ data: { S: "not json {" } }, "data is text that is not JSON"],
      [{ data: { B: "AAEC" } }, "binary"],
      [{ data: { M: { deep: { L: [{ BS: ["AA=="] }] } } } }, "its data: a value nested 2 levels deep is binary"],
      [{ data: { N: "123456789012345678901234567890" } }, "2^53"],
      [{ data: undefined }, "no data"],
      [{ meta: { S: "[1,2]" } }, "metadata is not an object"],
      [{ meta: { S: "{oops" } }, "metadata is text that is not JSON"],
      [{ id: undefined }, "no event id"],
      [{ type: { N: "1" } }, "no event type"],
      [{ ts: { BOOL: true } }, "no time"],
      // Text another tool wrote that is no time read back as the envelope's timestamp before.
      [{ ts: { S: "yesterday, around noon" } }, "no time"],
      [{ ts: { S: "2026-12-07 10:00:00" } }, "no time"],
    ];
    for (const [change, reason] of cases) {
      const item: Record<string, unknown> = { ...base, data: { S: "{}" }, ...change };
      for (const [name, value] of Object.entries(item)) if (value === undefined) delete item[name];
      let thrown: unknown;
      try {
        decodeItem(layout, item);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(EventCorruptError);
      expect(thrown).toMatchObject({ code: "EVENT_CORRUPT", streamId: "Order-1", version: 7 });
      expect((thrown as Error).message).toContain('Event 7 of stream "Order-1" is unreadable');
      expect((thrown as Error).message).toContain(reason);
    }
  });

  test("a value with no reading deep in a map: the message names the attribute and the depth, never a stored key", () => {
    // Map keys are stored contents (an e-mail address, an account number as a key): messages never carry them.
    const leaf = fc.constantFrom<[unknown, string]>(
      [{ B: "AAEC" }, "is binary"],
      [{ N: "1e400" }, "is not a number"],
      [{ N: "123456789012345678901234567890" }, "is beyond ±(2^53 - 1)"],
      [{ X: "?" }, "has a type this store does not read"],
    );
    const keys = fc.array(
      fc.string({ minLength: 1 }).map((k) => `secret-${k}`),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(keys, leaf, fc.constantFrom("data", "meta"), (path, [bad, reason], attribute) => {
        let value: unknown = bad;
        for (const k of [...path].reverse()) value = { M: { [k]: value } };
        const item = { ...base, data: { S: "{}" }, [attribute]: value };
        let thrown: unknown;
        try {
          decodeItem(layout, item);
        } catch (error) {
          thrown = error;
        }
        expect(isEventCorruptError(thrown)).toBe(true);
        const message = (thrown as Error).message;
        expect(message).not.toContain("secret-");
        expect(message).toContain('Event 7 of stream "Order-1"');
        expect(message).toContain(attribute === "data" ? "its data: " : "its metadata: ");
        expect(message).toContain(`nested ${path.length} level${path.length === 1 ? "" : "s"} deep ${reason}`);
        expect(String((thrown as { cause?: { message?: unknown } }).cause?.message ?? "")).not.toContain("secret-");
      }),
    );
  });

  test("any attribute values at all: a well-formed event or an EventCorruptError, never another error", () => {
    const scalar = fc.oneof(
      fc.record({ S: fc.oneof(fc.string(), fc.json()) }),
      fc.record({ N: fc.oneof(fc.integer().map(String), fc.double().map(String), fc.string()) }),
      fc.record({ BOOL: fc.boolean() }),
      fc.constant({ NULL: true }),
      fc.record({ B: fc.base64String() }),
      fc.record({ SS: fc.array(fc.string()) }),
      fc.record({ NS: fc.array(fc.integer().map(String)) }),
      fc.record({ BS: fc.array(fc.base64String()) }),
      fc.constant({}),
      fc.constant("not an attribute"),
    );
    const { attribute } = fc.letrec((tie) => ({
      attribute: fc.oneof(
        { depthSize: "small" },
        scalar,
        fc.record({ L: fc.array(tie("attribute"), { maxLength: 3 }) }),
        fc.record({ M: fc.dictionary(key, tie("attribute"), { maxKeys: 3 }) }),
      ),
    }));
    const maybe = fc.option(attribute, { nil: undefined });
    fc.assert(
      fc.property(maybe, maybe, maybe, maybe, maybe, (id, type, ts, data, meta) => {
        const item: Record<string, unknown> = { pk: base.pk, sk: base.sk };
        for (const [name, value] of Object.entries({ id, type, ts, data, meta }))
          if (value !== undefined) item[name] = value;
        try {
          const event = decodeItem(layout, item);
          expect(typeof event.id === "string" && event.id !== "").toBe(true);
          expect(typeof event.type === "string" && event.type !== "").toBe(true);
          expect(typeof event.timestamp).toBe("string");
          expect(typeof event.metadata === "object" && event.metadata !== null && !Array.isArray(event.metadata)).toBe(
            true,
          );
          // The data is JSON: it survives a round trip unchanged.
          expect(asJson(event.data)).toEqual(event.data);
        } catch (error) {
          expect(isEventCorruptError(error) && isEventFlowsError(error)).toBe(true);
          expect(error).toMatchObject({ streamId: "Order-1", version: 7 });
        }
      }),
      { numRuns: 500 },
    );
  });
});
