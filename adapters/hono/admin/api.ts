/**
 * The operations UI's JSON API: what each route reads or does, given the request's store,
 * projections and saga runtime. Reads are bounded pages; the two actions (replay, resume) are the
 * core's own operations (`replay()`, `SagaRuntime.resume`), nothing re-implemented here.
 */
import {
  categoryOf,
  type EventEnvelope,
  type EventStore,
  isTenantIsolationError,
  MAX_RECORDED_WRITES,
  type ReadModelStore,
  type RecordedWrite,
  replay,
  type SagaRecord,
  type SagaRuntime,
  StreamNotFoundError,
  ValidationError,
} from "../../../src/index.js";
import { AdminNotFoundError } from "./errors.js";
import { countEvents, pageStartBefore } from "./feed-window.js";
import type { AdminProjection } from "./options.js";
import {
  bodyBoolean,
  bodyInteger,
  bodyText,
  integerParam,
  MAX_PAGE,
  objectBody,
  singleParam,
  streamIdOf,
  streamIdParam,
} from "./params.js";
import { type EventSummary, summary, traceOf } from "./views.js";

/** How many of the newest events the streams list looks at. */
export const STREAM_SCAN = 1000;
/** The most events one replay from the UI may cover: longer ones belong in a job (`replay()`). */
export const MAX_REPLAY_EVENTS = 10_000;
/** The most changed documents a dry run shows, each with its current and replayed content. */
export const MAX_SHOWN_CHANGES = 50;

export interface FeedPage {
  readonly head: number;
  /** The page starts after this position. */
  readonly after: number;
  readonly events: readonly EventSummary[];
  /** Read on after this position for the next page; absent when this page reached the head. */
  readonly next?: number;
  /** The page before: read after `previous` up to `after`; absent on the first page. */
  readonly previous?: number;
}

/**
 * A page of the global feed: up to `limit` events after `after` (the newest page without it), and no
 * further than `to` when given (the page before another one ends where that one starts).
 */
export async function feed(store: EventStore, params: URLSearchParams): Promise<FeedPage> {
  const limit = integerParam(params, "limit", 1, MAX_PAGE) ?? 50;
  const given = integerParam(params, "after", 0);
  const to = integerParam(params, "to", 0);
  const head = await store.getLastGlobalPosition();
  const end = Math.min(to ?? head, head);
  const after = given ?? (await pageStartBefore(store, head, limit));
  const events: EventSummary[] = [];
  for await (const event of store.readAll({ after, maxCount: limit })) {
    if ((event.globalPosition ?? 0) > end) break;
    events.push(summary(event));
  }
  // Where this page stopped reading: its last event when full, else the end it was bounded by.
  const reached = events.length === limit ? (events[events.length - 1]?.globalPosition ?? after) : Math.max(end, after);
  const page: FeedPage = { head, after, events };
  const next = reached < head ? { next: reached } : {};
  const previous = after > 0 ? { previous: await pageStartBefore(store, after, limit) } : {};
  return { ...page, ...next, ...previous };
}

export interface StreamListing {
  readonly streamId: string;
  readonly category: string;
  /** The stream's version: its newest event is in the scanned window, so this is its current one. */
  readonly version: number;
  readonly lastType: string;
  readonly lastTimestamp: string;
}

/**
 * The streams written to among the newest {@link STREAM_SCAN} events of the feed, most recent first. The
 * event store port has no list of all streams: older streams are found by id (`/api/stream`).
 */
export async function streams(store: EventStore, params: URLSearchParams) {
  const limit = integerParam(params, "limit", 1, MAX_PAGE) ?? 100;
  const prefix = singleParam(params, "prefix") ?? "";
  if (prefix.length > 1000)
    throw new ValidationError("Invalid prefix", [
      { path: ["prefix"], message: "prefix is longer than 1000 characters" },
    ]);
  const head = await store.getLastGlobalPosition();
  const found = new Map<string, StreamListing>();
  const after = await pageStartBefore(store, head, STREAM_SCAN);
  for await (const event of store.readAll({ after, maxCount: STREAM_SCAN })) {
    if (!event.streamId.startsWith(prefix)) continue;
    found.delete(event.streamId);
    found.set(event.streamId, {
      streamId: event.streamId,
      category: categoryOf(event.streamId),
      version: event.version,
      lastType: event.type,
      lastTimestamp: event.timestamp,
    });
  }
  // The map is in order of each stream's newest event: newest last.
  return { scanned: STREAM_SCAN, streams: [...found.values()].reverse().slice(0, limit) };
}

