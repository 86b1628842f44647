/**
 * Differential testing of event stores through the public API: fast-check generates sequences of
 * operations (appends with every kind of expected version, retried appends, stream reads in both
 * directions with bounds, the global feed from a position with a limit, versions, soft and hard
 * deletes, restores, truncations) with generated JSON data, runs each sequence on the store under
 * test and on a fresh `InMemoryEventStore` (the reference), and asks that both answer every
 * operation alike: the same events (ids, types, versions, data, metadata), the same error codes,
 * the same feed. On top of that, each store's own answers must hold the invariants every store
 * promises (positions increase along the feed, and within a stream with its versions).
 *
 * Sequences run one operation at a time (concurrency has its own tests); a sequence's streams are
 * its own, and the feed is read from the position the store was at when the sequence started, so
 * one store (one schema, table or database) serves every run. Test-only code.
 */
import fc from "fast-check";
import {
  type EventEnvelope,
  type EventStore,
  type ExpectedVersion,
  InMemoryEventStore,
  isEventFlowsError,
  MAX_STREAM_ID_LENGTH,
  type NewEvent,
  STREAM_LIFECYCLE_STREAM,
  ulid,
} from "../../src/index.js";
import { assertNoPollution } from "./hostile-values.ts";

const STREAMS = 3;

type Expected = "any" | "no-stream" | "stream-exists" | { readonly offset: -1 | 0 | 1 };

export type Operation =
  | {
      readonly kind: "append";
      readonly stream: number;
      readonly events: readonly { readonly type: string; readonly data: unknown; readonly metadata?: object }[];
      readonly expected: Expected;
    }
  | { readonly kind: "retry" }
  | {
      readonly kind: "read";
      readonly stream: number;
      readonly backward: boolean;
      readonly fromVersion?: number;
      readonly maxCount?: number;
    }
  | { readonly kind: "version"; readonly stream: number }
  | { readonly kind: "feed"; readonly afterIndex: number; readonly maxCount?: number }
  | { readonly kind: "delete"; readonly stream: number; readonly hard: boolean; readonly expected: Expected }
  | { readonly kind: "restore"; readonly stream: number; readonly expected: Expected }
  | { readonly kind: "truncate"; readonly stream: number; readonly before: number; readonly expected: Expected };

export interface DifferentialOptions {
  /** Makes the data of generated events; defaults to any JSON value (strings of any code point). */
  readonly data?: fc.Arbitrary<unknown>;
  /** Makes their metadata; defaults to up to two short string fields. */
  readonly metadata?: fc.Arbitrary<object>;
  /** Makes their types; defaults to three valid ones. */
  readonly types?: fc.Arbitrary<string>;
  /** Runs per property; defaults to 25. */
  readonly numRuns?: number;
  /** Operations per run, at most; defaults to 30. */
  readonly maxOperations?: number;
  readonly seed?: number;
}

/** Any JSON value as a store must keep it: strings of any code point, no -0 (JSON has none). */
export const anyJson: fc.Arbitrary<unknown> = fc
  .jsonValue({ maxDepth: 3, stringUnit: "binary" })
  .map((value) => JSON.parse(JSON.stringify(value)) as unknown);

/**
 * A run's stream ids: its prefix with text of any code point after it (runNames), and ids at the length
 * limit, which counts UTF-16 code units: 512 units of 3 UTF-8 bytes each (the most bytes an id can
 * take), 256 astral characters (4 bytes each, 2 units), and one unit over either (refused by every
 * store alike); ids with a lone surrogate (no UTF-8 form: refused alike); and text of any code point
 * long enough to fall either side of the limit.
 */
