/**
 * Model-based testing of the `EventStore` port through its public API: fast-check generates command
 * sequences (`fc.commands`) over three streams (appends with every kind of expected version, stream
 * reads both ways with bounds, `readAll` after generated positions with limits, versions, soft and
 * hard deletes, restores, truncations, deletion lookups, the head position) and runs each on the store
 * and on a model made of plain arrays, written from docs/core/event-store.md and
 * docs/core/stream-deletion.md alone. Every answer must be the model's: versions, order, ids, types,
 * data, metadata, positions and timestamps as the append returned them, and for a refused call the
 * error's class, code and fields, with the stream left exactly as it was.
 *
 * Unlike event-store-differential.ts, which compares a store with `InMemoryEventStore`, the model
 * shares no code with any store, so it checks the in-memory store too. Each run uses streams of its
 * own, so one store (schema, table, database) serves every run; the feed is read from where the
 * store was when the run began, and nothing else may write to the store meanwhile. Test-only code.
 */
import fc from "fast-check";
import {
  type EventEnvelope,
  type EventStore,
  type ExpectedVersion,
  isEventFlowsError,
  type NewEvent,
  StreamLifecycleEventType,
  ulid,
} from "../../src/index.js";
import { canonical } from "./event-store-differential.ts";

const STREAMS = 3;

/** A stored event as the model keeps it; `position` and `timestamp` are the append result's. */
interface ModelEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Record<string, unknown>;
  readonly version: number;
  readonly position: number | undefined;
  readonly timestamp: string;
}

interface ModelStream {
  /** The events still stored (a truncation removes the oldest, a hard delete all). */
  events: ModelEvent[];
  /** The version of the stream's last event ever appended; a deletion keeps it. */
  version: number;
  deleted: "soft" | "hard" | undefined;
  /** The id of the `$stream-deleted` event of the current deletion. */
  deletionEventId: string | undefined;
}

/** A `$stream-*` event as compared: the run's index for the stream its data names. */
interface ShownLifecycle {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
}

/** A change's lifecycle event as its result gives it. */
interface ShownChange extends ShownLifecycle {
  readonly id: string;
  readonly position: number | undefined;
}

/** The run's part of the global feed, in commit order, removed and hidden events included. */
type FeedEntry =
  | { readonly stream: number; readonly event: ModelEvent }
  | { readonly lifecycle: ShownLifecycle; readonly position: number | undefined };

export interface Model {
  readonly streams: ModelStream[];
  readonly feed: FeedEntry[];
  /** The run's appends that stored events, in order: what a retry re-sends. */
  readonly appends: { readonly stream: number; readonly events: readonly ModelEvent[] }[];
}

export interface Real {
  /** Two instances on one backend (one, for a store that is its own backend): a cache in one must not hide what the other did. */
  readonly stores: readonly EventStore[];
  /** The instance the commands use, until a switch. */
  store: EventStore;
  readonly ids: readonly string[];
  /** The store's head position when the run began: the run reads the feed after it. */
  readonly start: number;
  /** The highest position a result of this run has shown. */
  seen: number;
}

type Expected =
  | "default"
  | "any"
  | "no-stream"
  | "stream-exists"
  | { readonly offset: -1 | 0 | 1 }
  /** Not an expected version: refused before anything is read. */
  | { readonly invalid: number | string };

/** What a call answered: its value, or the refusal as every store must report it. */
type Outcome = { readonly ok: unknown } | { readonly error: Record<string, unknown> };

function refused(name: string, code: string, fields: Record<string, unknown> = {}): Outcome {
  return { error: { name, code, ...fields } };
}

const ValidationFailed = refused("ValidationError", "VALIDATION_FAILED");

async function outcomeOf(work: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: (await work()) ?? null };
  } catch (error) {
    if (!isEventFlowsError(error)) throw new Error(`an error that is not an EventFlowsError: ${String(error)}`);
    const fields: Record<string, unknown> = { name: error.name, code: error.code };
    const e = error as unknown as Record<string, unknown>;
    if (error.code === "CONCURRENCY_CONFLICT") Object.assign(fields, pick(e, "expectedVersion", "actualVersion"));
    if (error.code === "STREAM_DELETED") Object.assign(fields, pick(e, "mode"));
    return { error: fields };
  }
}

