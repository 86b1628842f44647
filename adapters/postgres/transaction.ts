import {
  type EventEnvelope,
  type EventRegistry,
  type ExpectedVersion,
  type PendingEvent,
  type PersonalData,
  type StreamChange,
  type StreamChangeCommit,
  transactionEndedError,
} from "../../src/index.js";
import { appendEvents, type StoreContext } from "./append.js";
import type { PostgresQueryable, PostgresTransactionSql } from "./client.js";
import { type AnyProjection, anyProjectionTakes, appendProjected } from "./inline-projection.js";
import { PostgresStoreBase } from "./store-base.js";
import { savepointUnlessGone } from "./transaction-scope.js";
import { untilEnded } from "./until-ended.js";

/**
 * The event store inside one database transaction (see `PostgresEventStore.withTransaction`):
 * appends to any number of streams and the read-model writes made through `sql` commit together
 * or not at all. Events are published to the store's bus after the commit, never before.
 */
export class PostgresTransaction extends PostgresStoreBase {
  /** The transaction: run read-model statements here. Refused once the transaction has ended. */
  readonly sql: PostgresTransactionSql;
  readonly #sql: PostgresTransactionSql;
  readonly #projections: readonly AnyProjection[];
  readonly #committed: (readonly EventEnvelope[])[] = [];
  #open = true;

  /** @internal Made by `PostgresEventStore.withTransaction`. */
  constructor(
    sql: PostgresTransactionSql,
    context: StoreContext,
    projections: readonly AnyProjection[],
    maxJsonDepth: number,
    eventRegistry?: EventRegistry,
    personalData?: PersonalData,
  ) {
    // The store's own input limits, upcasters, schemas and personal fields apply inside its transactions too.
    super(context, {
      maxJsonDepth,
      ...(eventRegistry === undefined ? {} : { eventRegistry }),
      ...(personalData === undefined ? {} : { personalData }),
    });
    this.#sql = sql;
    this.sql = untilEnded(sql, () => this.#open);
    this.#projections = projections;
  }

  protected get queryable(): PostgresQueryable {
    if (!this.#open) throw transactionEndedError();
    return this.#sql;
  }

  /** Appends commit when the transaction does, after they return. */
  protected override get appendsCommit(): boolean {
    return false;
  }

  /**
   * Nothing is committed until the transaction is: the store runs the after-commit step (publish,
   * wake subscriptions, count) for every append of it once it has (see `end`).
   */
  protected override async afterCommit(): Promise<undefined> {
    return undefined;
  }

  end(): readonly (readonly EventEnvelope[])[] {
    this.#open = false;
    return this.#committed;
  }

  // A deletion inside the transaction: its lifecycle event is published with the appends, once committed.
  protected override async commitStreamChange(change: StreamChange): Promise<StreamChangeCommit> {
    const result = await super.commitStreamChange(change);
    if (result.event !== undefined) this.#committed.push([result.event]);
    return result;
  }

  protected async commit(streamId: string, events: readonly PendingEvent[], expectedVersion: ExpectedVersion) {
    const sql = this.queryable as PostgresTransactionSql;
    const types = events.map((e) => e.type);
    const result = !anyProjectionTakes(this.#projections, streamId, types)
      ? await appendEvents(sql, this.context, streamId, events, expectedVersion, false)
      : // A savepoint, so that a projection that throws takes its append with it even when the
        // caller catches the error and carries on with the transaction.
        await savepointUnlessGone(sql, (savepoint) =>
          appendProjected(savepoint, this.context, this.#projections, streamId, events, expectedVersion, (stored) =>
            this.decryptList(stored),
          ),
        );
    if (!result.retried) this.#committed.push(result.events);
    return result;
  }
}
