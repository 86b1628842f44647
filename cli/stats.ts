import { CliUsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { parseCommand } from "./parse.js";
import { checkStoreOptions, STORE_OPTIONS, storeName, withPostgres, withSqlite } from "./stores.js";

export const STATS_USAGE = `Usage: eventflows stats <store> [options]

Prints the size of an event store: its schema version, the number of events and streams (a full
scan of the events table: run it as maintenance, not per request) and the head position (the
global position of the newest event).

Stores:
  postgres   options as for migrate: --url-file, --url (no password), --schema, --prefix;
             the URL from $EVENTFLOWS_PG_URL or $DATABASE_URL otherwise
  sqlite     --file <path> (must exist), --prefix
DynamoDB has no stats command: counting its events needs a scan of the whole table.

Options:
  --json       print the figures as JSON
  --verbose    print stack traces of errors
  -h, --help   show this text`;

export async function stats(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand("stats", args, STORE_OPTIONS);
  if (values.help) {
    io.stdout(STATS_USAGE);
    return 0;
  }
  const [store, ...extra] = positionals;
  if (store === "dynamodb") {
    throw new CliUsageError(
      "stats has no dynamodb store: counting its events needs a scan of the whole table",
      "stats",
    );
  }
  const name = storeName("stats", store, ["postgres", "sqlite"]);
  if (extra.length > 0) throw new CliUsageError(`Unexpected argument "${extra[0]}"`, "stats");
  checkStoreOptions("stats", name, values);
  const figures =
    name === "postgres"
      ? await withPostgres("stats", values, io, (pg, sql) =>
          pg.postgresStoreStats(sql, { schema: values.schema, tablePrefix: values.prefix }),
        )
      : await withSqlite("stats", values, io, false, (sqlite, driver) =>
          sqlite.sqliteStoreStats(driver, { tablePrefix: values.prefix }),
        );
  if (values.json) {
    io.stdout(JSON.stringify({ store: name, ...figures }));
  } else {
    io.stdout(
      [
        `store           ${name}`,
        `schema version  ${figures.schemaVersion}`,
        `events          ${figures.events}`,
        `streams         ${figures.streams}`,
        `head position   ${figures.headPosition}`,
      ].join("\n"),
    );
  }
  return 0;
}
