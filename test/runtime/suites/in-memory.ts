/** The core's in-memory implementations: no service, no compatibility flag. */
import {
  InMemoryCheckpointStore,
  InMemoryEventBus,
  InMemoryEventStore,
  InMemorySnapshotStore,
} from "../../../src/index.js";
import {
  checkpointStoreContract,
  eventBusContract,
  eventStoreContract,
  snapshotStoreContract,
} from "../../../src/testing/index.js";
import type { SuiteModule } from "../runtime-suite.js";

export const inMemorySuites: SuiteModule = {
  services: [],
  workerdFlags: [],
  suites: [
    {
      name: "in-memory event store",
      contract: "eventStoreContract",
      open: () => ({
        suite: eventStoreContract({
          name: "InMemoryEventStore contract",
          create: (options) => new InMemoryEventStore(options),
        }),
      }),
    },
    {
      name: "in-memory event bus",
      contract: "eventBusContract",
      open: () => ({
        suite: eventBusContract({
          name: "InMemoryEventBus contract",
          create: (options) => new InMemoryEventBus(options),
        }),
      }),
    },
    {
      name: "in-memory checkpoint store",
      contract: "checkpointStoreContract",
      open: () => ({
        suite: checkpointStoreContract({
          name: "InMemoryCheckpointStore contract",
          create: () => new InMemoryCheckpointStore(),
        }),
      }),
    },
    {
      name: "in-memory snapshot store",
      contract: "snapshotStoreContract",
      open: () => ({
        suite: snapshotStoreContract({
          name: "InMemorySnapshotStore contract",
          create: (options) => new InMemorySnapshotStore(options),
        }),
      }),
    },
  ],
};
