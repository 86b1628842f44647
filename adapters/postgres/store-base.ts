import {
  type EventEnvelope,
  EventStore,
  type EventStoreCapabilities,
  type EventStoreOptions,
  type ReadAllOptions,
  type ReadStreamOptions,
} from "../../src/index.js";
import type { StoreContext } from "./append.js";
import { attemptsOn, type PostgresQueryable } from "./client.js";
import { assertStorableStreamId } from "./encode.js";
import { pingPostgres } from "./ping.js";
import { MAX_EVENTS_PER_TRANSACTION } from "./position.js";
import { lastGlobalPosition, readAllPages, readStreamPages, streamVersionOf } from "./read.js";

/** Reads shared by the store and its transactions; they differ in what runs the statements. */
export abstract class PostgresStoreBase extends EventStore {
  protected override readonly dbSystem: string = "postgresql";
  readonly capabilities: EventStoreCapabilities = {
    globalOrder: true,
    idempotentAppends: true,
    maxEventsPerAppend: MAX_EVENTS_PER_TRANSACTION,
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

  /** One `select 1` (see pingPostgres): for health checks. */
  override ping(signal?: AbortSignal): Promise<void> {
    return pingPostgres(this.queryable, signal);
  }

  protected readStreamEvents(
    streamId: string,
    options: ReadStreamOptions,
  ): AsyncGenerator<EventEnvelope, void, undefined> {
    assertStorableStreamId(streamId);
    return readStreamPages(this.queryable, this.context, streamId, options, this.attempts);
  }

  protected readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope, void, undefined> {
    return readAllPages(this.queryable, this.context, options, this.attempts);
  }

  protected streamVersion(streamId: string): Promise<number> {
    assertStorableStreamId(streamId);
    return streamVersionOf(this.queryable, this.context, streamId, this.attempts);
  }

  /** One query: the newest position a reader may see now (see the global-order notes in position.ts). */
  override getLastGlobalPosition(): Promise<number> {
    return lastGlobalPosition(this.queryable, this.context, this.attempts);
  }
}
