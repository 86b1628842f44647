import {
  type EventEnvelope,
  type Projection,
  ProjectionRunner,
  type ProjectionRunnerOptions,
  ValidationError,
} from "../../src/index.js";
import { opensTransactions, type PostgresSql } from "./client.js";
import type { PostgresEventStore } from "./event-store.js";
import { PostgresProjectionLock } from "./projection-lock.js";
import { PostgresReadModelStore } from "./read-model-store.js";

/** A runner's options on a PostgreSQL store: the store, and by default the read models and lock, are given. */
export type PostgresProjectionRunnerOptions<E extends EventEnvelope = EventEnvelope, S = undefined> = Omit<
  ProjectionRunnerOptions<E, S>,
  "projection" | "eventStore" | "readModels" | "lock"
> &
  Partial<Pick<ProjectionRunnerOptions<E, S>, "readModels" | "lock">>;

/**
 * A runner for a projection over a PostgreSQL store's feed, with its documents, state and checkpoint
 * in the same database (a {@link PostgresReadModelStore}, one transaction per batch) and an
 * advisory-lock lease (a {@link PostgresProjectionLock}), unless `readModels` or `lock` say
 * otherwise: `start()` it in a long-lived process, or call `catchUp()` on a schedule. The store's
 * client needs at least two connections (the lease keeps one).
 *
 * A function rather than a method of the store so that an application that never runs a projection
 * (a Worker appending events, say) does not bundle the runner, the read-model store and the lease.
 * @throws {ValidationError} the store runs on a transaction or a reserved connection, not a client; the
 *   options hold an `eventStore` or a `projection` (they are the arguments).
 */
export function postgresProjectionRunner<E extends EventEnvelope, S>(
  store: PostgresEventStore,
  projection: Projection<E, S>,
  options: PostgresProjectionRunnerOptions<E, S> = {},
): ProjectionRunner<E, S> {
  const sql = store.sql;
  if (!opensTransactions(sql)) {
    throw new ValidationError("This store runs on a transaction or a reserved connection", [
      { path: ["sql"], message: "a projection runner needs a postgres.js client (postgres(...)) as sql" },
    ]);
  }
  // The store is the runner's event store: one passed in the options too (an untyped call) would be ignored.
  for (const key of ["eventStore", "projection"] as const) {
    if (key in options) {
      throw new ValidationError("Invalid projection runner options", [
        { path: [key], message: `given as an argument of postgresProjectionRunner, not in its options` },
      ]);
    }
  }
  const names = { schema: store.names.schema, tablePrefix: store.names.tablePrefix };
  return new ProjectionRunner<E, S>({
    ...options,
    projection,
    eventStore: store,
    readModels: options.readModels ?? new PostgresReadModelStore({ ...names, sql: sql as PostgresSql }),
    lock: options.lock ?? new PostgresProjectionLock({ ...names, sql: sql as PostgresSql }),
  });
}
