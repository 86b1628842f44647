import { EventFlowsError, type Issue, ValidationError } from "../errors.js";
import { isUlid, ulid, ulidAt } from "../ids.js";
import { parseIsoTime } from "../internal/iso-time.js";
import { changedByJson, isFlatJson, type JsonIssuesOptions, jsonIssues, jsonRoundTrip } from "../internal/json.js";
import { isName, MAX_TYPE_LENGTH, nameIssues } from "../internal/validate.js";

/**
 * Metadata carried by every event. The named fields are understood by EventFlows; any other
 * JSON field is the application's own and is stored and returned unchanged.
 */
export interface EventMetadata {
  /** Groups everything caused by one user request or process. Undefined is the same as absent. */
  readonly correlationId?: string | undefined;
  /** The id of the command or event that directly caused this event. Undefined is the same as absent. */
  readonly causationId?: string | undefined;
  /** The version of this event type's data shape, for upcasting. */
  readonly schemaVersion?: number;
  /** W3C trace context. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly [key: string]: unknown;
}

/** A domain event as the domain raises it: a type and its data. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

/** An event on its way into a store. `id` is generated when absent; give one to make retries idempotent. */
export interface NewEvent<Type extends string = string, Data = unknown> extends DomainEvent<Type, Data> {
  readonly id?: string;
  readonly metadata?: EventMetadata;
  /**
   * When the event happened, as ISO-8601 text (stored in UTC, to the millisecond). Defaults to the
   * time of the append: give it only to keep the original times of events copied from elsewhere
   * (the importers do), since a store orders nothing by it.
   */
  readonly timestamp?: string;
}

/** A stored event with everything a reader needs. */
export interface EventEnvelope<Type extends string = string, Data = unknown> extends DomainEvent<Type, Data> {
  /** ULID, unique across the store. */
  readonly id: string;
  readonly streamId: string;
  /** Position within the stream: the first event is 1. */
  readonly version: number;
  /** Position in the store's global order (1-based). Absent only where a store has no global order. */
  readonly globalPosition?: number;
  /** ISO-8601 UTC time at which the event was appended. */
  readonly timestamp: string;
  readonly metadata: EventMetadata;
}

/** Picks the envelope type of one member of an event union by its `type`. */
export type EnvelopeOf<E extends DomainEvent, Type extends E["type"] = E["type"]> =
  E extends DomainEvent<Type> ? EventEnvelope<E["type"], E["data"]> : never;

/** An event that passed validation, with its id and timestamp fixed, awaiting a version from the store. */
export interface PendingEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly timestamp: string;
}

/** Builds a {@link NewEvent}. */
export function createEvent<Type extends string, Data>(
  type: Type,
  data: Data,
  metadata?: EventMetadata,
): NewEvent<Type, Data> {
  return metadata === undefined ? { type, data } : { type, data, metadata };
}

export interface PrepareEventsOptions {
  /** How deeply data and metadata may nest; defaults to `DEFAULT_MAX_JSON_DEPTH` (64). */
  readonly maxJsonDepth?: number;
}

/**
 * Validates events on their way into a store and fixes their ids and timestamps. Every problem in
 * the batch is collected into one {@link ValidationError}, thrown before anything is written.
 * `now` defaults to the clock, read once: the batch's timestamp and its new ids' time are that instant.
 */
export function prepareEvents(
  events: readonly NewEvent[],
  shared: EventMetadata | undefined,
  now?: Date,
  options: PrepareEventsOptions = {},
): PendingEvent[] {
  try {
    return checkedEvents(events, shared, now, options);
  } catch (error) {
    throw unreadableEvents(error);
  }
}

/**
 * What reading the caller's events threw, as the library reports it: its own errors as they are; a
 * getter's or Proxy trap's (their type, data, metadata, the array itself) as a ValidationError, since
 * input that cannot be read is refused like input that is wrong, without the caller's own error,
 * whose text the library cannot vouch for.
 */
export function unreadableEvents(error: unknown): EventFlowsError {
  if (error instanceof EventFlowsError) return error;
  return new ValidationError("Invalid events", [
    { path: [], message: "the events could not be read: reading them threw" },
  ]);
}

/**
 * What makes an envelope read back from a stored row no event, or undefined: the columns of a SQL store
 * take what the library never writes (another tool wrote the row): an empty stream id, id, type or time
 * (PostgreSQL's to_char reads an infinite time as NULL), metadata that is JSON but no object. For a store
 * to refuse such a row as an `EventCorruptError` rather than hand it to a reader that breaks further away.
 * A row of stream "" is only met by a global read: its position says which row it is. What is no object
 * at all is a flaw too, not a TypeError: the store refuses it as corrupt like any other row.
 */
