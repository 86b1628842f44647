import {
  assertObject,
  type EventEnvelope,
  type EventMetadata,
  functionIssues,
  type Issue,
  isUlid,
  jsonIssues,
  unknownKeyIssues,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import type { EventBridgeEvent } from "./eventbridge-types.js";

/** The parts of a PutEvents entry that come from an event (the bus adds its name). */
export interface EntryParts {
  readonly source: string;
  readonly detailType: string;
  /** A JSON object, as text. */
  readonly detail: string;
  readonly resources?: readonly string[];
  /** The event's time; sent as `Time` (counted as 14 bytes of the entry). */
  readonly time?: Date;
}

/**
 * How envelopes become EventBridge entries and come back. The bus uses `toEntry` when publishing;
 * consumers use `fromEvent` on what a rule delivers. Both sides must use the same mapping.
 */
export interface EventBridgeMapping {
  toEntry(event: EventEnvelope): EntryParts;
  /** @throws {ValidationError} the event does not carry an envelope this mapping understands. */
  fromEvent(event: EventBridgeEvent): EventEnvelope;
}

export interface EnvelopeMappingOptions {
  /**
   * The entry's `Source`: a string, or one per event. Defaults to `"eventflows"`. Rules match on it,
   * so a service usually names itself (`"com.example.orders"`).
   */
  readonly source?: string | ((event: EventEnvelope) => string);
  /** The entry's `DetailType`. Defaults to the event type. */
  readonly detailType?: (event: EventEnvelope) => string;
  /** ARNs the event concerns (`Resources`), if any. */
  readonly resources?: (event: EventEnvelope) => readonly string[];
}

export const DEFAULT_SOURCE = "eventflows";

/**
 * The default mapping: `Detail` is the whole envelope (id, type, stream, version, global position,
 * timestamp, data, metadata with correlation and trace context), so it survives the trip through
 * EventBridge unchanged whatever `Source` and `DetailType` are configured to be.
 */
export function envelopeMapping(options: EnvelopeMappingOptions = {}): EventBridgeMapping {
  assertObject(options, [], "EventBridge mapping options", false);
  const issues = [
    // A misspelt `detailtype` sent every event under its type, not the name meant.
    ...unknownKeyIssues(options, ["source", "detailType", "resources"]),
    ...functionIssues(options.detailType, "detailType"),
    ...functionIssues(options.resources, "resources"),
  ];
  if (options.source !== undefined && typeof options.source !== "string")
    issues.push(...functionIssues(options.source, "source"));
  if (issues.length > 0) throw new ValidationError("Invalid EventBridge mapping options", issues);
  const source = options.source ?? DEFAULT_SOURCE;
  const sourceOf = typeof source === "function" ? source : () => source;
  const detailTypeOf = options.detailType ?? ((event: EventEnvelope) => event.type);
  const resourcesOf = options.resources;
  return {
    toEntry(event) {
      assertObject(event, "event", "event envelope");
      const parts = {
        source: sourceOf(event),
        detailType: detailTypeOf(event),
        detail: JSON.stringify(envelopeDetail(event)),
        time: new Date(event.timestamp),
      };
      const resources = resourcesOf?.(event);
      // Anything but an array (null, say) is kept, for the bus's entry check to refuse as a ValidationError.
      return resources === undefined || (Array.isArray(resources) && resources.length === 0)
        ? parts
        : { ...parts, resources };
    },
    fromEvent(event) {
      assertObject(event, "event", "EventBridge event");
      return envelopeFromDetail(event.detail);
    },
  };
}

/** The envelope as a plain object, fields in a fixed order. */
export function envelopeDetail(event: EventEnvelope): Record<string, unknown> {
  assertObject(event, "event", "event envelope");
  const detail: Record<string, unknown> = {
    id: event.id,
    type: event.type,
    streamId: event.streamId,
    version: event.version,
  };
  if (event.globalPosition !== undefined) detail.globalPosition = event.globalPosition;
  detail.timestamp = event.timestamp;
  detail.data = event.data;
  detail.metadata = event.metadata;
  return detail;
}

/**
 * Reads an envelope back from a `detail`, checking every field: a message from elsewhere on the
 * bus, or a damaged one, is refused with the list of what is wrong.
 */
export function envelopeFromDetail(detail: unknown): EventEnvelope {
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) {
    throw new ValidationError("Not an EventFlows envelope", [
      { path: ["detail"], message: "detail must be an object" },
    ]);
  }
  const d = detail as Record<string, unknown>;
  const issues: Issue[] = [];
  if (typeof d.id !== "string" || !isUlid(d.id)) issues.push({ path: ["detail", "id"], message: "id must be a ULID" });
  if (typeof d.type !== "string" || d.type === "") {
    issues.push({ path: ["detail", "type"], message: "type must be a non-empty string" });
  }
  if (typeof d.streamId !== "string" || d.streamId === "") {
    issues.push({ path: ["detail", "streamId"], message: "streamId must be a non-empty string" });
  }
  if (!isPositiveInteger(d.version)) {
    issues.push({ path: ["detail", "version"], message: "version must be a positive integer" });
  }
  if (d.globalPosition !== undefined && !isPositiveInteger(d.globalPosition)) {
    issues.push({ path: ["detail", "globalPosition"], message: "globalPosition must be a positive integer" });
  }
  if (typeof d.timestamp !== "string" || Number.isNaN(Date.parse(d.timestamp))) {
    issues.push({ path: ["detail", "timestamp"], message: "timestamp must be an ISO-8601 date" });
  }
  // Parsed JSON is not yet an envelope's JSON: 1e400 parses as Infinity, a lone surrogate's escape as
  // the lone surrogate, and nesting has no bound. Checked as publish checks them (envelopeIssues), so
  // handlers get what a store would give them, and nothing recurses past the depth limit.
  if (!("data" in d)) issues.push({ path: ["detail", "data"], message: "data is required" });
  else issues.push(...jsonIssues(d.data, ["detail", "data"]));
  if (typeof d.metadata !== "object" || d.metadata === null || Array.isArray(d.metadata)) {
    issues.push({ path: ["detail", "metadata"], message: "metadata must be an object" });
  } else issues.push(...jsonIssues(d.metadata, ["detail", "metadata"]));
  if (issues.length > 0) throw new ValidationError("Not an EventFlows envelope", issues);
  const envelope = {
    id: d.id as string,
    type: d.type as string,
    streamId: d.streamId as string,
    version: d.version as number,
    ...(d.globalPosition === undefined ? {} : { globalPosition: d.globalPosition as number }),
    timestamp: d.timestamp as string,
    data: d.data,
    metadata: d.metadata as EventMetadata,
  };
  return envelope;
}