const streamNames = runNames(STREAMS, [
  (p) => p.padEnd(MAX_STREAM_ID_LENGTH, "流"),
  (p) => p.padEnd(MAX_STREAM_ID_LENGTH + 1, "流"),
  (p) => `${p}${"😀".repeat((MAX_STREAM_ID_LENGTH - p.length) >> 1)}`.padEnd(MAX_STREAM_ID_LENGTH, "x"),
  (p) => `${p}${"😀".repeat((MAX_STREAM_ID_LENGTH - p.length + 2) >> 1)}`,
  (p) => `${p}\ud800`,
  (p) => `\udfff${p}`,
]).chain((names) =>
  fc
    .array(
      fc.oneof(
        { arbitrary: fc.constant(null), weight: 4 },
        // Most code points are astral (2 units each): 200 to 300 of them fall either side of 512 units.
        { arbitrary: fc.string({ unit: "binary", minLength: 200, maxLength: 300 }), weight: 1 },
      ),
      { minLength: STREAMS, maxLength: STREAMS },
    )
    .map((long) =>
      names.map((name, i) => {
        const text = long[i];
        // Control characters are refused for their own reason: the length is what is in play here.
        return text === null || text === undefined ? name : (p: string) => `${p}${text.replace(CONTROL, "x")}`;
      }),
    ),
);
// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** What the store under test can do, from its capabilities: the operations generated follow. */
interface Abilities {
  /** Retries (the same event ids again) are recognised: `capabilities.idempotentAppends`. */
  readonly retries: boolean;
  /** Deletes, restores and truncations: `capabilities.streamDeletion`. */
  readonly deletion: boolean;
  /** The global feed in one order: `capabilities.globalOrder`. */
  readonly feed: boolean;
}

function operations(options: DifferentialOptions, abilities: Abilities): fc.Arbitrary<Operation[]> {
  const stream = fc.nat({ max: STREAMS - 1 });
  // Mostly appends that succeed, so that streams grow; every kind of refusal too.
  const expected: fc.Arbitrary<Expected> = fc.oneof(
    { arbitrary: fc.constant("any" as const), weight: 3 },
    { arbitrary: fc.constant({ offset: 0 as const }), weight: 3 },
    fc.constantFrom("no-stream" as const, "stream-exists" as const),
    fc.constantFrom(-1 as const, 1 as const).map((offset) => ({ offset })),
  );
  const event = fc.record(
    {
      type: options.types ?? fc.constantFrom("Opened", "Changed", "Closed.v2"),
      data: options.data ?? anyJson,
      metadata:
        options.metadata ??
        fc.dictionary(fc.constantFrom("correlationId", "tenant", "note"), fc.string({ maxLength: 8 }), {
          maxKeys: 2,
        }),
    },
    { requiredKeys: ["type", "data"] },
  );
  const small = fc.option(fc.nat({ max: 8 }), { nil: undefined });
  const ops: fc.Arbitrary<Operation>[] = [
    fc.record({ kind: fc.constant("append"), stream, events: fc.array(event, { maxLength: 4 }), expected }),
    fc.record({
      kind: fc.constant("append"),
      stream,
      events: fc.array(event, { minLength: 1, maxLength: 2 }),
      expected,
    }),
    fc.record({
      kind: fc.constant("append"),
      stream,
      events: fc.array(event, { minLength: 1, maxLength: 3 }),
      expected,
    }),
    ...(abilities.retries ? [fc.constant({ kind: "retry" })] : []),
    fc.record(
      { kind: fc.constant("read"), stream, backward: fc.boolean(), fromVersion: small, maxCount: small },
      { requiredKeys: ["kind", "stream", "backward"] },
    ),
    fc.record({ kind: fc.constant("version"), stream }),
    ...(abilities.feed
      ? [
          fc.record(
            { kind: fc.constant("feed"), afterIndex: fc.nat({ max: 12 }), maxCount: small },
            { requiredKeys: ["kind", "afterIndex"] },
          ),
        ]
      : []),
  ] as fc.Arbitrary<Operation>[];
  if (abilities.deletion) {
    ops.push(
      fc.record({ kind: fc.constant("delete"), stream, hard: fc.boolean(), expected }) as fc.Arbitrary<Operation>,
      fc.record({ kind: fc.constant("restore"), stream, expected }) as fc.Arbitrary<Operation>,
      fc.record({
        kind: fc.constant("truncate"),
        stream,
        before: fc.nat({ max: 8 }),
        expected,
      }) as fc.Arbitrary<Operation>,
    );
  }
  return fc.array(fc.oneof(...ops), { minLength: 1, maxLength: options.maxOperations ?? 30, size: "max" });
}

