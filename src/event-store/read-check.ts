/**
 * A check the core read path runs on every event it returns, synchronously, before the reader gets
 * it: how a store that wraps another (a tenant's, `TenantEventStore`) checks each event it reads
 * without a promise and an iterator step of its own per event. Internal: passed in the read options
 * under a symbol key, so it is no option a caller sees, validates or serializes.
 */
import type { EventEnvelope } from "../events/envelope.js";
import { checkedPages, type EventPages } from "./read-pages.js";

export const READ_CHECK: unique symbol = Symbol("eventflows.readCheck");

/**
 * A read's stored pages with each event through the check (see {@link checkedPages}): made by the
 * wrapping store ({@link pageCheck}), so that a store that is never wrapped bundles none of it.
 */
export interface ReadCheck {
  readonly pages: (pages: EventPages) => EventPages;
}

/** The check, which throws to refuse an event: the read ends there, the store's cursor released, the event not returned. */
export function pageCheck(check: (event: EventEnvelope) => void): ReadCheck {
  return { pages: (pages) => checkedPages(pages, check) };
}

export function readCheckOf(options: object): ReadCheck | undefined {
  const check = (options as { readonly [READ_CHECK]?: { readonly pages?: unknown } })[READ_CHECK];
  return typeof check?.pages === "function" ? (check as ReadCheck) : undefined;
}
