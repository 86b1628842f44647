/**
 * The `eventflows` command: code generation, store migrations and statistics, projection rebuilds
 * and replays, imports from other event stores. Node-only (it reads and writes files, parses arguments with node:util, handles
 * SIGINT), so it lives outside src/ and adapters/, which stay free of Node built-ins; bin/eventflows.js starts it on Node 20+ and Bun.
 * @module
 */
import { isEventFlowsError, redactText } from "../src/index.js";
import { CliUsageError } from "./errors.js";
import { GENERATE_USAGE, generate } from "./generate/command.js";
import { IMPORT_USAGE, importCommand } from "./import.js";
import type { CliIo } from "./io.js";
import { MIGRATE_USAGE, migrate } from "./migrate.js";
import { commonFlags, parseCommand } from "./parse.js";
import { REBUILD_USAGE, rebuild } from "./rebuild.js";
import { REPLAY_USAGE, replay } from "./replay.js";
import { STATS_USAGE, stats } from "./stats.js";
import { packageVersion } from "./version.js";

export { CliErrorCode, CliUsageError, FileConflictError } from "./errors.js";
export type { CliIo } from "./io.js";

export const USAGE = `Usage: eventflows <command> [options]

Commands:
  generate <kind> <Name>   write an aggregate, command, query, event, projection or saga
                           with its Given-When-Then test
  migrate <store>          bring a store's schema to the latest version (postgres, sqlite),
                           or create its table (dynamodb)
  stats <store>            events, streams and head position of a store (postgres, sqlite)
  rebuild <module>         rebuild a projection blue/green from the first event, with progress;
                           Ctrl-C stops it resumably (--store postgres, sqlite, dynamodb)
  replay <module>          run history through a projection's handler: a dry run unless --apply
  import <source>          move the events of an Emmett (PostgreSQL) or Castore (DynamoDB) store
                           into an EventFlows store, resumably (--to postgres, dynamodb, sqlite)
  help [command]           show this text, or a command's

Every command takes --help, --json (machine-readable output) and --verbose (stack traces).
eventflows --version prints the package's version.
Exit codes: 0 done, 1 failed, 2 bad usage (130: rebuild, replay or import interrupted by Ctrl-C;
143: by SIGTERM).`;

type Command = (args: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Readonly<Record<string, { run: Command; usage: string }>> = {
  generate: { run: generate, usage: GENERATE_USAGE },
  migrate: { run: migrate, usage: MIGRATE_USAGE },
  stats: { run: stats, usage: STATS_USAGE },
  rebuild: { run: rebuild, usage: REBUILD_USAGE },
  replay: { run: replay, usage: REPLAY_USAGE },
  import: { run: importCommand, usage: IMPORT_USAGE },
};

/**
 * Runs one command line (without the program name) and resolves to the exit code: 0 done, 1 the
 * work failed, 2 the command line is wrong. Errors go to `io.stderr` as one line (JSON under
 * `--json`), with the stack only under `--verbose`; it never throws.
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const flags = commonFlags(args);
  const [name, ...rest] = args;
  try {
    if (name === undefined) {
      io.stdout(USAGE);
      return 0;
    }
    if (name === "--help" || name === "-h" || name === "--version") {
      // Parsed strictly, as a command's line is: `--version --bogus` or `--version stats` must not pass unnoticed.
      const { values, positionals } = parseCommand("", args, { version: { type: "boolean" } });
      const [topic, ...extra] = positionals;
      // `--help stats` is `help stats`; the version takes no argument.
      const unexpected = values.help ? extra[0] : topic;
      if (unexpected !== undefined) throw new CliUsageError(`Unexpected argument "${unexpected}"`);
      if (values.help) {
        io.stdout(topic === undefined || topic === "help" ? USAGE : usageOf(topic));
        return 0;
      }
      const version = packageVersion();
      io.stdout(values.json ? JSON.stringify({ version }) : version);
      return 0;
    }
    if (name === "help") {
      // Parsed as any command's line: `help --help` and `help help` are the usage, not an unknown command.
      const { values, positionals } = parseCommand("help", rest, {});
      const [topic, ...extra] = positionals;
      if (extra.length > 0) throw new CliUsageError(`Unexpected argument "${extra[0]}"`, "help");
      io.stdout(values.help || topic === undefined || topic === "help" ? USAGE : usageOf(topic));
      return 0;
    }
    const command = COMMANDS[name];
    if (command === undefined) throw new CliUsageError(unknownCommand(name));
    return await command.run(rest, io);
  } catch (error) {
    report(error, io, flags, name !== undefined && name in COMMANDS ? name : undefined);
    return error instanceof CliUsageError ? 2 : 1;
  }
}

function usageOf(topic: string): string {
  const command = COMMANDS[topic];
  if (command === undefined) throw new CliUsageError(unknownCommand(topic));
  return command.usage;
}

function unknownCommand(name: string): string {
  const known = `one of ${Object.keys(COMMANDS).join(", ")}, help`;
  // `eventflows --verbose stats sqlite`: options are each command's own, so they follow it.
  return name.startsWith("-")
    ? `Unknown command "${name}": the command comes first and its options after it (eventflows <command> ${name} ...); the command is ${known}`
    : `Unknown command "${name}": ${known}`;
}

function report(error: unknown, io: CliIo, flags: { json: boolean; verbose: boolean }, command?: string): void {
  const code = isEventFlowsError(error) ? error.code : "UNEXPECTED";
  // A message may quote what was typed: a connection URL given where a store or an argument goes
  // (`migrate postgres postgres://app:secret@db/app`) must not put its password into a log.
  // A projection fails on what its handler threw (or its state's refusal), which the library keeps out of
  // the error's message; here the handler is the user's own module, and why it failed is what to fix.
  const reason = code === "PROJECTION_FAILED" && error instanceof Error ? error.cause : undefined;
  const because =
    reason === undefined ? "" : `: ${(reason instanceof Error ? reason.message : String(reason)).split("\n")[0]}`;
  const message = redactText(`${error instanceof Error ? error.message : String(error)}${because}`);
  const hint =
    error instanceof CliUsageError
      ? ` (see: eventflows ${error.command ?? command ?? ""} --help)`.replace("  ", " ")
      : "";
  if (flags.json) io.stderr(JSON.stringify({ error: { code, message } }));
  else io.stderr(`eventflows: ${visible(message.split("\n")[0] ?? "")}${hint}`);
  if (flags.verbose && error instanceof Error && error.stack !== undefined) io.stderr(redactText(error.stack));
  if (flags.verbose && reason instanceof Error && reason.stack !== undefined) {
    io.stderr(`Caused by: ${redactText(reason.stack)}`);
  }
}

/**
 * The message with control characters spelt out (`\u001b`): an argument it quotes may hold a carriage
 * return or an escape sequence, which on a terminal would overwrite the line or restyle what follows,
 * and so are Unicode's invisible ones: bidirectional overrides and isolates (which reorder how the rest of
 * the line reads), zero-width characters, and the line and paragraph separators.
 */
function visible(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
    /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
