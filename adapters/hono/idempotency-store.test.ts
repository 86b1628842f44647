import { describe, test } from "bun:test";
import { registerContract } from "../../src/testing/index.js";
import { InMemoryIdempotencyStore, idempotencyStoreContract } from "./index.js";

registerContract(
  idempotencyStoreContract({
    name: "InMemoryIdempotencyStore contract",
    create: (settings) => new InMemoryIdempotencyStore(settings),
  }),
  { describe, test },
);
