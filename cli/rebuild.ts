import {
  type Issue,
  isAbortedError,
  type Progress,
  type RebuildProjectionOptions,
  rebuildCheckpointId,
  rebuildProjection,
} from "../src/index.js";
// Where a pass starts counting, as the library's own progress counts it.
import { feedOrigin, untilAborted } from "../src/projections/progress.js";
import { rebuildIssues } from "../src/projections/rebuild.js";
import { CliUsageError } from "./errors.js";
import { withInterrupt } from "./interrupt.js";
import type { CliIo } from "./io.js";
import { parseCommand } from "./parse.js";
import { formatDuration } from "./progress-output.js";
import { PROJECTION_OPTIONS, reportInterrupted, runWithProgress, storeOf, takeModule } from "./projection-command.js";
import { withProjectionStores } from "./projection-stores.js";

export const REBUILD_USAGE = `Usage: eventflows rebuild <module> --store <store> [options]

Rebuilds a projection blue/green: runs its handler (the code in <module>) over the whole feed into a
shadow generation of its read models while the live ones keep serving, then swaps the shadow in
atomically. An interrupted rebuild (Ctrl-C, SIGTERM, a crash) keeps its shadow: the same command resumes it.

<module> is imported as is: a built .js file on Node, .js or .ts under Bun. Its export (--export,
default "default") is { projection, collections }, or a bare projection(...) with --collections.

Stores (the event store and the read models in the same database):
  postgres   the URL from $EVENTFLOWS_PG_URL or $DATABASE_URL, or --url-file <path>, or --url
             (no password); --schema <name>, --prefix <prefix> as for migrate
  sqlite     --file <path> (must exist), --prefix <prefix>
  dynamodb   --table <name> (--partition-key, --sort-key), the client from AWS_* as for migrate;
             a batch commits at most 100 items (4 MB): a batch that writes more is
             committed in halves

Options:
  --export <name>        the module's export to rebuild (default: default)
  --collections <a,b>    the collections the projection writes (instead of the export's)
  --no-swap              build the shadow and stop; the live read models stay untouched
  --restart              drop a shadow left by an earlier run and start from the first event
  --batch-size <n>       events per shadow transaction, 1 to 10000 (default: 10000 on
                         PostgreSQL, 1000 elsewhere)
  --json                 print the summary as one JSON object
  --verbose              print stack traces of errors
  -h, --help             show this text
Progress goes to stderr: one line rewritten in place on a terminal, a line a second otherwise.
Exit codes: 0 done, 1 failed, 2 bad usage, 130 interrupted (143 by SIGTERM; the shadow is kept).`;

export async function rebuild(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand("rebuild", args, {
    ...PROJECTION_OPTIONS,
    "no-swap": { type: "boolean" },
    restart: { type: "boolean" },
  });
  if (values.help) {
    io.stdout(REBUILD_USAGE);
    return 0;
  }
  const store = storeOf("rebuild", values);
  const { loaded, batchSize } = await takeModule("rebuild", positionals, values, io, true);
  const swap = values["no-swap"] !== true;
  // The collections by rebuildProjection's rules, before a store is opened: a name it would refuse (a control
  // character, the projections' state collection) is a wrong command line or module, not a failure of the work.
  const refused: Issue[] = rebuildIssues({
    projection: loaded.projection,
    collections: loaded.collections,
  } as RebuildProjectionOptions).filter((issue) => issue.path[0] === "collections" || issue.path[0] === "projection");
  if (refused.length > 0) {
    const where =
      values.collections === undefined ? `collections of the export "${values.export ?? "default"}"` : "--collections";
    throw new CliUsageError(`Invalid ${where}: ${refused.map((issue) => issue.message).join("; ")}`, "rebuild");
  }
  let last: Progress | undefined;
  try {
    const result = await withProjectionStores("rebuild", store, values, io, (stores) =>
      withInterrupt(async (signal) => {
        const checkpoint = rebuildCheckpointId(loaded.projection.name);
        // The reads before the run take no signal: a Ctrl-C while the database does not answer stops them.
        const from =
          values.restart === true
            ? 0
            : ((await untilAborted(stores.readModels.checkpoints.load(checkpoint), signal, "rebuild")) ?? 0);
        const origin = await untilAborted(feedOrigin(stores.eventStore, from), signal, "rebuild");
        return runWithProgress(io, origin, (onProgress) =>
          rebuildProjection({
            ...stores,
            projection: loaded.projection,
            collections: loaded.collections,
            batchSize,
            swap,
            restart: values.restart === true,
            signal,
            onProgress: (progress) => {
              last = progress;
              onProgress(progress);
            },
          }),
        );
      }),
    );
    const name = loaded.projection.name;
    if (values.json) {
      io.stdout(JSON.stringify({ command: "rebuild", projection: name, store, ...result }));
    } else {
      const outcome = result.swapped
        ? "swapped in: the live read models are the rebuilt ones"
        : "built, not swapped (--no-swap): run again without --no-swap to swap it in";
      io.stdout(
        `rebuild of projection "${name}": ${result.read.toLocaleString("en-US")} events read up to position ${result.position} in ${formatDuration(result.elapsedMs)}; ${outcome}.`,
      );
    }
    return 0;
  } catch (error) {
    if (!isAbortedError(error)) throw error;
    return reportInterrupted(
      io,
      values.json === true,
      `rebuild of projection "${loaded.projection.name}" interrupted${last ? ` at position ${last.position}` : ""}; the shadow is kept: run the same command again to resume (--restart starts over)`,
    );
  }
}