function pick(from: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, from[key]]));
}

function assertSame(command: string, want: Outcome, got: Outcome): void {
  if (canonical(want) !== canonical(got)) {
    throw new Error(`${command}: the model answers ${canonical(want)}, the store ${canonical(got)}`);
  }
}

/** An expected version as passed to the store, from the model's version of the stream. */
function expectedOf(expected: Expected, version: number): ExpectedVersion | undefined {
  if (expected === "default") return undefined;
  if (typeof expected === "string") return expected;
  if ("invalid" in expected) return expected.invalid as ExpectedVersion;
  return Math.max(0, version + expected.offset);
}

function isInvalid(expected: Expected): boolean {
  return typeof expected === "object" && "invalid" in expected;
}

/** The docs' table: whether a stream at `version` passes `expected` (absent: `"any"`). */
function passes(expected: ExpectedVersion | undefined, version: number): boolean {
  if (expected === undefined || expected === "any") return true;
  if (expected === "no-stream") return version === 0;
  if (expected === "stream-exists") return version > 0;
  return version === expected;
}

function conflict(expected: ExpectedVersion | undefined, version: number): Outcome {
  return refused("ConcurrencyError", "CONCURRENCY_CONFLICT", { expectedVersion: expected, actualVersion: version });
}

/** An envelope as compared: the run's stream index for its id, everything else as read. */
function shown(event: EventEnvelope, ids: readonly string[]) {
  return {
    stream: ids.indexOf(event.streamId),
    id: event.id,
    type: event.type,
    version: event.version,
    data: event.data,
    metadata: event.metadata,
    position: event.globalPosition,
    timestamp: event.timestamp,
  };
}

