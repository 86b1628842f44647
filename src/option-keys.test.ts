import { describe, expect, test } from "bun:test";
import { expectOtherKeysRefused, type OptionBuilder, refusedPaths } from "../test/options/option-keys.ts";
import { subscribeLive } from "./client/index.js";
import {
  AggregateRepository,
  AggregateRoot,
  CommandBus,
  defineStream,
  InMemoryDedupStore,
  InMemoryEventBus,
  InMemoryEventStore,
  InMemoryIdempotencyStore,
  InMemoryProjectionLock,
  InMemoryReadModelStore,
  InMemorySagaStore,
  InMemorySnapshotStore,
  InMemorySubjectKeyStore,
  LiveHub,
  ProjectionRunner,
  projection,
  QueryBus,
  retryOnConcurrency,
  SagaRuntime,
  tenancy,
} from "./index.js";

// Every public option object of the core refuses a key it does not take, naming its path: before,
// a misspelt key was dropped and its default taken without a word (`form: 42` followed new events
// only, `maxClient: 10` served 1,000 connections, `snapshot: {...}` replayed every stream in full).

class Counter extends AggregateRoot<{ n: number }, { type: "Counted"; data: Record<string, never> }> {
  constructor(id: string) {
    super(id, { n: 0 });
  }
  onCounted(): void {
    this.state = { n: this.state.n + 1 };
  }
}

const store = new InMemoryEventStore();
/** A server that never answers: the subscription waits until it is closed (its request aborted). */
const neverFetch = ((_url: unknown, init?: { signal?: AbortSignal }) =>
  new Promise<Response>((_, reject) =>
    init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
  )) as unknown as typeof fetch;

const BUS_KEYS = ["trackExecutions", "timeExecutions", "onError", "telemetry"];

