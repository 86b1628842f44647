import { ErrorCodeRegistry, EventFlowsError, type EventFlowsErrorOptions } from "../errors.js";

export const LiveClientErrorCode = ErrorCodeRegistry.liveClient;

/** A live subscription failed: `status` is the HTTP status when the server answered. */
export class LiveStreamError extends EventFlowsError {
  override readonly name = "LiveStreamError";
  constructor(
    code: (typeof LiveClientErrorCode)[keyof typeof LiveClientErrorCode],
    message: string,
    readonly status?: number,
    options?: EventFlowsErrorOptions,
  ) {
    super(code, message, options);
  }
}
