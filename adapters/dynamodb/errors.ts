import { ErrorCode } from "../../src/index.js";

// The error class is the core's since SQLite reads stored rows too; this entry point still exports
// it (and its code under the name it had) so code written against `@eventflows/core/dynamodb` runs on.
export { EventCorruptError, isEventCorruptError } from "../../src/index.js";

/** The code of {@link EventCorruptError} (`ErrorCode.EventCorrupt`): stable across releases. */
export const EVENT_CORRUPT = ErrorCode.EventCorrupt;