function modelShown(stream: number, event: ModelEvent) {
  const { position, ...rest } = event;
  return { stream, ...rest, position };
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** The stream as the model says every read must show it: nothing while deleted. */
function readable(stream: ModelStream): ModelEvent[] {
  return stream.deleted === undefined ? stream.events : [];
}

/** After a refused call: the stream reads and counts exactly as before it. */
async function assertUnchanged(command: string, model: Model, real: Real, index: number): Promise<void> {
  const stream = model.streams[index] as ModelStream;
  const id = real.ids[index] as string;
  const got = {
    version: await real.store.getStreamVersion(id),
    events: (await collect(real.store.readStream(id))).map((e) => shown(e, real.ids)),
  };
  const want = {
    version: stream.deleted === "hard" ? 0 : stream.version,
    events: readable(stream).map((e) => modelShown(index, e)),
  };
  assertSame(`${command}, then the stream`, { ok: want }, { ok: got });
}

interface Cmd extends fc.AsyncCommand<Model, Real> {}

class Append implements Cmd {
  constructor(
    readonly stream: number,
    readonly events: readonly { type: string; data: unknown; metadata?: Record<string, unknown>; timestamp?: string }[],
    readonly expected: Expected,
    readonly metadata: Record<string, unknown> | undefined,
  ) {}
  check = () => true as const;
  async run(model: Model, real: Real): Promise<void> {
    const s = model.streams[this.stream] as ModelStream;
    const expected = expectedOf(this.expected, s.version);
    const events: NewEvent[] = this.events.map((e) => ({ ...e, id: ulid() }));
    const options = {
      ...(expected === undefined ? {} : { expectedVersion: expected }),
      ...(this.metadata === undefined ? {} : { metadata: this.metadata }),
    };
    const got = await outcomeOf(async () => {
      const result = await real.store.appendToStream(real.ids[this.stream] as string, events, options);
      return {
        streamId: result.streamId === real.ids[this.stream],
        next: result.nextExpectedVersion,
        events: result.events.map((e) => shown(e, real.ids)),
        retried: result.retried ?? false,
      };
    });
    let want: Outcome;
    if (isInvalid(this.expected)) want = ValidationFailed;
    else if (s.deleted !== undefined) want = refused("StreamDeletedError", "STREAM_DELETED", { mode: s.deleted });
    else if (!passes(expected, s.version)) want = conflict(expected, s.version);
    else {
      // Positions, and the times of events without their own, are the store's to give: the model takes them from its answer.
      const answered = "ok" in got ? (got.ok as { events: { position?: number; timestamp: string }[] }).events : [];
      const stored = events.map(
        (e, i): ModelEvent => ({
          id: e.id as string,
          type: e.type,
          data: e.data,
          metadata: { ...this.metadata, ...e.metadata },
          version: s.version + i + 1,
          position: answered[i]?.position,
          timestamp: e.timestamp === undefined ? (answered[i]?.timestamp ?? "") : new Date(e.timestamp).toISOString(),
        }),
      );
      want = {
        ok: {
          streamId: true,
          next: s.version + stored.length,
          events: stored.map((e) => modelShown(this.stream, e)),
          retried: false,
        },
      };
      if (canonical(want) === canonical(got)) {
        if (stored.length > 0) model.appends.push({ stream: this.stream, events: stored });
        s.events.push(...stored);
        s.version += stored.length;
        for (const event of stored) {
          model.feed.push({ stream: this.stream, event });
          real.seen = Math.max(real.seen, event.position ?? 0);
        }
      }
    }
    assertSame(this.toString(), want, got);
    if ("error" in want) await assertUnchanged(this.toString(), model, real, this.stream);
  }
  toString(): string {
    return `append(${this.stream}, ${canonical(this.events)}, expected ${canonical(this.expected)}, metadata ${canonical(this.metadata)})`;
  }
}

class ReadStream implements Cmd {
  constructor(
    readonly stream: number,
    readonly backward: boolean,
    readonly fromVersion: number | undefined,
    readonly maxCount: number | undefined,
  ) {}
  check = () => true as const;
  async run(model: Model, real: Real): Promise<void> {
    const options = {
      ...(this.backward ? { direction: "backward" as const } : {}),
      ...(this.fromVersion === undefined ? {} : { fromVersion: this.fromVersion }),
      ...(this.maxCount === undefined ? {} : { maxCount: this.maxCount }),
    };
    const got = await outcomeOf(async () =>
      (await collect(real.store.readStream(real.ids[this.stream] as string, options))).map((e) => shown(e, real.ids)),
    );
    let want: Outcome;
    if (this.fromVersion !== undefined && this.fromVersion < 1) want = ValidationFailed;
    else {
      const events = readable(model.streams[this.stream] as ModelStream);
      const from = this.fromVersion ?? (this.backward ? Number.POSITIVE_INFINITY : 1);
      const range = this.backward
        ? events.filter((e) => e.version <= from).reverse()
        : events.filter((e) => e.version >= from);
      want = { ok: range.slice(0, this.maxCount).map((e) => modelShown(this.stream, e)) };
    }
    assertSame(this.toString(), want, got);
  }
  toString(): string {
    return `readStream(${this.stream}, ${this.backward ? "backward" : "forward"}, from ${this.fromVersion}, max ${this.maxCount})`;
  }
}

class ReadAll implements Cmd {
  /**
   * `afterIndex` (modulo the run's feed entries + 1) 0 reads after the run's start, n after the position
   * of the run's nth feed entry (removed and hidden ones too) moved by `offset` (between two, before the first).
   */
  constructor(
    readonly afterIndex: number,
    readonly offset: -1 | 0 | 1,
    readonly maxCount: number | undefined,
  ) {}
  check = () => true as const;
  async run(model: Model, real: Real): Promise<void> {
    await untilFeedShows(real);
    const after = afterOf(model, real, this.afterIndex, this.offset);
    const options = { after, ...(this.maxCount === undefined ? {} : { maxCount: this.maxCount }) };
    const got = await outcomeOf(async () =>
      (await collect(real.store.readAll(options))).map((e) => feedShown(e, real.ids)),
    );
    const want = { ok: visibleAfter(model, after).slice(0, this.maxCount) };
    assertSame(`${this.toString()} (after position ${after})`, want, got);
  }
  toString(): string {
    return `readAll(after entry ${this.afterIndex} ${this.offset < 0 ? "-" : "+"} ${Math.abs(this.offset)}, max ${this.maxCount})`;
  }
}

/** The feed in commit order, its positions increasing: what follows `after` that a reader may see, as compared. */
function visibleAfter(model: Model, after: number) {
  return model.feed
    .filter((e) => {
      if (positionOf(e) <= after) return false;
      if (!("event" in e)) return true;
      const stream = model.streams[e.stream] as ModelStream;
      return stream.deleted === undefined && stream.events.includes(e.event);
    })
    .map((e) => ("event" in e ? modelShown(e.stream, e.event) : { lifecycle: e.lifecycle, position: e.position }));
}

/** The feed as compared: a lifecycle event with the run's index for the stream it names. */
function feedShown(event: EventEnvelope, ids: readonly string[]) {
  return event.streamId.startsWith("$")
    ? { lifecycle: feedLifecycle(event, ids), position: event.globalPosition }
    : shown(event, ids);
}

/** Waits until a store whose feed trails its appends (DynamoDB's commit log) shows the run's last result. */
async function untilFeedShows(real: Real): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await real.store.getLastGlobalPosition()) < real.seen && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Where a feed read starts: after the run's start, or after an entry's position moved by `offset`. */
function afterOf(model: Model, real: Real, index: number, offset: number): number {
  const entry = model.feed[(index % (model.feed.length + 1)) - 1];
  return Math.max(real.start, (entry === undefined ? real.start : positionOf(entry)) + offset);
}

