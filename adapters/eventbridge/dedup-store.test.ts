import { describe, test } from "bun:test";
import { registerContract } from "../../src/testing/index.js";
import { dedupStoreContract, InMemoryDedupStore } from "./index.js";

registerContract(
  dedupStoreContract({ name: "InMemoryDedupStore contract", create: (settings) => new InMemoryDedupStore(settings) }),
  { describe, test },
);