/** Each option object (with every key it takes), built from valid options plus `extra`: a key it does not take, or nothing. */
const builders: Record<string, OptionBuilder> = {
  subscribeLive: {
    keys: [
      "url",
      "transport",
      "filter",
      "from",
      "onEvent",
      "onError",
      "onEnd",
      "headers",
      "protocols",
      "backoff",
      "idleTimeoutMs",
      "maxMessageLength",
      "fetch",
      "WebSocket",
    ],
    build: (extra) => {
      const subscription = subscribeLive({
        url: "https://api.example.com/api/events",
        onEvent: () => undefined,
        fetch: neverFetch,
        ...extra,
      });
      return subscription.close();
    },
  },
  "subscribeLive backoff": {
    keys: ["initialMs", "maxMs"],
    at: "backoff.",
    build: (extra) =>
      subscribeLive({
        url: "https://api.example.com/api/events",
        onEvent: () => undefined,
        fetch: neverFetch,
        backoff: { initialMs: 10, ...extra },
      }).close(),
  },
  "subscribeLive filter": {
    keys: ["streams", "categories", "types"],
    build: (extra) =>
      subscribeLive({
        url: "https://api.example.com/api/events",
        onEvent: () => undefined,
        fetch: neverFetch,
        filter: { types: ["Counted"], ...extra },
      }).close(),
  },
  LiveHub: {
    keys: ["store", "maxClients", "bufferSize", "batchSize", "pollIntervalMs"],
    build: (extra) => new LiveHub({ store, ...extra }),
  },
  "LiveHub connect": {
    keys: ["filter", "after", "allow"],
    build: async (extra) => {
      const hub = new LiveHub({ store });
      try {
        (await hub.connect({ after: 0, ...extra })).close();
      } finally {
        await hub.close();
      }
    },
  },
  "LiveHub connect filter": {
    keys: ["streams", "categories", "types"],
    at: "filter.",
    build: async (extra) => {
      const hub = new LiveHub({ store });
      try {
        (await hub.connect({ filter: { types: ["Counted"], ...extra } })).close();
      } finally {
        await hub.close();
      }
    },
  },
  InMemoryEventBus: {
    keys: ["onError", "telemetry", "handlerTimeoutMs"],
    build: (extra) => new InMemoryEventBus({ ...extra }),
  },
  CommandBus: { keys: BUS_KEYS, build: (extra) => new CommandBus({ ...extra }) },
  QueryBus: { keys: BUS_KEYS, build: (extra) => new QueryBus({ ...extra }) },
  "execute options": {
    keys: ["metadata", "id", "signal"],
    build: (extra) => {
      const bus = new CommandBus<{ Count: { payload: object; result: number } }>();
      bus.register("Count", () => 1);
      return bus.execute("Count", {}, { id: "c-1", ...extra });
    },
  },
  retryOnConcurrency: {
    keys: ["maxAttempts", "baseDelayMs"],
    build: (extra) => retryOnConcurrency({ maxAttempts: 2, ...extra }),
  },
  ProjectionRunner: {
    keys: [
      "projection",
      "eventStore",
      "readModels",
      "lock",
      "owner",
      "batchSize",
      "maxBatchSize",
      "pollIntervalMs",
      "standbyPollMs",
      "leaseMs",
      "retryDelayMs",
      "onFailure",
      "onError",
      "onBatch",
      "inline",
      "telemetry",
    ],
    build: (extra) =>
      new ProjectionRunner({
        projection: projection({ name: "counts", handle: () => undefined }),
        eventStore: store,
        readModels: new InMemoryReadModelStore(),
        ...extra,
      }),
  },
  SagaRuntime: {
    keys: [
      "store",
      "commands",
      "sagas",
      "now",
      "onError",
      "onTimeoutFired",
      "maxAttempts",
      "retryDelayMs",
      "leaseMs",
      "tickLimit",
      "redriveIntervalMs",
      "owner",
      "telemetry",
    ],
    build: (extra) =>
      new SagaRuntime({ store: new InMemorySagaStore(), commands: new CommandBus(), sagas: [], ...extra }),
  },
  AggregateRepository: {
    keys: ["store", "stream", "create", "snapshots", "telemetry"],
    build: (extra) =>
      new AggregateRepository({ store, stream: defineStream("Counter"), create: (id) => new Counter(id), ...extra }),
  },
  "AggregateRepository snapshots": {
    keys: ["store", "policy", "schemaVersion", "onError", "waitUntil", "now"],
    build: (extra) =>
      new AggregateRepository({
        store,
        stream: defineStream("Counter"),
        create: (id) => new Counter(id),
        snapshots: { store: new InMemorySnapshotStore(), ...extra },
      }),
  },
  tenancy: {
    keys: ["stores", "services", "knows", "maxTenants", "quotas"],
    build: (extra) => tenancy({ stores: () => ({ eventStore: new InMemoryEventStore() }), ...extra }),
  },
  InMemoryProjectionLock: { keys: ["now"], build: (extra) => new InMemoryProjectionLock({ ...extra }) },
  InMemoryEventStore: {
    keys: ["bus", "onPublishError", "maxJsonDepth", "eventRegistry", "personalData", "telemetry"],
    build: (extra) => new InMemoryEventStore({ ...extra }),
  },
  InMemorySnapshotStore: {
    keys: [
      "serializer",
      "legacySerializers",
      "compression",
      "keepLast",
      "maxDecompressedBytes",
      "personalData",
      "telemetry",
      "maxPayloadBytes",
    ],
    build: (extra) => new InMemorySnapshotStore({ ...extra }),
  },
  subscribeToAll: {
    keys: ["handler", "after", "batchSize", "pollIntervalMs", "retryDelayMs", "onError", "signal", "name", "telemetry"],
    build: (extra) => store.subscribeToAll({ handler: () => undefined, ...extra }).stop(),
  },
  InMemorySagaStore: { keys: ["maxStateBytes"], build: (extra) => new InMemorySagaStore({ ...extra }) },
  InMemorySubjectKeyStore: {
    keys: ["cacheSize", "cacheTtlMs", "now"],
    build: (extra) => new InMemorySubjectKeyStore({ ...extra }),
  },
  InMemoryDedupStore: { keys: ["maxEntries", "ttlMs", "now"], build: (extra) => new InMemoryDedupStore({ ...extra }) },
  InMemoryIdempotencyStore: {
    keys: [
      "ttlMs",
      "inProgressTtlMs",
      "maxEntries",
      "maxBytes",
      "maxEntriesPerScope",
      "maxBytesPerScope",
      "scopeOf",
      "now",
    ],
    build: (extra) => new InMemoryIdempotencyStore({ ...extra }),
  },
};