function positionOf(entry: FeedEntry): number {
  return ("event" in entry ? entry.event.position : entry.position) ?? 0;
}

/** A lifecycle event as compared: the run's index for the stream it names. */
function feedLifecycle(event: EventEnvelope, ids: readonly string[]): ShownLifecycle {
  const data = event.data as { streamId: string };
  return { type: event.type, data: { ...data, streamId: ids.indexOf(data.streamId) }, metadata: event.metadata };
}

class Version implements Cmd {
  constructor(readonly stream: number) {}
  check = () => true as const;
  async run(model: Model, real: Real): Promise<void> {
    const s = model.streams[this.stream] as ModelStream;
    const id = real.ids[this.stream] as string;
    const got = await outcomeOf(async () => ({
      version: await real.store.getStreamVersion(id),
      exists: await real.store.streamExists(id),
      deletionEvent: (await real.store.streamDeletionEvent(id))?.id ?? null,
    }));
    // Soft: the version it had; hard: 0 (docs/core/stream-deletion.md).
    const version = s.deleted === "hard" ? 0 : s.version;
    const want = { ok: { version, exists: version > 0, deletionEvent: s.deletionEventId ?? null } };
    assertSame(this.toString(), want, got);
  }
  toString(): string {
    return `version(${this.stream})`;
  }
}

type ChangeKind = "soft" | "hard" | "restore" | "truncate";

class Change implements Cmd {
  constructor(
    readonly kind: ChangeKind,
    readonly stream: number,
    readonly expected: Expected,
    readonly before: number,
    readonly metadata: Record<string, unknown> | undefined,
    /** Run on a stream that never had events too (most are skipped there: a StreamNotFoundError says little). */
    readonly evenIfNew: boolean,
  ) {}
  check(model: Readonly<Model>): boolean {
    return this.evenIfNew || (model.streams[this.stream] as ModelStream).version > 0;
  }
  async run(model: Model, real: Real): Promise<void> {
    const s = model.streams[this.stream] as ModelStream;
    const id = real.ids[this.stream] as string;
    const expected = expectedOf(this.expected, s.version);
    const options = {
      ...(expected === undefined ? {} : { expectedVersion: expected }),
      ...(this.metadata === undefined ? {} : { metadata: this.metadata }),
    };
    const got = await outcomeOf(async () => {
      const result =
        this.kind === "restore"
          ? await real.store.restoreStream(id, options)
          : this.kind === "truncate"
            ? await real.store.truncateStream(id, { ...options, before: this.before })
            : await real.store.deleteStream(id, { ...options, mode: this.kind });
      const event = result.event;
      return {
        streamId: result.streamId === id,
        operation: result.operation,
        version: result.version,
        removed: result.removed,
        changed: result.changed,
        event:
          event === undefined
            ? null
            : { ...feedLifecycle(event, real.ids), id: event.id, position: event.globalPosition },
      };
    });
    const want = this.decide(s, expected, got);
    assertSame(this.toString(), want, got);
    if ("error" in want) await assertUnchanged(this.toString(), model, real, this.stream);
    else if ("ok" in got) this.apply(model, real, got.ok as { event: ShownChange | null });
  }

