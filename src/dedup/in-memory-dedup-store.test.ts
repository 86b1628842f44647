import { describe, expect, test } from "bun:test";
import { ErrorCode, InMemoryDedupStore } from "../index.js";
import { dedupStoreContract, registerContract } from "../testing/index.js";

registerContract(
  dedupStoreContract({ name: "InMemoryDedupStore contract", create: (settings) => new InMemoryDedupStore(settings) }),
  { describe, test },
);

test("ttlMs: null is a ValidationError naming ttlMs, as on every dedup store (here it meant never expire)", () => {
  for (const ttlMs of [null, 0, 1.5, "60000"]) {
    expect(() => new InMemoryDedupStore({ ttlMs } as never)).toThrow(
      expect.objectContaining({ code: ErrorCode.Validation, issues: [expect.objectContaining({ path: ["ttlMs"] })] }),
    );
  }
});
