import type { CheckpointStore } from "../checkpoint/checkpoint-store.js";
import {
  type Issue,
  isConcurrencyError,
  isPayloadTooLargeError,
  isValidationError,
  ValidationError,
} from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { EventMetadata } from "../events/envelope.js";
import { kindOf, UNREADABLE, unknownKeyIssues } from "../internal/validate.js";
import { type Progress, ProgressMeter, progressOptionIssues, throwIfAborted } from "../projections/progress.js";
import { ImportConflictError } from "./errors.js";
import type { ImportEventsResult, ImportedEvent, ImportSource } from "./types.js";

export interface ImportEventsOptions {
  readonly source: ImportSource;
  /** Any EventFlows event store: PostgreSQL, DynamoDB, SQLite, in memory. */
  readonly target: EventStore;
  /** Where the import's checkpoint is kept (the target's own checkpoint store, usually). */
  readonly checkpoints: CheckpointStore;
  /** The checkpoint's id; defaults to `import:<source name>`. */
  readonly checkpointId?: string;
  /** Source events read per batch; the checkpoint is saved after each. 1 to 10,000; defaults to 1,000. */
  readonly batchSize?: number;
  /** Streams of one batch appended at the same time, 1 to 64; defaults to 8. */
  readonly concurrency?: number;
  /** Forget the checkpoint and read the source from its beginning (events stored already are still skipped). */
  readonly restart?: boolean;
  /** Stops the import after the batch in hand (an `AbortedError`); the checkpoint lets the next run resume. */
  readonly signal?: AbortSignal;
  /** Called after every batch, with positions in the source's units. */
  readonly onProgress?: (progress: Progress) => void;
}

/**
 * Moves a source's events into an EventFlows store, stream by stream, keeping stream ids, versions,
 * types, data, metadata and times. Each batch's events are grouped by stream and appended with the
 * version they had at the source as the expected version, so the order within a stream is kept
 * exactly; streams of one batch are appended side by side, so the target's global order follows the
 * source's batch by batch, not event by event. A stream's part that the target refuses as too large
 * (`PayloadTooLargeError`, e.g. over DynamoDB's 4 MB a transaction) is appended in halves. The
 * checkpoint is saved once a batch is stored: an interrupted run resumes after the last whole batch,
 * and events a run finds stored already (same ids at the same versions) are counted as skipped,
 * never written twice. An event whose metadata
 * names no `schemaVersion` is stored at version 1, so a target's `eventRegistry` upcasts it on read.
 * @throws {ImportConflictError} a target stream holds other events, or is behind the source.
 * @throws {AbortedError} `signal` fired; what committed stays, the next run resumes.
 * @throws {ValidationError} bad options; nothing was read or written.
 */
export async function importEvents(options: ImportEventsOptions): Promise<ImportEventsResult> {
  const issues = importIssues(options);
  if (issues.length > 0) throw new ValidationError("Invalid import", issues);
  const { source, target, checkpoints, signal } = options;
  const batchSize = bounded(options.batchSize ?? 1000, 1, 10_000, "batchSize");
  const concurrency = bounded(options.concurrency ?? 8, 1, 64, "concurrency");
  const checkpointId = options.checkpointId ?? `import:${source.name}`;
  if (options.restart === true) await checkpoints.delete(checkpointId);
  const from = (await checkpoints.load(checkpointId)) ?? 0;
  const meter = new ProgressMeter(from, await source.head());
  const started = Date.now();
  const streams = new Set<string>();
  const counts = { read: 0, imported: 0, skipped: 0 };
  let position = from;
  throwIfAborted(signal, "import");
  for await (const batch of source.batches(from, batchSize, signal)) {
    throwIfAborted(signal, "import");
    const groups = byStream(batch.events);
    await eachLimited([...groups.values()], concurrency, async (events) => {
      const stored = await importStream(target, events);
      counts.imported += stored.imported;
      counts.skipped += stored.skipped;
    });
    for (const streamId of groups.keys()) streams.add(streamId);
    counts.read += batch.events.length;
    if (batch.position !== position) await checkpoints.store(checkpointId, batch.position);
    position = batch.position;
    meter.advance(batch.events.length, position);
    if (meter.pastHead) meter.head = await source.head();
    options.onProgress?.(meter.report());
  }
  return { ...counts, streams: streams.size, position, elapsedMs: Date.now() - started };
}

