import { describe, expect, test } from "bun:test";
import { PayloadTooLargeError, ValidationError } from "../errors.js";
import { registerContract } from "../testing/contract.js";
import { snapshotStoreContract } from "../testing/snapshot-store-contract.js";
import { InMemorySnapshotStore } from "./in-memory-snapshot-store.js";

registerContract(
  snapshotStoreContract({
    name: "InMemorySnapshotStore contract",
    create: (options) => new InMemorySnapshotStore(options),
  }),
  { describe, test },
);

// The same suite with a payload limit, so its PayloadTooLargeError branch runs too.
registerContract(
  snapshotStoreContract({
    name: "InMemorySnapshotStore contract, 64 KiB payload limit",
    create: (options) => new InMemorySnapshotStore({ ...options, maxPayloadBytes: 64 * 1024 }),
  }),
  { describe, test },
);

describe("InMemorySnapshotStore", () => {
  test("a payload over maxPayloadBytes is refused before anything is stored", async () => {
    const store = new InMemorySnapshotStore({ maxPayloadBytes: 100 });
    const error = await store.save({ streamId: "S-1", version: 1, state: { text: "x".repeat(200) } }).catch((e) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error.limit).toBe(100);
    expect(await store.load("S-1")).toBeUndefined();
  });

  test("an invalid maxPayloadBytes is refused", () => {
    for (const maxPayloadBytes of [0, -1, 1.5]) {
      expect(() => new InMemorySnapshotStore({ maxPayloadBytes })).toThrow(ValidationError);
    }
  });

  test("null options are the defaults, as undefined ones are; options that are no object are a ValidationError (both were TypeErrors or ignored)", async () => {
    const store = new InMemorySnapshotStore(null as never);
    expect(store.keepLast).toBe(2);
    expect(store.capabilities).toEqual({});
    await store.save({ streamId: "S-1", version: 1, state: 1 });
    expect((await store.load("S-1"))?.state).toBe(1);
    for (const options of [5, "gzip", true]) {
      expect(() => new InMemorySnapshotStore(options as never)).toThrow(ValidationError);
    }
  });
});