/** One store in a run: its stream ids and where its feed stood when the run began. */
interface Side {
  readonly store: EventStore;
  readonly start: number;
  /** Highest global position an answer of this run has shown: the feed is read once it shows it. */
  seen: number;
}

/**
 * What one operation answered: a value (undefined as null), or the code of the error it threw, with
 * what a conflict expected and found (every store must say the same).
 */
export type Outcome =
  | { readonly ok: unknown }
  | { readonly error: string; readonly expected?: unknown; readonly actual?: unknown };

/**
 * Runs the generated sequences on `create()`'s store and on the reference. Throws (fast-check's
 * report, with the shrunk sequence) at the first operation the two answer differently.
 */
export async function checkAgainstReference(
  create: () => EventStore,
  options: DifferentialOptions = {},
): Promise<void> {
  const { capabilities } = create();
  const abilities = {
    retries: capabilities.idempotentAppends,
    deletion: capabilities.streamDeletion === true,
    feed: capabilities.globalOrder,
  };
  await fc.assert(
    fc.asyncProperty(operations(options, abilities), streamNames, async (ops, names) => {
      const run = ulid().slice(-8).toLowerCase();
      const ids = names.map((name, i) => name(`Diff_${run}-${i}`));
      const reference: Side = { store: new InMemoryEventStore(), start: 0, seen: 0 };
      const tested = create();
      // The newest committed position: PostgreSQL's getLastGlobalPosition stops below any transaction in
      // flight on the server (another test's, autovacuum's), which can be below the last run's events, and
      // a feed page read after it with a maxCount would then hold that run's events instead of this one's.
      const start = tested.capabilities.globalOrder ? await tested.getHeadPosition() : 0;
      const subject: Side = { store: tested, start, seen: start };
      let last: { stream: number; events: NewEvent[]; expected: ExpectedVersion } | undefined;
      for (const [step, op] of ops.entries()) {
        let outcomes: [Outcome, Outcome];
        if (op.kind === "retry" || op.kind === "append") {
          if (op.kind === "append") {
            const expected = await expectedOf(reference.store, ids[op.stream] as string, op.expected);
            // Explicit ids, the same on both sides: a retry re-sends them.
            const events = op.events.map((e) => ({ ...e, id: ulid() }) as NewEvent);
            last = { stream: op.stream, events, expected };
          }
          if (last === undefined) continue;
          const append = last;
          outcomes = await both(reference, subject, (side) =>
            side.store
              .appendToStream(ids[append.stream] as string, append.events, { expectedVersion: append.expected })
              .then((result) => {
                for (const event of result.events) side.seen = Math.max(side.seen, event.globalPosition ?? 0);
                return {
                  next: result.nextExpectedVersion,
                  events: result.events.map((e) => normal(e, ids)),
                  retried: result.retried ?? false,
                };
              }),
          );
        } else outcomes = await both(reference, subject, (side) => answer(side, op, ids));
        assertSameAnswer(step, op, ...outcomes);
      }
      assertNoPollution();
    }),
    { numRuns: options.numRuns ?? 25, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}

async function expectedOf(reference: EventStore, id: string, expected: Expected): Promise<ExpectedVersion> {
  if (typeof expected === "string") return expected;
  return Math.max(0, (await reference.getStreamVersion(id).catch(() => 0)) + expected.offset);
}

async function both(
  reference: Side,
  subject: Side,
  work: (side: Side) => Promise<unknown>,
): Promise<[Outcome, Outcome]> {
  return [await outcomeOf(() => work(reference)), await outcomeOf(() => work(subject))];
}

/**
 * Throws, naming the step and its operation (`described`, or the operation as JSON) and what it
 * was about (`about`: the generated key or id in play), when the store answered otherwise than the reference.
 */
export function assertSameAnswer(
  step: number,
  op: unknown,
  want: Outcome,
  got: Outcome,
  about = "",
  described = canonical(op),
): void {
  if (canonical(want) !== canonical(got)) {
    throw new Error(
      `step ${step} (${described}${about}): the reference answered ${canonical(want)}, the store ${canonical(got)}`,
    );
  }
}

export async function outcomeOf(work: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: (await work()) ?? null };
  } catch (error) {
    // Every error that leaves the library is one of its own, whatever the backend said.
    if (!isEventFlowsError(error)) throw new Error(`an error that is not an EventFlowsError: ${String(error)}`);
    const conflict = error as { expectedVersion?: unknown; actualVersion?: unknown };
    if (conflict.expectedVersion === undefined && conflict.actualVersion === undefined) return { error: error.code };
    return { error: error.code, expected: conflict.expectedVersion ?? null, actual: conflict.actualVersion ?? null };
  }
}

