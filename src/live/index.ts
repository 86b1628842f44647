/** Live event streams: the runtime-neutral fan-out the HTTP routes (SSE, WebSocket) serve from. */
export { LiveErrorCode, LiveHubClosedError, TooManyLiveClientsError } from "./errors.js";
export {
  checkFilter,
  filterFromQuery,
  filterToQuery,
  type LiveFilter,
  MAX_FILTER_ENTRIES,
  matchesFilter,
} from "./filter.js";
export {
  type LiveConnection,
  type LiveConnectOptions,
  type LiveEndReason,
  LiveHub,
  type LiveHubOptions,
  type LiveItem,
} from "./hub.js";
