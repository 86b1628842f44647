/**
 * @eventflows/core/sqlite in workerd: on a D1 database (binding SQLITE_D1; a D1 database per tenant on
 * TENANT_A_D1 and TENANT_B_D1, tenancy.ts), inside a
 * SQLite-backed Durable Object (binding SQLITE_DO, class SqliteContractObject below), and from the
 * Worker through DurableObjectEventStore to an object serving its store (SQLITE_EVENTS: the event
 * store, stream deletion and event evolution contracts), which also
 * pushes new events to live subscribers (sqlite-live.ts). Durable
 * Object storage exists only inside the object, so its suites run there: the Worker asks the object
 * for the case names, then to run each case, and reports what it answers.
 */
import {
  type D1DatabaseLike,
  DurableObjectEventStore,
  type DurableObjectStateLike,
  type DurableObjectStorageLike,
  type DurableObjectStubLike,
  d1Driver,
  durableObjectDriver,
  type HibernatableWebSocketLike,
  handleEventStoreRequest,
  LiveSubscribers,
  type LiveSubscribersOptions,
  SqliteEventStore,
} from "../../../adapters/sqlite/index.js";
import {
  type ContractSuite,
  eventEvolutionContract,
  eventStoreContract,
  streamDeletionContract,
} from "../../../src/testing/index.js";
import type { RuntimeEnv, SuiteModule } from "../runtime-suite.js";
import {
  kindLabel,
  migrated,
  SQLITE_CONTRACTS,
  SQLITE_KINDS,
  type SqliteContract,
  sqliteContract,
  withDeletionRace,
  withRace,
} from "./sqlite-contracts.js";
import { LIMITED_LIVE, liveLimitsSuite, liveSubscriptionSuite } from "./sqlite-live.js";
import { TENANT_D1_BINDINGS, tenancyD1Suite, tenancyDurableObjectSuite } from "./tenancy.js";

interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): DurableObjectStubLike;
}

/**
 * An event store object as an application would write one: its storage served to Workers, new
 * events pushed to live subscribers over hibernatable WebSockets, their acknowledgements forwarded.
 * `GET /live-stats` (this test's own) tells how many subscribers are connected and how many
 * messages woke the object.
 */
export class SqliteEventStoreObject {
  readonly #store: SqliteEventStore;
  readonly #live: LiveSubscribers;
  readonly #ready: Promise<unknown>;
  #messages = 0;

  constructor(
    state: DurableObjectStateLike & { readonly storage: DurableObjectStorageLike },
    _env?: unknown,
    liveOptions: LiveSubscribersOptions = {},
  ) {
    this.#store = new SqliteEventStore({ driver: durableObjectDriver(state.storage) });
    this.#live = new LiveSubscribers(state, this.#store, liveOptions);
    this.#ready = this.#store.migrate();
  }

