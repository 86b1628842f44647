/**
 * Where the shop keeps its events, saga instances, checkpoints and read models. One interface, one
 * factory per backend: the rest of the application does not know which it runs on.
 */
import {
  type CheckpointStore,
  type EventStore,
  type IdempotencyStore,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemoryIdempotencyStore,
  InMemoryReadModelStore,
  InMemorySagaStore,
  type Projection,
  ProjectionRunner,
  type ReadModelStore,
  type SagaRuntime,
  type SagaStore,
} from "@eventflows/core";
import {
  createPostgresClient,
  PostgresCheckpointStore,
  PostgresEventStore,
  PostgresIdempotencyStore,
  PostgresReadModelStore,
  PostgresSagaStore,
  postgresProjectionRunner,
} from "@eventflows/core/postgres";

export interface Backend {
  readonly name: string;
  readonly eventStore: EventStore;
  readonly sagaStore: SagaStore;
  readonly checkpoints: CheckpointStore;
  readonly readModels: ReadModelStore;
  /** Where the HTTP routes remember the responses of requests sent with an Idempotency-Key. */
  readonly idempotency: IdempotencyStore;
  // biome-ignore lint/suspicious/noExplicitAny: a runner for any projection's event and state types
  runner(projection: Projection<any, any>): ProjectionRunner<any, any>;
  /** How the sagas hear of events, when not from the store's global feed (the default). */
  feedSagas?(sagas: SagaRuntime): { stop(): Promise<void> };
  close(): Promise<void>;
}

/** Everything in this process's memory: nothing to install, gone when it stops. */
export function inMemoryBackend(): Backend {
  const eventStore = new InMemoryEventStore();
  const readModels = new InMemoryReadModelStore();
  return {
    name: "in memory",
    eventStore,
    sagaStore: new InMemorySagaStore(),
    checkpoints: new InMemoryCheckpointStore(),
    readModels,
    idempotency: new InMemoryIdempotencyStore(),
    runner: (projection) => new ProjectionRunner({ projection, eventStore, readModels }),
    close: async () => undefined,
  };
}

/**
 * PostgreSQL: one database holds everything, in `schema` (`eventflows` by default). The migrations run
 * at start-up here, for a one-command demo; a deployment runs them from its pipeline
 * (`eventflows migrate`).
 */
export async function postgresBackend(url: string, schema?: string): Promise<Backend> {
  // Each projection runner's lease holds a connection; the rest share the pool.
  const sql = createPostgresClient(url, { max: 8 });
  const names = schema === undefined ? {} : { schema };
  const eventStore = new PostgresEventStore({ sql, ...names });
  await eventStore.migrate();
  return {
    name: "PostgreSQL",
    eventStore,
    sagaStore: new PostgresSagaStore({ sql, ...names }),
    checkpoints: new PostgresCheckpointStore({ sql, ...names }),
    readModels: new PostgresReadModelStore({ sql, ...names }),
    idempotency: new PostgresIdempotencyStore({ sql, ...names }),
    runner: (projection) => postgresProjectionRunner(eventStore, projection),
    close: () => sql.end({ timeout: 5 }),
  };
}