  /** docs/core/stream-deletion.md, "What each operation does" and the paragraph after it. */
  private decide(s: ModelStream, expected: ExpectedVersion | undefined, got: Outcome): Outcome {
    const operation = { soft: "soft-delete", hard: "hard-delete", restore: "restore", truncate: "truncate" }[this.kind];
    if (this.kind === "truncate" && !(this.before >= 1)) return ValidationFailed;
    if (isInvalid(this.expected)) return ValidationFailed;
    if (s.version === 0 && s.deleted === undefined) return refused("StreamNotFoundError", "STREAM_NOT_FOUND");
    if (!passes(expected, s.version)) return conflict(expected, s.version);
    const done = { ok: { streamId: true, operation, version: s.version, removed: 0, changed: false, event: null } };
    const answered = "ok" in got ? (got.ok as { event: ShownChange | null }).event : null;
    const changed = (type: string, data: Record<string, unknown>, removed: number) => ({
      ok: {
        ...done.ok,
        removed,
        changed: true,
        event: {
          type,
          data: { streamId: this.stream, ...data, removed },
          metadata: { ...this.metadata },
          id: answered?.id,
          position: answered?.position,
        },
      },
    });
    switch (this.kind) {
      case "soft":
        if (s.deleted !== undefined) return done;
        return changed(StreamLifecycleEventType.Deleted, { mode: "soft", version: s.version }, 0);
      case "hard":
        if (s.deleted === "hard") return done;
        return changed(StreamLifecycleEventType.Deleted, { mode: "hard", version: s.version }, s.events.length);
      case "restore":
        if (s.deleted === "hard") return refused("StreamDeletedError", "STREAM_DELETED", { mode: "hard" });
        if (s.deleted === undefined) return done;
        return changed(StreamLifecycleEventType.Restored, { version: s.version }, 0);
      case "truncate": {
        if (s.deleted !== undefined) return refused("StreamDeletedError", "STREAM_DELETED", { mode: s.deleted });
        if (this.before > s.version) return ValidationFailed;
        const removed = s.events.filter((e) => e.version < this.before).length;
        if (removed === 0) return done;
        return changed(StreamLifecycleEventType.Truncated, { version: s.version, before: this.before }, removed);
      }
    }
  }

  private apply(model: Model, real: Real, result: { event: ShownChange | null }): void {
    const s = model.streams[this.stream] as ModelStream;
    if (result.event === null) return;
    const { id, position, ...lifecycle } = result.event;
    if (this.kind === "soft" || this.kind === "hard") s.deletionEventId = id;
    if (this.kind === "soft") s.deleted = "soft";
    if (this.kind === "hard") {
      s.deleted = "hard";
      s.events = [];
    }
    if (this.kind === "restore") {
      s.deleted = undefined;
      s.deletionEventId = undefined;
    }
    if (this.kind === "truncate") s.events = s.events.filter((e) => e.version >= this.before);
    // As readAll must show it: what the change's result said, which decide() checked.
    model.feed.push({ lifecycle, position });
    real.seen = Math.max(real.seen, position ?? 0);
  }

  toString(): string {
    const what =
      this.kind === "truncate" ? `truncate(${this.stream}, before ${this.before}` : `${this.kind}(${this.stream}`;
    return `${what}, expected ${canonical(this.expected)}, metadata ${canonical(this.metadata)})`;
  }
}

type RetryVariant = "same" | "metadata" | "changed" | "extra";

/**
 * Re-sends a run of an earlier append's events (their ids) to its stream or another one. The docs
 * (docs/core/events.md, "Ids and idempotent appends"): every id stored in that stream, in order, is a
 * retry, answered with the stored events and `retried: true` whatever the expected version (metadata may
 * differ); ids reused any other way (another stream, some new, another type or data) are a
 * `ValidationError`. After a truncation or a hard delete (docs/core/stream-deletion.md, "Retries after
 * a removal"): a retry to a deleted stream is a `StreamDeletedError`; one whose run the truncation cut
 * in two (some ids removed, some still stored) is a `ValidationError`. A run wholly removed, sent to a
 * live stream, is a new append of those ids, which `Append` covers: not generated here.
 */
