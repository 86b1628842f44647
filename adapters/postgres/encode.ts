import { type Issue, PayloadTooLargeError, type PendingEvent, utf8Length, ValidationError } from "../../src/index.js";

/** Default for `maxEventBytes`: an event's data and metadata as JSON, in UTF-8 bytes. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

/**
 * The most one append may carry, its events' JSON together, in UTF-8 bytes: the batch travels as one
 * jsonb value, and PostgreSQL caps a jsonb value at 256 MB (2^28 - 1 bytes of its binary form).
 */
export const MAX_BATCH_BYTES = 2 ** 28 - 1;

export interface EncodedBatch {
  /** The events as one JSON array of `{ i, t, d, m }`: one statement parameter, whatever the batch size. */
  readonly json: string;
  readonly ids: readonly string[];
  /** A batch of one event: its data and metadata as JSON, for the statement that takes them as parameters. */
  readonly one?: readonly [data: string, metadata: string];
}

// jsonb cannot hold U+0000 and refuses unpaired surrogates. JSON.stringify writes both as \u
// escapes (paired surrogates are written as characters), so they show as an unescaped backslash-u.
const UNSTORABLE_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Serializes a validated batch for the append statement, refusing what PostgreSQL would reject or
 * alter, before anything is sent.
 * @throws {PayloadTooLargeError} an event over `maxEventBytes`, or a batch over {@link MAX_BATCH_BYTES}.
 * @throws {ValidationError} a value jsonb cannot store (U+0000, unpaired surrogates), a timestamp in year 0.
 */
export function encodeBatch(
  events: readonly PendingEvent[],
  maxEventBytes: number,
  maxBatchBytes = MAX_BATCH_BYTES,
  /** The time the statement stores for every event without a `"c"` (its own time) in the JSON. */
  batchTimestamp?: string,
): EncodedBatch {
  const parts: string[] = [];
  const ids: string[] = [];
  const issues: Issue[] = [];
  let total = 0;
  let one: [string, string] | undefined;
  events.forEach((event, index) => {
    const data = JSON.stringify(event.data);
    const metadata = JSON.stringify(event.metadata);
    const size = utf8Length(data) + utf8Length(metadata);
    if (size > maxEventBytes) throw new PayloadTooLargeError(`Event ${index} (${event.type})`, size, maxEventBytes);
    total += size;
    if (total > maxBatchBytes)
      throw new PayloadTooLargeError(`The append's ${events.length} events`, total, maxBatchBytes);
    if (hasUnstorable(data)) issues.push(unstorable([index, "data"]));
    if (hasUnstorable(metadata)) issues.push(unstorable([index, "metadata"]));
    issues.push(...textIssues(event.type, [index, "type"]));
    // timestamptz has no year 0 (1 BC is a year of its own), which the core's timestamps allow.
    if (event.timestamp.startsWith("0000-")) {
      issues.push({ path: [index, "timestamp"], message: "the event store holds timestamps from year 1 on" });
    }
    // A time of its own (an imported event's) only where it differs from the append's: rare, and
    // the statement falls back to the one parameter.
    const time = batchTimestamp === undefined || event.timestamp === batchTimestamp ? "" : `,"c":"${event.timestamp}"`;
    parts.push(
      `{"i":${JSON.stringify(event.id)},"t":${JSON.stringify(event.type)},"d":${data},"m":${metadata}${time}}`,
    );
    ids.push(event.id);
    if (events.length === 1) one = [data, metadata];
  });
  if (issues.length > 0) throw new ValidationError("Invalid events", issues);
  return { json: `[${parts.join(",")}]`, ids, ...(one === undefined ? {} : { one }) };
}

/** Text columns get UTF-8: an unpaired surrogate would come back as U+FFFD, not verbatim. */
export function textIssues(value: string, path: (string | number)[]): Issue[] {
  return LONE_SURROGATE.test(value)
    ? [{ path, message: "contains an unpaired UTF-16 surrogate, which UTF-8 cannot store" }]
    : [];
}

export function assertStorableStreamId(streamId: string): void {
  const issues = textIssues(streamId, []);
  if (issues.length > 0) throw new ValidationError("Invalid stream id", issues);
}

function hasUnstorable(json: string): boolean {
  return json.includes("\\u") && UNSTORABLE_ESCAPE.test(json);
}

function unstorable(path: (string | number)[]): Issue {
  return {
    path,
    message: "contains U+0000 or an unpaired surrogate, which the event store cannot hold; encode such text first",
  };
}
