import { type ParseArgsConfig, parseArgs } from "node:util";
import { CliUsageError } from "./errors.js";

type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** The options every command accepts. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
} as const satisfies OptionSpecs;

export interface Parsed<O extends OptionSpecs> {
  readonly values: {
    [K in keyof O | keyof typeof COMMON_OPTIONS]?: O[K] extends { type: "boolean" } ? boolean : string;
  } & {
    help?: boolean;
    json?: boolean;
    verbose?: boolean;
  };
  readonly positionals: readonly string[];
}

/**
 * `util.parseArgs` in strict mode (unknown options and missing values are errors), with its
 * errors turned into {@link CliUsageError}s that name the command whose `--help` to read.
 * Node 20 and Bun both ship it, so the command needs no argument-parsing dependency.
 */
export function parseCommand<O extends OptionSpecs>(command: string, args: readonly string[], options: O): Parsed<O> {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed<O>["values"], positionals };
  } catch (error) {
    // parseArgs's messages are one sentence ("Unknown option '--x'..."); its codes are ERR_PARSE_ARGS_*.
    const message = error instanceof Error ? error.message.split(/\.\s|\n/)[0] : String(error);
    throw new CliUsageError(message ?? "Bad arguments", command);
  }
}

/** The flags a user may have put anywhere on the line, read before a command knows its options. */
export function commonFlags(args: readonly string[]): { json: boolean; verbose: boolean } {
  return { json: args.includes("--json"), verbose: args.includes("--verbose") };
}
