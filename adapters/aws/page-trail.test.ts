import { describe, expect, test } from "bun:test";
import { isValidationError, type ValidationError } from "../../src/index.js";
import { PageTrail } from "./page-trail.js";

const key = (n: number) => ({ pk: { S: "Order-1" }, v: { N: String(n) } });

/** Feeds `keys` to a fresh trail as a read would; the index of the first one it calls a repeat, or -1. */
function firstRepeat(keys: Iterable<unknown>): number {
  const trail = new PageTrail();
  let index = 0;
  for (const next of keys) {
    if (trail.repeats(next)) return index;
    trail.record(next);
    index++;
  }
  return -1;
}

function* cycle(distinct: number, length: number, total: number): Iterable<unknown> {
  for (let i = 0; i < total; i++) yield key(i < distinct ? i : distinct + ((i - distinct) % length));
}

describe("PageTrail", () => {
  test("distinct keys are never a repeat, past the keys it holds exactly too", () => {
    expect(firstRepeat(cycle(3_000, 1, 3_000))).toBe(-1);
  });

  test("a cycle among the first keys is caught at its first repeat, whatever the order of a key's attributes", () => {
    expect(firstRepeat([key(1), key(2), { v: { N: "1" }, pk: { S: "Order-1" } }])).toBe(2);
    expect(firstRepeat(cycle(10, 5, 100))).toBe(15);
  });

  test("a cycle that starts past the keys held exactly is still caught, within twice its start and length", () => {
    const at = firstRepeat(cycle(1_100, 300, 10_000));
    expect(at).toBeGreaterThan(1_100);
    expect(at).toBeLessThanOrEqual(2 * (1_100 + 300));
  });

  test("a next-page key that is not JSON is a ValidationError naming it, from repeats and record: never a TypeError", () => {
    // Answers give JSON only; from the public export, a caller's BigInt or cycle made JSON.stringify throw its
    // TypeError, and undefined (no key at all) was called a repeat by a fresh trail.
    const cyclic: Record<string, unknown> = { pk: { S: "Order-1" } };
    cyclic.self = cyclic;
    for (const bad of [10n, { pk: { N: 10n } }, cyclic, undefined, () => key(1), Symbol("key")]) {
      const trail = new PageTrail();
      trail.record(key(1));
      for (const call of [() => trail.repeats(bad), () => trail.record(bad)]) {
        let thrown: unknown;
        try {
          call();
        } catch (error) {
          thrown = error;
        }
        expect(isValidationError(thrown)).toBe(true);
        expect((thrown as ValidationError).issues.map((issue) => issue.path)).toEqual([["next"]]);
      }
      // Refused, not recorded: the trail goes on as before.
      expect([trail.repeats(key(1)), trail.repeats(key(2))]).toEqual([true, false]);
    }
  });
});
