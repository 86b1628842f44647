/**
 * Two store instances over one backend (two processes' worth of state: separate objects, clients
 * and caches) appending at once, checked through the public API only: fast-check generates a mix
 * of appends from each instance, to streams of its own and to streams both write, with expected
 * versions that may or may not hold, and all of them run concurrently. Afterwards the feed read from
 * either instance must hold every committed event exactly once and nothing else of the run, with
 * strictly increasing positions, each stream's events in version order with no gap, as the appends
 * returned them; a refused append must be a `ConcurrencyError` (never for `"any"`), and
 * `getLastGlobalPosition` (either instance) the last position read. Where the backend orders the
 * feed by a shared counter (DynamoDB's global feed), this is where it contends.
 * Test-only code: the shipped contract suites cannot depend on fast-check (a devDependency).
 */
import fc from "fast-check";
import {
  type AppendToStreamResult,
  type EventEnvelope,
  type EventStore,
  type ExpectedVersion,
  isConcurrencyError,
  ulid,
} from "../../src/index.js";
import { collect, untilHeadReadable } from "../../src/testing/index.js";

export interface TwoWritersOptions {
  /** Two instances over the same backend (same table, schema or file), made as two processes would. */
  readonly writers: readonly [EventStore, EventStore];
  readonly numRuns?: number;
  /** Most appends each instance makes per run. Defaults to 12. */
  readonly maxAppends?: number;
}

/** Streams every writer appends to, and streams each writer has to itself. */
const SHARED = 2;
const OWN = 2;

interface Append {
  readonly shared: boolean;
  readonly stream: number;
  /** "any", "no-stream", or a version the stream may or may not be at when the append arrives. */
  readonly expected: ExpectedVersion;
  readonly count: number;
}

const append = fc.record({
  shared: fc.boolean(),
  stream: fc.integer({ min: 0, max: Math.max(SHARED, OWN) - 1 }),
  expected: fc.oneof(
    fc.constant<ExpectedVersion>("any"),
    fc.constant<ExpectedVersion>("no-stream"),
    fc.integer({ min: 0, max: 6 }),
  ),
  count: fc.integer({ min: 1, max: 3 }),
});

/** What the runs did: appends committed and refused (a run that met no conflict checked less). */
export interface TwoWritersTally {
  committed: number;
  conflicts: number;
}

export async function checkTwoWriters(options: TwoWritersOptions): Promise<TwoWritersTally> {
  const { writers } = options;
  const tally: TwoWritersTally = { committed: 0, conflicts: 0 };
  const perWriter = fc.array(append, { minLength: 1, maxLength: options.maxAppends ?? 12 });
  await fc.assert(
    fc.asyncProperty(fc.tuple(perWriter, perWriter), async (plans) => {
      const run = ulid();
      const streamOf = (writer: number, { shared, stream }: Append) =>
        shared ? `Two_${run}-shared${stream % SHARED}` : `Two_${run}-own${writer}.${stream % OWN}`;
      const start = await writers[0].getLastGlobalPosition();
      const launched = plans.flatMap((plan, writer) =>
        plan.map((step, n) => ({
          step,
          streamId: streamOf(writer, step),
          outcome: writers[writer as 0 | 1].appendToStream(
            streamOf(writer, step),
            Array.from({ length: step.count }, (_, i) => ({ type: "Wrote", data: { writer, n, i } })),
            { expectedVersion: step.expected },
          ),
        })),
      );
      const settled = await Promise.allSettled(launched.map((a) => a.outcome));

      const committed = new Map<string, EventEnvelope>();
      for (const [i, result] of settled.entries()) {
        const { step, streamId } = launched[i] as (typeof launched)[number];
        if (result.status === "rejected") {
          // Only a version check refuses an append here: typed, and never one that checks nothing.
          if (!isConcurrencyError(result.reason)) throw result.reason;
          if (step.expected === "any") throw new Error(`an "any" append to ${streamId} was refused`);
          tally.conflicts += 1;
          continue;
        }
        const { events } = result.value as AppendToStreamResult;
        if (events.length !== step.count) throw new Error(`an append to ${streamId} stored ${events.length} events`);
        for (const event of events) committed.set(event.id, event);
        tally.committed += 1;
      }

      for (const reader of writers) {
        // A feed reader stops below any transaction still open (another test's, on a shared server):
        // the committed events are all there once the head is readable, not necessarily before.
        await untilHeadReadable(reader);
        const feed = await collect(reader.readAll({ after: start }));
        const positions = feed.map((e) => e.globalPosition ?? Number.NaN);
        for (let i = 1; i < positions.length; i++) {
          if (!((positions[i] as number) > (positions[i - 1] as number))) {
            throw new Error(`positions do not strictly increase: ${positions[i - 1]} then ${positions[i]}`);
          }
        }
        const mine = feed.filter((e) => e.streamId.startsWith(`Two_${run}-`));
        const ids = mine.map((e) => e.id);
        if (new Set(ids).size !== ids.length) throw new Error("an event appears twice in the feed");
        if (ids.length !== committed.size || ids.some((id) => !committed.has(id))) {
          throw new Error(`the feed holds ${ids.length} of the run's events, ${committed.size} were committed`);
        }
        for (const event of mine) {
          const returned = committed.get(event.id) as EventEnvelope;
          if (returned.version !== event.version || returned.globalPosition !== event.globalPosition) {
            throw new Error(`event ${event.id} reads at another version or position than its append returned`);
          }
        }
        const streams = new Set(launched.map((a) => a.streamId));
        for (const streamId of streams) {
          const inFeed = mine.filter((e) => e.streamId === streamId).map((e) => e.version);
          const inStream = (await collect(reader.readStream(streamId))).map((e) => e.id);
          const expected = Array.from({ length: inFeed.length }, (_, i) => i + 1);
          if (JSON.stringify(inFeed) !== JSON.stringify(expected)) {
            throw new Error(`${streamId} is in the feed at versions ${inFeed}, not 1 to ${inFeed.length} in order`);
          }
          const feedIds = mine.filter((e) => e.streamId === streamId).map((e) => e.id);
          if (JSON.stringify(inStream) !== JSON.stringify(feedIds)) {
            throw new Error(`${streamId} reads otherwise than the feed holds it`);
          }
        }
        const last = await reader.getLastGlobalPosition();
        const lastRead = positions[positions.length - 1] ?? start;
        if (last !== lastRead) throw new Error(`getLastGlobalPosition is ${last}, the feed's last event ${lastRead}`);
      }
    }),
    { numRuns: options.numRuns ?? 5 },
  );
  return tally;
}
