/**
 * An in-memory event store with transactions that can be held open, and a choice of how global
 * positions are given: the fixture the event-store contract is tested with. Built right
 * (`"at-commit"`) it passes the whole contract; built the ways real stores go wrong it must fail the
 * named cases:
 * - `"at-insert"`: a bigserial column. A position is taken when the row is written, so a commit
 *   held open below a position a reader has already passed is skipped by that reader.
 * - `"by-transaction"`: positions ordered by when the transaction began, readers held back below the
 *   oldest open transaction. Nothing is skipped, but an older transaction appending version 2
 *   after a younger one committed version 1 puts version 2 first in the feed.
 * - `claimsIdempotency`: says it deduplicates retried appends, and does not.
 * - `headAtReadersBound`: its `getHeadPosition` is the readers' bound (`getLastGlobalPosition`), below a
 *   commit that an older open transaction holds readers back from, as PostgreSQL's was before it had one.
 * - `headEventThroughReads`: its `feedHead` is the core's default, the head's event read through a
 *   `readAll` that "by-transaction" holds back: none while an older transaction is open (PostgreSQL's
 *   tenant check before it read the head's row itself).
 */
import {
  type AppendToStreamOptions,
  type CommitResult,
  checkExpectedVersion,
  type EventEnvelope,
  EventStore,
  type EventStoreCapabilities,
  type EventStoreOptions,
  type ExpectedVersion,
  type NewEvent,
  type PendingEvent,
  prepareEvents,
  type ReadAllOptions,
  type ReadStreamOptions,
} from "../../src/index.js";
import type { HeldCommit } from "../../src/testing/index.js";

export type PositionMode = "at-commit" | "at-insert" | "by-transaction";

export interface FixtureEventStoreOptions extends EventStoreOptions {
  readonly positions: PositionMode;
  readonly claimsIdempotency?: boolean;
  readonly headAtReadersBound?: boolean;
  readonly headEventThroughReads?: boolean;
}

interface Row {
  readonly event: EventEnvelope;
  committed: boolean;
}

interface Transaction {
  /** Where the transaction's positions start in "by-transaction" mode. */
  readonly base: number;
  readonly rows: Row[];
  open: boolean;
}

/** Positions per transaction in "by-transaction" mode. */
const SPAN = 1_000;

export class FixtureEventStore extends EventStore {
  readonly capabilities: EventStoreCapabilities;
  readonly #mode: PositionMode;
  readonly #rows: Row[] = [];
  readonly #transactions = new Set<Transaction>();
  readonly #headAtReadersBound: boolean;
  readonly #headEventThroughReads: boolean;
  #counter = 0;
  #began = 0;

  constructor(options: FixtureEventStoreOptions) {
    super(options);
    this.#mode = options.positions;
    this.#headAtReadersBound = options.headAtReadersBound === true;
    this.#headEventThroughReads = options.headEventThroughReads === true;
    this.capabilities = { globalOrder: true, idempotentAppends: options.claimsIdempotency === true };
  }

  /** Opens a transaction; appends through it stay invisible until `commit()`. The contract's holdCommit. */
  async hold(): Promise<HeldCommit> {
    const tx = this.#begin();
    return {
      append: async (streamId: string, events: readonly NewEvent[], options: AppendToStreamOptions = {}) => {
        this.#write(tx, streamId, prepareEvents(events, options.metadata), options.expectedVersion ?? "any");
      },
      commit: async () => {
        const events = this.#commit(tx);
        await this.afterCommit(events);
      },
      abandon: async () => {
        if (!tx.open) return;
        tx.open = false;
        this.#transactions.delete(tx);
        for (const row of tx.rows) this.#rows.splice(this.#rows.indexOf(row), 1);
      },
    };
  }

