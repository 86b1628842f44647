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
  const joined = negativeValuesJoined(command, args, { ...COMMON_OPTIONS, ...options });
  let parsed: ReturnType<typeof parseArgs<{ options: OptionSpecs; allowPositionals: true; tokens: true }>>;
  try {
    parsed = parseArgs({
      args: joined,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (error) {
    // parseArgs's messages are one sentence ("Unknown option '--x'..."); its codes are ERR_PARSE_ARGS_*.
    const message = error instanceof Error ? error.message.split(/\.\s|\n/)[0] : String(error);
    throw new CliUsageError(message ?? "Bad arguments", command);
  }
  // parseArgs keeps the last of an option given twice: the other value would be dropped unseen (a
  // `--url` with a password followed by one without would connect, the password still in ps).
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== "option" || token.value === undefined) continue;
    if (seen.has(token.name)) throw new CliUsageError(`--${token.name} is given twice`, command);
    seen.add(token.name);
  }
  return { values: parsed.values as Parsed<O>["values"], positionals: parsed.positionals };
}

/**
 * parseArgs refuses a value that starts with "-" after an option that takes one (`--to -1`: "argument is
 * ambiguous", as it could be a forgotten value followed by an option). A negative number cannot be an
 * option, so it is handed over as the value (`--to=-1`), and the command's own check says what is wrong
 * with it. Any other value starting with "-" stays refused, with a message that says how to give it.
 */
function negativeValuesJoined(command: string, args: readonly string[], options: OptionSpecs): string[] {
  const takesValue = (arg: string) => arg.startsWith("--") && options[arg.slice(2)]?.type === "string";
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if (arg === "--") {
      joined.push(...args.slice(i));
      break;
    }
    if (takesValue(arg) && next?.startsWith("-") && next !== "--") {
      if (!/^-(\d|\.\d)/.test(next)) {
        throw new CliUsageError(
          `${arg} needs a value, and "${next}" is taken for an option: write ${arg}=${next} if it is the value`,
          command,
        );
      }
      joined.push(`${arg}=${next}`);
      i++;
      continue;
    }
    joined.push(arg);
  }
  return joined;
}

/** The flags a user may have put anywhere on the line, read before a command knows its options. */
export function commonFlags(args: readonly string[]): { json: boolean; verbose: boolean } {
  return { json: args.includes("--json"), verbose: args.includes("--verbose") };
}
