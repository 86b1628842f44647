import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { InMemoryReadModelStore } from "./in-memory-read-model-store.js";
import { MAX_PROJECTION_NAME_LENGTH, projection } from "./projection.js";
import { ProjectionRunner } from "./projection-runner.js";

const envelope = (type: string, streamId: string): EventEnvelope => ({
  id: "01J00000000000000000000000",
  type,
  streamId,
  version: 1,
  globalPosition: 1,
  timestamp: "2026-01-01T00:00:00.000Z",
  data: null,
  metadata: {},
});

describe("projection()", () => {
  test("refuses a definition without a name or handler, or with malformed filters, naming each", () => {
    const bad = () =>
      projection({ name: " ", handle: "nope", streams: [""], types: "A" } as unknown as Parameters<
        typeof projection
      >[0]);
    expect(bad).toThrow(/name.*handle.*streams.*types/s);
    expect(() => projection({ name: "x".repeat(MAX_PROJECTION_NAME_LENGTH + 1), handle: () => undefined })).toThrow(
      /at most/,
    );
  });

  test("matches exactly the events every given filter takes (property)", () => {
    const word = fc.constantFrom("A", "B", "C");
    fc.assert(
      fc.property(
        fc.option(fc.array(word), { nil: undefined }),
        fc.option(fc.array(word), { nil: undefined }),
        word,
        word,
        word,
        (types, categories, type, category, id) => {
          const defined = projection({
            name: "p",
            handle: () => undefined,
            ...(types === undefined ? {} : { types }),
            ...(categories === undefined ? {} : { categories }),
          });
          const expected =
            (types === undefined || types.includes(type)) &&
            (categories === undefined || categories.includes(category));
          expect(defined.matches(envelope(type, `${category}-${id}`))).toBe(expected);
        },
      ),
    );
  });
});

describe("ProjectionRunner options", () => {
  test("refuses bad options with a ValidationError naming each", () => {
    try {
      new ProjectionRunner({
        projection: {} as never,
        eventStore: new InMemoryEventStore(),
        readModels: new InMemoryReadModelStore(),
        batchSize: 0,
        leaseMs: 0,
      });
      throw new Error("accepted");
    } catch (error) {
      expect(isValidationError(error)).toBe(true);
      expect(String(error)).toMatch(/projection.*batchSize.*leaseMs/s);
    }
  });
});
