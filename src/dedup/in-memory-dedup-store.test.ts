import { describe, test } from "bun:test";
import { InMemoryDedupStore } from "../index.js";
import { dedupStoreContract, registerContract } from "../testing/index.js";

registerContract(
  dedupStoreContract({ name: "InMemoryDedupStore contract", create: (settings) => new InMemoryDedupStore(settings) }),
  { describe, test },
);
