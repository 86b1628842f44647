import { type EventEnvelope, type ExpectedVersion, type PendingEvent, ValidationError } from "../../src/index.js";
import { appendEvents, type Committed, type StoreContext } from "./append.js";
import type { PostgresTransactionSql } from "./client.js";

export interface ProjectionContext {
  /** The transaction the events are being appended in: read-model writes here commit or roll back with them. */
  readonly sql: PostgresTransactionSql;
}

/**
 * A read model updated in the same transaction as the append: the events and the read-model change
 * commit together or not at all, so the read model is never behind nor ahead of the stream.
 */
export interface InlineProjection {
  readonly name: string;
  /** Only events of these types are handed over; all when absent. */
  readonly eventTypes?: readonly string[];
  /** Called once per append with its (matching) events. Throwing rolls the append back. */
  readonly handle: (events: readonly EventEnvelope[], context: ProjectionContext) => void | Promise<void>;
}

/** Declares an inline projection (typing help only). */
export function inlineProjection(projection: InlineProjection): InlineProjection {
  return projection;
}

export function assertInlineProjections(projections: unknown): asserts projections is readonly InlineProjection[] {
  if (!Array.isArray(projections)) {
    throw new ValidationError("Invalid projections", [
      { path: ["projections"], message: "projections must be an array" },
    ]);
  }
  projections.forEach((projection: Partial<InlineProjection> | null, index) => {
    const issues = [];
    if (typeof projection?.name !== "string" || projection.name.trim() === "") {
      issues.push({ path: ["projections", index, "name"], message: "a projection needs a name" });
    }
    if (typeof projection?.handle !== "function") {
      issues.push({ path: ["projections", index, "handle"], message: "handle must be a function" });
    }
    const types = projection?.eventTypes;
    if (types !== undefined && (!Array.isArray(types) || types.some((t) => typeof t !== "string"))) {
      issues.push({ path: ["projections", index, "eventTypes"], message: "eventTypes must be an array of strings" });
    }
    if (issues.length > 0) throw new ValidationError("Invalid projections", issues);
  });
}

/** The events of one append each projection handles; projections with none are left out. */
export function routeToProjections(
  projections: readonly InlineProjection[],
  events: readonly EventEnvelope[],
): [InlineProjection, EventEnvelope[]][] {
  const routed: [InlineProjection, EventEnvelope[]][] = [];
  for (const projection of projections) {
    const types = projection.eventTypes;
    const matching = types === undefined ? [...events] : events.filter((e) => types.includes(e.type));
    if (matching.length > 0) routed.push([projection, matching]);
  }
  return routed;
}

/** Whether any projection takes any of these event types (decides if an append needs a transaction). */
export function anyProjectionTakes(projections: readonly InlineProjection[], types: readonly string[]): boolean {
  return projections.some((p) => p.eventTypes === undefined || types.some((t) => p.eventTypes?.includes(t)));
}

/**
 * The one inline-projection step: appends in the transaction `sql`, then hands each projection the
 * events it takes, in the same transaction. A retried append was projected when it committed.
 */
export async function appendProjected(
  sql: PostgresTransactionSql,
  context: StoreContext,
  projections: readonly InlineProjection[],
  streamId: string,
  events: readonly PendingEvent[],
  expectedVersion: ExpectedVersion,
): Promise<Committed> {
  const appended = await appendEvents(sql, context, streamId, events, expectedVersion, false);
  if (appended.retried) return appended;
  for (const [projection, matching] of routeToProjections(projections, appended.events)) {
    await projection.handle(matching, { sql });
  }
  return appended;
}