class Retry implements Cmd {
  constructor(
    readonly source: number,
    readonly target: number | "same",
    readonly from: number,
    readonly length: number,
    readonly variant: RetryVariant,
    readonly expected: Expected,
  ) {}
  check = () => true as const;
  async run(model: Model, real: Real): Promise<void> {
    const source = model.appends[this.source % Math.max(1, model.appends.length)];
    if (source === undefined) return; // nothing to retry yet
    const start = this.from % source.events.length;
    const retried = source.events.slice(start, start + this.length);
    const target = this.target === "same" ? source.stream : this.target;
    const t = model.streams[target] as ModelStream;
    // How many of the run a truncation or hard delete has not removed since.
    const kept = retried.filter((e) => (model.streams[source.stream] as ModelStream).events.includes(e)).length;
    // Wholly removed, to a live stream: a new append of those ids (see above).
    if (kept === 0 && t.deleted === undefined && !isInvalid(this.expected)) return;
    const events: NewEvent[] = retried.map((e, i) => ({
      id: e.id,
      type: e.type,
      data: this.variant === "changed" && i === 0 ? { changed: e.data } : e.data,
      ...(this.variant === "metadata" ? { metadata: { note: "retry" } } : {}),
    }));
    if (this.variant === "extra") events.push({ id: ulid(), type: "Opened", data: null });
    const expected = expectedOf(this.expected, t.version);
    const got = await outcomeOf(async () => {
      const result = await real.store.appendToStream(
        real.ids[target] as string,
        events,
        expected === undefined ? {} : { expectedVersion: expected },
      );
      return {
        streamId: result.streamId === real.ids[target],
        next: result.nextExpectedVersion,
        events: result.events.map((e) => shown(e, real.ids)),
        retried: result.retried ?? false,
      };
    });
    let want: Outcome;
    if (isInvalid(this.expected)) want = ValidationFailed;
    else if (t.deleted !== undefined) want = refused("StreamDeletedError", "STREAM_DELETED", { mode: t.deleted });
    else if (
      target !== source.stream ||
      this.variant === "extra" ||
      this.variant === "changed" ||
      kept < retried.length
    )
      want = ValidationFailed;
    else {
      const next = (retried.at(-1) as ModelEvent).version;
      want = { ok: { streamId: true, next, events: retried.map((e) => modelShown(target, e)), retried: true } };
    }
    assertSame(this.toString(), want, got);
    // Written nowhere: neither in the stream retried to nor in the one the events are in.
    await assertUnchanged(this.toString(), model, real, target);
    await assertUnchanged(this.toString(), model, real, source.stream);
  }
  toString(): string {
    const to = this.target === "same" ? "its stream" : `stream ${this.target}`;
    return `retry(append ${this.source}, events ${this.from}+${this.length}, to ${to}, ${this.variant}, expected ${canonical(this.expected)})`;
  }
}

/**
 * A truncation that cuts an earlier append in two (before its last event), then a retry of that whole
 * append: the case `Retry` rarely meets by chance. Each step is checked as `Change` and `Retry` check it.
 */
class RetryAcrossCut implements Cmd {
  constructor(
    readonly source: number,
    readonly expected: Expected,
  ) {}
  check = () => true as const;
  async run(model: Model, real: Real): Promise<void> {
    const index = this.source % Math.max(1, model.appends.length);
    const source = model.appends[index];
    const s = source === undefined ? undefined : model.streams[source.stream];
    if (source === undefined || s === undefined || source.events.length < 2 || s.deleted !== undefined) return;
    if (!source.events.every((e) => s.events.includes(e))) return;
    const last = source.events.at(-1) as ModelEvent;
    await new Change("truncate", source.stream, "default", last.version, undefined, false).run(model, real);
    await new Retry(index, "same", 0, source.events.length, "same", this.expected).run(model, real);
  }
  toString(): string {
    return `retryAcrossCut(append ${this.source}, expected ${canonical(this.expected)})`;
  }
}

/**
 * `subscribeToAll` after a position, `batchSize` events a read: it must hand the handler what
 * `readAll` yields there (hidden and removed events passed by). Stopped once it has passed the last.
 */
