import {
  assertKnownOptions,
  type EnvSource,
  ErrorCodeRegistry,
  EventFlowsError,
  isEventFlowsError,
  isServiceError,
  readEnv,
  redactText,
  ValidationError,
} from "../../src/index.js";
import { createPostgresClient, type PostgresSql, URL_VARIABLE } from "./client.js";
import { appliedMigrations, type MigrateResult, migrate, schemaVersion } from "./migrate.js";
import { LATEST_SCHEMA_VERSION, migrations } from "./migrations.js";
import { nameIssues } from "./names.js";
import { schemeIssue } from "./url-options.js";

/** Where the command writes, the environment it reads the URL from, and how it reads `--url-file`. */
export interface CliIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  readonly env?: EnvSource;
  /** Reads the file `--url-file` names (the `bin/` wrapper passes the file system's). Without it, `--url-file` is refused. */
  readonly readFile?: (path: string) => Promise<string>;
}

/** The variable the command reads the URL from first, then {@link URL_VARIABLE}. */
export const CLI_URL_VARIABLE = "EVENTFLOWS_PG_URL";

export const CLI_USAGE = `Usage: eventflows-pg <command> [options]

Commands:
  migrate   apply pending schema migrations (idempotent, under an advisory lock)
  status    show the schema version and the migrations applied and pending
  help      show this text

The database URL comes from $${CLI_URL_VARIABLE}, else $${URL_VARIABLE}, or from a file:
  --url-file <path>  read the connection URL from this file (first line)
  --url <url>        a URL without a password only (a command line shows in ps);
                     the password may then come from $PGPASSWORD
Options:
  --schema <name>    schema holding the tables (default: eventflows)
  --prefix <prefix>  table name prefix (default: none)
  --to <version>     migrate: stop at this schema version (default: the latest, ${LATEST_SCHEMA_VERSION}); a schema
                     at a later version is left as it is and the command fails: migrations are not undone`;

interface Parsed {
  readonly command: string;
  readonly url?: string;
  readonly urlFile?: string;
  readonly schema?: string;
  readonly tablePrefix?: string;
  readonly to?: number;
}

class UsageError extends Error {}

const OPTIONS = ["--url", "--url-file", "--schema", "--prefix", "--to"];

/**
 * The `eventflows-pg` command, free of Node APIs so any runtime can drive it: the `bin/` wrapper
 * passes the arguments and the process's streams, environment and file reader. Resolves to the
 * exit code: 0 done, 1 failed, 2 bad usage (unknown command or option, a bad name, a password on
 * the command line).
 */
export async function runPostgresCli(args: readonly string[], io: CliIo): Promise<number> {
  let parsed: Parsed;
  let url: string | undefined;
  try {
    parsed = parse(args);
    if (parsed.command === "help") {
      io.stdout(CLI_USAGE);
      return 0;
    }
    url = await resolveUrl(parsed, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`${shown(error.message)}\n\n${CLI_USAGE}`);
    return 2;
  }
  const names = { schema: parsed.schema, tablePrefix: parsed.tablePrefix };
  let sql: ReturnType<typeof createPostgresClient> | undefined;
  try {
    sql = createPostgresClient(url, { max: 1, connect_timeout: 10 });
    if (parsed.command === "migrate") {
      const result = await migrateOrRefuseNewer(sql, { ...names, to: parsed.to });
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
      // Marked as `eventflows migrate postgres --status` marks them (cli.md): a later release applied them.
      for (const m of applied) {
        const unknown = m.version > LATEST_SCHEMA_VERSION ? " (not in this release)" : "";
        io.stdout(`  applied  ${m.version} ${m.name} (${m.appliedAt})${unknown}`);
      }
      for (const m of migrations.filter((m) => !done.has(m.version))) io.stdout(`  pending  ${m.version} ${m.name}`);
    }
    return 0;
  } catch (error) {
    io.stderr(
      isEventFlowsError(error)
        ? shown(error.message)
        : "Failed: the database call failed (no details are shown, to keep the URL out of the output)",
    );
    return 1;
  } finally {
    await sql?.end({ timeout: 5 });
  }
}

