import {
  type EventEnvelope,
  type EventPages,
  EventStore,
  type EventStoreCapabilities,
  type EventStoreOptions,
  eventsOf,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StreamChange,
  type StreamChangeCommit,
} from "../../src/index.js";
import type { StoreContext } from "./append.js";
import { attemptsOn, opensTransactions, type PostgresQueryable, type PostgresSql } from "./client.js";
import { assertStorableStreamId } from "./encode.js";
import { guard } from "./errors.js";
import { pingPostgres } from "./ping.js";
import { MAX_EVENTS_PER_TRANSACTION } from "./position.js";
import {
  deletionEventOf,
  headEvent,
  headPosition,
  lastGlobalPosition,
  readAllPages,
  readStreamPages,
  streamVersionOf,
} from "./read.js";
import { commitStreamChangeIn } from "./stream-deletion.js";
import { beginUnlessGone } from "./transaction-scope.js";

/** Reads shared by the store and its transactions; they differ in what runs the statements. */
export abstract class PostgresStoreBase extends EventStore {
  protected override readonly dbSystem: string = "postgresql";
  readonly capabilities: EventStoreCapabilities = {
    globalOrder: true,
    idempotentAppends: true,
    maxEventsPerAppend: MAX_EVENTS_PER_TRANSACTION,
    streamDeletion: true,
  };
  protected readonly context: StoreContext;

  protected constructor(context: StoreContext, options: EventStoreOptions) {
    super(options);
    this.context = context;
  }

  /** Runs this store's statements. */
  protected abstract get queryable(): PostgresQueryable;
  /** How often a read whose connection turns out lost runs, on other connections (see attemptsOn). */
  protected get attempts(): number {
    return attemptsOn(this.queryable);
  }

  /** A select of no row from the events table (see pingPostgres): for health checks. */
  override ping(signal?: AbortSignal): Promise<void> {
    return pingPostgres(this.queryable, this.context.names.events, signal);
  }

  /** Pages as fetched: the core's read layers pass them on whole (see `EventStore.readStreamPages`). */
  protected override readStreamPages(streamId: string, options: ReadStreamOptions): EventPages {
    assertStorableStreamId(streamId);
    return readStreamPages(this.queryable, this.context, streamId, options, this.attempts);
  }

  protected override readAllPages(options: ReadAllOptions, batch = false): EventPages {
    return readAllPages(this.queryable, this.context, options, this.attempts, batch);
  }

  protected readStreamEvents(
    streamId: string,
    options: ReadStreamOptions,
  ): AsyncGenerator<EventEnvelope, void, undefined> {
    return eventsOf(this.readStreamPages(streamId, options));
  }

  protected readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope, void, undefined> {
    return eventsOf(this.readAllPages(options));
  }

  protected streamVersion(streamId: string): Promise<number> {
    assertStorableStreamId(streamId);
    return streamVersionOf(this.queryable, this.context, streamId, this.attempts);
  }

  /** One statement: the stream's deletion row, and its `$stream-deleted` event only when it has one. */
  protected override deletionEvent(streamId: string): Promise<EventEnvelope | undefined> {
    assertStorableStreamId(streamId);
    return deletionEventOf(this.queryable, this.context, streamId, this.attempts);
  }

  /**
   * One transaction of its own on a client; inside the application's transaction (a transaction or
   * reserved connection given as `sql`, or `withTransaction`), it joins that one.
   */
  protected override commitStreamChange(change: StreamChange): Promise<StreamChangeCommit> {
    assertStorableStreamId(change.streamId);
    const sql = this.queryable;
    const operation =
      change.kind === "truncate" ? "truncateStream" : change.kind === "restore" ? "restoreStream" : "deleteStream";
    return guard(operation, async () => {
      if (!opensTransactions(sql)) return commitStreamChangeIn(sql, this.context, change, false);
      return (await beginUnlessGone(sql as PostgresSql, undefined, (tx) =>
        commitStreamChangeIn(tx, this.context, change, true),
      )) as StreamChangeCommit;
    });
  }

  /** One query: the newest position a reader may see now (see the global-order notes in position.ts). */
  override getLastGlobalPosition(): Promise<number> {
    return lastGlobalPosition(this.queryable, this.context, this.attempts);
  }

  /** One query: the newest committed position, above transactions still in flight (see `getHeadPosition`). */
  override getHeadPosition(): Promise<number> {
    return headPosition(this.queryable, this.context, this.attempts);
  }

  /** One query: the head and its row, which no transaction in flight holds back (see `feedHead`). */
  override feedHead(): Promise<{ readonly position: number; readonly event?: EventEnvelope }> {
    return headEvent(this.queryable, this.context, this.attempts);
  }
}