export function storedEventFlaw(event: EventEnvelope): string | undefined {
  if (typeof event !== "object" || event === null) return "it is not an object";
  const { streamId, id, type, timestamp, metadata } = event;
  if (!streamId) return `it has no stream id (global position ${event.globalPosition})`;
  if (!id || !type || !timestamp) return `it has no ${!id ? "id" : !type ? "type" : "time"}`;
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    return "its metadata is not an object";
  }
  return undefined;
}

function checkedEvents(
  events: readonly NewEvent[],
  shared: EventMetadata | undefined,
  now: Date | undefined,
  options: PrepareEventsOptions,
): PendingEvent[] {
  // U+0000 is refused here for every store, before anything is written: PostgreSQL's jsonb cannot hold it.
  const limits = { maxDepth: options.maxJsonDepth, refuseNul: true };
  if (!Array.isArray(events)) {
    throw new ValidationError("Invalid events", [{ path: [], message: "events must be an array" }]);
  }
  // Every append runs this: problems are collected into a list made only when there is one, and
  // the checks' fast paths (isName, isFlatJson) go first, so a valid event allocates no issue lists.
  let issues: Issue[] | undefined;
  const add = (found: readonly Issue[]) => {
    if (found.length === 0) return;
    issues ??= [];
    issues.push(...found);
  };
  if (shared !== undefined) add(metadataIssues(shared, ["options", "metadata"], limits));
  const clock = now === undefined ? Date.now() : undefined;
  const timestamp = clock === undefined ? (now as Date).toISOString() : isoTimestamp(clock);
  // Duplicates need a set only when the batch has more than one event.
  const ids = events.length > 1 ? new Set<string>() : undefined;
  const pending: PendingEvent[] = [];
  for (let index = 0; index < events.length; index++) {
    const event = events[index];
    // A hole in a sparse array (`[, e]`) is refused as `undefined` is: skipped (as forEach once did), the
    // append stored fewer events than it was given, and a store sent the batch as JSON (a Durable Object's) read null there.
    if (event === undefined && !(index in events)) {
      add([{ path: [index], message: "a hole in the events array: every index from 0 must hold an event" }]);
      continue;
    }
    if (typeof event !== "object" || event === null) {
      add([{ path: [index], message: "an event must be an object with a type and data" }]);
      continue;
    }
    add(unknownEventKeyIssues(event, index));
    if (!isName(event.type, MAX_TYPE_LENGTH)) {
      add(nameIssues(event.type, "event type", MAX_TYPE_LENGTH, [index, "type"]));
    }
    if (!("data" in event)) add([{ path: [index, "data"], message: "data is required (use null for none)" }]);
    else if (!isFlatJson(event.data, true)) add(jsonIssues(event.data, [index, "data"], limits));
    if (event.metadata !== undefined) add(metadataIssues(event.metadata, [index, "metadata"], limits));
    let id = event.id;
    // New ids take the clock reading the timestamp took (ulid() would read it again).
    if (id === undefined) id = clock === undefined ? ulid() : ulidAt(clock);
    else if (!isUlid(id)) add([{ path: [index, "id"], message: "an event id must be a ULID" }]);
    // One spelling per ULID (upper case, as generated), so a retry in lower case is the same event.
    else id = id.toUpperCase();
    if (ids !== undefined) {
      if (ids.has(id)) add([{ path: [index, "id"], message: "duplicate event id in one append" }]);
      ids.add(id);
    }
    const own = event.timestamp === undefined ? timestamp : normalizedTimestamp(event.timestamp);
    if (own === undefined)
      add([
        {
          path: [index, "timestamp"],
          message: "a timestamp must be ISO-8601 text with a zone, in the years 1 to 9999",
        },
      ]);
    pending.push({
      id,
      type: event.type,
      data: event.data,
      metadata: shared === undefined ? { ...event.metadata } : mergedMetadata(shared, event.metadata),
      timestamp: own ?? timestamp,
    });
  }
  if (issues !== undefined) throw new ValidationError("Invalid events", issues);
  // As JSON keeps them (-0 as 0, undefined properties left out), so that what the append returns and
  // publishes is what a read gives back, on every store; copied only when that changes something.
  for (let index = 0; index < pending.length; index++) {
    const event = pending[index] as PendingEvent;
    const data = changedByJson(event.data);
    const metadata = changedByJson(event.metadata);
    if (data || metadata) {
      pending[index] = {
        ...event,
        data: data ? jsonRoundTrip(event.data) : event.data,
        metadata: metadata ? jsonRoundTrip(event.metadata) : event.metadata,
      };
    }
  }
  return pending;
}

