import { CliUsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { parseCommand } from "./parse.js";
import { checkInput, checkStoreOptions, STORE_OPTIONS, storeName, withPostgres, withSqlite } from "./stores.js";

export const MIGRATE_USAGE = `Usage: eventflows migrate <store> [options]

Brings a store's schema to the latest version (or --to). Idempotent: running it again applies nothing.

Stores:
  postgres   every migration of @eventflows/core/postgres, in one transaction under an advisory lock
             (what eventflows-pg migrate does)
  sqlite     every migration of @eventflows/core/sqlite, in one transaction (bun:sqlite on Bun,
             node:sqlite on Node 22.5+)
  dynamodb   creates the event store's table (string partition key, numeric sort key, on-demand)
             unless it exists, and waits until it is active; DynamoDB has no schema to migrate

postgres: the URL comes from $EVENTFLOWS_PG_URL, else $DATABASE_URL, or from
  --url-file <path>  a file whose first line is the URL
  --url <url>        a URL without a password only (a command line shows in ps)
  --schema <name>    schema holding the tables (default: eventflows)
  --prefix <prefix>  table name prefix (default: none)
sqlite:
  --file <path>      the database file (created if missing)
  --prefix <prefix>  table name prefix (default: eventflows_)
dynamodb: region, endpoint and credentials from the AWS variables (AWS_REGION,
  AWS_ENDPOINT_URL_DYNAMODB, AWS_ACCESS_KEY_ID, ...)
  --table <name>     the table name (required)
  --partition-key <name>, --sort-key <name>
                     the key attribute names, if the store is configured with others (default: pk, sk)
Options:
  --to <version>     postgres, sqlite: stop at this schema version (default: the latest)
  --json             print the result as JSON
  --verbose          print stack traces of errors
  -h, --help         show this text`;

export async function migrate(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand("migrate", args, { ...STORE_OPTIONS, to: { type: "string" } });
  if (values.help) {
    io.stdout(MIGRATE_USAGE);
    return 0;
  }
  const [store, ...extra] = positionals;
  const name = storeName("migrate", store, ["postgres", "sqlite", "dynamodb"]);
  if (extra.length > 0) throw new CliUsageError(`Unexpected argument "${extra[0]}"`, "migrate");
  checkStoreOptions("migrate", name, values);
  if (values.to !== undefined && (name === "dynamodb" || !/^\d+$/.test(values.to))) {
    throw new CliUsageError(
      name === "dynamodb" ? "--to is for postgres and sqlite" : "--to takes a schema version number",
      "migrate",
    );
  }
  const to = values.to === undefined ? undefined : Number(values.to);

  if (name === "dynamodb") {
    if (values.table === undefined || values.table === "") {
      throw new CliUsageError("The dynamodb store needs --table <name>", "migrate");
    }
    const dynamodb = await import("../adapters/dynamodb/index.js");
    const layout = checkInput("migrate", () =>
      dynamodb.tableLayout({
        tableName: values.table ?? "",
        partitionKey: values["partition-key"],
        sortKey: values["sort-key"],
      }),
    );
    const outcome = await dynamodb.ensureEventStoreTable(dynamodb.createDynamoDbClient({ env: io.env }), layout);
    if (values.json) io.stdout(JSON.stringify({ store: name, table: values.table, outcome }));
    else io.stdout(`dynamodb: table ${values.table} ${outcome === "created" ? "created" : "exists"} and is active.`);
    return 0;
  }
  const result =
    name === "postgres"
      ? await withPostgres("migrate", values, io, (pg, sql) =>
          pg.migrate(sql, { schema: values.schema, tablePrefix: values.prefix, to }),
        )
      : await withSqlite("migrate", values, io, true, (sqlite, driver) =>
          sqlite.migrateSqlite(driver, { tablePrefix: values.prefix, to }),
        );
  if (values.json) {
    io.stdout(JSON.stringify({ store: name, applied: result.applied, version: result.version }));
  } else {
    io.stdout(
      result.applied.length === 0
        ? `${name}: schema is up to date at version ${result.version}.`
        : `${name}: applied migration(s) ${result.applied.join(", ")}; schema is at version ${result.version}.`,
    );
  }
  return 0;
}
