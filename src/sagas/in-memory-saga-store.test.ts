import { describe, test } from "bun:test";
import { InMemorySagaStore } from "../index.js";
import { registerContract, sagaStoreContract } from "../testing/index.js";

registerContract(
  sagaStoreContract({ name: "InMemorySagaStore contract", create: (settings) => new InMemorySagaStore(settings) }),
  { describe, test },
);