class Subscribe implements Cmd {
  constructor(
    readonly afterIndex: number,
    readonly batchSize: number,
  ) {}
  check = () => true as const;
  async run(model: Model, real: Real): Promise<void> {
    await untilFeedShows(real);
    const after = afterOf(model, real, this.afterIndex, 0);
    const want = visibleAfter(model, after);
    const last = want.at(-1)?.position;
    // Nothing to hand over: there is no moment at which the subscription has surely read it all.
    if (last === undefined) return;
    const handled: unknown[] = [];
    const errors: unknown[] = [];
    const subscription = real.store.subscribeToAll({
      after,
      batchSize: this.batchSize,
      pollIntervalMs: 20,
      handler: (event) => {
        handled.push(feedShown(event, real.ids));
      },
      onError: (error) => errors.push(error),
    });
    try {
      const deadline = Date.now() + 10_000;
      while (subscription.position < last && errors.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await subscription.stop();
    }
    if (errors.length > 0) throw new Error(`${this.toString()}: onError was told ${String(errors[0])}`);
    assertSame(`${this.toString()} (after position ${after})`, { ok: want }, { ok: handled });
  }
  toString(): string {
    return `subscribeToAll(after entry ${this.afterIndex}, batchSize ${this.batchSize})`;
  }
}

/** Goes on through the other store instance. */
class Switch implements Cmd {
  check = () => true as const;
  async run(_model: Model, real: Real): Promise<void> {
    real.store = real.stores[(real.stores.indexOf(real.store) + 1) % real.stores.length] as EventStore;
  }
  toString(): string {
    return "switch()";
  }
}

/** `getHeadPosition`: the newest committed event's position, the run's last feed entry once it has one. */
class Head implements Cmd {
  check = () => true as const;
  async run(model: Model, real: Real): Promise<void> {
    const last = model.feed.at(-1);
    const want = last === undefined ? real.start : "event" in last ? last.event.position : last.position;
    assertSame(this.toString(), { ok: want }, await outcomeOf(() => real.store.getHeadPosition()));
  }
  toString(): string {
    return "head()";
  }
}

export interface ModelCheckOptions {
  /** Makes the store under test; called once per run. */
  readonly create: () => EventStore | Promise<EventStore>;
  /** Runs; defaults to 30. */
  readonly numRuns?: number;
  /** Commands per run, at most; defaults to 25. */
  readonly maxCommands?: number;
  readonly seed?: number;
}

function commands(capabilities: EventStore["capabilities"], maxCommands: number): fc.Arbitrary<Iterable<Cmd>> {
  const stream = fc.nat({ max: STREAMS - 1 });
  // Mostly ones that pass, so that streams grow; every kind of refusal too.
  const expected: fc.Arbitrary<Expected> = fc.oneof(
    { arbitrary: fc.constantFrom("default" as const, "any" as const), weight: 4 },
    { arbitrary: fc.constant({ offset: 0 as const }), weight: 4 },
    { arbitrary: fc.constantFrom("no-stream" as const, "stream-exists" as const), weight: 2 },
    { arbitrary: fc.constantFrom(-1 as const, 1 as const).map((offset) => ({ offset })), weight: 1 },
    { arbitrary: fc.constantFrom(-1, 1.5, "latest").map((invalid) => ({ invalid })), weight: 1 },
  );
  const metadata = fc.option(
    fc.dictionary(fc.constantFrom("correlationId", "tenant", "note"), fc.string({ maxLength: 6 }), { maxKeys: 2 }),
    { nil: undefined },
  );
  const data = fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);
  const event = fc.record(
    {
      type: fc.constantFrom("Opened", "Changed", "Closed.v2"),
      data,
      metadata: metadata.filter((m) => m !== undefined),
      // An event's own time (a copy, an import) is kept, in UTC.
      timestamp: fc.constantFrom("2019-03-04T05:06:07.089Z", "2018-01-01T00:00:00+02:00"),
    },
    { requiredKeys: ["type", "data"] },
  );
  const small = fc.option(fc.nat({ max: 14 }), { nil: undefined });
  // Weighted so that streams grow: mostly appends that store events, each other command now and then.
  const list: fc.WeightedArbitrary<Cmd>[] = [
    {
      arbitrary: fc
        .tuple(stream, fc.array(event, { minLength: 1, maxLength: 3 }), expected, metadata)
        .map(([s, events, e, m]) => new Append(s, events, e, m)),
      weight: 6,
    },
    {
      arbitrary: fc
        .tuple(stream, fc.array(event, { maxLength: 1 }), expected, metadata)
        .map(([s, events, e, m]) => new Append(s, events, e, m)),
      weight: 1,
    },
    {
      // Longer streams: reads cross the stores' pages.
      arbitrary: fc
        .tuple(stream, fc.array(event, { minLength: 4, maxLength: 12 }), expected, metadata)
        .map(([s, events, e, m]) => new Append(s, events, e, m)),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(stream, fc.boolean(), small, small)
        .map(([s, b, from, max]) => new ReadStream(s, b, from, max)),
      weight: 3,
    },
    { arbitrary: stream.map((s) => new Version(s)), weight: 1 },
    { arbitrary: fc.constant(new Switch()), weight: 1 },
  ];
  if (capabilities.idempotentAppends) {
    const retry = fc
      .record({
        source: fc.nat({ max: 5 }),
        target: fc.oneof({ arbitrary: fc.constant("same" as const), weight: 3 }, stream),
        from: fc.nat({ max: 2 }),
        length: fc.integer({ min: 1, max: 3 }),
        variant: fc.constantFrom<RetryVariant>("same", "metadata", "changed", "extra"),
        expected,
      })
      .map((r) => new Retry(r.source, r.target, r.from, r.length, r.variant, r.expected));
    list.push({ arbitrary: retry, weight: 2 });
    if (capabilities.streamDeletion === true) {
      const cut = fc.tuple(fc.nat({ max: 5 }), expected).map(([source, e]) => new RetryAcrossCut(source, e));
      list.push({ arbitrary: cut, weight: 1 });
    }
  }
  if (capabilities.globalOrder) {
    const readAll = fc
      .tuple(fc.nat({ max: 30 }), fc.constantFrom(-1 as const, 0 as const, 0 as const, 1 as const), small)
      .map(([after, offset, max]) => new ReadAll(after, offset, max));
    const subscribe = fc
      .tuple(fc.nat({ max: 30 }), fc.integer({ min: 1, max: 3 }))
      .map(([after, batchSize]) => new Subscribe(after, batchSize));
    list.push(
      { arbitrary: readAll, weight: 3 },
      { arbitrary: subscribe, weight: 1 },
      { arbitrary: fc.constant(new Head()), weight: 1 },
    );
  }
  if (capabilities.streamDeletion === true) {
    const change = fc
      .tuple(
        fc.constantFrom<ChangeKind>("soft", "hard", "restore", "truncate"),
        stream,
        expected,
        fc.nat({ max: 14 }),
        metadata,
        fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, fc.constant(true)),
      )
      .map(([kind, s, e, before, m, evenIfNew]) => new Change(kind, s, e, before, m, evenIfNew));
    list.push({ arbitrary: change, weight: 4 });
  }
  return fc.commands([fc.oneof(...list)], { maxCommands, size: "max" });
}

/** Runs generated command sequences on `create()`'s store and the model; throws fast-check's report at the first difference. */
export async function checkEventStoreModel(options: ModelCheckOptions): Promise<void> {
  const { capabilities } = await options.create();
  await fc.assert(
    fc.asyncProperty(commands(capabilities, options.maxCommands ?? 25), async (cmds) => {
      const stores = [await options.create(), await options.create()];
      const store = stores[0] as EventStore;
      const run = ulid();
      // The newest committed position: PostgreSQL's getLastGlobalPosition stops below any transaction in
      // flight on the server (another test's), which can be below the last run's events.
      const start = store.capabilities.globalOrder ? await store.getHeadPosition() : 0;
      const model: Model = {
        streams: Array.from({ length: STREAMS }, () => ({
          events: [],
          version: 0,
          deleted: undefined,
          deletionEventId: undefined,
        })),
        feed: [],
        appends: [],
      };
      const real: Real = {
        stores,
        store,
        ids: Array.from({ length: STREAMS }, (_, i) => `Model_${run}-${i}`),
        start,
        seen: start,
      };
      await fc.asyncModelRun(() => ({ model, real }), cmds);
    }),
    { numRuns: options.numRuns ?? 30, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}
