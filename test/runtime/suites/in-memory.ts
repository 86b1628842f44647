/** The core's in-memory implementations: no service, no compatibility flag. */
// The idempotency store's port, in-memory store and contract are in @eventflows/core/hono today.
import {
  consoleLogger,
  InMemoryCheckpointStore,
  InMemoryDedupStore,
  InMemoryEventBus,
  InMemoryEventStore,
  InMemoryIdempotencyStore,
  InMemoryProjectionLock,
  InMemoryReadModelStore,
  InMemorySagaStore,
  InMemorySnapshotStore,
  InMemorySubjectKeyStore,
  jsonLogger,
  pinoLogger,
} from "../../../src/index.js";
import {
  checkpointStoreContract,
  dedupStoreContract,
  eventBusContract,
  eventEvolutionContract,
  eventStoreContract,
  idempotencyStoreContract,
  loggerContract,
  projectionContract,
  StoreView,
  sagaStoreContract,
  snapshotStoreContract,
  streamDeletionContract,
  subjectKeyStoreContract,
} from "../../../src/testing/index.js";
import type { SuiteModule } from "../runtime-suite.js";
import { tenancyInMemorySuite } from "./tenancy.js";

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
      name: "in-memory stream deletion",
      contract: "streamDeletionContract",
      open: () => ({
        suite: streamDeletionContract({
          name: "InMemoryEventStore stream deletion contract",
          create: (options) => new InMemoryEventStore(options),
        }),
      }),
    },
    {
      name: "in-memory event evolution",
      contract: "eventEvolutionContract",
      open: () => {
        // Both releases of the application see one in-memory store.
        const shared = new InMemoryEventStore();
        return {
          suite: eventEvolutionContract({
            name: "InMemoryEventStore evolution contract",
            create: (options) => new StoreView(shared, options),
          }),
        };
      },
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
      name: "in-memory projections",
      contract: "projectionContract",
      open: () => ({
        suite: projectionContract({
          name: "projection contract on in-memory stores",
          create: () => ({
            eventStore: new InMemoryEventStore(),
            readModels: new InMemoryReadModelStore(),
            lock: new InMemoryProjectionLock(),
          }),
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
    {
      name: "in-memory dedup store",
      contract: "dedupStoreContract",
      open: () => ({
        suite: dedupStoreContract({
          name: "InMemoryDedupStore contract",
          create: (settings) => new InMemoryDedupStore(settings),
        }),
      }),
    },
    {
      name: "in-memory idempotency store",
      contract: "idempotencyStoreContract",
      open: () => ({
        suite: idempotencyStoreContract({
          name: "InMemoryIdempotencyStore contract",
          create: (settings) => new InMemoryIdempotencyStore(settings),
        }),
      }),
    },
    {
      name: "JSON-lines logger",
      contract: "loggerContract",
      open: () => ({
        suite: loggerContract({
          name: "jsonLogger contract",
          create: (sink) => jsonLogger({ level: "debug", write: sink }),
        }),
      }),
    },
    {
      name: "console logger",
      contract: "loggerContract",
      open: () => ({
        suite: loggerContract({
          name: "consoleLogger contract",
          create: (sink) => {
            // A console of its own: what each method is given, as one line the contract can read.
            const write = (...args: unknown[]) => sink(JSON.stringify(args));
            return consoleLogger({ console: { debug: write, info: write, warn: write, error: write } });
          },
        }),
      }),
    },
    {
      name: "pino adapter logger",
      contract: "loggerContract",
      open: () => ({
        suite: loggerContract({
          name: "pinoLogger contract",
          create: (sink) => {
            // A pino-shaped logger of its own: its (fields, message) calls as one line.
            const write = (fields: object, message: string) => sink(JSON.stringify([fields, message]));
            return pinoLogger({ debug: write, info: write, warn: write, error: write });
          },
        }),
      }),
    },
    {
      name: "in-memory subject key store",
      contract: "subjectKeyStoreContract",
      open: () => {
        // Every store the suite makes shares one set of keys, as processes share a database.
        const shared = new InMemorySubjectKeyStore();
        return {
          suite: subjectKeyStoreContract({
            name: "InMemorySubjectKeyStore contract",
            create: (settings) => shared.sharing(settings),
          }),
        };
      },
    },
    {
      name: "in-memory saga store",
      contract: "sagaStoreContract",
      open: () => ({
        suite: sagaStoreContract({
          name: "InMemorySagaStore contract",
          create: (settings) => new InMemorySagaStore(settings),
        }),
      }),
    },
    tenancyInMemorySuite,
  ],
};
