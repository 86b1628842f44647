/**
 * A check the core read path runs on every event it returns, synchronously, before the reader gets
 * it: how a store that wraps another (a tenant's, `TenantEventStore`) checks each event it reads
 * without a promise and an iterator step of its own per event. Internal: passed in the read options
 * under a symbol key, so it is no option a caller sees, validates or serializes.
 */
import type { EventEnvelope } from "../events/envelope.js";

export const READ_CHECK: unique symbol = Symbol("eventflows.readCheck");

/** Throws to refuse the event: the read ends there, the store's cursor released, the event not returned. */
export type ReadCheck = (event: EventEnvelope) => void;

export function readCheckOf(options: object): ReadCheck | undefined {
  const check = (options as { readonly [READ_CHECK]?: unknown })[READ_CHECK];
  return typeof check === "function" ? (check as ReadCheck) : undefined;
}
