import { describe, test } from "bun:test";
import { checkpointStoreContract } from "../testing/checkpoint-store-contract.js";
import { registerContract } from "../testing/contract.js";
import { InMemoryCheckpointStore } from "./in-memory-checkpoint-store.js";

registerContract(
  checkpointStoreContract({ name: "InMemoryCheckpointStore contract", create: () => new InMemoryCheckpointStore() }),
  { describe, test },
);
