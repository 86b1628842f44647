import { type EnvSource, isEventFlowsError, readEnv } from "../../src/index.js";
import { createPostgresClient, URL_VARIABLE } from "./client.js";
import { appliedMigrations, migrate } from "./migrate.js";
import { LATEST_SCHEMA_VERSION, migrations } from "./migrations.js";

/** Where the command writes, and the environment it reads `DATABASE_URL` from. */
export interface CliIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  readonly env?: EnvSource;
}

export const CLI_USAGE = `Usage: eventflows-pg <command> [options]

Commands:
  migrate   apply pending schema migrations (idempotent, under an advisory lock)
  status    show the schema version and the migrations applied and pending
  help      show this text

Options:
  --url <url>        PostgreSQL connection URL (default: $${URL_VARIABLE})
  --schema <name>    schema holding the tables (default: eventflows)
  --prefix <prefix>  table name prefix (default: none)
  --to <version>     migrate: stop at this schema version (default: the latest, ${LATEST_SCHEMA_VERSION})`;

interface Parsed {
  readonly command: string;
  readonly url?: string;
  readonly schema?: string;
  readonly tablePrefix?: string;
  readonly to?: number;
}

/**
 * The `eventflows-pg` command, free of Node APIs so any runtime can drive it: the `bin/` wrapper
 * passes the arguments and the process's streams and environment. Resolves to the exit code:
 * 0 done, 1 failed, 2 bad usage.
 */
export async function runPostgresCli(args: readonly string[], io: CliIo): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(args);
  } catch (error) {
    io.stderr(`${(error as Error).message}\n\n${CLI_USAGE}`);
    return 2;
  }
  if (parsed.command === "help") {
    io.stdout(CLI_USAGE);
    return 0;
  }
  const url = parsed.url ?? readEnv(URL_VARIABLE, io.env);
  if (url === undefined) {
    io.stderr(`No database: pass --url or set ${URL_VARIABLE}.\n\n${CLI_USAGE}`);
    return 2;
  }
  const names = { schema: parsed.schema, tablePrefix: parsed.tablePrefix };
  let sql: ReturnType<typeof createPostgresClient> | undefined;
  try {
    sql = createPostgresClient(url, { max: 1, connect_timeout: 10 });
    if (parsed.command === "migrate") {
      const result = await migrate(sql, { ...names, to: parsed.to });
      io.stdout(
        result.applied.length === 0
          ? `Schema is up to date at version ${result.version}.`
          : `Applied migration(s) ${result.applied.join(", ")}; schema is at version ${result.version}.`,
      );
    } else {
      const applied = await appliedMigrations(sql, names);
      const done = new Set(applied.map((m) => m.version));
      io.stdout(
        `Schema version ${applied.reduce((max, m) => Math.max(max, m.version), 0)} of ${LATEST_SCHEMA_VERSION}.`,
      );
      for (const m of applied) io.stdout(`  applied  ${m.version} ${m.name} (${m.appliedAt})`);
      for (const m of migrations.filter((m) => !done.has(m.version))) io.stdout(`  pending  ${m.version} ${m.name}`);
    }
    return 0;
  } catch (error) {
    io.stderr(isEventFlowsError(error) ? error.message : `Failed: ${String((error as Error)?.message ?? error)}`);
    return 1;
  } finally {
    await sql?.end({ timeout: 5 });
  }
}

function parse(args: readonly string[]): Parsed {
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h") return { command: "help" };
  if (!["migrate", "status", "help"].includes(command)) throw new Error(`Unknown command "${command}".`);
  const options: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i] ?? "";
    const value = rest[i + 1];
    if (!["--url", "--schema", "--prefix", "--to"].includes(flag)) throw new Error(`Unknown option "${flag}".`);
    if (value === undefined || value.startsWith("--")) throw new Error(`Option ${flag} needs a value.`);
    options[flag] = value;
  }
  const to = options["--to"];
  if (to !== undefined && (!/^\d+$/.test(to) || command !== "migrate")) {
    throw new Error(command === "migrate" ? "--to takes a schema version number." : "--to is for migrate only.");
  }
  return {
    command,
    url: options["--url"],
    schema: options["--schema"],
    tablePrefix: options["--prefix"],
    to: to === undefined ? undefined : Number(to),
  };
}
