import { EventFlowsError, isEventFlowsError, isServiceError } from "../src/index.js";
import { CliErrorCode, CliUsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { parseCommand } from "./parse.js";
import {
  checkInput,
  checkStoreOptions,
  dynamoDbClient,
  loadPostgres,
  STORE_OPTIONS,
  type StoreValues,
  storeName,
  withPostgres,
  withSqlite,
} from "./stores.js";

export const MIGRATE_USAGE = `Usage: eventflows migrate <store> [options]

Brings a store's schema to the latest version (or --to). Idempotent: running it again applies nothing.
With --status it changes nothing and lists the migrations applied and pending.

Stores:
  postgres   every migration of @eventflows/core/postgres, in one transaction under an advisory lock
             (what eventflows-pg migrate does)
  sqlite     every migration of @eventflows/core/sqlite, in one transaction (bun:sqlite on Bun,
             node:sqlite on Node 22.13+; 22.5 to 22.12 need NODE_OPTIONS=--experimental-sqlite)
  dynamodb   creates the event store's table (string partition key, numeric sort key, on-demand)
             unless it exists, and waits until it is active; DynamoDB has no schema to migrate

postgres: the URL comes from $EVENTFLOWS_PG_URL, else $DATABASE_URL, or from
  --url-file <path>  a file whose first line is the URL
  --url <url>        a URL without a password only (a command line shows in ps)
  --schema <name>    schema holding the tables (default: eventflows)
  --prefix <prefix>  table name prefix (default: none)
  --tenant-schemas <schema prefix>
                     instead of one schema, every tenant's schema whose name starts with it (the
                     schemaPrefix of ensureTenantSchema, e.g. tenant_), one after another
sqlite:
  --file <path>      the database file (created if missing)
  --prefix <prefix>  table name prefix (default: eventflows_)
dynamodb: region, endpoint and credentials from the AWS variables (AWS_REGION,
  AWS_ENDPOINT_URL_DYNAMODB, AWS_ACCESS_KEY_ID, ...)
  --table <name>     the table name (required)
  --partition-key <name>, --sort-key <name>
                     the key attribute names, if the store is configured with others (default: pk, sk)
Options:
  --to <version>     postgres, sqlite: stop at this schema version (default: the latest); a schema
                     at a later version is left as it is and the command fails (exit 1): migrations
                     are not undone
  --status           postgres, sqlite: show the schema version, the migrations applied and
                     pending, and change nothing (what eventflows-pg status does)
  --json             print the result as JSON
  --verbose          print stack traces of errors
  -h, --help         show this text`;

export async function migrate(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand("migrate", args, {
    ...STORE_OPTIONS,
    to: { type: "string" },
    status: { type: "boolean" },
    "tenant-schemas": { type: "string" },
  });
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
      name === "dynamodb"
        ? "--to is for postgres and sqlite"
        : `--to takes a schema version number, not "${values.to}"`,
      "migrate",
    );
  }
  const to = values.to === undefined ? undefined : Number(values.to);
  if (to !== undefined) {
    // Checked here, before the SQLite file is created or PostgreSQL connected: a target past the
    // shipped migrations is a wrong command line (exit 2), as the adapter's ValidationError says.
    const latest =
      name === "postgres"
        ? (await loadPostgres()).LATEST_SCHEMA_VERSION
        : (await import("../adapters/sqlite/index.js")).LATEST_SQLITE_SCHEMA_VERSION;
    if (to > latest) throw new CliUsageError(`--to takes a schema version from 0 to ${latest}`, "migrate");
  }
  if (values.status) {
    if (name === "dynamodb") throw new CliUsageError("--status is for postgres and sqlite", "migrate");
    if (to !== undefined) throw new CliUsageError("--status and --to do not go together", "migrate");
    if (values["tenant-schemas"] !== undefined) {
      throw new CliUsageError("--status and --tenant-schemas do not go together", "migrate");
    }
    const status = await migrationStatus(name, values, io);
    printStatus(name, status, values.json === true, io);
    return 0;
  }

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
    const outcome = await dynamodb.ensureEventStoreTable(await dynamoDbClient(io), layout);
    if (values.json) io.stdout(JSON.stringify({ store: name, table: values.table, outcome }));
    else io.stdout(`dynamodb: table ${values.table} ${outcome === "created" ? "created" : "exists"} and is active.`);
    return 0;
  }
  const tenantPrefix = values["tenant-schemas"];
  if (tenantPrefix !== undefined) {
    if (name !== "postgres") throw new CliUsageError("--tenant-schemas is for postgres", "migrate");
    if (values.schema !== undefined || to !== undefined) {
      throw new CliUsageError("--tenant-schemas goes with neither --schema nor --to", "migrate");
    }
    // The adapter's rules for the prefix, before anything connects: "" would take every schema named
    // like a tenant id for a tenant's, and a malformed one would match nothing, silently.
    const pg = await loadPostgres();
    checkInput("migrate", () => pg.tenantSchemaName("a", { schemaPrefix: tenantPrefix, tablePrefix: values.prefix }));
    // migrateTenantSchemas's loop, with each failure named by its schema: among hundreds of tenants,
    // "the database has schema version 12" alone does not say which one, nor that those before it are done.
    const results = await withPostgres("migrate", values, io, async (pg, sql) => {
      const tenants = await pg.listTenantSchemas(sql, { schemaPrefix: tenantPrefix, tablePrefix: values.prefix });
      const done: { tenant: string; schema: string; applied: readonly number[]; version: number }[] = [];
      for (const { tenant, schema } of tenants) {
        const names = { schema, tablePrefix: values.prefix };
        try {
          done.push({
            tenant,
            schema,
            ...(await refusingNewer(
              name,
              pg.LATEST_SCHEMA_VERSION,
              () => pg.migrate(sql, names),
              () => pg.schemaVersion(sql, names),
            )),
          });
        } catch (error) {
          if (!isEventFlowsError(error)) throw error;
          throw new EventFlowsError(
            error.code,
            `tenant schema ${schema} (${done.length + 1} of ${tenants.length}: those before it are migrated, those after it untouched): ${error.message}`,
            { cause: error },
          );
        }
      }
      return done;
    });
    if (values.json) {
      io.stdout(JSON.stringify({ store: name, tenants: results }));
    } else {
      const lines = results.map(
        (r) =>
          `${r.schema}: ${r.applied.length === 0 ? "up to date" : `applied ${r.applied.join(", ")}`} at version ${r.version}.`,
      );
      io.stdout([`postgres: ${results.length} tenant schema(s) migrated.`, ...lines].join("\n"));
    }
    return 0;
  }
  const result =
    name === "postgres"
      ? await withPostgres("migrate", values, io, (pg, sql) => {
          const names = { schema: values.schema, tablePrefix: values.prefix };
          return refusingNewer(
            name,
            pg.LATEST_SCHEMA_VERSION,
            () => pg.migrate(sql, { ...names, to }),
            () => pg.schemaVersion(sql, names),
          );
        })
      : await withSqlite("migrate", values, io, true, (sqlite, driver) => {
          const names = { tablePrefix: values.prefix };
          return refusingNewer(
            name,
            sqlite.LATEST_SQLITE_SCHEMA_VERSION,
            () => sqlite.migrateSqlite(driver, { ...names, to }),
            () => sqlite.sqliteSchemaVersion(driver, names),
          );
        });
  if (to !== undefined && result.version > to) {
    // The adapters apply migrations and never undo one: a schema past --to stays as it is.
    throw new EventFlowsError(
      CliErrorCode.SchemaNewer,
      `${name}: the schema is at version ${result.version}, newer than --to ${to}; migrations are not undone (there are no down-migrations), so nothing was changed`,
    );
  }
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

