import { EventFlowsError, type EventFlowsErrorOptions } from "../errors.js";

export const LiveClientErrorCode = {
  /** The server refused the subscription for good (401, 403, 400, 404): the client does not retry. */
  Refused: "LIVE_SUBSCRIPTION_REFUSED",
  /** The connection failed or dropped; the client retries with backoff. */
  Disconnected: "LIVE_DISCONNECTED",
} as const;

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
