import { createHash } from "node:crypto";
import {
  type CheckpointStore,
  EventFlowsError,
  type EventStore,
  type ImportEventsResult,
  type ImportSource,
  importEvents,
  isAbortedError,
  isEventFlowsError,
  isValidationError,
  streamName,
} from "../src/index.js";
import { untilAborted } from "../src/projections/progress.js";
import { CliUsageError } from "./errors.js";
import { withInterrupt } from "./interrupt.js";
import type { CliIo } from "./io.js";
import { parseCommand } from "./parse.js";
import { formatDuration } from "./progress-output.js";
import { integerOption, reportInterrupted, runWithProgress } from "./projection-command.js";
import {
  checkInput,
  checkStoreOptions,
  commandEnv,
  dynamoDbClient,
  STORE_OPTIONS,
  type StoreValues,
  storeName,
  withPostgres,
  withSqlite,
} from "./stores.js";

export const IMPORT_USAGE = `Usage: eventflows import <source> --to <store> [options]

Moves the events of another event store into an EventFlows store: stream ids, versions (Emmett's
stream positions, Castore's aggregate versions), types, data, metadata and times are kept. In
batches, with a checkpoint saved in the target after each, one per source (an Emmett database's
host, port and name, schema and partition; a Castore table's region, endpoint and name, event store
and category): an interrupted import (Ctrl-C, SIGTERM, a crash) resumes where it stopped when run again, and
events found stored already are never written twice.
Stop the source's writers before the last run: it then picks up what they wrote meanwhile.

Sources:
  emmett-postgres    an Emmett 0.42 store on PostgreSQL (@event-driven-io/emmett-postgresql)
                     the URL from $EVENTFLOWS_IMPORT_SOURCE_URL, or --from-url-file <path>
    --from-schema <name>       the schema of Emmett's tables (default: the search path); one
                               without them (emt_messages) is a usage error
    --from-partition <name>    Emmett's partition (default: emt:default); one that holds no
                               event is a usage error
  castore-dynamodb   a Castore 2.x single-table DynamoDB table (@castore/event-storage-adapter-dynamodb);
                     region, endpoint and credentials from the AWS variables
    --from-table <name>        the Castore table (required)
    --event-store-id <id>      the Castore event store to import (required); one the table holds
                               no event of is a usage error
    --category <name>          streams are named <category>-<aggregateId> (default: the event store id);
                               a category holds no "-", which ends it

Targets (--to), with the options of eventflows migrate (run it first):
  postgres   the URL from $EVENTFLOWS_PG_URL or $DATABASE_URL, or --url-file, or --url (no
             password); --schema, --prefix
  dynamodb   --table <name>, --partition-key, --sort-key
  sqlite     --file <path> (must exist), --prefix

Options:
  --batch-size <n>   source events per batch and checkpoint, 1 to 10000 (default: 1000)
  --restart          forget the checkpoint and read the source from its beginning
  --json             print the summary as one JSON object
  --verbose          print stack traces of errors
  -h, --help         show this text
Progress goes to stderr (positions are Emmett's transaction ids, or Castore's first-event times
in epoch milliseconds). Exit codes: 0 done, 1 failed, 2 bad usage, 130 interrupted (143 by SIGTERM; run again to resume).`;

const SOURCES = ["emmett-postgres", "castore-dynamodb"] as const;
type SourceName = (typeof SOURCES)[number];

const IMPORT_OPTIONS = {
  ...STORE_OPTIONS,
  to: { type: "string" },
  "from-url-file": { type: "string" },
  "from-schema": { type: "string" },
  "from-partition": { type: "string" },
  "from-table": { type: "string" },
  "event-store-id": { type: "string" },
  category: { type: "string" },
  "batch-size": { type: "string" },
  restart: { type: "boolean" },
} as const;

interface ImportValues extends StoreValues {
  readonly "from-url-file"?: string;
  readonly "from-schema"?: string;
  readonly "from-partition"?: string;
  readonly "from-table"?: string;
  readonly "event-store-id"?: string;
  readonly category?: string;
}

/** The options each source owns: another source's are refused, not ignored. */
const SOURCE_OPTIONS: Record<SourceName, readonly (keyof ImportValues)[]> = {
  "emmett-postgres": ["from-url-file", "from-schema", "from-partition"],
  "castore-dynamodb": ["from-table", "event-store-id", "category"],
};

