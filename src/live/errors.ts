import { EventFlowsError, type EventFlowsErrorOptions } from "../errors.js";

export const LiveErrorCode = { TooManyClients: "LIVE_TOO_MANY_CLIENTS" } as const;

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