/** A page of one stream, in version order from `from`. */
export async function stream(store: EventStore, params: URLSearchParams) {
  const id = streamIdParam(params, "id");
  const from = integerParam(params, "from", 1) ?? 1;
  const limit = integerParam(params, "limit", 1, MAX_PAGE) ?? 50;
  let version: number;
  try {
    version = await store.getStreamVersion(id);
  } catch (error) {
    // Another tenant's stream on a shared table: its version is refused as its events are.
    throw asMissing(error, () => new StreamNotFoundError(id, { cause: error }));
  }
  if (version === 0) throw new StreamNotFoundError(id);
  const events: EventSummary[] = [];
  try {
    for await (const event of store.readStream(id, { fromVersion: from, maxCount: limit })) events.push(summary(event));
  } catch (error) {
    throw asMissing(error, () => new StreamNotFoundError(id, { cause: error }));
  }
  // A soft-deleted stream keeps its version but reads as empty: 404, as a hard-deleted one (version 0) does.
  if (events.length === 0 && (await isHidden(store, id))) throw new StreamNotFoundError(id);
  const last = events[events.length - 1]?.version ?? from - 1;
  return {
    streamId: id,
    version,
    from,
    events,
    ...(last < version && events.length === limit ? { next: last + 1 } : {}),
  };
}

async function isHidden(store: EventStore, id: string): Promise<boolean> {
  for await (const _ of store.readStream(id, { direction: "backward", maxCount: 1 })) return false;
  return true;
}

/** One event, whole (envelope, data, metadata), with the trace its metadata names. */
export async function event(store: EventStore, params: URLSearchParams, traceUrl: string | undefined) {
  const id = streamIdParam(params, "stream");
  const version = integerParam(params, "version", 1);
  if (version === undefined)
    throw new ValidationError("Invalid version", [{ path: ["version"], message: "version is required" }]);
  let found: EventEnvelope | undefined;
  try {
    for await (const candidate of store.readStream(id, { fromVersion: version, maxCount: 1 })) {
      if (candidate.version === version) found = candidate;
    }
  } catch (error) {
    throw asMissing(error, () => new AdminNotFoundError("event", `${id} version ${version}`, { cause: error }));
  }
  if (found === undefined) throw new AdminNotFoundError("event", `${id} version ${version}`);
  const trace = traceOf(found, traceUrl);
  return trace === undefined ? { event: found } : { event: found, trace };
}

/**
 * With tenancy, a stream id of another tenant on a shared table reads as that tenant's events, which
 * the tenant's store refuses: answered exactly as a missing stream or event is (the isolation error
 * kept as the cause, for `onError`), so a crafted id tells nothing about other tenants.
 */
function asMissing(error: unknown, missing: () => Error): unknown {
  return isTenantIsolationError(error) ? missing() : error;
}

/** Every projection with its checkpoint, the head of the feed, the lag, and how its runner is doing here. */
export async function projections(list: readonly AdminProjection[]) {
  const rows = await Promise.all(
    list.map(async ({ runner }) => {
      const lag = await runner.lag();
      const { projection } = runner;
      return {
        name: projection.name,
        position: lag.position,
        head: lag.head,
        behind: lag.behind,
        running: runner.running,
        active: runner.active,
        stateful: projection.stateful,
        ...(runner.failure === undefined ? {} : { failure: runner.failure.message }),
        filters: { streams: projection.streams, categories: projection.categories, types: projection.types },
      };
    }),
  );
  return { projections: rows };
}

export interface DocumentChange {
  readonly collection: string;
  readonly id: string;
  /** The document now (undefined: none). */
  readonly before: unknown;
  /** The document after the replay; undefined with `deleted`. */
  readonly after: unknown;
  readonly deleted: boolean;
}

/**
 * Replays one stream or a range of the feed into a projection's read models: a dry run (`dryRun:
 * true`) shows each document the replay would change, now and after; `dryRun: false` writes. The
 * projection's checkpoint never moves. Stateful projections are refused: their state belongs to
 * the runner's position, and a rebuild is the tool for them.
 */
