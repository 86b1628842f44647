import { describe, expect, test } from "bun:test";
import { isValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { registerContract } from "../testing/contract.js";
import { projectionContract } from "../testing/projection-contract.js";
import { InMemoryReadModelStore } from "./in-memory-read-model-store.js";
import { InMemoryProjectionLock } from "./projection-lock.js";

registerContract(
  projectionContract({
    name: "projection contract on in-memory stores",
    create: () => ({
      eventStore: new InMemoryEventStore(),
      readModels: new InMemoryReadModelStore(),
      lock: new InMemoryProjectionLock(),
    }),
  }),
  { describe, test },
);

describe("InMemoryProjectionLock options", () => {
  test("null options are the defaults; a now that is not a function is a ValidationError when the lock is made, not a TypeError at its first lease", async () => {
    const lock = new InMemoryProjectionLock(null as never);
    expect(await lock.acquire("p", "a", 1000)).toBe(true);
    expect(await lock.acquire("p", "b", 1000)).toBe(false);
    for (const now of [5, "now", {}]) {
      let error: unknown;
      try {
        new InMemoryProjectionLock({ now: now as never });
      } catch (caught) {
        error = caught;
      }
      expect(isValidationError(error)).toBe(true);
    }
  });
});