export async function importCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand("import", args, IMPORT_OPTIONS);
  if (values.help) {
    io.stdout(IMPORT_USAGE);
    return 0;
  }
  const [sourceArg, ...extra] = positionals;
  const source = SOURCES.find((name) => name === sourceArg);
  if (source === undefined) {
    throw new CliUsageError(
      sourceArg === undefined
        ? `Missing the source: one of ${SOURCES.join(", ")}`
        : `Unknown source "${sourceArg}": one of ${SOURCES.join(", ")}`,
      "import",
    );
  }
  if (extra.length > 0) throw new CliUsageError(`Unexpected argument "${extra[0]}"`, "import");
  for (const other of SOURCES.filter((name) => name !== source)) {
    for (const key of SOURCE_OPTIONS[other]) {
      if (values[key] !== undefined) throw new CliUsageError(`--${key} is not an option of ${source}`, "import");
    }
  }
  if (source === "castore-dynamodb" && (values["from-table"] ?? "") === "")
    throw new CliUsageError("castore-dynamodb needs --from-table <name>", "import");
  if (source === "castore-dynamodb" && (values["event-store-id"] ?? "") === "")
    throw new CliUsageError("castore-dynamodb needs --event-store-id <id>", "import");
  const target = storeName("import", values.to, ["postgres", "dynamodb", "sqlite"]);
  checkStoreOptions("import", target, values);
  if (target === "dynamodb" && (values.table ?? "") === "")
    throw new CliUsageError("The dynamodb store needs --table <name>", "import");
  if (
    source === "emmett-postgres" &&
    commandEnv(io, "EVENTFLOWS_IMPORT_SOURCE_URL") === undefined &&
    values["from-url-file"] === undefined
  ) {
    throw new CliUsageError(
      "emmett-postgres needs the source's URL: $EVENTFLOWS_IMPORT_SOURCE_URL or --from-url-file <path>",
      "import",
    );
  }
  const batchSize = integerOption("import", "batch-size", values["batch-size"], 1, 10_000);
  const restart = values.restart === true;

  let reached: number | undefined;
  try {
    const result = await withSource(source, values, io, (from, identity, empty) =>
      withTarget(target, values, io, (store, checkpoints) =>
        withInterrupt(async (signal) => {
          const checkpointId = importCheckpointId(source, identity);
          // The reads before the run take no signal: a Ctrl-C while a database does not answer stops them.
          const saved = restart ? undefined : await untilAborted(checkpoints.load(checkpointId), signal, "import");
          const origin = saved ?? (await untilAborted(sourceOrigin(from, empty), signal, "import"));
          return runWithProgress(io, origin, (onProgress) =>
            importEvents({
              source: from,
              target: store,
              checkpoints,
              checkpointId,
              batchSize,
              restart,
              signal,
              onProgress: (progress) => {
                reached = progress.position;
                onProgress(progress);
              },
            }),
          );
        }),
      ),
    );
    print(io, values.json === true, source, target, result);
    return 0;
  } catch (error) {
    if (!isAbortedError(error)) throw error;
    return reportInterrupted(
      io,
      values.json === true,
      `import from ${source} interrupted${reached === undefined ? "" : ` at position ${reached}`}; run the same command again to resume`,
    );
  }
}

function print(io: CliIo, json: boolean, source: string, target: string, result: ImportEventsResult): void {
  if (json) {
    io.stdout(JSON.stringify({ command: "import", source, store: target, ...result }));
    return;
  }
  const n = (value: number) => value.toLocaleString("en-US");
  io.stdout(
    `import from ${source} into ${target}: ${n(result.read)} events read, ${n(result.imported)} imported, ${n(result.skipped)} found stored already, ${n(result.streams)} streams, in ${formatDuration(result.elapsedMs)}; checkpoint at ${result.position}.`,
  );
}

/**
 * The target's checkpoint for this source: one per Emmett database (host, port, database name), schema
 * and partition, per Castore table (region, endpoint, name), event store and category. Shared by every source of a kind
 * (importEvents' default), the position one source reached would make the import of another into the
 * same target skip what lies before it. The id is a digest of the identity, which holds no user or
 * password: it is stored in the target.
 */
function importCheckpointId(source: SourceName, identity: readonly string[]): string {
  const digest = createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 16);
  return `import:${source}:${digest}`;
}

/**
 * Opens the source by its options, runs `work` with the source, what identifies it (for its
 * checkpoint) and what to say should it hold no event at all (see {@link sourceOrigin}), and closes it.
 */
