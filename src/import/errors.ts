import { ErrorCodeRegistry, EventFlowsError, type EventFlowsErrorOptions, hasCode } from "../errors.js";

/** Stable codes of the import's errors. */
export const ImportErrorCode = ErrorCodeRegistry.import;

/**
 * The target cannot take a source stream as it is: its stream already holds other events at those
 * versions, is behind the source (events before these were never imported), or the source's stream
 * has a gap. Nothing of that stream's batch was written; what committed before stays committed.
 */
export class ImportConflictError extends EventFlowsError {
  override readonly name = "ImportConflictError";
  constructor(
    readonly streamId: string,
    /** The version at which source and target disagree. */
    readonly version: number,
    reason: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(ImportErrorCode.Conflict, `Cannot import stream "${streamId}" at version ${version}: ${reason}`, options);
  }
}

export const isImportConflictError = (error: unknown): error is ImportConflictError =>
  hasCode(error, ImportErrorCode.Conflict);
