import {
  EventFlowsError,
  isAbortedError,
  type Progress,
  ProjectionFailedError,
  type RecordedWrite,
  replay as replayHistory,
} from "../src/index.js";
// Where a pass starts counting, as the library's own progress counts it.
import { feedOrigin, untilAborted } from "../src/projections/progress.js";
import { CliErrorCode, CliUsageError } from "./errors.js";
import { withInterrupt } from "./interrupt.js";
import type { CliIo } from "./io.js";
import { parseCommand } from "./parse.js";
import { formatDuration } from "./progress-output.js";
import {
  integerOption,
  isoTimeOption,
  nameOption,
  PROJECTION_OPTIONS,
  reportInterrupted,
  runWithProgress,
  storeOf,
  takeModule,
} from "./projection-command.js";
import { withProjectionStores } from "./projection-stores.js";

export const REPLAY_USAGE = `Usage: eventflows replay <module> --store <store> [options]

Replays history through a projection's handler: the events its filters take, from the global feed,
one category or one stream. A dry run unless --apply: the handler runs and its writes are only
counted (and listed), nothing is written. With --apply its writes go to the live read models, batch
by batch; the projection's checkpoint does not move. Stateful projections are refused (their state
would start from initialState, not from where the feed is taken up).

<module> and --export as for rebuild (the collections are not needed).

Stores: postgres, sqlite, with the store options of rebuild.

Options:
  --export <name>      the module's export (default: default)
  --stream <id>        replay this one stream, in version order
  --category <c>       replay the streams of this category (Cart for Cart-01J...)
  --after <position>   start after this global position (a stream version with --stream)
  --since <iso time>   only events at or after this time (the feed is still read from --after):
                       an ISO 8601 date (midnight UTC) or date-time with a zone, e.g. 2026-11-01T09:30:00Z
  --rate <n>           at most n events per second reach the handler
  --batch-size <n>     events per batch (and per transaction with --apply), 1 to 10000 (default: 100)
  --apply              write; without it nothing is written
  --json               print the summary as one JSON object
  --verbose            print stack traces of errors
  -h, --help           show this text
Progress goes to stderr as for rebuild.
Exit codes: 0 done, 1 failed, 2 bad usage, 130 interrupted (143 by SIGTERM; what --apply committed stays).`;

/** Documents a dry run lists in its text summary (the JSON one carries the first writes). */
const LISTED_WRITES = 10;