async function withSource<T>(
  source: SourceName,
  values: ImportValues,
  io: CliIo,
  work: (source: ImportSource, identity: readonly string[], empty: string) => Promise<T>,
): Promise<T> {
  if (source === "emmett-postgres") {
    // The source's URL by the target's rules, from its own variable and option.
    const sourceIo = { ...io, env: { EVENTFLOWS_PG_URL: commandEnv(io, "EVENTFLOWS_IMPORT_SOURCE_URL") } };
    let opened = false;
    return withPostgres("import", { "url-file": values["from-url-file"] }, sourceIo, async (pg, sql) => {
      const schema = values["from-schema"];
      const partition = values["from-partition"] ?? "emt:default";
      const from = checkInput("import", () => pg.emmettPostgresSource(sql, { schema, partition }), {
        schema: "--from-schema",
        partition: "--from-partition",
      });
      await checkEmmettTable(pg, sql, schema);
      // The database as postgres.js connects to it (the URL's, or PGHOST, PGPORT, PGDATABASE and their defaults).
      const { host, port, database } = sql.options;
      // "tx": checkpoints are transaction ids since 2026-12-05; those of global positions before are not read.
      opened = true;
      const where = schema === undefined ? "" : ` in schema "${schema}"`;
      const empty = `The source's Emmett table${where} holds no event of the partition "${partition}": nothing to import; check the database and --from-partition (default emt:default)`;
      return work(
        sourceNamed(source, from),
        [host.join(","), port.join(","), database ?? "", schema ?? "", partition, "tx"],
        empty,
      );
    }).catch((error: unknown) => {
      // Before the target is opened, whatever fails (the URL, the connection, the first query) is the source's.
      if (!opened && error instanceof CliUsageError) {
        // The URL's rules are the target's, and so are the names in their messages: say the source's instead.
        throw new CliUsageError(
          error.message
            .replace(/\$EVENTFLOWS_PG_URL\b/g, "$EVENTFLOWS_IMPORT_SOURCE_URL")
            .replace(/(?<![\w-])--url-file\b/g, "--from-url-file"),
          "import",
        );
      }
      throw opened ? error : sourceError(source, error);
    });
  }
  const dynamodb = await import("../adapters/dynamodb/index.js");
  const tableName = values["from-table"] ?? "";
  // The table's name by DynamoDB's rules, before any request (the source adapter leaves it to DynamoDB).
  checkInput("import", () => dynamodb.tableLayout({ tableName }), { tableName: "--from-table" });
  const eventStoreId = values["event-store-id"] ?? "";
  const category = values.category ?? eventStoreId;
  categoryChecked(category, values.category === undefined ? eventStoreId : undefined);
  const client = await dynamoDbClient(io);
  const from = checkInput(
    "import",
    () =>
      dynamodb.castoreDynamoDbSource(client, {
        tableName,
        eventStoreId,
        streamId: (aggregateId) => `${category}-${aggregateId}`,
      }),
    { tableName: "--from-table", eventStoreId: "--event-store-id" },
  );
  // The table as the client reaches it: the same name in another region, or behind another endpoint, is
  // another table. The endpoint's origin and path only: never the credentials, nor a query string.
  const endpoint = new URL(client.endpoint);
  return work(
    sourceNamed(source, from),
    [tableName, eventStoreId, category, client.region, `${endpoint.origin}${endpoint.pathname}`],
    `The table "${tableName}" (${client.region}) holds no event of the event store "${eventStoreId}": nothing to import; check --event-store-id (Castore's eventStoreId, case included)`,
  );
}

/**
 * The category the streams are named by (`<category>-<aggregateId>`), by the rule of stream names: a
 * category ends at the first "-", so "shopping-carts" would put every stream under "shopping" (what
 * projections and live filters select by), silently. `from`: the event store id it defaults to.
 */
function categoryChecked(category: string, from: string | undefined): void {
  try {
    streamName(category, "id");
  } catch (error) {
    if (!isValidationError(error)) throw error;
    const why = error.issues.map((issue) => issue.message).join("; ");
    throw new CliUsageError(
      from === undefined
        ? `Invalid --category: ${why}`
        : `The event store id "${from}" cannot be the streams' category (${why}): name one with --category`,
      "import",
    );
  }
}

/**
 * A failure of the source's, said to be the source's: the target may be a store of the same kind
 * (PostgreSQL into PostgreSQL, DynamoDB into DynamoDB), and "postgres import failed (3D000): the database
 * ... does not exist" alone does not say which one to look at. Its code stays; usage errors, which name
 * the option, and an interrupt pass as they are.
 */
