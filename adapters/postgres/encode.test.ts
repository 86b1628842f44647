import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isEventFlowsError, type PendingEvent, ulid, utf8Length } from "../../src/index.js";
import { encodeBatch } from "./encode.js";

const pending = (data: unknown): PendingEvent => ({
  id: ulid(),
  type: "Sized",
  data,
  metadata: {},
  timestamp: new Date().toISOString(),
});

describe("encodeBatch", () => {
  test("a batch over the batch limit (jsonb's 256 MB in production) is a PayloadTooLargeError, exactly when its JSON exceeds it (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 40, unit: "grapheme" }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 300 }),
        (texts, limit) => {
          const events = texts.map(pending);
          const total = events.reduce(
            (n, e) => n + utf8Length(JSON.stringify(e.data)) + utf8Length(JSON.stringify(e.metadata)),
            0,
          );
          let error: unknown;
          try {
            encodeBatch(events, 1_000_000, limit);
          } catch (e) {
            error = e;
          }
          if (total > limit) expect(error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", limit });
          else expect(error).toBeUndefined();
        },
      ),
    );
  });

  test("what cannot be stored is refused with messages that name no database (they reach HTTP clients)", () => {
    const unstorable = fc.oneof(fc.constant("\u0000"), fc.constant("\ud800"), fc.constant("\udfff"));
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), unstorable, fc.string({ maxLength: 10 }), (before, bad, after) => {
        let error: unknown;
        try {
          encodeBatch([pending({ text: `${before}${bad}${after}` })], 1_000_000);
        } catch (e) {
          error = e;
        }
        expect(isEventFlowsError(error)).toBe(true);
        const text = `${String(error)} ${JSON.stringify(error)}`;
        for (const name of ["PostgreSQL", "postgres", "jsonb"]) expect(text).not.toContain(name);
      }),
    );
  });

  test("a timestamp in year 0, which the core allows and timestamptz cannot hold, is refused up front with its path", () => {
    const ok = pending({});
    const year0 = { ...pending({}), timestamp: "0000-06-01T00:00:00.000Z" };
    let error: unknown;
    try {
      encodeBatch([ok, year0], 1_000_000, undefined, ok.timestamp);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: [1, "timestamp"] }] });
    expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain("postgres");
    expect(() => encodeBatch([{ ...ok, timestamp: "0001-01-01T00:00:00.000Z" }], 1_000_000)).not.toThrow();
  });
});
