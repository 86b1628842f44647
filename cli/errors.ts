import { ErrorCodeRegistry, EventFlowsError, type Issue } from "../src/index.js";

/** Stable codes of the errors the `eventflows` command raises itself. */
export const CliErrorCode = ErrorCodeRegistry.cli;

/**
 * The command line is wrong: an unknown command or option, a missing or bad argument, an invalid
 * name. The command exits 2 on it (1 is kept for failures of the work itself).
 */
export class CliUsageError extends EventFlowsError {
  override readonly name = "CliUsageError";
  constructor(
    message: string,
    /** The command whose `--help` explains the usage, e.g. `generate`. */
    readonly command?: string,
    readonly issues: readonly Issue[] = [],
  ) {
    super(CliErrorCode.Usage, message);
  }
}

/** `generate` would replace files that differ from what it writes; nothing was written. */
export class FileConflictError extends EventFlowsError {
  override readonly name = "FileConflictError";
  constructor(
    readonly paths: readonly string[],
    /**
     * The `eventflows generate ...` that wrote them, when it was another kind or name whose files are
     * named alike (`AbcDef` and `ABCDef` both make `abc-def.ts`): a clash of names, not an edit.
     */
    readonly generatedBy?: string,
  ) {
    super(
      CliErrorCode.FileConflict,
      generatedBy === undefined
        ? `Not overwriting ${paths.join(", ")}: changed since generated (or written by hand); pass --force to replace`
        : `Not overwriting ${paths.join(", ")}: written by \`${generatedBy}\`, whose files are named the same; choose another name or --dir (--force would replace that ${generatedBy.split(" ")[2] ?? "module"})`,
    );
  }
}
