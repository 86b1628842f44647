import { EventFlowsError, type EventFlowsErrorOptions } from "../../../src/index.js";
import { HttpErrorCode } from "../../http/index.js";

/**
 * A thing the operations UI was asked about does not exist (404): a stream version, a projection, or
 * the saga runtime the routes were not given (an unknown saga instance is `SagaRuntime.resume`'s 400). The code is the HTTP layer's `NOT_FOUND`, so clients
 * branch on it as on any other 404; the message names what was looked for, clipped.
 */
export class AdminNotFoundError extends EventFlowsError {
  override readonly name = "AdminNotFoundError";
  constructor(what: string, name: string, options?: EventFlowsErrorOptions) {
    super(HttpErrorCode.NotFound, `No ${what} ${clip(name)}`, options);
  }
}

function clip(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}
