import {
  type EventEnvelope,
  type ExpectedVersion,
  type PendingEvent,
  PROJECTION_STATE_COLLECTION,
  type Projection,
  ProjectionFailedError,
  ValidationError,
} from "../../src/index.js";
import { appendEvents, type Committed, type StoreContext } from "./append.js";
import type { PostgresTransactionSql } from "./client.js";
import { type PostgresReadModelTransaction, readModelTransactionOn } from "./read-model-store.js";

/** Any projection, whatever events and state it declares: what the store's `projections` option holds. */
// biome-ignore lint/suspicious/noExplicitAny: the store holds projections of every event union and state
export type AnyProjection = Projection<any, any>;

export function assertInlineProjections(projections: unknown): asserts projections is readonly AnyProjection[] {
  if (!Array.isArray(projections)) {
    throw new ValidationError("Invalid projections", [
      { path: ["projections"], message: "projections must be an array" },
    ]);
  }
  projections.forEach((projection: Partial<AnyProjection> | null, index) => {
    if (typeof projection?.matches !== "function" || typeof projection.handle !== "function") {
      throw new ValidationError("Invalid projections", [
        { path: ["projections", index], message: "each projection must be made by projection({ ... })" },
      ]);
    }
  });
}

/** Whether any projection takes an event of these types in this stream (decides if an append needs a transaction). */
export function anyProjectionTakes(
  projections: readonly AnyProjection[],
  streamId: string,
  types: readonly string[],
): boolean {
  // The filters read only the type and the stream id.
  return projections.some((p) => types.some((type) => p.matches({ type, streamId } as EventEnvelope)));
}

/**
 * The one inline-projection step: appends in the transaction `sql`, then hands each projection the
 * events it takes, one by one, with the transaction's read models (and its state, loaded and saved
 * there). A handler that throws rolls the append back with a `ProjectionFailedError`. A retried
 * append was projected when it committed.
 */
export async function appendProjected(
  sql: PostgresTransactionSql,
  context: StoreContext,
  projections: readonly AnyProjection[],
  streamId: string,
  events: readonly PendingEvent[],
  expectedVersion: ExpectedVersion,
  plaintext: (events: readonly EventEnvelope[]) => Promise<readonly EventEnvelope[]>,
): Promise<Committed> {
  // Before the append takes its stream's row: an append that waits for the lock holds nothing another
  // transaction of the same projection could be waiting for (two withTransaction blocks appending to the
  // same streams in turn would otherwise deadlock).
  await lockTaking(sql, context.names.lockNamespace, projections, streamId, events);
  const appended = await appendEvents(sql, context, streamId, events, expectedVersion, false);
  if (appended.retried) return appended;
  // Handlers see what readers see: personal fields decrypted.
  const handled = await plaintext(appended.events);
  const readModels = readModelTransactionOn(sql, context.names);
  try {
    await projectEach(projections, handled, readModels);
  } finally {
    // A handler that kept its readModels past the step: its puts would be flushed never.
    readModels.end();
  }
  await readModels.flush();
  return appended;
}

/**
 * Takes, in the append's transaction, a lock per projection that takes some of these events, until it
 * commits: appends to different streams ran their projections side by side at READ COMMITTED, each read
 * the same state and documents, and the last to commit won (20 concurrent appends left a count of 3, and
 * an inline projection has no checkpoint to catch up from). Now they apply one after another, each
 * reading what the one before committed. Keyed by schema, prefix and tenant, and taken in name order,
 * so two appends never wait on each other's second lock.
 */
async function lockTaking(
  sql: PostgresTransactionSql,
  namespace: string,
  projections: readonly AnyProjection[],
  streamId: string,
  events: readonly PendingEvent[],
): Promise<void> {
  // The filters read the type, the stream id and, for a lifecycle event, the stream its data names.
  const names = projections
    .filter((projection) =>
      events.some((event) => projection.matches({ type: event.type, streamId, data: event.data } as EventEnvelope)),
    )
    .map((projection) => projection.name as string)
    .sort();
  for (const name of names) {
    // The tenant's setting appended (none: ''): on row-level-security tables, tenants do not wait on each other.
    await sql.unsafe(
      "SELECT pg_advisory_xact_lock(hashtextextended($1 || coalesce(current_setting('eventflows.tenant', true), ''), 0))",
      [`${namespace}:inline:${name}:`],
    );
  }
}

async function projectEach(
  projections: readonly AnyProjection[],
  handled: readonly EventEnvelope[],
  readModels: PostgresReadModelTransaction,
): Promise<void> {
  for (const projection of projections) {
    const matching = handled.filter((event) => projection.matches(event));
    if (matching.length === 0) continue;
    let state = projection.stateful
      ? ((await readModels.get(PROJECTION_STATE_COLLECTION, projection.name)) ??
        structuredClone(projection.initialState))
      : undefined;
    for (const event of matching) {
      try {
        const next = await projection.handle(event, { readModels, state });
        if (projection.stateful && next !== undefined) state = next;
      } catch (error) {
        throw new ProjectionFailedError(projection.name, event.globalPosition ?? 0, event.id, event.type, {
          cause: error,
        });
      }
    }
    if (projection.stateful) await readModels.put(PROJECTION_STATE_COLLECTION, projection.name, state);
  }
}