describe("the core's option objects refuse keys they do not take", () => {
  test("the misspellings that changed behaviour silently are refused, naming their path", async () => {
    const hub = new LiveHub({ store });
    const cases: [() => unknown, string[]][] = [
      [() => builders.subscribeLive?.build({ form: 42 }), ["form"]],
      [() => new LiveHub({ store, maxClient: 10 } as never), ["maxClient"]],
      [() => hub.connect({ afer: 3 } as never), ["afer"]],
      [() => hub.connect({ filter: { type: ["Counted"] } } as never), ["filter.type"]],
      [() => new InMemoryEventBus({ handlerTimeout: 5 } as never), ["handlerTimeout"]],
      [() => new CommandBus({ trackExecution: false } as never), ["trackExecution"]],
      [() => builders["execute options"]?.build({ metdata: { correlationId: "c" } }), ["metdata"]],
      [() => builders.SagaRuntime?.build({ onErorr: () => undefined }), ["onErorr"]],
      [() => builders.AggregateRepository?.build({ snapshot: { store: new InMemorySnapshotStore() } }), ["snapshot"]],
      [() => builders["AggregateRepository snapshots"]?.build({ polcy: () => true }), ["polcy"]],
      [() => builders.ProjectionRunner?.build({ maxBatch: 50 }), ["maxBatch"]],
      [() => builders.tenancy?.build({ maxTenant: 10 }), ["maxTenant"]],
      [() => new InMemoryEventStore({ eventRegistyr: undefined } as never), ["eventRegistyr"]],
      [() => new InMemorySnapshotStore({ keeplast: 2 } as never), ["keeplast"]],
      [() => builders.subscribeToAll?.build({ from: 500 }), ["from"]],
    ];
    for (const [build, paths] of cases) expect(await refusedPaths(build)).toEqual(paths);
    await hub.close();
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", async () => {
    await expectOtherKeysRefused(builders);
  });

  test("an array is no options object for the buses and execute", async () => {
    expect(await refusedPaths(() => new InMemoryEventBus([] as never))).toEqual([""]);
    expect(await refusedPaths(() => new CommandBus([] as never))).toEqual([""]);
    expect(await refusedPaths(() => new QueryBus([] as never))).toEqual([""]);
    const bus = new CommandBus<{ Count: { payload: object; result: number } }>();
    bus.register("Count", () => 1);
    await expect(bus.execute("Count", {}, [] as never)).rejects.toThrow("must be an object, got an array");
  });

  test("null options are no options for every in-memory store, as the docs say of options throughout", async () => {
    // The saga and idempotency stores read a field of null (a TypeError); the dedup store refused it.
    const stores = [
      new InMemoryEventStore(null as never),
      new InMemorySnapshotStore(null as never),
      new InMemorySubjectKeyStore(null as never),
      new InMemoryProjectionLock(null as never),
      new InMemorySagaStore(null as never),
      new InMemoryIdempotencyStore(null as never),
      new InMemoryDedupStore(null as never),
    ];
    expect((stores[4] as InMemorySagaStore).maxStateBytes).toBe(new InMemorySagaStore().maxStateBytes);
    expect((await (stores[5] as InMemoryIdempotencyStore).claim("k", "f")).state).toBe("claimed");
    expect((stores[6] as InMemoryDedupStore).has("m-1")).toBe(false);
  });

  test("an array given for options is called an array, not an object, wherever options are checked", async () => {
    // Before, these said "must be an object, got object": the message contradicted itself.
    const events = new InMemoryEventStore();
    const counters = new AggregateRepository({
      store: events,
      stream: defineStream("Count"),
      create: (id) => new Counter(id),
    });
    const read = async (iterable: AsyncIterable<unknown>) => {
      for await (const _ of iterable);
    };
    const refusals: (() => unknown)[] = [
      () => events.appendToStream("Count-1", [], [] as never),
      () => read(events.readStream("Count-1", [] as never)),
      () => read(events.readAll([] as never)),
      () => new InMemorySnapshotStore([] as never),
      () => counters.save(new Counter("1"), [] as never),
      () => retryOnConcurrency([] as never),
    ];
    for (const refusal of refusals) {
      const error = await Promise.resolve()
        .then(refusal)
        .then(
          () => undefined,
          (thrown: unknown) => thrown as Error,
        );
      expect(error?.message).toMatch(/got an array/);
      expect(error?.message).not.toMatch(/got object/);
    }
  });
});