function sourceError(source: SourceName, error: unknown): unknown {
  if (!isEventFlowsError(error) || error instanceof CliUsageError || isAbortedError(error)) return error;
  return new EventFlowsError(error.code, `the source (${source}): ${error.message}`, { cause: error });
}

/**
 * Just before the source's first position: where a first run's progress counts from, as a rebuild's
 * does from the first event's. Not 0: the positions are the source's own (Emmett's transaction ids,
 * Castore's times in epoch milliseconds), far from 0, so from 0 the first batch showed 99% done.
 * A source with no event at all is a usage error saying so (`empty`), before anything is written: its
 * options name nothing there (a misspelt event store id or partition), and a run that reported 0 events
 * imported, exit 0, looked like a finished import. Asked only when no checkpoint is saved (a first run, or
 * `--restart`): a saved one means the source had events.
 */
async function sourceOrigin(source: ImportSource, empty: string): Promise<number> {
  for await (const batch of source.batches(0, 1)) return Math.max(0, batch.position - 1);
  throw new CliUsageError(empty, "import");
}

/** The source with its reads' failures named by {@link sourceError}. */
function sourceNamed(source: SourceName, from: ImportSource): ImportSource {
  return {
    name: from.name,
    async *batches(position, limit, signal) {
      try {
        yield* from.batches(position, limit, signal);
      } catch (error) {
        throw sourceError(source, error);
      }
    },
    head: () =>
      from.head().catch((error: unknown) => {
        throw sourceError(source, error);
      }),
  };
}

/**
 * A `--from-schema` that names no schema of the source database, or no Emmett table where the import
 * would read, is a wrong command line (exit 2) saying which, before anything is read: the adapter's
 * "tables do not exist" speaks of an EventFlows store and its migrations.
 */
async function checkEmmettTable(
  pg: typeof import("../adapters/postgres/index.js"),
  sql: import("../adapters/postgres/index.js").PostgresSql,
  schema: string | undefined,
): Promise<void> {
  let found: { has_schema: boolean; has_table: boolean } | undefined;
  try {
    [found] = await sql.unsafe<{ has_schema: boolean; has_table: boolean }[]>(
      `SELECT $1::text IS NULL OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1::text) AS has_schema,
        to_regclass(CASE WHEN $1::text IS NULL THEN 'emt_messages' ELSE quote_ident($1::text) || '.emt_messages' END)
          IS NOT NULL AS has_table`,
      [schema ?? null],
    );
  } catch (error) {
    throw pg.toEventFlowsError(error, "import");
  }
  if (found?.has_schema === false) {
    throw new CliUsageError(`--from-schema "${schema}": the source database has no such schema`, "import");
  }
  if (found?.has_table === false) {
    throw new CliUsageError(
      schema === undefined
        ? "The source database holds no Emmett event table (emt_messages) on its search path: name Emmett's schema with --from-schema"
        : `--from-schema "${schema}": the schema holds no Emmett event table (emt_messages)`,
      "import",
    );
  }
}

/** Opens the target event store and the checkpoint store beside it, runs `work`, and closes them. */
async function withTarget<T>(
  target: "postgres" | "dynamodb" | "sqlite",
  values: StoreValues,
  io: CliIo,
  work: (store: EventStore, checkpoints: CheckpointStore) => Promise<T>,
): Promise<T> {
  if (target === "postgres") {
    const names = { schema: values.schema, tablePrefix: values.prefix };
    // Streams of one batch are appended side by side (8 at a time).
    return withPostgres(
      "import",
      values,
      io,
      (pg, sql) =>
        work(new pg.PostgresEventStore({ sql, ...names }), new pg.PostgresCheckpointStore({ sql, ...names })),
      8,
    );
  }
  if (target === "sqlite") {
    return withSqlite("import", values, io, false, (sqlite, driver) =>
      work(
        sqlite.createSqliteEventStore({ driver, tablePrefix: values.prefix }),
        new sqlite.SqliteCheckpointStore({ driver, tablePrefix: values.prefix }),
      ),
    );
  }
  const dynamodb = await import("../adapters/dynamodb/index.js");
  const client = await dynamoDbClient(io);
  const layout = {
    tableName: values.table ?? "",
    partitionKey: values["partition-key"],
    sortKey: values["sort-key"],
  };
  checkInput("import", () => dynamodb.tableLayout(layout));
  return work(
    new dynamodb.DynamoDbEventStore({ client, ...layout }),
    new dynamodb.DynamoDbCheckpointStore({ client, ...layout }),
  );
}
