import { describe, expect, test } from "bun:test";
import { isValidationError } from "../errors.js";
import type { EventEnvelope, PendingEvent } from "../events/envelope.js";
import { assertUnchangedRetry } from "./retried-append.js";

const pending = (type: string, data: unknown): PendingEvent =>
  ({
    id: "01J0000000000000000000000A",
    type,
    data,
    metadata: {},
    timestamp: "2026-01-01T00:00:00.000Z",
  }) as PendingEvent;
const stored = (type: string, data: unknown): EventEnvelope =>
  ({ ...pending(type, data), streamId: "S-1", version: 1 }) as EventEnvelope;

describe("assertUnchangedRetry", () => {
  test("the same type and data as JSON values pass, whatever the key order (jsonb keeps none)", () => {
    expect(() =>
      assertUnchangedRetry(
        [pending("A", { a: 1, b: [1, { c: 2, d: 3 }] })],
        [stored("A", { b: [1, { d: 3, c: 2 }], a: 1 })],
      ),
    ).not.toThrow();
  });

  test("another type, other data or a missing stored event name the event", () => {
    for (const [event, kept] of [
      [pending("A", { a: 1 }), stored("B", { a: 1 })],
      [pending("A", { a: 1 }), stored("A", { a: 2 })],
      [pending("A", [1, 2]), stored("A", [2, 1])],
    ] as const) {
      const error = (() => {
        try {
          assertUnchangedRetry([event], [kept]);
        } catch (e) {
          return e;
        }
      })();
      expect(isValidationError(error)).toBe(true);
      expect((error as Error).message).toContain("unchanged");
    }
    expect(() => assertUnchangedRetry([pending("A", 1)], [])).toThrow(/unchanged/);
  });
});
