import { existsSync } from "node:fs";
import { resolve } from "node:path";
import {
  EventFlowsError,
  type Issue,
  isEventFlowsError,
  isValidationError,
  readEnv,
  ValidationError,
} from "../src/index.js";
import { CliErrorCode, CliUsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { readUrlFile } from "./url-file.js";

/** The stores `migrate` and `stats` know. */
export const STORES = ["postgres", "sqlite", "dynamodb"] as const;
export type StoreName = (typeof STORES)[number];

export function storeName(command: string, value: string | undefined, allowed: readonly StoreName[]): StoreName {
  const found = allowed.find((store) => store === value);
  if (found === undefined) {
    throw new CliUsageError(
      value === undefined
        ? `Missing the store: one of ${allowed.join(", ")}`
        : `Unknown store "${value}": one of ${allowed.join(", ")}`,
      command,
    );
  }
  return found;
}

/** The options naming a store's tables and the connection, shared by `migrate` and `stats`. */
export const STORE_OPTIONS = {
  url: { type: "string" },
  "url-file": { type: "string" },
  schema: { type: "string" },
  prefix: { type: "string" },
  file: { type: "string" },
  table: { type: "string" },
  "partition-key": { type: "string" },
  "sort-key": { type: "string" },
} as const;

export interface StoreValues {
  readonly url?: string;
  readonly "url-file"?: string;
  readonly schema?: string;
  readonly prefix?: string;
  readonly file?: string;
  readonly table?: string;
  readonly "partition-key"?: string;
  readonly "sort-key"?: string;
}

/** Options that belong to other stores are refused rather than ignored: a typo must not go unnoticed. */
export function checkStoreOptions(command: string, store: StoreName, values: StoreValues): void {
  const own: Record<StoreName, readonly (keyof StoreValues)[]> = {
    postgres: ["url", "url-file", "schema", "prefix"],
    sqlite: ["file", "prefix"],
    dynamodb: ["table", "partition-key", "sort-key"],
  };
  for (const key of Object.keys(STORE_OPTIONS) as (keyof StoreValues)[]) {
    if (values[key] !== undefined && !own[store].includes(key)) {
      throw new CliUsageError(`--${key} is not an option of the ${store} store`, command);
    }
  }
}

/** The options the adapters' fields are typed as on the command line. */
const FLAGS: Readonly<Record<string, string>> = {
  schema: "--schema",
  tablePrefix: "--prefix",
  schemaPrefix: "--tenant-schemas",
  tableName: "--table",
  partitionKey: "--partition-key",
  sortKey: "--sort-key",
};

/**
 * Runs a check of the adapter's (table names, a URL's rules) and turns its `ValidationError` into a
 * usage error: what the user typed is wrong, so the exit code is 2, before any connection is made.
 * Its issues name the adapter's fields (`tablePrefix`); the message names the options typed
 * (`--prefix`), `flags` adding or replacing some (an import's source takes `--from-table`).
 */
export function checkInput<T>(command: string, check: () => T, flags: Readonly<Record<string, string>> = {}): T {
  try {
    return check();
  } catch (error) {
    if (!isValidationError(error)) throw error;
    const named = { ...FLAGS, ...flags };
    const issues = error.issues.map((issue) => {
      const flag = named[String(issue.path[0])];
      return flag === undefined || issue.path.length !== 1 ? undefined : { path: [flag], message: issue.message };
    });
    if (issues.length === 0 || issues.some((issue) => issue === undefined)) {
      throw new CliUsageError(error.message, command);
    }
    const typed = issues as Issue[];
    throw new CliUsageError(
      `Invalid ${[...new Set(typed.map((issue) => issue.path[0]))].join(", ")}: ${typed.map((issue) => issue.message).join("; ")}`,
      command,
      typed,
    );
  }
}

/**
 * Opens a PostgreSQL client by the rules of `eventflows-pg` (no password on the command line; the URL
 * from $EVENTFLOWS_PG_URL, $DATABASE_URL or --url-file), runs `work`, and closes it. The adapter and
 * postgres.js are loaded only here, so `generate` works without the optional peer installed.
 */
export async function withPostgres<T>(
  command: string,
  values: StoreValues,
  io: CliIo,
  work: (
    pg: typeof import("../adapters/postgres/index.js"),
    sql: import("../adapters/postgres/index.js").PostgresSql,
  ) => Promise<T>,
  /** Connections in the pool: a rebuild reads the feed while it commits batches. */
  connections = 1,
): Promise<T> {
  const pg = await loadPostgres();
  checkInput(command, () => pg.tableNames({ schema: values.schema, tablePrefix: values.prefix }));
  // The command's environment is io.env, whole: resolvePostgresUrl would go on to the process's variables.
  if (
    values.url === undefined &&
    values["url-file"] === undefined &&
    commandEnv(io, pg.CLI_URL_VARIABLE) === undefined &&
    commandEnv(io, pg.URL_VARIABLE) === undefined
  ) {
    throw new CliUsageError(
      `No database: set ${pg.CLI_URL_VARIABLE} or ${pg.URL_VARIABLE}, or pass --url-file.`,
      command,
    );
  }
  let url: string;
  try {
    url = await pg.resolvePostgresUrl(
      { url: values.url, urlFile: values["url-file"] === undefined ? undefined : resolve(io.cwd, values["url-file"]) },
      { env: io.env, readFile: readUrlFile },
    );
  } catch (error) {
    if (isValidationError(error)) throw new CliUsageError(error.message, command);
    throw error;
  }
  const sql = pg.createPostgresClient(url, { max: connections, connect_timeout: 10 });
  try {
    return await work(pg, sql);
  } catch (error) {
    if (isEventFlowsError(error)) throw error;
    // postgres.js's own errors may quote the connection string: say what failed, not how.
    throw new EventFlowsError(
      CliErrorCode.StoreFailed,
      `postgres ${command} failed (details hidden to keep the URL out of the output)`,
      {
        cause: error,
      },
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * The DynamoDB client of a command, configured from the AWS variables of the command's environment.
 * The adapter's ValidationError speaks to code (pass `region`, set it "in `env`"); this one says which
 * variables a command-line user sets. Still a ValidationError (exit 1), raised before any request.
 */
export async function dynamoDbClient(
  io: CliIo,
): Promise<ReturnType<typeof import("../adapters/dynamodb/index.js").createDynamoDbClient>> {
  const dynamodb = await import("../adapters/dynamodb/index.js");
  try {
    return dynamodb.createDynamoDbClient({ env: io.env });
  } catch (error) {
    if (!isValidationError(error)) throw error;
    const issues: Issue[] = [];
    let credentials = false;
    for (const issue of error.issues) {
      const [field] = issue.path;
      if (field === "region") {
        issues.push(
          (commandEnv(io, "AWS_REGION") ?? commandEnv(io, "AWS_DEFAULT_REGION"))
            ? { path: ["AWS_REGION"], message: issue.message }
            : { path: [], message: "set AWS_REGION (or AWS_DEFAULT_REGION) to the table's region, e.g. eu-west-1" },
        );
      } else if (field === "endpoint") {
        issues.push({
          path: [],
          message: "AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) must be an http(s) URL without a user or password",
        });
      } else if (field === "credentials" && !credentials) {
        credentials = true;
        issues.push({
          path: [],
          message:
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN with temporary credentials); " +
            "AWS_PROFILE and ~/.aws are not read: `aws configure export-credentials --format env` prints the variables",
        });
      } else if (field !== "credentials") {
        issues.push(issue);
      }
    }
    throw new ValidationError("DynamoDB is configured from the AWS variables of the environment", issues, {
      cause: error,
    });
  }
}

/**
 * A variable of the command's environment: `io.env` alone (bin/eventflows.js hands in the process's), by
 * readEnv's rules (an own property holding text, empty is unset). Never the process's besides: a caller
 * running a command with an env of its own must not have variables it left out filled in from elsewhere.
 */
export function commandEnv(io: Pick<CliIo, "env">, name: string): string | undefined {
  return readEnv(name, io.env, { ambient: false });
}

/** The PostgreSQL adapter, or a CLI_MISSING_PACKAGE error when postgres.js is not installed. */
export async function loadPostgres() {
  try {
    return await import("../adapters/postgres/index.js");
  } catch (error) {
    if (/['"]postgres['"]/.test(String((error as Error)?.message))) {
      throw new EventFlowsError(
        CliErrorCode.MissingPackage,
        "The postgres store needs the postgres package (postgres.js): run `npm install postgres` and try again",
      );
    }
    throw error;
  }
}

/** The smallest surface of bun:sqlite's Database and node:sqlite's DatabaseSync used here. */
interface OpenedDatabase {
  close(): void;
}

/**
 * Opens a SQLite file with the runtime's driver (bun:sqlite on Bun, node:sqlite on Node 22.13+, or on
 * 22.5 to 22.12 run with --experimental-sqlite, without which those load no node:sqlite),
 * runs `work`, and closes it. `create: false` refuses a file that does not exist (for `stats`).
 */
export async function withSqlite<T>(
  command: string,
  values: StoreValues,
  io: CliIo,
  create: boolean,
  work: (
    sqlite: typeof import("../adapters/sqlite/index.js"),
    driver: import("../adapters/sqlite/index.js").SqliteDriver,
  ) => Promise<T>,
): Promise<T> {
  if (values.file === undefined || values.file === "")
    throw new CliUsageError("The sqlite store needs --file <path>", command);
  // The options first, before the file is looked at (as PostgreSQL's are before it is reached): a bad
  // --prefix is a usage error (exit 2) whether or not the file exists.
  const sqlite = await import("../adapters/sqlite/index.js");
  checkInput(command, () => sqlite.sqliteTableNames({ tablePrefix: values.prefix }));
  const path = resolve(io.cwd, values.file);
  if (!create && !existsSync(path))
    throw new EventFlowsError(CliErrorCode.StoreFailed, `No SQLite database at ${values.file}`);
  // Specifiers in variables: the build type-checks this file with Node's types only, and neither
  // module is loaded on a runtime that lacks it.
  const bunModule = "bun:sqlite";
  const nodeModule = "node:sqlite";
  let db: OpenedDatabase;
  let driver: import("../adapters/sqlite/index.js").SqliteDriver;
  if ("Bun" in globalThis) {
    const { Database } = (await import(bunModule)) as {
      Database: new (path: string) => OpenedDatabase & import("../adapters/sqlite/index.js").BunSqliteDatabase;
    };
    const opened = openSqlite(values.file, () => new Database(path));
    db = opened;
    driver = sqlite.bunSqliteDriver(opened);
  } else {
    let DatabaseSync: new (path: string) => OpenedDatabase & import("../adapters/sqlite/index.js").NodeSqliteDatabase;
    try {
      ({ DatabaseSync } = await import(nodeModule));
    } catch (error) {
      throw new EventFlowsError(
        CliErrorCode.UnsupportedRuntime,
        `The sqlite store needs Bun or Node 22.13+ (node:sqlite; Node 22.5 to 22.12 with NODE_OPTIONS=--experimental-sqlite); this is Node ${process.versions.node}`,
        {
          cause: error,
        },
      );
    }
    const Driver = DatabaseSync;
    const opened = openSqlite(values.file, () => new Driver(path));
    db = opened;
    driver = sqlite.nodeSqliteDriver(opened);
  }
  try {
    return await work(sqlite, driver);
  } finally {
    db.close();
  }
}

/**
 * Opens the file with the runtime's driver. A path it cannot open (a missing directory, a folder, no
 * permission) is a failure of the work (exit 1) with the driver's reason, not an unexpected error.
 */
function openSqlite<D>(file: string, open: () => D): D {
  try {
    return open();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new EventFlowsError(CliErrorCode.StoreFailed, `Cannot open the SQLite database at ${file}: ${reason}`, {
      cause: error,
    });
  }
}
