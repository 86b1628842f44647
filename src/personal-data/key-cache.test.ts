import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { KeyCache } from "./key-cache.js";

/** The reference: an array from least to most recently used, each entry's age checked on lookup. */
class Model {
  readonly entries: { key: string; value: number; at: number }[] = [];
  constructor(
    readonly size: number,
    readonly ttl: number,
    readonly now: () => number,
  ) {}
  #take(key: string) {
    const i = this.entries.findIndex((e) => e.key === key);
    return i < 0 ? undefined : this.entries.splice(i, 1)[0];
  }
  get(key: string): number | undefined {
    const entry = this.#take(key);
    if (entry === undefined || this.now() - entry.at >= this.ttl) return undefined;
    this.entries.push(entry);
    return entry.value;
  }
  set(key: string, value: number): void {
    if (this.size === 0) return;
    this.#take(key);
    this.entries.push({ key, value, at: this.now() });
    if (this.entries.length > this.size) this.entries.shift();
  }
  delete(key: string): void {
    this.#take(key);
  }
}

describe("KeyCache", () => {
  test("answers as a least-recently-used list with an age limit would, for any sequence of operations (fast-check)", () => {
    const key = fc.constantFrom("a", "b", "c", "d", "e", "f");
    const operation = fc.oneof(
      fc.record({ op: fc.constant("get" as const), key }),
      fc.record({ op: fc.constant("set" as const), key, value: fc.integer() }),
      fc.record({ op: fc.constant("delete" as const), key }),
      fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.array(operation, { maxLength: 80, size: "max" }),
        (size, operations) => {
          const clock = { now: 0 };
          const now = () => clock.now;
          const cache = new KeyCache<number>(size, 100, now);
          const model = new Model(size, 100, now);
          for (const step of operations) {
            if (step.op === "get") expect(cache.get(step.key)).toBe(model.get(step.key));
            else if (step.op === "set") {
              cache.set(step.key, step.value);
              model.set(step.key, step.value);
            } else if (step.op === "delete") {
              cache.delete(step.key);
              model.delete(step.key);
            } else clock.now += step.ms;
            expect(cache.size).toBe(model.entries.length);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