/**
 * A batch's events by stream, in the order each stream's first event came, each stream's sorted by
 * version (a source's global order need not follow versions within one transaction: Emmett's does not).
 */
function byStream(events: readonly ImportedEvent[]): Map<string, ImportedEvent[]> {
  const groups = new Map<string, ImportedEvent[]>();
  for (const event of events) {
    // The version becomes the expected version of an append: 0, 1.5 or "2" would be a store's
    // complaint about some other option, or a conflict that is not one.
    if (typeof event?.version !== "number" || !Number.isSafeInteger(event.version) || event.version < 1) {
      throw new ValidationError("Invalid source event", [
        {
          path: ["version"],
          message: `event ${event?.id} of stream "${event?.streamId}" has version ${kindOf(event?.version)}: a source's versions are integers from 1`,
        },
      ]);
    }
    const group = groups.get(event.streamId);
    if (group === undefined) groups.set(event.streamId, [event]);
    else group.push(event);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => a.version - b.version);
    for (let i = 1; i < group.length; i++) {
      const [before, event] = [group[i - 1] as ImportedEvent, group[i] as ImportedEvent];
      if (event.version !== before.version + 1) {
        throw new ImportConflictError(
          event.streamId,
          event.version,
          `the source's batch holds version ${event.version} next to ${before.version}: a stream's versions must follow each other`,
        );
      }
    }
  }
  return groups;
}

/** Appends one stream's events of a batch, in appends the target can take atomically. */
async function importStream(
  target: EventStore,
  events: readonly ImportedEvent[],
): Promise<{ imported: number; skipped: number }> {
  const max = target.capabilities.maxEventsPerAppend ?? events.length;
  const totals = { imported: 0, skipped: 0 };
  for (let i = 0; i < events.length; i += max) {
    const stored = await appendChunk(target, events.slice(i, i + max));
    totals.imported += stored.imported;
    totals.skipped += stored.skipped;
  }
  return totals;
}

async function appendChunk(
  target: EventStore,
  events: readonly ImportedEvent[],
): Promise<{ imported: number; skipped: number }> {
  const first = events[0];
  if (first === undefined) return { imported: 0, skipped: 0 };
  const { streamId } = first;
  let actual: number;
  try {
    const result = await target.appendToStream(
      streamId,
      events.map(({ id, type, data, metadata, timestamp }) => ({
        id,
        type,
        data,
        metadata: atVersion(metadata),
        timestamp,
      })),
      { expectedVersion: first.version - 1 },
    );
    return result.retried === true ? { imported: 0, skipped: events.length } : { imported: events.length, skipped: 0 };
  } catch (error) {
    // A limit in bytes (DynamoDB's 4 MB a transaction) is no capability a store states, and the source's
    // events were stored one by one: refused before anything is written, the halves go one after the other.
    if (isPayloadTooLargeError(error) && events.length > 1) return appendHalves(target, events);
    if (isConcurrencyError(error)) actual = error.actualVersion;
    // Stores with idempotent appends refuse a batch of which only some ids are stored: the part
    // an earlier run committed before it stopped (an append larger than the target's atomic limit).
    else if (isValidationError(error)) {
      actual = await streamVersion(target, streamId);
      if (actual === first.version - 1) throw refusedAt(error, streamId, first.version);
    } else throw error;
  }
  if (actual < first.version - 1) {
    throw new ImportConflictError(
      streamId,
      first.version,
      `the target stream is at version ${actual}: the source's events before version ${first.version} are not in it (imported elsewhere, or the checkpoint is ahead of the target)`,
    );
  }
  // Some or all of these are in the target already: an earlier run stored them, or another writer did.
  const overlap = Math.min(actual - first.version + 1, events.length);
  let i = 0;
  for await (const stored of target.readStream(streamId, {
    fromVersion: first.version,
    maxCount: overlap,
    raw: true,
  })) {
    const expected = events[i];
    if (expected === undefined) break;
    if (stored.id !== expected.id) {
      throw new ImportConflictError(
        streamId,
        stored.version,
        "the target stream holds another event at this version (not one this import stored)",
      );
    }
    i++;
  }
  const rest = await appendChunk(target, events.slice(overlap));
  return { imported: rest.imported, skipped: rest.skipped + overlap };
}

