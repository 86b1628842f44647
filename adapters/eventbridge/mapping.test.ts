import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type EventEnvelope, ulid, ValidationError } from "../../src/index.js";
import { entrySize, envelopeFromDetail, envelopeIssues, envelopeMapping } from "./index.js";

const jsonValue = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);

const envelopes: fc.Arbitrary<EventEnvelope> = fc.record(
  {
    id: fc.constant(null).map(() => ulid()),
    type: fc.string({ minLength: 1, maxLength: 40 }),
    streamId: fc.string({ minLength: 1, maxLength: 60 }),
    version: fc.integer({ min: 1, max: 1_000_000 }),
    globalPosition: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    timestamp: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
    data: jsonValue,
    metadata: fc.record(
      {
        correlationId: fc.string(),
        causationId: fc.string(),
        schemaVersion: fc.integer({ min: 1, max: 9 }),
        traceparent: fc.constant("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        tracestate: fc.constant("vendor=value"),
        tenant: fc.string(),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ["id", "type", "streamId", "version", "timestamp", "data", "metadata"] },
) as fc.Arbitrary<EventEnvelope>;

describe("envelopeMapping", () => {
  test("property: every envelope survives toEntry → JSON → fromEvent unchanged", () => {
    const mapping = envelopeMapping({ source: "com.example.orders" });
    fc.assert(
      fc.property(envelopes, (envelope) => {
        const entry = mapping.toEntry(envelope);
        // What EventBridge delivers: the Detail text parsed back into the event's `detail`.
        const delivered = {
          version: "0",
          id: "x",
          "detail-type": entry.detailType,
          source: entry.source,
          account: "123456789012",
          time: "2024-01-01T00:00:00Z",
          region: "us-east-1",
          resources: [],
          detail: JSON.parse(entry.detail),
        };
        expect(mapping.fromEvent(JSON.parse(JSON.stringify(delivered)))).toEqual(envelope);
      }),
      { numRuns: 300 },
    );
  });

  test("property: an envelope publish accepts (envelopeIssues finds nothing) is one the consumer reads back", () => {
    // Hand-built envelopes: publish must refuse what every consumer would refuse, or the event
    // becomes a message no consumer can take (redelivered until the queue's redrive gives up).
    const odd = fc.record({
      id: fc.oneof(
        fc.constant(null).map(() => ulid()),
        fc.constant(null).map(() => ulid().toLowerCase()),
        fc.constantFrom("not-a-ulid", "3d9e9a47-1c6e-4c1b-9f7a-0b1f4c5a6d7e", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"),
      ),
      globalPosition: fc.constantFrom(undefined, 1, 42, 0, -1, 1.5, "7", Number.MAX_SAFE_INTEGER + 2),
    });
    const mapping = envelopeMapping();
    fc.assert(
      fc.property(envelopes, odd, (envelope, { id, globalPosition }) => {
        const candidate = { ...envelope, id, globalPosition } as EventEnvelope;
        if (envelopeIssues(candidate, 0).length > 0) return;
        const detail = JSON.parse(mapping.toEntry(candidate).detail);
        expect(() => envelopeFromDetail(detail)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  test("property: toEntry and fromEvent called with anything that is no object (from JavaScript) throw a ValidationError naming the argument, not a TypeError", () => {
    const mapping = envelopeMapping({ source: (event) => event.streamId, detailType: (event) => event.type });
    fc.assert(
      fc.property(
        fc.anything().filter((value) => typeof value !== "object" || value === null || Array.isArray(value)),
        (value) => {
          for (const call of [() => mapping.toEntry(value as never), () => mapping.fromEvent(value as never)]) {
            expect(call).toThrow(ValidationError);
            expect(call).toThrow("event: must be an object");
          }
        },
      ),
      { numRuns: 200, seed: 39 },
    );
  });

  test("source, detail type and resources are configurable; the envelope still travels whole in Detail", () => {
    const mapping = envelopeMapping({
      source: (event) => `com.example.${event.streamId.split("-")[0]?.toLowerCase()}`,
      detailType: (event) => `Order.${event.type}`,
      resources: (event) => [`arn:aws:example:::stream/${event.streamId}`],
    });
    const envelope: EventEnvelope = {
      id: ulid(),
      type: "Placed",
      streamId: "Order-1",
      version: 1,
      timestamp: "2024-05-01T10:00:00.123Z",
      data: { total: 3 },
      metadata: {},
    };
    const entry = mapping.toEntry(envelope);
    expect(entry.source).toBe("com.example.order");
    expect(entry.detailType).toBe("Order.Placed");
    expect(entry.resources).toEqual(["arn:aws:example:::stream/Order-1"]);
    expect(JSON.parse(entry.detail)).toMatchObject({ id: envelope.id, type: "Placed", streamId: "Order-1" });
    expect(entry.time?.toISOString()).toBe(envelope.timestamp);
  });
});

describe("entrySize", () => {
  test("counts as AWS documents: 14 bytes for Time, UTF-8 bytes of Source, DetailType, Detail and Resources", () => {
    expect(entrySize({ source: "abc", detailType: "de", detail: "{}" })).toBe(7);
    expect(entrySize({ source: "abc", detailType: "de", detail: "{}", time: new Date() })).toBe(21);
    // "é" is 2 bytes, "€" 3, "😀" 4 in UTF-8.
    expect(entrySize({ source: "é", detailType: "€", detail: '{"a":"😀"}', resources: ["r1", "r2"] })).toBe(
      2 + 3 + 12 + 4,
    );
  });
});

describe("envelopeFromDetail refuses what is not an envelope", () => {
  test.each([
    ["a string", "hello"],
    ["an array", []],
    ["null", null],
    ["an object without fields", {}],
    ["a bad id", { id: "nope", type: "A", streamId: "S", version: 1, timestamp: "2024-01-01", data: 1, metadata: {} }],
    [
      "a zero version",
      { id: ulid(), type: "A", streamId: "S", version: 0, timestamp: "2024-01-01", data: 1, metadata: {} },
    ],
  ])("%s", (_name, detail) => {
    expect(() => envelopeFromDetail(detail)).toThrow(ValidationError);
  });

  test("the error lists every problem", () => {
    try {
      envelopeFromDetail({ id: 1, version: "x", metadata: [] });
      throw new Error("unreachable");
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const paths = (error as ValidationError).issues.map((issue) => issue.path.join("."));
      expect(paths).toEqual([
        "detail.id",
        "detail.type",
        "detail.streamId",
        "detail.version",
        "detail.timestamp",
        "detail.data",
        "detail.metadata",
      ]);
    }
  });
});