export async function replayInto(store: EventStore, list: readonly AdminProjection[], input: unknown) {
  const body = objectBody(input, ["projection", "stream", "after", "to", "dryRun"]);
  const name = bodyText(body, "projection", true);
  const streamId = body.stream === undefined ? undefined : streamIdOf(body.stream, "stream");
  const after = bodyInteger(body, "after") ?? 0;
  const to = bodyInteger(body, "to");
  const dryRun = bodyBoolean(body, "dryRun");
  const target = list.find((candidate) => candidate.runner.projection.name === name);
  if (target === undefined) throw new AdminNotFoundError("projection", name);
  const { projection } = target.runner;
  if (projection.stateful) {
    throw new ValidationError("A stateful projection cannot be replayed here", [
      { path: ["projection"], message: "its state follows its checkpoint: rebuild it instead" },
    ]);
  }
  // Without a `to`, the head: an `after` past it replays nothing (replay refuses only a `to` below `after`).
  const end =
    to ??
    Math.max(
      after,
      streamId === undefined ? await store.getLastGlobalPosition() : await store.getStreamVersion(streamId),
    );
  // A stream's events are its versions up to its own: a `to` past them is no more events (a 20,000 on a
  // one-event stream was refused as too long).
  const span =
    streamId === undefined
      ? await countEvents(store, after, end, MAX_REPLAY_EVENTS + 1)
      : Math.min(end, await store.getStreamVersion(streamId)) - after;
  if (span > MAX_REPLAY_EVENTS) {
    throw new ValidationError("Replay range too long", [
      { path: ["to"], message: `replay at most ${MAX_REPLAY_EVENTS} events here; use replay() in a job for more` },
    ]);
  }
  // The events the projection takes: replay's own count is of its handler's calls, every event read.
  let matched = 0;
  const result = await replay({
    eventStore: store,
    ...(streamId === undefined ? {} : { stream: streamId }),
    after,
    to: end,
    dryRun,
    readModels: target.readModels,
    handle: async (event, context) => {
      if (!projection.matches(event)) return;
      matched++;
      await projection.handle(event, { readModels: context.readModels, state: undefined });
    },
  });
  const changes = dryRun ? await changesOf(result.recorded, target.readModels) : { shown: [], truncated: false };
  return {
    dryRun,
    read: result.read,
    handled: matched,
    position: result.position,
    writes: result.writes,
    changes: changes.shown,
    truncated: changes.truncated,
  };
}

/** The recorded writes folded to the last per document, the first few with what is stored now. */
async function changesOf(recorded: readonly RecordedWrite[], readModels: ReadModelStore) {
  const last = new Map<string, RecordedWrite>();
  for (const write of recorded) last.set(JSON.stringify([write.collection, write.id]), write);
  const writes = [...last.values()];
  const shown = await Promise.all(
    writes.slice(0, MAX_SHOWN_CHANGES).map(
      async (write): Promise<DocumentChange> => ({
        collection: write.collection,
        id: write.id,
        before: await readModels.get(write.collection, write.id),
        after: write.document,
        deleted: write.document === undefined,
      }),
    ),
  );
  return { shown, truncated: writes.length > MAX_SHOWN_CHANGES || recorded.length >= MAX_RECORDED_WRITES };
}

/** Instances parked in `needs-attention` and the recorded step failures (the store's first 100 of each). */
export async function sagas(runtime: SagaRuntime | undefined) {
  if (runtime === undefined) return { enabled: false, attention: [], failures: [] };
  const [attention, failures] = await Promise.all([runtime.needsAttention(), runtime.failures()]);
  return { enabled: true, attention: attention.map(instance), failures };
}

/** Takes a parked instance out of `needs-attention` and dispatches its outbox again. */
export async function resume(runtime: SagaRuntime | undefined, input: unknown) {
  const body = objectBody(input, ["saga", "key"]);
  const saga = bodyText(body, "saga", true);
  const key = bodyText(body, "key", true);
  if (runtime === undefined) throw new AdminNotFoundError("saga runtime for", saga);
  return instance(await runtime.resume(saga, key));
}

function instance(record: SagaRecord) {
  return {
    saga: record.saga,
    key: record.key,
    status: record.status,
    version: record.version,
    outbox: record.outbox.length,
    ...(record.attention === undefined ? {} : { attention: record.attention }),
  };
}