/**
 * The target's refusal of a stream's events (metadata of the source's that it does not take, say), with the
 * stream named and each issue's event index made its version: an index into one append of a batch was no
 * way to find the event at the source.
 */
function refusedAt(error: ValidationError, streamId: string, firstVersion: number): ValidationError {
  const issues = error.issues.map(({ path, ...issue }) => {
    const [index, ...rest] = path;
    return { ...issue, path: typeof index === "number" ? [firstVersion + index, ...rest] : path };
  });
  return new ValidationError(
    `Cannot import stream "${streamId}": the target refuses its events at these versions`,
    issues,
    {
      cause: error,
    },
  );
}

async function appendHalves(
  target: EventStore,
  events: readonly ImportedEvent[],
): Promise<{ imported: number; skipped: number }> {
  const half = Math.ceil(events.length / 2);
  const first = await appendChunk(target, events.slice(0, half));
  const second = await appendChunk(target, events.slice(half));
  return { imported: first.imported + second.imported, skipped: first.skipped + second.skipped };
}

/**
 * A source event's metadata with `schemaVersion: 1` when it names none: what the source stored is its
 * type's first schema version, and a target with an `eventRegistry` would otherwise stamp it with the
 * type's current version (and check it against that version's schema) instead of upcasting it on read.
 */
function atVersion(metadata: EventMetadata): EventMetadata {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return metadata;
  if (metadata.schemaVersion !== undefined) return metadata;
  return { ...metadata, schemaVersion: 1 };
}

async function streamVersion(target: EventStore, streamId: string): Promise<number> {
  for await (const last of target.readStream(streamId, { direction: "backward", maxCount: 1, raw: true })) {
    return last.version;
  }
  return 0;
}

/** Runs `work` over `items`, at most `limit` at a time; the first failure is thrown once all have settled. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

const IMPORT_OPTIONS = [
  "source",
  "target",
  "checkpoints",
  "checkpointId",
  "batchSize",
  "concurrency",
  "restart",
  "signal",
  "onProgress",
] as const satisfies readonly (keyof ImportEventsOptions)[];

/**
 * What is wrong with the options, checked before the source is read: a missing source or store was a
 * TypeError from deep inside the run, and a misspelt key (`restrat`) was dropped for its default.
 */
function importIssues(options: ImportEventsOptions): Issue[] {
  if (typeof options !== "object" || options === null) {
    return [{ path: [], message: `options are required, got ${kindOf(options)}` }];
  }
  const issues = unknownKeyIssues(options, IMPORT_OPTIONS);
  // Keys a Proxy trap refused to list: its fields would throw the caller's own error next.
  if (issues.some((issue) => issue.message === UNREADABLE)) return issues;
  const { source, target, checkpoints } = options as Partial<ImportEventsOptions>;
  if (typeof source?.name !== "string" || typeof source.batches !== "function" || typeof source.head !== "function") {
    issues.push({ path: ["source"], message: "source must be an ImportSource: { name, batches, head }" });
  }
  if (typeof target?.appendToStream !== "function" || typeof target.readStream !== "function") {
    issues.push({ path: ["target"], message: "target must be an EventStore" });
  }
  if (
    typeof checkpoints?.load !== "function" ||
    typeof checkpoints.store !== "function" ||
    typeof checkpoints.delete !== "function"
  ) {
    issues.push({ path: ["checkpoints"], message: "checkpoints must be a CheckpointStore" });
  }
  if (options.checkpointId !== undefined && typeof options.checkpointId !== "string") {
    issues.push({
      path: ["checkpointId"],
      message: `checkpointId must be a string, got ${kindOf(options.checkpointId)}`,
    });
  }
  if (options.restart !== undefined && typeof options.restart !== "boolean") {
    issues.push({ path: ["restart"], message: `restart must be true or false, got ${kindOf(options.restart)}` });
  }
  issues.push(...progressOptionIssues(options));
  return issues;
}

function bounded(value: number, min: number, max: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValidationError(`Invalid ${name}`, [
      { path: [name], message: `${name} must be an integer from ${min} to ${max}` },
    ]);
  }
  return value;
}