export async function replay(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand("replay", args, {
    ...PROJECTION_OPTIONS,
    stream: { type: "string" },
    category: { type: "string" },
    after: { type: "string" },
    since: { type: "string" },
    rate: { type: "string" },
    apply: { type: "boolean" },
  });
  if (values.help) {
    io.stdout(REPLAY_USAGE);
    return 0;
  }
  const store = storeOf("replay", values);
  if (store === "dynamodb") throw new CliUsageError("replay takes --store postgres or sqlite", "replay");
  if (values.stream !== undefined && values.category !== undefined) {
    throw new CliUsageError("Give --stream or --category, not both", "replay");
  }
  if (values.collections !== undefined) throw new CliUsageError("--collections is for rebuild", "replay");
  nameOption("replay", "stream", "stream id", values.stream);
  nameOption("replay", "category", "category", values.category);
  const after = integerOption("replay", "after", values.after, 0, Number.MAX_SAFE_INTEGER);
  const since = isoTimeOption("replay", "since", values.since);
  // Decimal notation only: Number() would also read "0x10" as 16, "1e3" as 1000 and " 5 " as 5.
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(/^\d*\.?\d+$/.test(values.rate as string) && Number.isFinite(rate) && rate > 0)) {
    throw new CliUsageError(`--rate takes a positive number of events per second, not "${values.rate}"`, "replay");
  }
  const { loaded, batchSize } = await takeModule("replay", positionals, values, io, false);
  const { projection } = loaded;
  if (projection.stateful) {
    throw new EventFlowsError(
      CliErrorCode.StatefulReplay,
      `Projection "${projection.name}" keeps state: replaying part of the feed would start it from initialState; rebuild it instead`,
    );
  }
  const dryRun = values.apply !== true;
  let matched = 0;
  let last: Progress | undefined;
  try {
    const result = await withProjectionStores("replay", store, values, io, ({ eventStore, readModels }) =>
      withInterrupt(async (signal) =>
        // The read before the run takes no signal: a Ctrl-C while the database does not answer stops it.
        runWithProgress(
          io,
          await untilAborted(feedOrigin(eventStore, after ?? 0, values.stream), signal, "replay"),
          (onProgress) =>
            replayHistory({
              eventStore,
              readModels,
              dryRun,
              stream: values.stream,
              category: values.category,
              after,
              since,
              eventsPerSecond: rate,
              batchSize,
              signal,
              handle: async (event, context) => {
                if (!projection.matches(event)) return;
                matched++;
                try {
                  await projection.handle(event, { readModels: context.readModels, state: undefined });
                } catch (error) {
                  // As a rebuild or a runner reports it: which event, where, and (the cause) why.
                  const at = event.globalPosition ?? 0;
                  throw new ProjectionFailedError(projection.name, at, event.id, event.type, { cause: error });
                }
              },
              onProgress: (progress) => {
                last = progress;
                onProgress(progress);
              },
            }),
        ),
      ),
    );
    const summary = {
      command: "replay",
      projection: projection.name,
      store,
      dryRun,
      read: result.read,
      handled: matched,
      position: result.position,
      writes: result.writes,
      elapsedMs: result.elapsedMs,
    };
    if (values.json) {
      io.stdout(JSON.stringify({ ...summary, recorded: result.recorded.slice(0, LISTED_WRITES) }));
      return 0;
    }
    const lines = [
      `replay of projection "${projection.name}"${dryRun ? " (dry run: nothing written; --apply writes)" : ""}: ${result.read.toLocaleString("en-US")} events read, ${matched.toLocaleString("en-US")} handled, up to position ${result.position} in ${formatDuration(result.elapsedMs)}; ${result.writes.toLocaleString("en-US")} writes ${dryRun ? "would have been made" : "made"}.`,
    ];
    // Only a dry run records its writes; an applied run made them, and there is nothing to list.
    if (dryRun) lines.push(...listWrites(result.recorded, result.writes));
    io.stdout(lines.join("\n"));
    return 0;
  } catch (error) {
    if (!isAbortedError(error)) throw error;
    const where = last === undefined ? "" : ` at position ${last.position}`;
    const resume = last === undefined ? "" : `: continue with --after ${last.position}`;
    return reportInterrupted(
      io,
      values.json === true,
      `replay interrupted${where}${dryRun ? "" : " (what was written stays)"}${resume}`,
    );
  }
}

/**
 * A dry run's writes as lines, one per document (a handler that updates a document per event would
 * otherwise fill the screen with one id): `would put carts/Cart-1 (3 writes)`.
 */
function listWrites(recorded: readonly RecordedWrite[], total: number): string[] {
  const byDocument = new Map<string, { write: RecordedWrite; count: number }>();
  for (const write of recorded) {
    const key = JSON.stringify([write.collection, write.id]);
    const seen = byDocument.get(key);
    if (seen === undefined) byDocument.set(key, { write, count: 1 });
    else byDocument.set(key, { write, count: seen.count + 1 });
  }
  const lines = [...byDocument.values()].slice(0, LISTED_WRITES).map(({ write, count }) => {
    const last = write.document === undefined ? "delete" : "put";
    return `  would ${last} ${write.collection}/${write.id}${count > 1 ? ` (${count} writes)` : ""}`;
  });
  const listed = [...byDocument.values()].slice(0, LISTED_WRITES).reduce((sum, entry) => sum + entry.count, 0);
  if (total > listed) lines.push(`  ... and ${total - listed} more writes`);
  return lines;
}
