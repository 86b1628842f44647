import { describe, test } from "bun:test";
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
