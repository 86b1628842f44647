import { ErrorCodeRegistry, EventFlowsError, type EventFlowsErrorOptions } from "../errors.js";

export const LiveErrorCode = ErrorCodeRegistry.live;

/** A live hub already serves its `maxClients` subscribers: the HTTP routes answer 503 with `Retry-After`. */
export class TooManyLiveClientsError extends EventFlowsError {
  override readonly name = "TooManyLiveClientsError";
  constructor(
    readonly limit: number,
    options?: EventFlowsErrorOptions,
  ) {
    super(LiveErrorCode.TooManyClients, `This server serves at most ${limit} live subscribers; retry later`, options);
  }
}

/**
 * The live hub was closed (the server is shutting down): the HTTP routes answer 503 with `Retry-After`, so a
 * client dropped with `shutdown` retries (another process, or this one's next hub) rather than stopping for good.
 */
export class LiveHubClosedError extends EventFlowsError {
  override readonly name = "LiveHubClosedError";
  constructor(options?: EventFlowsErrorOptions) {
    super(LiveErrorCode.HubClosed, "This live hub is closed; retry later", options);
  }
}