/**
 * Runs an adapter's migrate, reporting a schema newer than this release (the adapter's `SCHEMA_TOO_NEW`,
 * found before anything is applied) as a schema past `--to` is reported: `CLI_SCHEMA_NEWER`, exit 1.
 * Both are the same case for whoever runs the command (the schema is past what this command can bring it
 * to, and is left as it is), with or without `--to`; as a `SERVICE_ERROR` it read as the database failing.
 */
async function refusingNewer<T>(
  name: string,
  latest: number,
  migrate: () => Promise<T>,
  version: () => Promise<number>,
): Promise<T> {
  try {
    return await migrate();
  } catch (error) {
    if (!isServiceError(error) || error.serviceCode !== "SCHEMA_TOO_NEW") throw error;
    throw new EventFlowsError(
      CliErrorCode.SchemaNewer,
      `${name}: the schema is at version ${await version()}, newer than this release knows (${latest}); upgrade @eventflows/core; nothing was changed`,
      { cause: error },
    );
  }
}

interface MigrationStatus {
  readonly version: number;
  readonly latest: number;
  readonly applied: readonly { version: number; name: string; appliedAt?: string }[];
  readonly pending: readonly { version: number; name: string }[];
}

/** What `eventflows-pg status` shows, for either store: nothing is changed. */
async function migrationStatus(name: "postgres" | "sqlite", values: StoreValues, io: CliIo): Promise<MigrationStatus> {
  if (name === "postgres") {
    return withPostgres("migrate", values, io, async (pg, sql) => {
      const applied = await pg.appliedMigrations(sql, { schema: values.schema, tablePrefix: values.prefix });
      const done = new Set(applied.map((m) => m.version));
      return {
        version: applied.reduce((max, m) => Math.max(max, m.version), 0),
        latest: pg.LATEST_SCHEMA_VERSION,
        applied: applied.map((m) => ({ version: m.version, name: m.name, appliedAt: String(m.appliedAt) })),
        pending: pg.migrations.filter((m) => !done.has(m.version)).map((m) => ({ version: m.version, name: m.name })),
      };
    });
  }
  // As for PostgreSQL, what is recorded in the database: a schema newer than this release lists the
  // migrations it does not know too.
  return withSqlite("migrate", values, io, false, async (sqlite, driver) => {
    const applied = await sqlite.sqliteAppliedMigrations(driver, { tablePrefix: values.prefix });
    const done = new Set(applied.map((m) => m.version));
    return {
      version: applied.reduce((max, m) => Math.max(max, m.version), 0),
      latest: sqlite.LATEST_SQLITE_SCHEMA_VERSION,
      applied: applied.map((m) => ({ version: m.version, name: m.name, appliedAt: m.appliedAt })),
      pending: sqlite.sqliteMigrations
        .filter((m) => !done.has(m.version))
        .map((m) => ({ version: m.version, name: m.name })),
    };
  });
}

function printStatus(name: string, status: MigrationStatus, json: boolean, io: CliIo): void {
  if (json) {
    io.stdout(JSON.stringify({ store: name, ...status }));
    return;
  }
  const lines = [`${name}: schema version ${status.version} of ${status.latest}.`];
  for (const m of status.applied) {
    const unknown = m.version > status.latest ? " (not in this release)" : "";
    lines.push(`  applied  ${m.version} ${m.name}${m.appliedAt ? ` (${m.appliedAt})` : ""}${unknown}`);
  }
  for (const m of status.pending) lines.push(`  pending  ${m.version} ${m.name}`);
  io.stdout(lines.join("\n"));
}