async function answer(side: Side, op: Exclude<Operation, { kind: "append" | "retry" }>, ids: readonly string[]) {
  const store = side.store;
  switch (op.kind) {
    case "read": {
      const events = await collect(
        store.readStream(ids[op.stream] as string, {
          direction: op.backward ? "backward" : "forward",
          ...(op.fromVersion === undefined ? {} : { fromVersion: op.fromVersion }),
          ...(op.maxCount === undefined ? {} : { maxCount: op.maxCount }),
        }),
      );
      return events.map((e) => normal(e, ids));
    }
    case "version":
      return [
        await store.getStreamVersion(ids[op.stream] as string),
        await store.streamExists(ids[op.stream] as string),
      ];
    case "feed":
      return feed(side, op.afterIndex, op.maxCount, ids);
    case "delete":
    case "restore":
    case "truncate": {
      const id = ids[op.stream] as string;
      // The expected version is worked out on each side from its own version: the sides agree on
      // versions or an earlier step failed already.
      const expected = await expectedOf(store, id, op.expected);
      const result =
        op.kind === "delete"
          ? await store.deleteStream(id, { mode: op.hard ? "hard" : "soft", expectedVersion: expected })
          : op.kind === "restore"
            ? await store.restoreStream(id, { expectedVersion: expected })
            : await store.truncateStream(id, { before: op.before, expectedVersion: expected });
      side.seen = Math.max(side.seen, result.event?.globalPosition ?? 0);
      return {
        operation: result.operation,
        version: result.version,
        removed: result.removed,
        changed: result.changed,
        event: result.event === undefined ? undefined : normal(result.event, ids),
      };
    }
  }
}

/**
 * The run's part of the feed: everything after the run's start once (checked for order), then
 * `readAll` after the position of its `afterIndex`th event with `maxCount`, the answer compared.
 */
async function feed(side: Side, afterIndex: number, maxCount: number | undefined, ids: readonly string[]) {
  const store = side.store;
  // A store whose feed trails its appends (DynamoDB's commit log) is read once it shows them.
  const deadline = Date.now() + 10_000;
  while ((await store.getLastGlobalPosition()) < side.seen && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const all = (await collect(store.readAll({ after: side.start }))).filter((e) => ours(e, ids));
  assertFeedOrder(all);
  const after =
    afterIndex === 0 ? side.start : (all[Math.min(afterIndex, all.length) - 1]?.globalPosition ?? side.start);
  const read = await collect(store.readAll({ after, ...(maxCount === undefined ? {} : { maxCount }) }));
  return read.filter((e) => ours(e, ids)).map((e) => normal(e, ids));
}

/** Positions increase along the feed, and within each stream with its versions. */
function assertFeedOrder(events: readonly EventEnvelope[]): void {
  const versions = new Map<string, number>();
  let position = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    const at = event.globalPosition ?? Number.NaN;
    if (!(at > position)) throw new Error(`the feed's positions do not increase at ${at} (after ${position})`);
    position = at;
    if (event.streamId === STREAM_LIFECYCLE_STREAM) continue;
    const before = versions.get(event.streamId) ?? 0;
    if (!(event.version > before)) {
      throw new Error(`the feed gives ${event.streamId} version ${event.version} after version ${before}`);
    }
    versions.set(event.streamId, event.version);
  }
}