  protected async commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<CommitResult> {
    const tx = this.#begin();
    try {
      this.#write(tx, streamId, events, expectedVersion);
    } catch (error) {
      tx.open = false;
      this.#transactions.delete(tx);
      throw error;
    }
    return { events: this.#commit(tx) };
  }

  protected async *readStreamEvents(streamId: string, options: ReadStreamOptions): AsyncGenerator<EventEnvelope> {
    const stream = this.#committedStream(streamId);
    const events = options.direction === "backward" ? [...stream].reverse() : stream;
    const from = options.fromVersion;
    const selected = events.filter((e) =>
      from === undefined ? true : options.direction === "backward" ? e.version <= from : e.version >= from,
    );
    yield* selected.slice(0, options.maxCount ?? selected.length);
  }

  protected async *readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope> {
    // "by-transaction" holds readers below the oldest open transaction, as xmin filtering does.
    const open = [...this.#transactions].filter((tx) => tx.open).map((tx) => tx.base);
    const horizon = this.#mode === "by-transaction" && open.length > 0 ? Math.min(...open) : Number.POSITIVE_INFINITY;
    const visible = this.#rows
      .filter((row) => row.committed)
      .map((row) => row.event)
      .filter((e) => (e.globalPosition as number) > (options.after ?? 0) && (e.globalPosition as number) < horizon)
      .sort((a, b) => (a.globalPosition as number) - (b.globalPosition as number));
    yield* visible.slice(0, options.maxCount ?? visible.length);
  }

  /** The newest committed position, past the readers' bound in "by-transaction" mode (as on PostgreSQL). */
  override async getHeadPosition(): Promise<number> {
    if (this.#headAtReadersBound) return this.getLastGlobalPosition();
    let head = 0;
    for (const row of this.#rows) if (row.committed) head = Math.max(head, row.event.globalPosition as number);
    return head;
  }

  /** The head and its committed row, read past the readers' bound as PostgreSQL's one query does. */
  override async feedHead(): Promise<{ readonly position: number; readonly event?: EventEnvelope }> {
    if (this.#headEventThroughReads) return super.feedHead();
    const position = await this.getHeadPosition();
    const row = this.#rows.find((r) => r.committed && r.event.globalPosition === position);
    return row === undefined ? { position } : { position, event: row.event };
  }

  protected async streamVersion(streamId: string): Promise<number> {
    return this.#committedStream(streamId).length;
  }

  #begin(): Transaction {
    const tx: Transaction = { base: ++this.#began * SPAN, rows: [], open: true };
    this.#transactions.add(tx);
    return tx;
  }

  /** Synchronous from the version check to the write, so concurrent appends cannot both pass. */
  #write(tx: Transaction, streamId: string, events: readonly PendingEvent[], expectedVersion: ExpectedVersion): void {
    const ownRows = tx.rows.filter((row) => row.event.streamId === streamId).length;
    const version = this.#committedStream(streamId).length + ownRows;
    checkExpectedVersion(streamId, expectedVersion, version);
    events.forEach((event, i) => {
      const copy = structuredClone({ data: event.data, metadata: event.metadata ?? {} });
      const row: Row = {
        committed: false,
        event: {
          id: event.id,
          type: event.type,
          streamId,
          version: version + i + 1,
          globalPosition: this.#mode === "at-insert" ? ++this.#counter : tx.base + tx.rows.length + 1,
          timestamp: event.timestamp,
          data: copy.data,
          metadata: copy.metadata,
        },
      };
      tx.rows.push(row);
      this.#rows.push(row);
    });
  }

  #commit(tx: Transaction): EventEnvelope[] {
    tx.open = false;
    this.#transactions.delete(tx);
    for (const row of tx.rows) {
      // "at-commit" numbers rows when they become visible: gap-free and never behind a reader.
      if (this.#mode === "at-commit") (row.event as { globalPosition: number }).globalPosition = ++this.#counter;
      row.committed = true;
      // Readers get the stored objects: frozen, so that none of them can rewrite what the next one reads.
      deepFreeze(row.event);
    }
    return tx.rows.map((row) => row.event);
  }

  #committedStream(streamId: string): EventEnvelope[] {
    return this.#rows
      .filter((row) => row.committed && row.event.streamId === streamId)
      .map((row) => row.event)
      .sort((a, b) => a.version - b.version);
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const inner of Object.values(value)) deepFreeze(inner);
}
