/**
 * @module @eventflows/core/client: a small typed client for live event streams (Server-Sent Events over
 * `fetch`, or `WebSocket`) with filters, reconnect with backoff and resume. Web APIs only: browsers,
 * Workers, Bun, Node 22+ (Node 20: pass a `WebSocket` implementation for the WebSocket transport).
 */
export type { EventEnvelope } from "../events/envelope.js";
export type { LiveFilter } from "../live/filter.js";
export { LiveClientErrorCode, LiveStreamError } from "./errors.js";
export { DEFAULT_MAX_SSE_MESSAGE_LENGTH, parseSse, type SseMessage } from "./sse-parser.js";
export {
  type LiveBackoff,
  type LiveClientOptions,
  type LiveClientSubscription,
  type LiveHeaders,
  type LiveSocket,
  type LiveSocketConstructor,
  subscribeLive,
} from "./subscribe.js";