/** The run's own events and the lifecycle events about its streams. */
function ours(event: EventEnvelope, ids: readonly string[]): boolean {
  const about =
    event.streamId === STREAM_LIFECYCLE_STREAM
      ? (event.data as { streamId?: unknown } | null)?.streamId
      : event.streamId;
  return typeof about === "string" && ids.includes(about);
}

/**
 * What both sides must agree on. Positions and timestamps are each store's own; a system stream's
 * event ids and versions count every run's lifecycle events in that store, so they are left out.
 */
function normal(event: EventEnvelope, ids: readonly string[]) {
  // `$streams` only: a generated name may start with `$` too (a prefix the names are given), and its
  // events' data is the test's own (null, say), not a lifecycle event's (CI met one with seed 21972258).
  const system = event.streamId === STREAM_LIFECYCLE_STREAM;
  const data = system
    ? { ...(event.data as object), streamId: ids.indexOf((event.data as { streamId: string }).streamId) }
    : event.data;
  return {
    stream: system ? event.streamId : ids.indexOf(event.streamId),
    type: event.type,
    data,
    metadata: event.metadata,
    ...(system ? {} : { id: event.id, version: event.version }),
  };
}

/** A name of a run (an id, a key), built from the run's own prefix, so no run meets another's (shrinking included). */
export type NameOf = (prefix: string) => string;

/**
 * `count` names of a run: mostly the prefix with generated text of any code point after it, some with
 * well-formed text before it, and `special` ones (what every store must keep apart or refuse alike).
 */
export function runNames(count: number, special: readonly NameOf[]): fc.Arbitrary<NameOf[]> {
  return fc.array(
    fc.oneof(
      { arbitrary: fc.string({ unit: "binary", maxLength: 6 }).map((text) => (p: string) => `${p}${text}`), weight: 4 },
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 4 }).map((text) => (p: string) => `${text}${p}`),
      fc.constantFrom(...special),
    ),
    { minLength: count, maxLength: count },
  );
}

/**
 * JSON with object keys sorted (JSON objects are unordered, and PostgreSQL's jsonb reorders keys), that
 * tells apart what JSON text would make alike: -0 from 0, a property holding undefined from none, NaN
 * and the infinities from null, and BigInts, Dates, Maps, Sets, typed arrays and class instances from
 * plain data (a snapshot state holds them), so one store giving back another value than the reference
 * is seen. Each value is looked at as it is, before its own `toJSON`.
 */
export function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string) {
    return exactly(this[key]);
  });
}

function exactly(v: unknown): unknown {
  switch (typeof v) {
    case "undefined":
      return "<undefined>";
    case "number":
      return Object.is(v, -0) || !Number.isFinite(v) ? `<${Object.is(v, -0) ? "-0" : v}>` : v;
    case "bigint":
      return `<${v}n>`;
    case "function":
    case "symbol":
      return `<${typeof v}>`;
  }
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v;
  if (v instanceof Date) return { "<Date>": Number.isNaN(v.getTime()) ? "invalid" : v.toISOString() };
  if (v instanceof Map) return { "<Map>": [...v] };
  if (v instanceof Set) return { "<Set>": [...v] };
  if (ArrayBuffer.isView(v)) return { [`<${v.constructor.name}>`]: Array.from(v as unknown as ArrayLike<number>) };
  const sorted = Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null ? sorted : { [`<${proto?.constructor?.name}>`]: sorted };
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}