/**
 * A message as printed. It may quote what was typed or read from the URL (a URL given as the command
 * or an option's value, a query parameter postgres.js refused): credentials are masked, as the
 * `eventflows` CLI masks them. Control characters are spelt out (\u001b): a quoted argument must not
 * rewrite or restyle the terminal; Unicode's invisible ones too: bidirectional overrides reorder how
 * the line reads, U+2028 breaks it.
 */
function shown(message: string): string {
  return redactText(message).replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
    /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Migrates, refusing a schema past what this command may bring it to as `eventflows migrate postgres`
 * does, with the same error (`CLI_SCHEMA_NEWER`, exit 1, the same message): a schema newer than this
 * release (the adapter's `SCHEMA_TOO_NEW`, found before anything is applied; as a ServiceError it read
 * as the database failing) or past `--to` (migrations are applied, never undone).
 */
async function migrateOrRefuseNewer(
  sql: PostgresSql,
  options: { schema?: string; tablePrefix?: string; to?: number },
): Promise<MigrateResult> {
  let result: MigrateResult;
  try {
    result = await migrate(sql, options);
  } catch (error) {
    if (!isServiceError(error) || error.serviceCode !== "SCHEMA_TOO_NEW") throw error;
    throw new EventFlowsError(
      ErrorCodeRegistry.cli.SchemaNewer,
      `postgres: the schema is at version ${await schemaVersion(sql, { schema: options.schema, tablePrefix: options.tablePrefix })}, newer than this release knows (${LATEST_SCHEMA_VERSION}); upgrade @eventflows/core; nothing was changed`,
      { cause: error },
    );
  }
  if (options.to !== undefined && result.version > options.to) {
    throw new EventFlowsError(
      ErrorCodeRegistry.cli.SchemaNewer,
      `postgres: the schema is at version ${result.version}, newer than --to ${options.to}; migrations are not undone (there are no down-migrations), so nothing was changed`,
    );
  }
  return result;
}

/** Where a command takes the PostgreSQL URL from, besides the environment. */
export interface PostgresUrlOptions {
  /** A URL without a password (a command line shows in ps). */
  readonly url?: string;
  /** A file whose first line is the URL. */
  readonly urlFile?: string;
}

const URL_OPTIONS = Object.keys({ url: true, urlFile: true } satisfies Record<keyof PostgresUrlOptions, true>);

/**
 * The URL by the rules of this command, for other commands (`eventflows migrate postgres`) to share
 * them: `--url-file`, else `--url` refused when it carries a password, else $EVENTFLOWS_PG_URL,
 * else $DATABASE_URL.
 * @throws {ValidationError} what is wrong with the options (no URL, both given, a password, an unreadable file).
 */
export async function resolvePostgresUrl(
  options: PostgresUrlOptions,
  io: Pick<CliIo, "env" | "readFile">,
): Promise<string> {
  // A misspelt `urlfile` fell back to the environment's URL: another database than the one meant.
  assertKnownOptions(options, URL_OPTIONS, "PostgreSQL URL options");
  try {
    return await resolveUrl({ command: "", ...options }, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new ValidationError(error.message, []);
  }
}

async function resolveUrl(parsed: Parsed, io: Pick<CliIo, "env" | "readFile">): Promise<string> {
  const { url, from } = await locateUrl(parsed, io);
  const issue = schemeIssue(url);
  if (issue !== undefined) throw new UsageError(`The URL from ${from} is ${issue}.`);
  return url;
}

/** The URL and where it came from (an option, the file, a variable), by the rules of {@link resolveUrl}. */
async function locateUrl(
  parsed: Parsed,
  io: Pick<CliIo, "env" | "readFile">,
): Promise<{ readonly url: string; readonly from: string }> {
  if (parsed.url !== undefined && parsed.urlFile !== undefined)
    throw new UsageError("Pass --url or --url-file, not both.");
  if (parsed.urlFile !== undefined) {
    if (io.readFile === undefined)
      throw new UsageError("--url-file needs a file reader; pass the URL in the environment.");
    let text: string;
    try {
      text = await io.readFile(parsed.urlFile);
    } catch {
      throw new UsageError(`Cannot read the URL file "${parsed.urlFile}".`);
    }
    const line = text.split(/\r?\n/, 1)[0]?.trim() ?? "";
    if (line === "") {
      // Only the first line is read: a file whose URL comes after a blank line is not empty, and saying so misleads.
      throw new UsageError(
        text.trim() === ""
          ? `The URL file "${parsed.urlFile}" is empty.`
          : `The URL file "${parsed.urlFile}" has no URL on its first line (only the first line is read).`,
      );
    }
    return { url: line, from: "--url-file" };
  }
  if (parsed.url !== undefined) {
    if (hasPassword(parsed.url)) {
      throw new UsageError(
        `--url carries a password, which any user of this machine can read in the process list: put the URL in $${CLI_URL_VARIABLE} or $${URL_VARIABLE}, or in a file for --url-file.`,
      );
    }
    return { url: parsed.url, from: "--url" };
  }
  // Both variables of the env given first, then the ambient ones: a caller's DATABASE_URL must not lose
  // to an EVENTFLOWS_PG_URL the process happens to have (readEnv alone falls back name by name).
  const given = (name: string) => readEnv(name, io.env, { ambient: false });
  for (const [name, read] of [
    [CLI_URL_VARIABLE, given],
    [URL_VARIABLE, given],
    [CLI_URL_VARIABLE, (name: string) => readEnv(name, io.env)],
    [URL_VARIABLE, (name: string) => readEnv(name, io.env)],
  ] as const) {
    const url = read(name);
    if (url !== undefined && url !== "") return { url, from: `$${name}` };
  }
  throw new UsageError(`No database: set ${CLI_URL_VARIABLE} or ${URL_VARIABLE}, or pass --url-file.`);
}

/**
 * Whether a URL spells a password (`scheme://user:password@…`, or a `password=` parameter), read as
 * postgres.js reads it: the authority ends at the first `/` or `?` only, and the user and password are
 * what comes before its last `@`. A `#` does not end it there (WHATWG URL starts a fragment), so
 * `postgres://app:pa#ss@db/app` connects with the password `pa#ss` and must be refused as any other.
 */
function hasPassword(url: string): boolean {
  const scheme = url.indexOf("://");
  const rest = scheme === -1 ? "" : url.slice(scheme + 3);
  const end = rest.search(/[/?]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf("@");
  return (at !== -1 && authority.slice(0, at).includes(":")) || /[?&]password=/i.test(url);
}

function parse(args: readonly string[]): Parsed {
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h") return { command: "help" };
  if (!["migrate", "status", "help"].includes(command)) throw new UsageError(`Unknown command "${command}".`);
  // `migrate --help` asks for the usage, as `--help` alone does (not an unknown option, exit 2).
  if (rest.includes("--help") || rest.includes("-h")) return { command: "help" };
  const options: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? "";
    // --flag=value and --flag value, as util.parseArgs reads them.
    const equals = arg.indexOf("=");
    const flag = arg.startsWith("--") && equals > 0 ? arg.slice(0, equals) : arg;
    if (!OPTIONS.includes(flag)) throw new UsageError(`Unknown option "${flag}".`);
    const value = flag === arg ? rest[++i] : arg.slice(equals + 1);
    if (value === undefined || (flag === arg && value.startsWith("--")))
      throw new UsageError(`Option ${flag} needs a value.`);
    if (flag in options) throw new UsageError(`Option ${flag} is given twice.`);
    options[flag] = value;
  }
  const to = options["--to"];
  if (to !== undefined && (!/^\d+$/.test(to) || command !== "migrate")) {
    throw new UsageError(command === "migrate" ? "--to takes a schema version number." : "--to is for migrate only.");
  }
  // Known without the database, as `eventflows migrate postgres` has it: a usage error, not migrate()'s refusal.
  if (to !== undefined && Number(to) > LATEST_SCHEMA_VERSION) {
    throw new UsageError(`--to takes a schema version from 0 to ${LATEST_SCHEMA_VERSION}.`);
  }
  const names = { schema: options["--schema"], tablePrefix: options["--prefix"] };
  const issues = nameIssues(names);
  if (issues.length > 0) {
    throw new UsageError(
      `Invalid PostgreSQL names: ${issues.map((issue) => `${issue.path[0] === "schema" ? "--schema" : "--prefix"}: ${issue.message}`).join("; ")}.`,
    );
  }
  return {
    command,
    url: options["--url"],
    urlFile: options["--url-file"],
    ...names,
    to: to === undefined ? undefined : Number(to),
  };
}