  async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === "/live-stats") {
      return Response.json({ subscribers: this.#live.count, messages: this.#messages });
    }
    // As docs/adapters/sqlite.md's object: the handler awaits the migration, so a failed one is a typed reply.
    return handleEventStoreRequest(this.#store, request, { live: this.#live, ready: this.#ready });
  }

  webSocketMessage(socket: HibernatableWebSocketLike, message: string | ArrayBuffer): void {
    this.#messages += 1;
    this.#live.message(socket, message);
  }

  // Completes the closing handshake a subscriber started (stop, or a reconnect).
  webSocketClose(socket: HibernatableWebSocketLike, code: number): void {
    socket.close(code === 1005 ? 1000 : code, "closed");
  }
}

/** The same object with small live limits, for the cap and slow-subscriber cases. */
export class LimitedEventStoreObject extends SqliteEventStoreObject {
  constructor(state: DurableObjectStateLike & { readonly storage: DurableObjectStorageLike }, env?: unknown) {
    super(state, env, LIMITED_LIVE);
  }
}

const binding = <T>(env: RuntimeEnv, name: string): T => {
  const value = (env as unknown as Record<string, unknown>)[name];
  if (value === undefined) throw new Error(`the ${name} binding is missing: the runner did not configure it`);
  return value as T;
};

/** The Durable Object that runs the contracts on its own storage. */
export class SqliteContractObject {
  readonly #storage: DurableObjectStorageLike;
  #suites: Promise<Record<SqliteContract, ContractSuite>> | undefined;

  constructor(state: { readonly storage: DurableObjectStorageLike }) {
    this.#storage = state.storage;
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    this.#suites ??= migrated(durableObjectDriver(this.#storage)).then(
      (driver) =>
        Object.fromEntries(
          SQLITE_KINDS.map((kind) => [kind, sqliteContract(kind, "Durable Object storage", driver)]),
        ) as Record<SqliteContract, ContractSuite>,
    );
    const suite = (await this.#suites)[url.searchParams.get("kind") as SqliteContract];
    if (suite === undefined) return new Response("unknown kind", { status: 400 });
    if (url.pathname === "/cases") return Response.json({ name: suite.name, cases: suite.cases.map((c) => c.name) });
    const found = suite.cases.find((c) => c.name === url.searchParams.get("case"));
    if (found === undefined) return new Response("unknown case", { status: 400 });
    try {
      await found.run();
      return Response.json({ ok: true });
    } catch (error) {
      return Response.json({
        ok: false,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
  }
}

async function durableObjectSuite(env: RuntimeEnv, kind: SqliteContract): Promise<ContractSuite> {
  const namespace = binding<DurableObjectNamespaceLike>(env, "SQLITE_DO");
  const stub = namespace.get(namespace.idFromName(`contracts-${kind}`));
  const base = `https://do.test/?kind=${kind}`;
  const listed = (await (await stub.fetch(base.replace("/?", "/cases?"))).json()) as {
    name: string;
    cases: string[];
  };
  return {
    name: listed.name,
    cases: listed.cases.map((name) => ({
      name,
      run: async () => {
        const response = await stub.fetch(`${base.replace("/?", "/run?")}&case=${encodeURIComponent(name)}`);
        const result = (await response.json()) as { ok: boolean; error?: string };
        if (!result.ok) throw new Error(result.error ?? "failed in the Durable Object");
      },
    })),
  };
}

export const sqliteWorkerdSuites: SuiteModule = {
  services: [],
  workerdFlags: [],
  runtimes: ["workerd"],
  workerd: {
    // One D1 database per binding: SQLITE_D1 for the contracts, one per tenant for tenancyD1Suite.
    d1Databases: ["SQLITE_D1", ...TENANT_D1_BINDINGS],
    durableObjects: {
      SQLITE_DO: "SqliteContractObject",
      SQLITE_EVENTS: "SqliteEventStoreObject",
      SQLITE_EVENTS_LIMITED: "LimitedEventStoreObject",
    },
  },
  suites: [
    ...SQLITE_KINDS.map((kind) => ({
      name: `sqlite (D1) ${kindLabel(kind)}`,
      contract: SQLITE_CONTRACTS[kind],
      open: async (env: RuntimeEnv) => {
        const driver = await migrated(d1Driver(binding<D1DatabaseLike>(env, "SQLITE_D1")));
        const suite = sqliteContract(kind, "D1", driver);
        // D1's changes are guarded batches, not transactions: raced against appends and each other too.
        return { suite: kind === "deletion" ? withDeletionRace(suite, () => new SqliteEventStore({ driver })) : suite };
      },
    })),
    ...SQLITE_KINDS.map((kind) => ({
      name: `sqlite (Durable Object) ${kindLabel(kind)}`,
      contract: SQLITE_CONTRACTS[kind],
      open: async (env: RuntimeEnv) => ({ suite: await durableObjectSuite(env, kind) }),
    })),
    {
      name: "sqlite (Durable Object event store, from the Worker) event evolution",
      contract: "eventEvolutionContract",
      open: (env: RuntimeEnv) => {
        const namespace = binding<DurableObjectNamespaceLike>(env, "SQLITE_EVENTS");
        const stub = namespace.get(namespace.idFromName("evolution"));
        return {
          suite: eventEvolutionContract({
            name: "DurableObjectEventStore evolution contract (Worker to Durable Object)",
            create: (options) => new DurableObjectEventStore({ ...options, stub }),
          }),
        };
      },
    },
    {
      name: "sqlite (Durable Object event store, from the Worker)",
      contract: "eventStoreContract",
      open: (env: RuntimeEnv) => {
        const namespace = binding<DurableObjectNamespaceLike>(env, "SQLITE_EVENTS");
        const stub = namespace.get(namespace.idFromName("contracts"));
        const create = (options = {}) => new DurableObjectEventStore({ ...options, stub });
        const raced = withRace(
          eventStoreContract({ name: "DurableObjectEventStore contract (Worker to Durable Object)", create }),
          create,
        );
        // Live push: a subscriber's stub and each writer's are distinct stubs of one object, so
        // what it receives was appended by other requests.
        const live = liveSubscriptionSuite(() => namespace.get(namespace.idFromName("live")));
        const limited = binding<DurableObjectNamespaceLike>(env, "SQLITE_EVENTS_LIMITED");
        const limits = liveLimitsSuite(() => limited.get(limited.idFromName("limits")));
        return { suite: { ...raced, cases: [...raced.cases, ...live.cases, ...limits.cases] } };
      },
    },
    {
      name: "sqlite (Durable Object event store, from the Worker) stream deletion",
      contract: "streamDeletionContract",
      open: (env: RuntimeEnv) => {
        const namespace = binding<DurableObjectNamespaceLike>(env, "SQLITE_EVENTS");
        const stub = namespace.get(namespace.idFromName("deletion"));
        const create = (options = {}) => new DurableObjectEventStore({ ...options, stub });
        // Each append, change and version read is a request of its own: raced as D1's batches are.
        const suite = streamDeletionContract({
          name: "DurableObjectEventStore stream deletion contract (Worker to Durable Object)",
          create,
        });
        return { suite: withDeletionRace(suite, create) };
      },
    },
    tenancyDurableObjectSuite,
    tenancyD1Suite,
  ],
};
