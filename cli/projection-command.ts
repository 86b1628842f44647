import { nameIssues, type Progress } from "../src/index.js";
import { parseIsoTime } from "../src/internal/iso-time.js";
import { CliUsageError } from "./errors.js";
import { interruptedExitCode } from "./interrupt.js";
import type { CliIo } from "./io.js";
import { ProgressOutput } from "./progress-output.js";
import { type LoadedProjection, loadProjection } from "./projection-module.js";
import { checkStoreOptions, STORE_OPTIONS, type StoreName, type StoreValues, storeName } from "./stores.js";

/** The options `rebuild` and `replay` share. */
export const PROJECTION_OPTIONS = {
  ...STORE_OPTIONS,
  store: { type: "string" },
  export: { type: "string" },
  collections: { type: "string" },
  "batch-size": { type: "string" },
} as const;

interface ProjectionValues extends StoreValues {
  readonly store?: string;
  readonly export?: string;
  readonly collections?: string;
  readonly "batch-size"?: string;
}

/** `--store`, required, checked with the options that belong to it. */
export function storeOf(command: string, values: ProjectionValues): StoreName {
  const name = storeName(command, values.store, ["postgres", "sqlite", "dynamodb"]);
  checkStoreOptions(command, name, values);
  return name;
}

/** The module argument and `--batch-size`, checked, then the module imported. */
export async function takeModule(
  command: string,
  positionals: readonly string[],
  values: ProjectionValues,
  io: CliIo,
  needCollections: boolean,
): Promise<{ loaded: LoadedProjection; batchSize: number | undefined }> {
  const [path, ...extra] = positionals;
  if (path === undefined) throw new CliUsageError("Missing the module that exports the projection", command);
  if (extra.length > 0) throw new CliUsageError(`Unexpected argument "${extra[0]}"`, command);
  const batchSize = integerOption(command, "batch-size", values["batch-size"], 1, 10_000);
  const loaded = await loadProjection(
    command,
    io.cwd,
    path,
    values.export ?? "default",
    values.collections,
    needCollections,
  );
  return { loaded, batchSize };
}

/** An integer option within bounds, or a usage error naming it. */
export function integerOption(
  command: string,
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new CliUsageError(`--${name} takes an integer from ${min} to ${max}, not "${value}"`, command);
  }
  return n;
}

/**
 * A name option (`--stream`, `--category`) by the rule `replay()` applies to it (not blank, no control
 * character, at most 1,000 characters), or a usage error naming the option: left to `replay()`, an empty
 * `--stream=` was a VALIDATION_FAILED (exit 1) found only after the module was imported and the store opened.
 */
export function nameOption(command: string, name: string, what: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const [issue] = nameIssues(value, what, 1000);
  if (issue !== undefined) throw new CliUsageError(`Invalid --${name}: ${issue.message}`, command);
  return value;
}

/** An ISO 8601 date or date-time with a zone (see `parseIsoTime`), or a usage error naming the option. */
export function isoTimeOption(command: string, name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (parseIsoTime(value) === undefined) {
    throw new CliUsageError(
      `--${name} takes an ISO 8601 date or date-time with a zone (2026-11-01, 2026-11-01T09:30:00Z, 2026-11-01T10:30+01:00), not "${value}"`,
      command,
    );
  }
  return value;
}

/** Runs `work` with progress shown on stderr, and ends the progress line however it ends. */
export async function runWithProgress<T>(
  io: CliIo,
  origin: number,
  work: (onProgress: (progress: Progress) => void) => Promise<T>,
): Promise<T> {
  const output = new ProgressOutput(io, origin);
  try {
    return await work(output.report);
  } finally {
    output.finish();
  }
}

/**
 * What Ctrl-C or SIGTERM ends with: one line on stderr saying how to go on, and exit code 130 (128 +
 * SIGINT) or 143 (128 + SIGTERM).
 */
export function reportInterrupted(io: CliIo, json: boolean, message: string): number {
  io.stderr(json ? JSON.stringify({ error: { code: "ABORTED", message } }) : `eventflows: ${message}`);
  return interruptedExitCode();
}