/**
 * Problems with an envelope handed to `publish`, before it is mapped: what a store would never
 * produce, but a caller building envelopes by hand might.
 */
export function envelopeIssues(event: unknown, index: number): Issue[] {
  if (typeof event !== "object" || event === null) {
    return [{ path: [index], message: "an event must be an envelope object" }];
  }
  const e = event as Partial<EventEnvelope>;
  const issues: Issue[] = [];
  // What a consumer refuses (envelopeFromDetail) is refused here too, before it becomes a message
  // that no consumer can take: an id that is no ULID, a global position that is no positive integer.
  if (!isUlid(e.id)) issues.push({ path: [index, "id"], message: "id must be a ULID" });
  if (typeof e.type !== "string" || e.type === "") {
    issues.push({ path: [index, "type"], message: "type must be a non-empty string" });
  }
  if (typeof e.streamId !== "string" || e.streamId === "") {
    issues.push({ path: [index, "streamId"], message: "streamId must be a non-empty string" });
  }
  if (!isPositiveInteger(e.version)) {
    issues.push({ path: [index, "version"], message: "version must be a positive integer" });
  }
  if (e.globalPosition !== undefined && !isPositiveInteger(e.globalPosition)) {
    issues.push({ path: [index, "globalPosition"], message: "globalPosition must be a positive integer" });
  }
  if (typeof e.timestamp !== "string" || Number.isNaN(Date.parse(e.timestamp))) {
    issues.push({ path: [index, "timestamp"], message: "timestamp must be an ISO-8601 date" });
  }
  if (typeof e.metadata !== "object" || e.metadata === null || Array.isArray(e.metadata)) {
    issues.push({ path: [index, "metadata"], message: "metadata must be an object" });
  } else issues.push(...jsonIssues(e.metadata, [index, "metadata"]));
  if (!("data" in e)) issues.push({ path: [index, "data"], message: "data is required (use null for none)" });
  else issues.push(...jsonIssues(e.data, [index, "data"]));
  return issues;
}

/**
 * The size EventBridge counts against its entry limit, as the user guide ("Calculating PutEvents
 * event entry size") defines it: 14 bytes for `Time` when given, plus the UTF-8 bytes of `Source`,
 * `DetailType`, `Detail` and each of `Resources`.
 */
export function entrySize(parts: EntryParts): number {
  assertObject(parts, "parts", "EventBridge entry");
  const issues: Issue[] = [];
  for (const key of ["source", "detailType", "detail"] as const) {
    if (typeof parts[key] !== "string") issues.push({ path: ["parts", key], message: "must be a string" });
  }
  const { resources, time } = parts;
  if (resources !== undefined && !(Array.isArray(resources) && resources.every((r) => typeof r === "string"))) {
    issues.push({ path: ["parts", "resources"], message: "must be an array of strings" });
  }
  if (time !== undefined && !(time instanceof Date))
    issues.push({ path: ["parts", "time"], message: "must be a Date" });
  if (issues.length > 0) throw new ValidationError("Invalid EventBridge entry", issues);
  let size = parts.time === undefined ? 0 : 14;
  size += utf8Length(parts.source) + utf8Length(parts.detailType) + utf8Length(parts.detail);
  for (const resource of parts.resources ?? []) size += utf8Length(resource);
  return size;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}