/** What a new event holds: NewEvent's fields. */
const NEW_EVENT_KEYS: ReadonlySet<string> = new Set(["type", "data", "id", "metadata", "timestamp"]);
/** An envelope's own fields beside those, taken and ignored, so that a read event can be appended as it is. */
const ENVELOPE_KEYS: ReadonlySet<string> = new Set(["streamId", "version", "globalPosition"]);
const EVENT_FIELDS = "type, data, id, metadata, timestamp, and an envelope's streamId, version and globalPosition";

/**
 * The issues of an event's own keys that are neither a new event's nor an envelope's: dropped, a misspelt
 * `metdata` lost the metadata without a word. No list is made for an event without one (every append runs this).
 */
function unknownEventKeyIssues(event: object, index: number): readonly Issue[] {
  let issues: Issue[] | undefined;
  for (const key in event) {
    if (NEW_EVENT_KEYS.has(key) || ENVELOPE_KEYS.has(key) || !Object.hasOwn(event, key)) continue;
    issues ??= [];
    issues.push({ path: [index, key], message: `is not a field of an event (they are ${EVENT_FIELDS})` });
  }
  return issues ?? NONE;
}

/** What a check of a valid event answers: one list for all (a valid event allocates no issue lists). */
const NONE: readonly Issue[] = Object.freeze([]);

/**
 * The append's shared metadata under the event's own. A field the event holds as `undefined` is one
 * it does not have (JSON drops it): the shared value stays, as `raise(type, data, { correlationId })`
 * with no correlation id in hand must not erase the one `save` passes.
 */
function mergedMetadata(shared: EventMetadata, own: EventMetadata | undefined): EventMetadata {
  const merged: Record<string, unknown> = { ...shared, ...own };
  // Not an object (null, say): refused with its issue once every event is checked; nothing to keep.
  if (typeof own !== "object" || own === null) return merged;
  for (const key of Object.keys(own)) {
    if (own[key] === undefined && Object.hasOwn(shared, key)) {
      // defineProperty: a "__proto__" key stays a key, as the spread above keeps it.
      Object.defineProperty(merged, key, { value: shared[key], enumerable: true, writable: true, configurable: true });
    }
  }
  return merged;
}

let isoMs = Number.NaN;
let isoText = "";

/**
 * `new Date(ms).toISOString()`, kept for the last millisecond asked for: formatting costs more than
 * the rest of a small event's preparation, and appends in one millisecond share the text.
 */
function isoTimestamp(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

// Date-time with a zone (Z, or an offset in any of ISO 8601's forms: ±hh:mm, ±hhmm, ±hh, as a
// snapshot's createdAt takes them): text without one would be read in the local time zone.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

/**
 * The same instant as `Date.toISOString()` writes it (years 1 to 9999), or undefined when it is not
 * one. Not year 0, which JavaScript's calendar has and PostgreSQL's `timestamptz` does not: every
 * store takes the same times.
 */
function normalizedTimestamp(value: unknown): string | undefined {
  if (typeof value !== "string" || !ISO_DATE_TIME.test(value)) return undefined;
  // parseIsoTime, not Date.parse alone: that one (in V8 and JavaScriptCore alike) takes any day up to 31
  // and hour 24, and rolls them over, so `2023-02-29` would be stored as March 1st and `T24:00` as the
  // next day's midnight, another day than written.
  const ms = parseIsoTime(value);
  if (ms === undefined || ms < -62_135_596_800_000 || ms > 253_402_300_799_999) return undefined;
  return new Date(ms).toISOString();
}

const STRING_METADATA = ["correlationId", "causationId", "traceparent", "tracestate"] as const;

/** What is wrong with event metadata (a plain JSON object with string ids and a positive schema version). */
export function metadataIssues(metadata: unknown, path: (string | number)[], limits: JsonIssuesOptions): Issue[] {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    return [{ path, message: "metadata must be a plain object" }];
  }
  const issues = jsonIssues(metadata, path, limits);
  const m = metadata as EventMetadata;
  for (const key of STRING_METADATA) {
    if (m[key] !== undefined && typeof m[key] !== "string")
      issues.push({ path: [...path, key], message: `${key} must be a string` });
  }
  if (m.schemaVersion !== undefined && (!Number.isSafeInteger(m.schemaVersion) || m.schemaVersion < 1)) {
    issues.push({ path: [...path, "schemaVersion"], message: "schemaVersion must be a positive integer" });
  }
  return issues;
}
